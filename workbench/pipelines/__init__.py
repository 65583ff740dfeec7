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
zero-shot-classification.
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
}
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
    else:
        architectures = [type(model).__name__]
        labels = (getattr(getattr(model, "config", None), "id2label", None) or {}).values()
    for arch in architectures:
        if arch.endswith("ForSequenceClassification") and any(str(x).lower().startswith("entail") for x in labels):
            return "zero-shot-classification"
        for task, spec in TASKS.items():
            if task in ("feature-extraction", "zero-shot-classification", "summarization", "translation"):
                continue
            if any(arch.endswith(head) for head in spec.heads):
                return task
        if arch.endswith("Model") and "For" not in arch:  # a base model without a head
            return "feature-extraction"
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


def _auto_class(name: str):
    return getattr(importlib.import_module("..models.auto", __name__), name)


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
        model = _auto_class(spec.auto_class).from_pretrained(model_name, **load_kwargs)
    else:
        model_name = getattr(getattr(model, "config", None), "_name_or_path", None) or None
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

    if tokenizer is None and processor is not None:
        tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is None:
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
    """Refuse a checkpoint saved with a head of another task (it would get a random head and answer noise)."""
    from ..configuration import load_config_dict

    architectures = load_config_dict(model_name, **hub_kwargs).get("architectures") or []
    if not architectures or task == "feature-extraction":
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
