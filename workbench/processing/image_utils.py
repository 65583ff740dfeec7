"""Images in every form they arrive in -> pixels an image processor can work on.

An image processor takes one image or a batch of them, each one of:

- a PIL image (any mode: RGB, grayscale ``L``, ``RGBA``, palette ``P``, ``CMYK``, 16-bit ``I;16``, ...);
- a numpy array or torch tensor, ``(height, width)``, ``(height, width, channels)`` or ``(channels, height,
  width)``, of ``uint8`` (0-255), ``uint16`` (0-65535), other integers (0-255) or floats;
- a path, an ``http(s)://`` URL or a base64 ``data:image/...`` string (the file is opened, its EXIF
  orientation applied, as the reference's ``load_image`` does);
- a value of a ``datasets`` Image column: a PIL image, or ``{"bytes": ..., "path": ...}`` when not decoded.

A batch is a list or tuple of those, a 4-d array or tensor ``(batch, ...)``, or any sized, indexable column
(``dataset["image"]``). ``make_list_of_images`` splits a batch, ``load_image`` opens files, and
``prepare_image`` turns one image into one of two working forms:

    8-bit content  (PIL, uint8/uint16/int arrays)  -> a PIL image, mode "RGB" (or its own mode if asked)
    float content  (float arrays and tensors)      -> a numpy array (height, width, channels)

Colour conversion (``convert_rgb=True``) follows the reference v4.37, whose processors convert PIL images
with ``image.convert("RGB")``: grayscale is copied into three channels, an alpha channel is dropped (not
composited on white, as the current reference does), CMYK and palette images get PIL's conversion. Arrays
get the same rules. 16-bit images are scaled to 8 bits (``round(v / 257)``); the reference clips them
(every value above 255 becomes white).
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps

# Normalisation constants of the checkpoints (the reference's names and values).
IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406]
IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225]
IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5]
IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5]
OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# The resampling filters, by the numbers preprocessor_config.json stores ("resample": 3 is BICUBIC).
PILImageResampling = PIL.Image.Resampling

ImageInput = Any  # one image or a batch, in any of the forms listed in the module docstring

_CHANNEL_COUNTS = (1, 2, 3, 4)  # gray, gray + alpha, RGB, RGBA (or CMYK)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_FILE_LIKE = (str, os.PathLike, bytes, dict)


# ------------------------------------------------------------------------------------------------
# Batches
# ------------------------------------------------------------------------------------------------


def is_single_image(image: Any) -> bool:
    """True for one image (a PIL image, a 2-d or 3-d array/tensor, a path or URL, a datasets Image value)."""
    if isinstance(image, (PIL.Image.Image, *_FILE_LIKE)):
        return True
    ndim = getattr(image, "ndim", None)
    return ndim in (2, 3)


def make_list_of_images(images: ImageInput) -> list:
    """One image -> ``[image]``; a batch (list, tuple, 4-d array or tensor, datasets column) -> a list of images."""
    if is_single_image(images):
        return [images]
    ndim = getattr(images, "ndim", None)
    if ndim is not None and hasattr(images, "shape"):
        if ndim != 4:
            raise ValueError(
                f"An image array must have 2 dimensions (height, width), 3 (with channels) or 4 (a batch); got "
                f"shape {tuple(images.shape)}."
            )
        return list(images)
    if isinstance(images, Sequence) or (hasattr(images, "__len__") and hasattr(images, "__getitem__")):
        batch = [images[i] for i in range(len(images))]
        if not batch:
            raise ValueError("Got an empty list of images; pass at least one image.")
        for index, image in enumerate(batch):
            if not is_single_image(image):
                kind = f"an array of shape {tuple(image.shape)}" if hasattr(image, "shape") else type(image).__name__
                raise TypeError(
                    f"Image {index} of the batch is {kind}, not an image. Pass a PIL image, a numpy array or torch "
                    "tensor (height, width[, channels]) or (channels, height, width), a path or URL, or a list of them."
                )
        return batch
    raise TypeError(
        f"Cannot read an image from a {type(images).__name__}. Pass a PIL image, a numpy array or torch tensor "
        "(height, width[, channels]) or (channels, height, width), a path or URL, or a list of them."
    )


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def load_image(image: str | os.PathLike | bytes | dict | PIL.Image.Image, timeout: float | None = 10.0):
    """Open an image: a path, an ``http(s)://`` URL, a base64 string, raw bytes or a datasets Image value
    (``{"bytes": ..., "path": ...}``). The pixels are decoded now (a corrupt file fails here, with its name)
    and the EXIF orientation is applied, as the reference's ``load_image`` does. PIL images pass through."""
    if isinstance(image, PIL.Image.Image):
        return image
    if isinstance(image, dict):
        if image.get("bytes") is not None:
            return _decode(io.BytesIO(image["bytes"]), f"the image bytes of {image.get('path') or 'a datasets row'}")
        if image.get("path"):
            return load_image(image["path"], timeout)
        raise ValueError(f"A datasets Image value needs 'bytes' or 'path'; got keys {sorted(image)}.")
    if isinstance(image, bytes):
        return _decode(io.BytesIO(image), "the given bytes")
    if not isinstance(image, (str, os.PathLike)):
        raise TypeError(f"load_image takes a path, URL, base64 string or bytes; got {type(image).__name__}.")
    source = os.fspath(image)
    if source.startswith(("http://", "https://")):
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=timeout) as response:
                return _decode(io.BytesIO(response.read()), source)
        except OSError as e:
            raise OSError(
                f"Could not download the image {source} ({e}). Check the address and your connection, or "
                "download it and pass the file's path."
            ) from e
    if Path(source).expanduser().is_file():
        return _decode(Path(source).expanduser(), source)
    if source.startswith("data:image/"):
        try:
            return _decode(io.BytesIO(base64.b64decode(source.split(",", 1)[1], validate=True)), "a data: URL")
        except (ValueError, IndexError) as e:
            raise ValueError(f"The data: URL does not hold base64 image data ({e}).") from e
    if Path(source).expanduser().exists():
        raise IsADirectoryError(f"{source} is a folder, not an image file.")
    raise FileNotFoundError(
        f"No image file {source!r} (it is not an existing file, an http(s):// URL or a data:image/ URL). "
        "Check the path; relative paths start from the current directory, " + os.getcwd() + "."
    )


def _decode(source: Path | io.BytesIO, name: str) -> PIL.Image.Image:
    try:
        image = PIL.Image.open(source)
        image.load()
    except PIL.UnidentifiedImageError as e:
        raise ValueError(
            f"{name} is not an image file that PIL can read (a JPEG, PNG, GIF, BMP, TIFF, WebP, ...). "
            "Check that it is the file you meant."
        ) from e
    except (OSError, SyntaxError) as e:  # truncated or corrupt data
        raise ValueError(f"{name} could not be decoded: the file is truncated or corrupt ({e}).") from e
    return PIL.ImageOps.exif_transpose(image)


# ------------------------------------------------------------------------------------------------
# Pixels
# ------------------------------------------------------------------------------------------------


def prepare_image(
    image: Any, convert_rgb: bool = True, input_data_format: str | None = None
) -> PIL.Image.Image | np.ndarray:
    """One image -> a PIL image (8-bit content) or a float ``(height, width, channels)`` numpy array.

    ``convert_rgb``: three channels out, by the rules in the module docstring; otherwise the channels stay
    (a grayscale image stays one channel). ``input_data_format`` (``"channels_first"`` or ``"channels_last"``)
    says how to read a 3-d array whose layout is ambiguous (a 3 x 4 x 3 array, say).
    """
    if isinstance(image, _FILE_LIKE):
        image = load_image(image)
    if isinstance(image, PIL.Image.Image):
        return _prepare_pil(image, convert_rgb)
    pixels = _channels_last(_to_numpy(image), input_data_format)
    if pixels.dtype == np.bool_:
        raise TypeError("A boolean array is a mask, not an image; pass uint8 values (0-255) or floats.")
    if pixels.dtype == np.uint16:
        pixels = _sixteen_to_eight_bits(pixels)
    elif np.issubdtype(pixels.dtype, np.integer) and pixels.dtype != np.uint8:
        low, high = int(pixels.min()), int(pixels.max())
        if low < 0 or high > 255:
            raise ValueError(
                f"An integer image must hold values 0-255; this {pixels.dtype} array holds {low}..{high}. Pass "
                "uint16 arrays as uint16 (they are scaled to 8 bits), or divide the values down to 0-255 yourself."
            )
        pixels = pixels.astype(np.uint8)
    elif np.issubdtype(pixels.dtype, np.floating) and pixels.dtype not in (np.float32, np.float64):
        pixels = pixels.astype(np.float32)
    elif not (pixels.dtype == np.uint8 or np.issubdtype(pixels.dtype, np.floating)):
        raise TypeError(f"Cannot read an image from an array of {pixels.dtype}; pass uint8, uint16 or float values.")
    if convert_rgb:
        pixels = _rgb_channels(pixels)
    if pixels.dtype == np.uint8:
        return PIL.Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    return pixels


def _prepare_pil(image: PIL.Image.Image, convert_rgb: bool) -> PIL.Image.Image | np.ndarray:
    if image.mode in _SIXTEEN_BIT_MODES:
        pixels = np.asarray(image)
        if pixels.min() < 0 or pixels.max() > 65535:
            raise ValueError(
                f"This {image.mode} image holds values {pixels.min()}..{pixels.max()}, outside 16 bits; convert it "
                "to an 8-bit image yourself (e.g. Image.fromarray(scaled_uint8_array))."
            )
        image = PIL.Image.fromarray(_sixteen_to_eight_bits(pixels.astype(np.uint16)))
    elif image.mode == "F":  # 32-bit float pixels: the float rules apply
        pixels = np.asarray(image, dtype=np.float32)[..., None]
        return _rgb_channels(pixels) if convert_rgb else pixels
    if convert_rgb and image.mode != "RGB":
        image = image.convert("RGB")  # the reference v4.37's conversion: drops alpha
    return image


def _to_numpy(image: Any) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        return (image.float() if image.dtype == torch.bfloat16 else image).numpy()
    raise TypeError(
        f"Cannot read an image from a {type(image).__name__}. Pass a PIL image, a numpy array or torch tensor, "
        "a path or URL, or a list of them."
    )


def _channels_last(pixels: np.ndarray, input_data_format: str | None) -> np.ndarray:
    """A 2-d or 3-d array -> (height, width, channels). Channels are read as first when the first axis could
    be a channel count (the reference's rule), unless ``input_data_format`` says otherwise."""
    if pixels.ndim == 2:
        return pixels[..., None]
    if pixels.ndim != 3:
        raise ValueError(f"An image array must have 2 or 3 dimensions; got shape {pixels.shape}.")
    if input_data_format is not None:
        if input_data_format not in ("channels_first", "channels_last"):
            raise ValueError(
                f"input_data_format must be 'channels_first' or 'channels_last', not {input_data_format!r}."
            )
        first = input_data_format == "channels_first"
    else:
        first, last = pixels.shape[0] in _CHANNEL_COUNTS, pixels.shape[2] in _CHANNEL_COUNTS
        if not (first or last):
            raise ValueError(
                f"Cannot tell the channels of an image array of shape {pixels.shape}: neither its first nor its "
                f"last axis has 1-4 entries. Pass (height, width, channels) or (channels, height, width)."
            )
        if first and last:
            warnings.warn(
                f"The image array of shape {pixels.shape} could be (channels, height, width) or (height, width, "
                "channels); it is read as channels first, as the reference does. Pass input_data_format="
                "'channels_last' (or 'channels_first') to say which.",
                stacklevel=4,
            )
    return np.moveaxis(pixels, 0, -1) if first else pixels


def _sixteen_to_eight_bits(pixels: np.ndarray) -> np.ndarray:
    """0-65535 -> 0-255, rounded to the nearest level (65535 -> 255)."""
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _rgb_channels(pixels: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W, 3): gray copied to three channels, alpha dropped, as PIL's convert("RGB") does."""
    channels = pixels.shape[-1]
    if channels == 3:
        return pixels
    if channels in (1, 2):  # gray, gray + alpha
        return np.repeat(pixels[..., :1], 3, axis=-1)
    if channels == 4:  # RGBA (an array cannot say CMYK; pass a PIL image in mode CMYK for that)
        return pixels[..., :3]
    raise ValueError(f"An image has 1 to 4 channels; this one has {channels}.")


def image_size(image: PIL.Image.Image | np.ndarray) -> tuple[int, int]:
    """(height, width) of a prepared image."""
    if isinstance(image, PIL.Image.Image):
        return image.height, image.width
    return image.shape[0], image.shape[1]
