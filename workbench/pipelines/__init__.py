"""``pipeline(task, model=...)``: inference for a task in one line, as in Hugging Face Transformers.

    >>> from workbench.pipelines import pipeline
    >>> classify = pipeline("sentiment-analysis", model="path/to/a/fine-tuned/model")
    >>> classify(["I love it", "I hate it"], batch_size=32)
    [{'label': 'POSITIVE', 'score': 0.99}, {'label': 'NEGATIVE', 'score': 0.98}]

``TASKS`` below is the registry: task name -> (pipeline class, Auto class of its model, the reference's
default Hub checkpoint and revision). ``ALIASES`` maps the other names users know ("sentiment-analysis",
"ner"); ``"translation_en_to_fr"`` is the translation task with its languages named (plain ``"translation"``
takes the first pair of the model config's ``task_specific_params``, as the reference does).

Without a task, ``pipeline(model=...)`` reads it from the checkpoint's architectures (``GPT2LMHeadModel`` ->
text-generation); a sequence classifier with an "entailment" label is an NLI model, whose task on the Hub is
zero-shot-classification; a vision model without a head is for image-feature-extraction.

Tasks on images (image-classification, image-feature-extraction) load the checkpoint's image processor
(``AutoImageProcessor``) instead of a tokenizer, or take ``image_processor=`` / ``processor=``.

Tasks on audio (automatic-speech-recognition, audio-classification) load the checkpoint's feature extractor
(``AutoFeatureExtractor``), and speech recognition its tokenizer too, or take ``feature_extractor=`` /
``tokenizer=`` / ``processor=``. Speech recognition loads a CTC model (Wav2Vec2ForCTC, ...) or, for a checkpoint
that has no CTC head, a speech seq2seq model (Whisper), as the reference does.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any

from .base import Pipeline

__all__ = ["pipeline", "Pipeline", "TASKS", "ALIASES", "supported_tasks", "UnknownTaskError", "PipelineModelError"]


@dataclass(frozen=True)
class Task:
    pipeline: str  # "module:Class" inside this package
    auto_class: str  # name of the Auto class in workbench.models.auto
    default: tuple[str, str] | None  # the reference's (v4.37) default checkpoint and revision
    # class-name fragments of models whose head fits, for checkpoints named by their config's architectures
    heads: tuple[str, ...] = ()
    inputs: str = "text"  # what the task takes: "text" (a tokenizer prepares it) or "image" (an image processor)
    # or "audio" (a feature extractor)
    # Auto classes tried after ``auto_class``, in order, for a model whose family has no head of the first kind
    # (speech recognition: CTC models, then speech seq2seq models)
    more_auto_classes: tuple[str, ...] = ()


TASKS: dict[str, Task] = {
    "feature-extraction": Task(
        "feature_extraction:FeatureExtractionPipeline", "AutoModel", ("distilbert-base-cased", "935ac13"), ("Model",)
    ),
    "text-classification": Task(
        "text_classification:TextClassificationPipeline",
        "AutoModelForSequenceClassification",
        ("distilbert-base-uncased-finetuned-sst-2-english", "af0f99b"),
        ("ForSequenceClassification",),
    ),
    "token-classification": Task(
        "token_classification:TokenClassificationPipeline",
        "AutoModelForTokenClassification",
        ("dbmdz/bert-large-cased-finetuned-conll03-english", "f2482bf"),
        ("ForTokenClassification",),
    ),
    "question-answering": Task(
        "question_answering:QuestionAnsweringPipeline",
        "AutoModelForQuestionAnswering",
        ("distilbert-base-cased-distilled-squad", "626af31"),
        ("ForQuestionAnswering",),
    ),
    "fill-mask": Task(
        "fill_mask:FillMaskPipeline",
        "AutoModelForMaskedLM",
        ("distilroberta-base", "ec58a5b"),
        ("ForMaskedLM", "ForPreTraining"),
    ),
    "zero-shot-classification": Task(
        "zero_shot_classification:ZeroShotClassificationPipeline",
        "AutoModelForSequenceClassification",
        ("facebook/bart-large-mnli", "c626438"),
        ("ForSequenceClassification",),
    ),
    "text-generation": Task(
        "text_generation:TextGenerationPipeline",
        "AutoModelForCausalLM",
        ("gpt2", "6c0e608"),
        ("ForCausalLM", "LMHeadModel"),
    ),
    "text2text-generation": Task(
        "text2text_generation:Text2TextGenerationPipeline",
        "AutoModelForSeq2SeqLM",
        ("t5-base", "686f1db"),
        ("ForConditionalGeneration", "ForSeq2SeqLM"),
    ),
    "summarization": Task(
        "text2text_generation:SummarizationPipeline",
        "AutoModelForSeq2SeqLM",
        ("sshleifer/distilbart-cnn-12-6", "a4f8f3e"),
        ("ForConditionalGeneration", "ForSeq2SeqLM"),
    ),
    "translation": Task(
        "text2text_generation:TranslationPipeline",
        "AutoModelForSeq2SeqLM",
        ("t5-base", "686f1db"),
        ("ForConditionalGeneration", "ForSeq2SeqLM"),
    ),
    "image-classification": Task(
        "image_classification:ImageClassificationPipeline",
        "AutoModelForImageClassification",
        ("google/vit-base-patch16-224", "5dca96d"),
        ("ForImageClassification", "ForImageClassificationWithTeacher"),
        inputs="image",
    ),
    # Not in v4.37 (it arrived in v4.38): the default of the later v4 releases and the current reference.
    "image-feature-extraction": Task(
        "image_feature_extraction:ImageFeatureExtractionPipeline",
        "AutoModel",
        ("google/vit-base-patch16-224", "3f49326"),
        ("Model",),
        inputs="image",
    ),
    "automatic-speech-recognition": Task(
        "automatic_speech_recognition:AutomaticSpeechRecognitionPipeline",
        "AutoModelForCTC",
        ("facebook/wav2vec2-base-960h", "55bb623"),
        ("ForCTC", "ForConditionalGeneration", "ForSpeechSeq2Seq"),
        inputs="audio",
        more_auto_classes=("AutoModelForSpeechSeq2Seq",),
    ),
    "audio-classification": Task(
        "audio_classification:AudioClassificationPipeline",
        "AutoModelForAudioClassification",
        ("superb/wav2vec2-base-superb-ks", "372e048"),
        ("ForSequenceClassification", "ForAudioClassification"),
        inputs="audio",
    ),
    "zero-shot-image-classification": Task(
        "zero_shot_image_classification:ZeroShotImageClassificationPipeline",
        "AutoModelForZeroShotImageClassification",
        ("openai/clip-vit-base-patch32", "f4881ba"),
        ("CLIPModel", "SiglipModel", "VisionTextDualEncoderModel"),
        inputs="image+text",
    ),
}
# Tasks that take any model and read its first output (no head is checked).
_ANY_HEAD = ("feature-extraction", "image-feature-extraction")
# The reference's default translation checkpoints, by (source, target) language.
TRANSLATION_DEFAULTS = {
    ("en", "fr"): ("t5-base", "686f1db"),
    ("en", "de"): ("t5-base", "686f1db"),
    ("en", "ro"): ("t5-base", "686f1db"),
}
ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification"}
_TRANSLATION = re.compile(r"^translation_([A-Za-z_\-]+)_to_([A-Za-z_\-]+)$")


class UnknownTaskError(KeyError):
    """``pipeline()`` was given a task name it does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class PipelineModelError(ValueError):
    """The model cannot serve the task: no model found offline, or its head does not fit the task."""


def supported_tasks() -> list[str]:
    """Every task name ``pipeline()`` accepts, aliases included (plus ``translation_XX_to_YY``)."""
    return sorted([*TASKS, *ALIASES])


def check_task(task: str) -> tuple[str, dict[str, Any]]:
    """Normalise a task name: ``"ner"`` -> ``("token-classification", {})``,
    ``"translation_en_to_fr"`` -> ``("translation", {"src_lang": "en", "tgt_lang": "fr"})``."""
    if not isinstance(task, str):
        raise TypeError(f"task must be a string such as 'text-classification', got {type(task).__name__}.")
    name = task.strip().lower().replace(" ", "-")
    name = ALIASES.get(name, name)
    if name in TASKS:
        return name, {}
    match = _TRANSLATION.match(task.strip())
    if match:
        return "translation", {"src_lang": match.group(1), "tgt_lang": match.group(2)}
    known = supported_tasks()
    close = difflib.get_close_matches(name, known + ["translation_en_to_fr"], n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownTaskError(
        f"Unknown task {task!r}.{hint} Supported tasks: {', '.join(known)}, "
        "and translation_XX_to_YY (e.g. translation_en_to_fr)."
    )


def _infer_task(model: Any) -> str:
    """The task of a checkpoint or model object, from its class or config's architectures (and labels)."""
    from ..configuration import load_config_dict

    if isinstance(model, (str, os.PathLike)):
        config = load_config_dict(model)
        architectures, labels = list(config.get("architectures") or []), (config.get("id2label") or {}).values()
        model_type = config.get("model_type")
    else:
        architectures = [type(model).__name__]
        labels = (getattr(getattr(model, "config", None), "id2label", None) or {}).values()
        model_type = getattr(getattr(model, "config", None), "model_type", None)
    inputs = _inputs_of(model_type)
    for arch in architectures:
        if arch.endswith("ForSequenceClassification") and any(str(x).lower().startswith("entail") for x in labels):
            return "zero-shot-classification"
        for task, spec in TASKS.items():
            if task in (*_ANY_HEAD, "zero-shot-classification", "summarization", "translation"):
                continue
            if inputs is not None and spec.inputs != inputs:  # a Whisper's head is not text2text-generation's
                continue
            if any(arch.endswith(head) for head in spec.heads):
                return task
        if arch.endswith("Model") and "For" not in arch:  # a base model without a head
            return "image-feature-extraction" if _inputs_of(model_type) == "image" else "feature-extraction"
    raise ValueError(
        f"Cannot tell the task of {model!r} (architectures: {architectures or 'none listed'}); "
        f"name it: pipeline('text-classification', model=...). Tasks: {', '.join(supported_tasks())}."
    )


def _translation_languages(model: Any) -> dict[str, str]:
    """``"translation"`` without languages: the first ``translation_XX_to_YY`` of the model config's
    ``task_specific_params`` (T5: en -> de), whose prefix and generation settings then apply, as in the reference."""
    for key in getattr(getattr(model, "config", None), "task_specific_params", None) or {}:
        match = _TRANSLATION.match(key)
        if match:
            warnings.warn(f'"translation" task was used, instead of "translation_XX_to_YY", defaulting to "{key}"')
            return {"src_lang": match.group(1), "tgt_lang": match.group(2)}
    return {}


def _inputs_of(model_type: str | None) -> str | None:
    """What a model family takes, from the registry: "text", "image", "audio" (a family whose checkpoints use an
    audio feature extractor), or None (text and images, unknown)."""
    from ..models.auto import MODEL_TYPES
    from ..processing.processor import PREPARERS

    family = MODEL_TYPES.get(model_type)
    kind = family.processor if family is not None else None
    if any(model_type in p.model_types for p in PREPARERS.values() if p.module == "feature_extraction"):
        return "audio"
    return {"tokenizer": "text", "image_processor": "image"}.get(kind)


def _check_inputs(task: str, spec: Task, model_type: str | None) -> None:
    """Refuse a model whose inputs are not the task's (a ViT for feature-extraction, a BERT for an image task)."""
    inputs = _inputs_of(model_type)
    if inputs is None or inputs == spec.inputs:
        return
    fits = [name for name, other in TASKS.items() if other.inputs == inputs and other.auto_class == spec.auto_class]
    hint = f" Use {fits[0]!r} instead." if fits else ""
    nouns = {"text": "text", "image": "images", "audio": "audio", "image+text": "images and texts"}
    raise PipelineModelError(
        f"The {task} pipeline takes {nouns[spec.inputs]}, but this model ({model_type}) takes {nouns[inputs]}.{hint}"
    )


def _load_image_processor(task: str, image_processor: Any, hub_kwargs: dict):
    """An image processor object from an id or folder (its preprocessor_config.json)."""
    from .. import hub
    from ..processing import AutoImageProcessor

    try:
        return AutoImageProcessor.from_pretrained(image_processor, **hub_kwargs)
    except hub.CheckpointNotFoundError as e:
        raise PipelineModelError(
            f"{e} The {task} pipeline prepares images with the checkpoint's image processor: save one next to the "
            "model (e.g. ViTImageProcessor(size={'height': 224, 'width': 224}).save_pretrained(folder)), or pass "
            f"it: pipeline({task!r}, model=..., image_processor=ViTImageProcessor(...))."
        ) from e


def _auto_class(name: str):
    return getattr(importlib.import_module("..models.auto", __name__), name)


def _auto_class_for(spec: Task, model_name: str, hub_kwargs: dict) -> str:
    """The Auto class that loads ``model_name`` for the task: ``spec.auto_class``, or the first of
    ``spec.more_auto_classes`` whose head the checkpoint's family has (a Whisper for speech recognition)."""
    if not spec.more_auto_classes:
        return spec.auto_class
    from ..configuration import load_config_dict
    from ..models.auto import AUTO_MODEL_CLASSES, MODEL_TYPES

    family = MODEL_TYPES.get(load_config_dict(model_name, **hub_kwargs).get("model_type"))
    for name in (spec.auto_class, *spec.more_auto_classes):
        if family is not None and AUTO_MODEL_CLASSES[name] in family.tasks:
            return name
    return spec.auto_class  # its error names the model type and the families that have the head


def _audio_preparers(task: str, model: Any, model_name, feature_extractor, tokenizer, processor, hub_kwargs: dict):
    """(feature extractor, tokenizer, processor) of an audio task: those given, the parts of a processor (an object
    or an id), else the model checkpoint's own. Speech recognition needs a tokenizer too; classification does not."""
    from .. import hub
    from ..processing import AutoFeatureExtractor, AutoProcessor

    if isinstance(processor, (str, os.PathLike)):
        processor = AutoProcessor.from_pretrained(processor, **hub_kwargs)
    if processor is not None and not hasattr(processor, "feature_extractor"):
        if feature_extractor is None:  # the processor of a checkpoint without a tokenizer: its feature extractor
            feature_extractor = processor
        processor = None
    elif processor is not None:
        feature_extractor = processor.feature_extractor if feature_extractor is None else feature_extractor
        tokenizer = processor.tokenizer if tokenizer is None else tokenizer
    needed = [("feature_extractor", feature_extractor)]
    if task == "automatic-speech-recognition":
        needed.append(("tokenizer", tokenizer))
    for name, part in needed:
        if part is None and not model_name:
            raise ValueError(
                f"Cannot tell which {name.replace('_', ' ')} goes with this {type(model).__name__} object; pass "
                f"{name}=... (an object, a Hub id or a local folder), or processor=..."
            )
    if feature_extractor is None:
        feature_extractor = model_name
    if isinstance(feature_extractor, (str, os.PathLike)):
        try:
            feature_extractor = AutoFeatureExtractor.from_pretrained(feature_extractor, **hub_kwargs)
        except hub.CheckpointNotFoundError as e:
            raise PipelineModelError(
                f"{e} The {task} pipeline prepares audio with the checkpoint's feature extractor: save one next to "
                "the model (e.g. WhisperFeatureExtractor().save_pretrained(folder)), or pass it: "
                f"pipeline({task!r}, model=..., feature_extractor=...)."
            ) from e
    if tokenizer is None and task == "automatic-speech-recognition":
        tokenizer = model_name
    return feature_extractor, tokenizer, processor


def _default_model(task: str, spec: Task, task_options: dict, hub_kwargs: dict) -> tuple[str, str]:
    from .. import hub

    default = spec.default
    if task == "translation":
        pair = (task_options.get("src_lang"), task_options.get("tgt_lang"))
        default = TRANSLATION_DEFAULTS.get(pair) or spec.default
    name, revision = default
    revision = hub_kwargs.get("revision") or revision
    try:
        hub.resolve_file(
            name, "config.json", revision=revision, **{k: v for k, v in hub_kwargs.items() if k != "revision"}
        )
    except hub.CheckpointNotFoundError as e:
        offline = hub.is_offline() or hub_kwargs.get("local_files_only")
        why = (
            "you are offline (HF_HUB_OFFLINE=1) and it is not in the local cache"
            if offline
            else "it could not be downloaded or found in the local cache"
        )
        raise PipelineModelError(
            f"No model was given for {task!r}, so the reference's default {name!r} (revision {revision}) was "
            f"tried, but {why}. Pass a local folder: pipeline({task!r}, model='path/to/checkpoint') (a folder "
            f"with config.json, the weights and the tokenizer files), or download the default once while "
            f"online: `hf download {name}`."
        ) from e
    return name, revision


def pipeline(
    task: str | None = None,
    model: Any = None,
    tokenizer: Any = None,
    device: Any = None,
    torch_dtype: Any = None,
    batch_size: int | None = None,
    *,
    config: Any = None,
    revision: str | None = None,
    token: Any = None,
    model_kwargs: dict | None = None,
    trust_remote_code: bool | None = None,
    device_map: Any = None,
    framework: str | None = None,
    use_fast: bool = True,
    progress_bar: bool | None = None,
    image_processor: Any = None,
    feature_extractor: Any = None,
    processor: Any = None,
    **kwargs: Any,
) -> Pipeline:
    """Build the pipeline of ``task`` around ``model`` (a Hub id, a local folder or a model object).

    ``tokenizer``: an id, a folder or a tokenizer object (default: the model's). ``image_processor``,
    ``feature_extractor`` and ``processor`` likewise, for tasks on images and audio (a processor combines a
    tokenizer with one of the others). ``device``: ``"cpu"``,
    ``"cuda"``, ``0``, a ``torch.device``. ``torch_dtype``: ``"float16"``, ``torch.bfloat16``, ``"auto"``, ...
    ``batch_size``: the default batch size of calls (32; inputs are length-sorted, so batching is safe; the
    generation pipelines batch only where that gives the answers of one input at a time, see text_generation).
    Other keyword arguments are the task's call options, set once (``top_k=3``, ``aggregation_strategy="simple"``).
    """
    import torch

    if trust_remote_code:
        raise ValueError("trust_remote_code=True is not supported: workbench runs only its own model code.")
    if framework not in (None, "pt"):
        raise ValueError(f"framework={framework!r}: workbench is PyTorch only (framework='pt').")
    if task is None and model is None:
        raise ValueError("pipeline() needs a task (e.g. pipeline('sentiment-analysis')) or a model to infer it from.")
    if task is None:
        task = _infer_task(model)
    task, task_options = check_task(task)
    spec = TASKS[task]
    hub_kwargs = {k: v for k, v in (("revision", revision), ("token", token)) if v is not None}
    model_kwargs = dict(model_kwargs or {})
    if torch_dtype is not None:
        model_kwargs["torch_dtype"] = torch_dtype
    if device_map is not None and device is None:
        device = device_map if isinstance(device_map, (str, int, torch.device)) and device_map != "auto" else None

    if model is None:
        if tokenizer is not None or config is not None:
            raise ValueError("A tokenizer or config was given without a model; pass model=... as well.")
        model, default_revision = _default_model(task, spec, task_options, hub_kwargs)
        hub_kwargs["revision"] = default_revision

    if isinstance(model, (str, os.PathLike)):
        model_name = os.fspath(model)
        _check_architectures(task, spec, model_name, hub_kwargs)
        load_kwargs = {**hub_kwargs, **model_kwargs}
        if config is not None and not isinstance(config, (str, os.PathLike)):
            load_kwargs["config"] = config
        model = _auto_class(_auto_class_for(spec, model_name, hub_kwargs)).from_pretrained(model_name, **load_kwargs)
    else:
        model_name = getattr(getattr(model, "config", None), "_name_or_path", None) or None
        _check_inputs(task, spec, getattr(getattr(model, "config", None), "model_type", None))
        if torch_dtype is not None:
            model = model.to(_dtype(torch_dtype))

    if device is not None:
        device = torch.device(
            f"cuda:{device}"
            if isinstance(device, int) and device >= 0
            else "cpu"
            if isinstance(device, int)
            else device
        )
        model = model.to(device)

    if task == "translation" and not task_options:
        task_options = _translation_languages(model)

    if spec.inputs == "image":
        if tokenizer is not None:
            raise ValueError(
                f"The {task} pipeline takes images and needs no tokenizer; to choose how images are prepared, pass "
                "image_processor=... (an image processor object, a Hub id or a local folder)."
            )
        if image_processor is None and feature_extractor is not None:  # the reference's older name for it
            image_processor, feature_extractor = feature_extractor, None
        if image_processor is None and isinstance(processor, (str, os.PathLike)):
            from ..processing import AutoProcessor

            processor = AutoProcessor.from_pretrained(processor, **hub_kwargs)
        if image_processor is None and processor is not None and not hasattr(processor, "image_processor"):
            image_processor, processor = processor, None  # an image-only checkpoint's processor is its image processor
        if image_processor is None and processor is None:
            if not model_name:
                raise ValueError(
                    f"Cannot tell which image processor goes with this {type(model).__name__} object; pass "
                    "image_processor=... (an image processor object, a Hub id or a local folder)."
                )
            image_processor = model_name
        if isinstance(image_processor, (str, os.PathLike)):
            image_processor = _load_image_processor(task, image_processor, hub_kwargs)
    elif spec.inputs == "image+text":  # a processor: an image processor and a tokenizer (CLIPProcessor)
        if processor is None and (image_processor is None or tokenizer is None):
            if not model_name:
                raise ValueError(
                    f"Cannot tell which processor goes with this {type(model).__name__} object; pass processor=... "
                    "(e.g. a CLIPProcessor), or image_processor=... and tokenizer=..."
                )
            processor = model_name
        if isinstance(processor, (str, os.PathLike)):
            from ..processing import AutoProcessor

            processor = AutoProcessor.from_pretrained(processor, **hub_kwargs)
        if isinstance(image_processor, (str, os.PathLike)):
            image_processor = _load_image_processor(task, image_processor, hub_kwargs)
    elif spec.inputs == "audio":
        feature_extractor, tokenizer, processor = _audio_preparers(
            task, model, model_name, feature_extractor, tokenizer, processor, hub_kwargs
        )
    elif tokenizer is None and processor is not None:
        tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None and spec.inputs == "text":
        if not model_name:
            raise ValueError(
                f"Cannot tell which tokenizer goes with this {type(model).__name__} object; pass "
                "tokenizer=... (a tokenizer object, a Hub id or a local folder)."
            )
        tokenizer = model_name
    if isinstance(tokenizer, (str, os.PathLike)):
        from ..processing import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer, **hub_kwargs)
    elif isinstance(tokenizer, tuple):
        from ..processing import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer[0], **tokenizer[1])

    module_name, class_name = spec.pipeline.split(":")
    cls = getattr(importlib.import_module(f".{module_name}", __name__), class_name)
    return cls(
        model,
        tokenizer,
        image_processor=image_processor,
        feature_extractor=feature_extractor,
        processor=processor,
        task=task,
        device=device,
        batch_size=batch_size,
        progress_bar=progress_bar,
        **task_options,
        **kwargs,
    )


def _check_architectures(task: str, spec: Task, model_name: str, hub_kwargs: dict) -> None:
    """Refuse a checkpoint saved with a head of another task (it would get a random head and answer noise), or made
    for other inputs."""
    from ..configuration import load_config_dict

    config = load_config_dict(model_name, **hub_kwargs)
    _check_inputs(task, spec, config.get("model_type"))
    architectures = config.get("architectures") or []
    if not architectures or task in _ANY_HEAD:
        return
    if any(head in arch for arch in architectures for head in spec.heads):
        return
    raise PipelineModelError(
        f"{model_name!r} was saved as {', '.join(architectures)}, which has no {task} head: the pipeline would "
        f"answer with a randomly initialised head. Use a checkpoint fine-tuned for {task}; or, to try an "
        f"untrained head on purpose, load it yourself with {spec.auto_class}.from_pretrained({model_name!r}) "
        f"and pass the model object: pipeline({task!r}, model=model, tokenizer=...)."
    )


def _dtype(value: Any):
    import torch

    if isinstance(value, torch.dtype):
        return value
    if isinstance(value, str) and isinstance(getattr(torch, value.replace("torch.", ""), None), torch.dtype):
        return getattr(torch, value.replace("torch.", ""))
    raise ValueError(f"torch_dtype={value!r} is not a torch dtype (e.g. 'float16', torch.bfloat16).")
