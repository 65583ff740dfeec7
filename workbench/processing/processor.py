"""Input preparers other than tokenizers, and the Auto classes that find them in a checkpoint.

A model's raw inputs are prepared by a tokenizer (text), an image processor (images), a feature extractor
(audio), or a *processor* that holds a tokenizer and one of the others (CLIP: text and images). This module
holds what they share and how a checkpoint names them:

- :class:`BatchFeature`: what image processors, feature extractors and image-only processors return.
- :class:`PreprocessorConfigMixin`: loading and saving ``preprocessor_config.json``, the file of an image
  processor's or feature extractor's settings (the current reference may nest it in ``processor_config.json``
  under ``"image_processor"`` / ``"feature_extractor"``; both are read).
- :class:`ProcessorMixin`: a tokenizer plus an image processor or feature extractor behind one call,
  ``processor(text=..., images=...)``; saved as the Hub lays it out (each part's own files, the processor's
  class name in them).
- ``PREPARERS`` and ``PROCESSORS``: the classes, by the names checkpoints use. Adding an audio feature
  extractor or a combined processor is one entry there; a combined processor needs no code of its own.
- :class:`AutoImageProcessor`, :class:`AutoFeatureExtractor`, :class:`AutoProcessor`: which class a
  checkpoint needs, from its files (``image_processor_type``, ``feature_extractor_type``, ``processor_class``)
  or its config.json's ``model_type``, as the reference v4.37 decides.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

from ..hub import CheckpointNotFoundError, atomic_write_text, pop_hub_kwargs, resolve_file

PREPROCESSOR_CONFIG = "preprocessor_config.json"
PROCESSOR_CONFIG = "processor_config.json"


# ------------------------------------------------------------------------------------------------
# The classes, by the names checkpoints give them
# ------------------------------------------------------------------------------------------------


class Preparer(NamedTuple):
    """An image processor or feature extractor class of ``workbench.processing``."""

    module: str  # the module that defines it ("image_processing" -> workbench.processing.image_processing)
    model_types: tuple[str, ...] = ()  # the families whose checkpoints use it when their files name no class


class Combined(NamedTuple):
    """A processor combining input preparers."""

    parts: tuple[str, ...]  # its parts, in the reference's order: "image_processor", "feature_extractor", "tokenizer"
    model_types: tuple[str, ...] = ()  # the families whose checkpoints use it when their files name none
    module: str | None = None  # a module with a class of its own (extra methods); None: ProcessorMixin does all


# Image processors and feature extractors, by class name (the reference's FeatureExtractor names of the same
# classes, and its "Fast"/"Pil" backend names, are read as these).
PREPARERS: dict[str, Preparer] = {
    "ViTImageProcessor": Preparer("image_processing", ("vit", "swin", "swinv2")),
    "DeiTImageProcessor": Preparer("image_processing", ("deit",)),
    "BeitImageProcessor": Preparer("image_processing", ("beit", "data2vec-vision")),
    "ConvNextImageProcessor": Preparer("image_processing", ("convnext", "convnextv2", "resnet")),
    "BitImageProcessor": Preparer("image_processing", ("dinov2",)),
    "CLIPImageProcessor": Preparer("image_processing", ("clip", "clip_vision_model")),
    "SiglipImageProcessor": Preparer("image_processing", ("siglip", "siglip_vision_model")),
    # audio feature extractors
    "WhisperFeatureExtractor": Preparer("feature_extraction", ("whisper",)),
    "Wav2Vec2FeatureExtractor": Preparer("feature_extraction", ("wav2vec2", "hubert", "data2vec-audio")),
}

# Processors that combine a tokenizer with an image processor or a feature extractor, by class name.
PROCESSORS: dict[str, Combined] = {
    "CLIPProcessor": Combined(("image_processor", "tokenizer"), ("clip",)),
    "SiglipProcessor": Combined(("image_processor", "tokenizer"), ("siglip",)),
    "VisionTextDualEncoderProcessor": Combined(("image_processor", "tokenizer"), ("vision-text-dual-encoder",)),
    # speech: the audio is the first argument (processor(audio, sampling_rate=...)), text becomes labels
    "WhisperProcessor": Combined(("feature_extractor", "tokenizer"), ("whisper",), "feature_extraction"),
    "Wav2Vec2Processor": Combined(("feature_extractor", "tokenizer"), ("wav2vec2", "hubert"), "feature_extraction"),
}


def preparer_class(name: str) -> type:
    """The image processor or feature extractor class a checkpoint names (``"ViTFeatureExtractor"`` and
    ``"ViTImageProcessorFast"`` are ``ViTImageProcessor``)."""
    for suffix in ("Fast", "Pil"):
        if name.endswith(suffix) and name[: -len(suffix)] in PREPARERS:
            name = name[: -len(suffix)]
    if name not in PREPARERS and name.replace("FeatureExtractor", "ImageProcessor") in PREPARERS:
        name = name.replace("FeatureExtractor", "ImageProcessor")
    if name not in PREPARERS:
        raise ValueError(
            f"The checkpoint names the preprocessing class {name!r}, which workbench does not implement. "
            f"Supported: {', '.join(sorted(PREPARERS))}."
        )
    return getattr(importlib.import_module(f".{PREPARERS[name].module}", __package__), name)


def processor_class(name: str) -> type:
    """The combined processor class named ``name`` (``"CLIPProcessor"``)."""
    if name not in PROCESSORS:
        raise ValueError(
            f"The checkpoint names the processor class {name!r}, which workbench does not implement. "
            f"Supported: {', '.join(sorted(PROCESSORS))}."
        )
    combined = PROCESSORS[name]
    if combined.module is not None:
        return getattr(importlib.import_module(f".{combined.module}", __package__), name)
    if name not in _COMBINED_CLASSES:  # made once: ``isinstance`` and ``type(p) is ...`` hold across calls
        namespace = {"attributes": combined.parts, "__module__": __name__, "__doc__": _doc(name)}
        _COMBINED_CLASSES[name] = type(name, (ProcessorMixin,), namespace)
    return _COMBINED_CLASSES[name]


_COMBINED_CLASSES: dict[str, type] = {}


def _doc(name: str) -> str:
    parts = " and ".join(part.replace("_", " ") for part in PROCESSORS[name].parts)
    return f"{name}: a {parts} behind one call, ``processor(text=..., images=...)`` (see ProcessorMixin)."


def __getattr__(name: str) -> Any:  # ``from workbench.processing.processor import CLIPProcessor``
    if name in PROCESSORS:
        return processor_class(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ------------------------------------------------------------------------------------------------
# What preparers return
# ------------------------------------------------------------------------------------------------


class BatchFeature(dict):
    """The output of an image processor or feature extractor: a dict (``{"pixel_values": ...}``) whose keys
    are also attributes. ``return_tensors="pt"`` or ``"np"`` makes the values tensors or arrays;
    ``.to("cuda")`` moves them, ``.to(torch.float16)`` casts the floating ones."""

    def __init__(self, data: dict | None = None, tensor_type: str | None = None):
        super().__init__(data or {})
        self.convert_to_tensors(tensor_type)

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchFeature has no key or attribute {name!r} (keys: {list(self)})") from None

    @property
    def data(self) -> dict:
        return dict(self)

    def convert_to_tensors(self, tensor_type: str | None) -> BatchFeature:
        """Make every value a ``torch`` tensor (``"pt"``) or a ``numpy`` array (``"np"``), in place."""
        if tensor_type is None:
            return self
        if tensor_type not in ("pt", "np"):
            raise ValueError(f"return_tensors={tensor_type!r} is not supported: use 'pt' (PyTorch), 'np' or None.")
        import numpy as np
        import torch

        for key, value in self.items():
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
                shapes = {v.shape for v in value}
                if len(shapes) > 1:
                    raise ValueError(f"Cannot make one tensor of {key!r}: its items have shapes {sorted(shapes)}.")
                value = np.stack(value)
            if tensor_type == "pt":
                self[key] = value if torch.is_tensor(value) else torch.as_tensor(np.asarray(value))
            else:
                self[key] = value.numpy() if torch.is_tensor(value) else np.asarray(value)
        return self

    def to(self, *args: Any, **kwargs: Any) -> BatchFeature:
        """``.to(device)``, ``.to(dtype)`` or ``.to(device, dtype)``: tensors move; floating ones are cast."""
        import torch

        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        for arg in args:
            if isinstance(arg, torch.dtype):
                dtype = arg
            else:
                device = arg
        for key, value in self.items():
            if torch.is_tensor(value):
                cast = dtype if dtype is not None and value.is_floating_point() else None
                self[key] = value.to(device=device, dtype=cast, **kwargs)
        return self


# ------------------------------------------------------------------------------------------------
# preprocessor_config.json
# ------------------------------------------------------------------------------------------------


class PreprocessorConfigMixin:
    """Loading and saving of an image processor's or feature extractor's settings (preprocessor_config.json).

    A subclass defines ``from_dict(config, **overrides)`` and ``to_dict()``; ``type_key`` is the key that names
    its class in the file (``"image_processor_type"`` or ``"feature_extractor_type"``), and ``part`` its key
    in the current reference's combined ``processor_config.json``.
    """

    type_key = "image_processor_type"
    # Keyword arguments a combined processor's call passes to this part (the rest go to the tokenizer).
    call_keywords: tuple[str, ...] = ()
    # Keys of the loaded file that no setting reads; a subclass saves them back as they were.
    extra_keys: dict[str, Any]

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any):
        """Load from a checkpoint's folder or Hub id (or the path of its preprocessor_config.json); keyword
        arguments override settings (``ViTImageProcessor.from_pretrained(name, do_resize=False)``)."""
        _refuse_remote_code(kwargs)
        hub_kwargs = pop_hub_kwargs(kwargs)
        kwargs.pop("use_fast", None)  # the reference picks a backend by it; there is one backend here
        config = load_preprocessor_dict(name_or_path, cls._part(), **hub_kwargs)
        return cls.from_dict(config, **kwargs)

    @classmethod
    def _part(cls) -> str:
        return "image_processor" if cls.type_key == "image_processor_type" else "feature_extractor"

    @classmethod
    def from_dict(cls, config: dict[str, Any], **overrides: Any):
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def _set_processor_class(self, name: str) -> None:
        """Record the combined processor this part belongs to (saved as "processor_class", as the reference
        does, so that AutoProcessor finds that processor again)."""
        self.extra_keys["processor_class"] = name

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Write ``preprocessor_config.json`` into ``save_directory`` (atomically), loadable here and by the
        reference (v4.37 and current)."""
        folder = Path(save_directory)
        if folder.is_file():
            raise ValueError(f"{folder} is a file; save_pretrained needs a folder.")
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(folder / PREPROCESSOR_CONFIG, self.to_json_string())
        return [str(folder / PREPROCESSOR_CONFIG)]


def load_preprocessor_dict(name_or_path: str | os.PathLike, part: str = "image_processor", **hub_kwargs) -> dict:
    """The settings of a checkpoint's image processor or feature extractor: its preprocessor_config.json, or
    the ``part`` entry of a processor_config.json (the current reference's layout); or a JSON file's, by path."""
    if os.path.isfile(name_or_path):
        return _read_json(os.fspath(name_or_path))
    path = resolve_file(name_or_path, PREPROCESSOR_CONFIG, required=False, **hub_kwargs)
    if path is not None:
        return _read_json(path)
    path = resolve_file(name_or_path, PROCESSOR_CONFIG, required=False, **hub_kwargs)
    if path is not None:
        combined = _read_json(path)
        for key in (part, "image_processor", "feature_extractor"):
            if isinstance(combined.get(key), dict):
                return combined[key]
    raise CheckpointNotFoundError(
        f"{os.fspath(name_or_path)!r} has no {PREPROCESSOR_CONFIG} (the settings of an image processor or "
        "feature extractor), and no processor_config.json holding them. Is it a text-only checkpoint? Then use "
        "AutoTokenizer. Otherwise pass the folder or Hub id of a checkpoint that has one, or build the processor "
        "yourself, e.g. ViTImageProcessor(size={'height': 224, 'width': 224})."
    )


def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not a JSON file ({e}).") from e
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not the object of settings it should.")
    return data


def _refuse_remote_code(kwargs: dict) -> None:
    if kwargs.pop("trust_remote_code", False):
        raise ValueError("trust_remote_code=True is not supported: workbench runs only its own code.")


def _model_type(name_or_path: str | os.PathLike, hub_kwargs: dict) -> str | None:
    path = resolve_file(name_or_path, "config.json", required=False, **hub_kwargs)
    return _read_json(path).get("model_type") if path else None


# ------------------------------------------------------------------------------------------------
# Auto classes
# ------------------------------------------------------------------------------------------------


class AutoImageProcessor:
    """``AutoImageProcessor.from_pretrained(name_or_path)``: the image processor of a checkpoint, the class
    its preprocessor_config.json names (``image_processor_type``, or the older ``feature_extractor_type``),
    else the one its config.json's ``model_type`` implies. Keyword arguments override settings."""

    part = "image_processor"

    def __init__(self):
        raise TypeError(f"Use {type(self).__name__}.from_pretrained(name_or_path).")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any):
        _refuse_remote_code(kwargs)
        kwargs.pop("use_fast", None)
        hub_kwargs = pop_hub_kwargs(kwargs)
        config = load_preprocessor_dict(name_or_path, cls.part, **hub_kwargs)
        return _preparer_for(config, name_or_path, hub_kwargs).from_dict(config, **kwargs)


class AutoFeatureExtractor(AutoImageProcessor):
    """``AutoFeatureExtractor.from_pretrained(name_or_path)``: the feature extractor a checkpoint names (for
    an image checkpoint, its image processor, as in the reference)."""

    part = "feature_extractor"


def _preparer_for(config: dict, name_or_path, hub_kwargs: dict) -> type:
    """The class of a preprocessor_config.json: the one it names, else the one its model_type implies."""
    name = config.get("image_processor_type") or config.get("feature_extractor_type")
    if name is None:
        model_type = _model_type(name_or_path, hub_kwargs)
        name = next((n for n, p in PREPARERS.items() if model_type in p.model_types), None)
        if name is None:
            remote = " It asks for custom code (auto_map), which workbench never runs." if "auto_map" in config else ""
            raise ValueError(
                f"{os.fspath(name_or_path)!r}: its preprocessor_config.json names no class (image_processor_type) "
                f"and its model_type {model_type!r} implies none.{remote} Supported classes: "
                f"{', '.join(sorted(PREPARERS))}; load one directly, e.g. ViTImageProcessor.from_pretrained(...)."
            )
    return preparer_class(name)


class AutoProcessor:
    """``AutoProcessor.from_pretrained(name_or_path)``: what prepares a checkpoint's inputs, as the reference
    v4.37 decides: the combined processor its files or config name (``processor_class``) or its ``model_type``
    implies; else its tokenizer, if it has tokenizer files; else its image processor or feature extractor."""

    def __init__(self):
        raise TypeError("Use AutoProcessor.from_pretrained(name_or_path).")

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any):
        from .tokenizer import AutoTokenizer

        _refuse_remote_code(kwargs)
        hub_kwargs = pop_hub_kwargs(kwargs)
        name = _named_processor(name_or_path, hub_kwargs)
        if name is not None:
            return processor_class(name).from_pretrained(name_or_path, **hub_kwargs, **kwargs)
        has_preprocessor = any(
            resolve_file(name_or_path, f, required=False, **hub_kwargs) for f in (PREPROCESSOR_CONFIG, PROCESSOR_CONFIG)
        )
        try:
            return AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs, **kwargs)
        except CheckpointNotFoundError as e:  # no tokenizer files
            if not has_preprocessor:
                raise CheckpointNotFoundError(
                    f"{os.fspath(name_or_path)!r} has neither tokenizer files nor a {PREPROCESSOR_CONFIG}, so "
                    "nothing says how to prepare its inputs. Pass the folder or Hub id of a complete checkpoint."
                ) from e
        # the class the file names: an image processor or an audio feature extractor alike
        return AutoFeatureExtractor.from_pretrained(name_or_path, **hub_kwargs, **kwargs)


def _named_processor(name_or_path, hub_kwargs: dict) -> str | None:
    """The combined processor class a checkpoint names in one of its files, or implies by its model_type."""
    for filename in (PROCESSOR_CONFIG, PREPROCESSOR_CONFIG, "tokenizer_config.json", "config.json"):
        path = resolve_file(name_or_path, filename, required=False, **hub_kwargs)
        if path and (name := _read_json(path).get("processor_class")):
            return name
    model_type = _model_type(name_or_path, hub_kwargs)
    return next((n for n, c in PROCESSORS.items() if model_type in c.model_types), None)


# ------------------------------------------------------------------------------------------------
# Combined processors
# ------------------------------------------------------------------------------------------------


class ProcessorMixin:
    """A tokenizer and an image processor (or feature extractor) behind one call:
    ``processor(text=["a cat"], images=image, return_tensors="pt")`` gives the tokenizer's
    ``input_ids``/``attention_mask`` with the image processor's ``pixel_values`` added, as the reference's
    processors do. ``attributes`` lists the parts, which are also attributes (``processor.tokenizer``).

    Keyword arguments of a call go to the part that takes them (image settings such as ``do_center_crop`` to
    the image processor, the rest, such as ``padding``, to the tokenizer). ``save_pretrained`` writes each
    part's files with the processor's class name in them, as the Hub lays a processor out;
    ``from_pretrained`` loads each part with its Auto class.
    """

    attributes: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any):
        if len(args) > len(self.attributes):
            raise TypeError(f"{type(self).__name__} takes {len(self.attributes)} parts: {', '.join(self.attributes)}.")
        parts = dict(zip(self.attributes, args))
        for name, value in kwargs.items():
            if name not in self.attributes:
                raise TypeError(f"{type(self).__name__} got {name!r}; its parts are {', '.join(self.attributes)}.")
            if name in parts:
                raise TypeError(f"{type(self).__name__} got {name!r} twice.")
            parts[name] = value
        missing = [name for name in self.attributes if parts.get(name) is None]
        if missing:
            raise TypeError(
                f"{type(self).__name__} needs {', '.join(missing)} (its parts: {', '.join(self.attributes)})."
            )
        for name, value in parts.items():
            setattr(self, name, value)

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> ProcessorMixin:
        """Load each part from the checkpoint. Keyword arguments go to the part that takes them: an image
        processor's settings to it, the rest to the tokenizer."""
        from .tokenizer import AutoTokenizer

        _refuse_remote_code(kwargs)
        hub_kwargs = pop_hub_kwargs(kwargs)
        kwargs.pop("use_fast", None)
        parts = {}
        for name in sorted(cls.attributes, key=lambda part: part == "tokenizer"):  # the tokenizer takes the rest
            if name == "tokenizer":
                parts[name], kwargs = AutoTokenizer.from_pretrained(name_or_path, **hub_kwargs, **kwargs), {}
                continue
            config = load_preprocessor_dict(name_or_path, name, **hub_kwargs)
            part_class = _preparer_for(config, name_or_path, hub_kwargs)
            own = {key: kwargs.pop(key) for key in list(kwargs) if key in part_class.call_keywords}
            parts[name] = part_class.from_dict(config, **own)
        if kwargs:
            raise TypeError(f"{cls.__name__}.from_pretrained got unexpected argument(s): {', '.join(kwargs)}.")
        return cls(**parts)

    def __call__(self, text=None, images=None, audio=None, return_tensors: str | None = None, **kwargs: Any):
        if text is None and images is None and audio is None:
            raise ValueError(f"{type(self).__name__} needs text=..., images=... or audio=... (or several).")
        outputs = {}
        for name, inputs, part in (
            ("images", images, getattr(self, "image_processor", None)),
            ("audio", audio, getattr(self, "feature_extractor", None)),
        ):
            if inputs is None:
                continue
            if part is None:
                raise TypeError(
                    f"{type(self).__name__} has no part for {name} (its parts: {', '.join(self.attributes)})."
                )
            own = {key: kwargs.pop(key) for key in list(kwargs) if key in part.call_keywords}
            outputs.update(part(inputs, return_tensors=return_tensors, **own))
        if text is None:
            if kwargs:
                raise TypeError(f"{type(self).__name__} got unexpected argument(s): {', '.join(kwargs)}.")
            return BatchFeature(outputs, tensor_type=return_tensors)
        if getattr(self, "tokenizer", None) is None:
            raise TypeError(f"{type(self).__name__} has no tokenizer for text.")
        encoding = self.tokenizer(text, return_tensors=return_tensors, **kwargs)
        encoding.update(outputs)
        return encoding

    def batch_decode(self, *args: Any, **kwargs: Any):
        return self.tokenizer.batch_decode(*args, **kwargs)

    def decode(self, *args: Any, **kwargs: Any):
        return self.tokenizer.decode(*args, **kwargs)

    @property
    def model_input_names(self) -> list[str]:
        names = []
        for name in self.attributes:
            names += [n for n in getattr(self, name).model_input_names if n not in names]
        return names

    def save_pretrained(self, save_directory: str | os.PathLike) -> list[str]:
        """Each part's files (tokenizer files, preprocessor_config.json), with ``"processor_class"`` in them so
        that ``AutoProcessor`` finds this class again, as the reference v4.37 writes them."""
        written = []
        for name in self.attributes:
            part = getattr(self, name)
            if name == "tokenizer":
                part.init_kwargs["processor_class"] = type(self).__name__  # saved in tokenizer_config.json
            else:
                part._set_processor_class(type(self).__name__)
            written += list(part.save_pretrained(save_directory))
        return written

    def __repr__(self) -> str:
        parts = "\n".join(f"- {name}: {getattr(self, name)!r}" for name in self.attributes)
        return f"{type(self).__name__}:\n{parts}"
