"""Image processors: images -> ``pixel_values``, the tensor a vision model takes.

Every family's processor is the same pipeline with different settings (the keys of
``preprocessor_config.json``), so there is one class, :class:`BaseImageProcessor`, and each family's class
only sets its defaults::

    image (PIL, array, tensor, path, ...)         image_utils.prepare_image: RGB, 8 bits (or float pixels)
      |  resize through PIL, on uint8 pixels      size: {"height", "width"} (a warp) or {"shortest_edge"}
      |                                           (aspect kept; ConvNeXT: to edge / crop_pct, then crop edge)
      |  center crop                              crop_size (an image smaller than it is padded with zeros)
      |  rescale  (x * 1/255, float64 -> float32) rescale_factor
      |  normalize ((x - mean) / std, float32)    image_mean, image_std
      v
    pixel_values (batch, 3, height, width) float32

The numbers are the reference's PIL-backend processors' bit for bit (``ViTImageProcessorPil`` ... in the
current release, the default processors of v4.37). Two things make it fast: an 8-bit pixel can take only 256
values, so rescale + normalize is a per-channel 256-entry table computed once with the reference's exact
arithmetic and then looked up (no float64 image is ever made); and the images of a batch are resized in
parallel threads (PIL releases the GIL while it resizes), as many as ``torch.get_num_threads()``.

Where the reference fails or is silently wrong, this does better: grayscale, RGBA, CMYK and palette images are
converted to RGB by every processor (the reference's ViT/ConvNeXT/DeiT/BEiT processors fail with "mean must
have 1 elements"); 16-bit images are scaled to 8 bits (the reference clips them to white); a float image
already in [0, 1] is still divided by 255 again, as the reference does, but with a warning that says so.
Defaults follow v4.37 where the current release changed them (ConvNeXT resamples bilinearly; BEiT resizes to
256 and crops 224); they matter only for a preprocessor_config.json that leaves a key out.
"""

from __future__ import annotations

import copy
import difflib
import math
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import PIL.Image

from .image_utils import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_STANDARD_MEAN,
    IMAGENET_STANDARD_STD,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    ImageInput,
    PILImageResampling,
    image_size,
    make_list_of_images,
    prepare_image,
)
from .processor import BatchFeature, PreprocessorConfigMixin

__all__ = [
    "BaseImageProcessor",
    "BeitImageProcessor",
    "BitImageProcessor",
    "CLIPImageProcessor",
    "ConvNextImageProcessor",
    "DeiTImageProcessor",
    "SiglipImageProcessor",
    "ViTImageProcessor",
    "IMAGENET_DEFAULT_MEAN",
    "IMAGENET_DEFAULT_STD",
    "IMAGENET_STANDARD_MEAN",
    "IMAGENET_STANDARD_STD",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "PILImageResampling",
]

# The settings of every image processor: the keys of preprocessor_config.json, and per-call options.
SETTINGS = (
    "do_resize",
    "size",
    "resample",
    "do_center_crop",
    "crop_size",
    "do_rescale",
    "rescale_factor",
    "do_normalize",
    "image_mean",
    "image_std",
    "do_convert_rgb",
    "crop_pct",
    "do_reduce_labels",
)
# Options of a call that are not settings.
CALL_OPTIONS = ("return_tensors", "data_format", "input_data_format")
# Size dictionaries the resize understands.
_SIZE_KEYS = ({"height", "width"}, {"shortest_edge"})
# ConvNeXT: at this size and above, images are warped to a square instead of resized and cropped.
CONVNEXT_WARP_FROM = 384


class BaseImageProcessor(PreprocessorConfigMixin):
    """Images -> ``BatchFeature({"pixel_values": ...})``. Settings are keyword arguments (the keys of
    preprocessor_config.json); a call can override any of them: ``processor(images, do_center_crop=False)``.

    - ``do_resize``, ``size``: ``{"height": h, "width": w}`` resizes to exactly that; ``{"shortest_edge": s}``
      keeps the aspect ratio (the short side becomes ``s``, the long one ``int(s * long / short)``).
    - ``resample``: the PIL filter (0 nearest, 1 Lanczos, 2 bilinear, 3 bicubic, 4 box, 5 Hamming).
    - ``crop_pct`` (ConvNeXT): with ``{"shortest_edge": s}`` and ``s < 384``, resize the short side to
      ``int(s / crop_pct)`` and crop an ``s`` x ``s`` center; from 384 up, warp to ``s`` x ``s``.
    - ``do_center_crop``, ``crop_size``: ``{"height": h, "width": w}``.
    - ``do_rescale``, ``rescale_factor``: multiply by ``1/255``; ``do_normalize``, ``image_mean``,
      ``image_std``: subtract and divide per channel.
    - ``do_convert_rgb``: convert to RGB (``None``, the default of most families, converts too: only
      ``False`` keeps other channel counts, for a model that takes them).
    """

    # Defaults; each family's class overrides some. ``saved_keys`` are the keys its preprocessor_config.json
    # always holds (the reference's keys for that family); other settings are saved when they differ from these.
    do_resize = True
    size: dict | None = None
    resample = PILImageResampling.BILINEAR
    do_center_crop = False
    crop_size: dict | None = None
    do_rescale = True
    rescale_factor = 1 / 255
    do_normalize = True
    image_mean: float | list[float] = IMAGENET_STANDARD_MEAN
    image_std: float | list[float] = IMAGENET_STANDARD_STD
    do_convert_rgb: bool | None = None
    crop_pct: float | None = None
    do_reduce_labels: bool | None = None  # BEiT's segmentation labels (kept in the file; images ignore it)
    # How a bare number in ``size`` is read (legacy configs say "size": 224): a square, or the shortest edge.
    default_to_square = True
    saved_keys = (
        "do_resize",
        "size",
        "resample",
        "do_rescale",
        "rescale_factor",
        "do_normalize",
        "image_mean",
        "image_std",
    )

    type_key = "image_processor_type"
    call_keywords = (*SETTINGS, "data_format", "input_data_format")
    model_input_names = ["pixel_values"]

    def __init__(self, **settings: Any):
        unknown = [key for key in settings if key not in SETTINGS]
        if unknown:
            raise TypeError(_unknown_message(type(self).__name__, unknown, SETTINGS))
        for key in SETTINGS:
            value = settings[key] if key in settings else copy.deepcopy(getattr(type(self), key))
            setattr(self, key, value)
        self._standardize(self.__dict__)
        self.extra_keys: dict[str, Any] = {}  # keys of a loaded file that no setting reads, saved back as they were

    # ---- settings ---------------------------------------------------------------------------------

    def _standardize(self, settings: dict) -> dict:
        """Bring settings to one form, in place: size dictionaries, float lists, an int filter."""
        if settings.get("size") is not None:
            settings["size"] = get_size_dict(settings["size"], self.default_to_square, "size")
        if settings.get("crop_size") is not None:
            settings["crop_size"] = get_size_dict(settings["crop_size"], True, "crop_size")
        for key in ("image_mean", "image_std"):
            value = settings.get(key)
            if value is not None and not isinstance(value, (int, float)):
                settings[key] = [float(v) for v in value]
        if settings.get("resample") is not None:
            try:
                settings["resample"] = int(PILImageResampling(int(settings["resample"])))
            except (ValueError, TypeError):
                raise ValueError(
                    f"resample={settings['resample']!r} is not a PIL filter: use 0 (nearest), 1 (Lanczos), 2 "
                    "(bilinear), 3 (bicubic), 4 (box) or 5 (Hamming), or PIL.Image.Resampling.BICUBIC, ..."
                ) from None
        return settings

    @classmethod
    def from_dict(cls, config: dict[str, Any], **overrides: Any) -> BaseImageProcessor:
        """A processor from the keys of a preprocessor_config.json; ``overrides`` replace keys. Keys that no
        setting reads are kept (``extra_keys``) and saved back; a legacy ``reduce_labels`` is
        ``do_reduce_labels``, CLIP's ``use_square_size`` makes ``size`` square, as in the reference."""
        config = {**config, **overrides}
        for key in ("image_processor_type", "feature_extractor_type", "_processor_class"):
            config.pop(key, None)
        if "reduce_labels" in config:
            config.setdefault("do_reduce_labels", config.pop("reduce_labels"))
        settings = {key: config.pop(key) for key in SETTINGS if key in config}
        if config.pop("use_square_size", False):
            edge = get_size_dict(settings.get("size", cls.size), False, "size").get("shortest_edge")
            settings["size"] = {"height": edge, "width": edge}
        processor = cls(**settings)
        processor.extra_keys = config
        return processor

    def to_dict(self) -> dict[str, Any]:
        """The keys of preprocessor_config.json (those the reference writes for this family, plus any other
        setting changed from the family's default, plus the loaded file's other keys)."""
        config = dict(self.extra_keys)
        for key in SETTINGS:
            value = getattr(self, key)
            if key in self.saved_keys or value != getattr(type(self), key):
                config[key] = copy.deepcopy(value)
        config[self.type_key] = type(self).__name__
        return config

    def _call_settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        settings = {key: overrides.pop(key) if key in overrides else getattr(self, key) for key in SETTINGS}
        if overrides:
            raise TypeError(_unknown_message(f"{type(self).__name__}(...)", list(overrides), SETTINGS + CALL_OPTIONS))
        settings = self._standardize(settings)
        if settings["do_resize"]:
            size = settings["size"]
            if size is None:
                raise ValueError("do_resize=True needs a size, e.g. size={'height': 224, 'width': 224}.")
            if set(size) not in _SIZE_KEYS:
                raise ValueError(
                    f"size={size} is not supported: use {{'height': h, 'width': w}} (resize to exactly that) or "
                    "{'shortest_edge': s} (keep the aspect ratio)."
                )
        if settings["do_center_crop"] and settings["crop_size"] is None:
            raise ValueError("do_center_crop=True needs a crop_size, e.g. crop_size={'height': 224, 'width': 224}.")
        if settings["do_center_crop"] and set(settings["crop_size"]) != {"height", "width"}:
            raise ValueError(f"crop_size={settings['crop_size']} must be {{'height': h, 'width': w}}.")
        if settings["do_rescale"] and settings["rescale_factor"] is None:
            raise ValueError("do_rescale=True needs a rescale_factor (1/255 for 8-bit images).")
        if settings["do_normalize"] and (settings["image_mean"] is None or settings["image_std"] is None):
            raise ValueError("do_normalize=True needs image_mean and image_std (one value, or one per channel).")
        return settings

    # ---- calling ----------------------------------------------------------------------------------

    def __call__(self, images: ImageInput = None, **kwargs: Any) -> BatchFeature:
        """``processor(images, return_tensors="pt")`` -> ``{"pixel_values": (batch, 3, height, width)}``.

        ``images``: one image or a batch (see ``image_utils``). ``return_tensors``: ``"pt"``, ``"np"`` or None
        (a list of numpy arrays). ``data_format``: ``"channels_first"`` (default) or ``"channels_last"``.
        ``input_data_format``: how to read ambiguous arrays. Any setting can be overridden for this call.
        """
        if images is None:
            raise ValueError(f"{type(self).__name__} needs images: processor(images, return_tensors='pt').")
        return_tensors = kwargs.pop("return_tensors", None)
        data_format = kwargs.pop("data_format", "channels_first")
        input_data_format = kwargs.pop("input_data_format", None)
        if return_tensors not in (None, "pt", "np"):
            raise ValueError(f"return_tensors={return_tensors!r} is not supported: use 'pt', 'np' or None.")
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', not {data_format!r}.")
        settings = self._call_settings(kwargs)
        images = make_list_of_images(images)

        shape = self._fixed_output_shape(settings)
        out = np.empty((len(images), *shape), dtype=np.float32) if shape else None
        tables: dict = {}

        def process(index: int) -> tuple[np.ndarray | None, set[str]]:
            try:
                return self._process_one(images[index], settings, input_data_format, tables, out, index)
            except Exception as e:
                if len(images) > 1:
                    e.add_note(f"(image {index} of the batch of {len(images)})")
                raise

        workers = min(_thread_count(), len(images))
        if workers > 1:
            _decode_shared_images(images)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                results = list(pool.map(process, range(len(images))))
        else:
            results = [process(index) for index in range(len(images))]
        self._warn(set().union(*(notes for _, notes in results)), settings)

        if out is None:
            arrays = [array for array, _ in results]
            shapes = {array.shape for array in arrays}
            if len(shapes) > 1 and return_tensors is not None:
                raise ValueError(
                    f"The images have different sizes after preprocessing ({', '.join(map(str, sorted(shapes)))}), "
                    "so they do not make one tensor. Resize them to one size (do_resize=True with size="
                    "{'height': h, 'width': w}, or do_center_crop=True), or pass return_tensors=None for a list."
                )
            out = np.stack(arrays) if len(shapes) == 1 else arrays
        if data_format == "channels_last":
            out = [np.moveaxis(a, 0, -1) for a in out] if isinstance(out, list) else out.transpose(0, 2, 3, 1)
        if return_tensors is None:
            pixel_values = [np.ascontiguousarray(array) for array in out]
        else:
            pixel_values = np.ascontiguousarray(out)
        return BatchFeature({"pixel_values": pixel_values}, tensor_type=return_tensors)

    preprocess = __call__

    def _process_one(self, image, settings: dict, input_data_format, tables: dict, out, index: int):
        """One image through the pipeline, into ``out[index]`` (or returned when sizes vary). Returns notes
        for warnings the caller gives once per batch."""
        notes = set()
        convert = settings["do_convert_rgb"] is not False
        image = prepare_image(image, convert_rgb=convert, input_data_format=input_data_format)
        if isinstance(image, np.ndarray) and settings["do_rescale"] and image.min() >= 0 and image.max() <= 1:
            notes.add("rescaled twice")
        divided = False  # float [0, 1] pixels went through the resize as 0-255 and came back divided by 255
        if settings["do_resize"]:
            image, divided = _as_uint8_image(image)
            (height, width), crop = self._resize_plan(*image_size(image), settings)
            pixels = np.asarray(image.resize((width, height), resample=settings["resample"]))
        else:
            pixels, crop = (np.asarray(image) if isinstance(image, PIL.Image.Image) else image), None
        if pixels.ndim == 2:
            pixels = pixels[..., None]
        if crop is not None:
            pixels = center_crop(pixels, *crop)
        if settings["do_center_crop"]:
            crop_height, crop_width = settings["crop_size"]["height"], settings["crop_size"]["width"]
            if pixels.shape[0] < crop_height or pixels.shape[1] < crop_width:
                notes.add(f"padded:{pixels.shape[0]}x{pixels.shape[1]}")
            pixels = center_crop(pixels, crop_height, crop_width)
        _check_channels(pixels.shape[-1], settings)

        target = np.empty((pixels.shape[-1], *pixels.shape[:2]), np.float32) if out is None else out[index]
        if pixels.dtype == np.uint8:  # 256 possible values per channel: their results are looked up
            key = (divided, pixels.shape[-1])
            if key not in tables:
                tables[key] = lookup_tables(settings, *key)
            for channel, table in enumerate(tables[key]):
                np.take(table, pixels[..., channel], out=target[channel], mode="clip")
        else:
            target[...] = np.moveaxis(rescale_and_normalize(pixels, settings), -1, 0)
        return (target if out is None else None), notes

    def _resize_plan(self, height: int, width: int, settings: dict) -> tuple[tuple[int, int], tuple | None]:
        """The (height, width) to resize to, and ConvNeXT's own center crop after it (or None)."""
        size = settings["size"]
        if "shortest_edge" not in size:
            return (size["height"], size["width"]), None
        edge = size["shortest_edge"]
        if settings["crop_pct"] is None:
            return shortest_edge_size(height, width, edge), None
        if edge < CONVNEXT_WARP_FROM:
            return shortest_edge_size(height, width, int(edge / settings["crop_pct"])), (edge, edge)
        return (edge, edge), None

    def _fixed_output_shape(self, settings: dict) -> tuple[int, int, int] | None:
        """(channels, height, width) when every image comes out that size, whatever its own; else None."""
        if settings["do_convert_rgb"] is False:
            return None
        if settings["do_center_crop"]:
            return 3, settings["crop_size"]["height"], settings["crop_size"]["width"]
        if not settings["do_resize"]:
            return None
        size = settings["size"]
        if "height" in size:
            return 3, size["height"], size["width"]
        if settings["crop_pct"] is not None:
            return 3, size["shortest_edge"], size["shortest_edge"]
        return None

    def _warn(self, notes: set[str], settings: dict) -> None:
        if "rescaled twice" in notes:
            warnings.warn(
                "The image's pixel values are floats already in [0, 1], and do_rescale=True divides them by 255 "
                "again (as the reference does), so the model sees a nearly black image. If they are already "
                "scaled, pass do_rescale=False.",
                stacklevel=3,
            )
        padded = sorted(note.split(":")[1] for note in notes if note.startswith("padded:"))
        if padded:
            crop = settings["crop_size"]
            warnings.warn(
                f"An image ({', '.join(padded)} pixels before cropping) is smaller than crop_size "
                f"{crop['height']}x{crop['width']}: it is padded with zeros (black borders), as the reference "
                "does. Resize it to at least the crop size first (do_resize=True with a large enough size).",
                stacklevel=3,
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"


# ------------------------------------------------------------------------------------------------
# The families: each class is the pipeline above with the reference's defaults
# ------------------------------------------------------------------------------------------------


class ViTImageProcessor(BaseImageProcessor):
    """ViT, and the Swin/Swinv2 checkpoints (they name this class): a warp to 224 x 224, no crop."""

    size = {"height": 224, "width": 224}
    resample = PILImageResampling.BILINEAR


class SiglipImageProcessor(ViTImageProcessor):
    """SigLIP: a bicubic warp to 224 x 224, no crop, mean and std 0.5."""

    resample = PILImageResampling.BICUBIC


class DeiTImageProcessor(BaseImageProcessor):
    """DeiT: a warp to 256 x 256, then the 224 x 224 center."""

    size = {"height": 256, "width": 256}
    resample = PILImageResampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    saved_keys = (*BaseImageProcessor.saved_keys, "do_center_crop", "crop_size")


class BeitImageProcessor(DeiTImageProcessor):
    """BEiT and Data2VecVision (v4.37's defaults: 256, then the 224 center; the current release's are 224, no
    crop). ``do_reduce_labels`` concerns segmentation maps, which this processor does not take."""

    do_reduce_labels = False
    saved_keys = (*DeiTImageProcessor.saved_keys, "do_reduce_labels")


class ConvNextImageProcessor(BaseImageProcessor):
    """ConvNeXT, ConvNeXTV2 and the ResNet checkpoints: the short side to ``int(shortest_edge / crop_pct)``,
    then the ``shortest_edge`` square center; warped to a square from 384 up. Bilinear by default (v4.37; the
    current release defaults to bicubic; the checkpoints say which)."""

    size = {"shortest_edge": 384}
    resample = PILImageResampling.BILINEAR
    crop_pct = 224 / 256
    default_to_square = False
    saved_keys = (*BaseImageProcessor.saved_keys, "crop_pct")


class CLIPImageProcessor(BaseImageProcessor):
    """CLIP: the short side to 224, then the 224 x 224 center; OpenAI's mean and std."""

    size = {"shortest_edge": 224}
    resample = PILImageResampling.BICUBIC
    do_center_crop = True
    crop_size = {"height": 224, "width": 224}
    image_mean = OPENAI_CLIP_MEAN
    image_std = OPENAI_CLIP_STD
    do_convert_rgb = True
    default_to_square = False
    saved_keys = (*BaseImageProcessor.saved_keys, "do_center_crop", "crop_size", "do_convert_rgb")


class BitImageProcessor(CLIPImageProcessor):
    """BiT, and DINOv2's checkpoints (with ImageNet's mean and std and shortest_edge 256 in their files)."""


# ------------------------------------------------------------------------------------------------
# The steps, exactly as the reference computes them
# ------------------------------------------------------------------------------------------------


def get_size_dict(size: Any, default_to_square: bool = True, param_name: str = "size") -> dict[str, int]:
    """``size`` as a dictionary: 224 -> ``{"height": 224, "width": 224}`` (or ``{"shortest_edge": 224}``
    where a family reads a bare number as the shortest edge), ``(h, w)`` -> ``{"height": h, "width": w}``."""
    if isinstance(size, dict):
        if not size or not all(isinstance(v, int) and v > 0 for v in size.values()):
            raise ValueError(f"{param_name}={size} must map keys to positive integers.")
        return dict(size)
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return {"height": size, "width": size} if default_to_square else {"shortest_edge": size}
    if isinstance(size, (tuple, list)) and len(size) == 2:
        return get_size_dict({"height": size[0], "width": size[1]}, param_name=param_name)
    raise ValueError(
        f"{param_name}={size!r} is not a size: pass {{'height': h, 'width': w}}, {{'shortest_edge': s}}, an int "
        "or (height, width)."
    )


def shortest_edge_size(height: int, width: int, edge: int) -> tuple[int, int]:
    """(height, width) with the short side ``edge`` and the long side ``int(edge * long / short)``."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(edge * long / short)
    return (new_long, edge) if width <= height else (edge, new_long)


def center_crop(pixels: np.ndarray, crop_height: int, crop_width: int) -> np.ndarray:
    """The reference's center crop of (height, width, channels) pixels: offsets ``(size - crop) // 2``; an
    image smaller than the crop is first centred on zeros (``ceil`` of half the missing rows on top)."""
    height, width = pixels.shape[:2]
    top, left = (height - crop_height) // 2, (width - crop_width) // 2
    if top >= 0 and left >= 0:
        return pixels[top : top + crop_height, left : left + crop_width]
    new_height, new_width = max(crop_height, height), max(crop_width, width)
    canvas = np.zeros((new_height, new_width, pixels.shape[2]), dtype=pixels.dtype)
    top_pad, left_pad = math.ceil((new_height - height) / 2), math.ceil((new_width - width) / 2)
    canvas[top_pad : top_pad + height, left_pad : left_pad + width] = pixels
    top, left = top + top_pad, left + left_pad
    return canvas[max(0, top) : min(new_height, top + crop_height), max(0, left) : min(new_width, left + crop_width)]


def rescale_and_normalize(pixels: np.ndarray, settings: dict) -> np.ndarray:
    """(..., channels) pixels -> float32, with the reference's arithmetic: rescale in float64 then float32,
    normalize in float32 (the same operations, element by element, as its channels-first code)."""
    if settings["do_rescale"]:
        pixels = (pixels.astype(np.float64) * settings["rescale_factor"]).astype(np.float32)
    if settings["do_normalize"]:
        if not np.issubdtype(pixels.dtype, np.floating):
            pixels = pixels.astype(np.float32)
        channels = pixels.shape[-1]
        mean = np.array(_per_channel(settings["image_mean"], channels), dtype=pixels.dtype)
        std = np.array(_per_channel(settings["image_std"], channels), dtype=pixels.dtype)
        pixels = (pixels - mean) / std
    return pixels.astype(np.float32, copy=False)


def lookup_tables(settings: dict, divided: bool, channels: int) -> np.ndarray:
    """(channels, 256): what ``rescale_and_normalize`` makes of each 8-bit value in each channel, the same
    numbers computed once. ``divided``: the values stand for value / 255 (float pixels that were resized)."""
    values = np.arange(256, dtype=np.uint8)
    if divided:
        values = (values.astype(np.float64) * (1 / 255)).astype(np.float32)
    every_value = np.repeat(values[:, None], channels, axis=1)  # (256, channels)
    return np.ascontiguousarray(rescale_and_normalize(every_value, settings).T)


def _as_uint8_image(image: PIL.Image.Image | np.ndarray) -> tuple[PIL.Image.Image, bool]:
    """What the reference resizes: 8-bit pixels. Float pixels in [0, 1] are multiplied by 255 (float64 ->
    float32) and truncated, and come back divided by 255 (the flag); whole numbers 0-255 are taken as they are."""
    if isinstance(image, PIL.Image.Image):
        return image, False
    if np.allclose(image, image.astype(int)):
        if image.min() < 0 or image.max() > 255:
            raise ValueError(
                f"An image with whole-number float pixels must hold 0-255 to be resized; this one holds "
                f"{image.min()}..{image.max()}."
            )
        pixels, divided = image.astype(np.uint8), False
    elif image.min() >= 0 and image.max() <= 1:
        pixels, divided = (image.astype(np.float64) * 255).astype(np.float32).astype(np.uint8), True
    else:
        raise ValueError(
            f"Float pixels must be in [0, 1] (or whole numbers 0-255) to be resized; this image holds "
            f"{image.min()}..{image.max()}. Scale it to [0, 1], or pass do_resize=False if it is already prepared."
        )
    return PIL.Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels), divided


def _per_channel(value: float | list[float], channels: int) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * channels
    return list(value)


def _check_channels(channels: int, settings: dict) -> None:
    if not settings["do_normalize"]:
        return
    for key in ("image_mean", "image_std"):
        value = settings[key]
        if not isinstance(value, (int, float)) and len(value) != channels:
            raise ValueError(
                f"{key} has {len(value)} values but the image has {channels} channel(s). Leave do_convert_rgb "
                f"unset (or True) to convert images to RGB, or give {key} one value per channel."
            )


def _decode_shared_images(images: list) -> None:
    """Decode now a lazily opened PIL image that a batch holds twice: two threads must not decode one image."""
    counts = Counter(id(image) for image in images if isinstance(image, PIL.Image.Image))
    for image in images:
        if counts.get(id(image), 0) > 1:
            image.load()


def _thread_count() -> int:
    import torch

    return max(1, torch.get_num_threads())


def _unknown_message(where: str, unknown: list[str], known: tuple[str, ...]) -> str:
    hints = [difflib.get_close_matches(key, known, n=1) for key in unknown]
    hint = "; ".join(f"{key!r} -> did you mean {close[0]!r}?" for key, close in zip(unknown, hints) if close)
    return (
        f"{where} got unexpected argument(s) {', '.join(map(repr, unknown))}.{' ' + hint if hint else ''} "
        f"It takes: {', '.join(known)}."
    )
