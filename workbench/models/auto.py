"""Auto classes: pick the config and model class from a checkpoint's ``model_type``.

``AutoModelForSequenceClassification.from_pretrained("some/bert")`` reads config.json, finds
``"model_type": "bert"`` below, imports ``workbench.models.bert`` and calls
``BertForSequenceClassification.from_pretrained``. Family modules are imported only when used.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple

from .. import hub
from ..configuration import PretrainedConfig, load_config_dict


class Family(NamedTuple):
    """What workbench knows about one ``model_type``: where its code is and what it can do."""

    module: str  # the file in workbench/models that implements it (variants share one file)
    config: str  # its config class
    tasks: dict[str, str]  # task -> model class; the Auto classes and pipelines read this
    processor: str = "tokenizer"  # what turns raw inputs into model inputs: "tokenizer", "image_processor", ...
    exports: tuple[str, ...] = ()  # other public names of the module, importable from workbench


def _encoder(prefix: str) -> dict[str, str]:
    """The task heads of a BERT-style encoder named ``prefix``."""
    return {
        "base": f"{prefix}Model",
        "masked-lm": f"{prefix}ForMaskedLM",
        "sequence-classification": f"{prefix}ForSequenceClassification",
        "token-classification": f"{prefix}ForTokenClassification",
        "question-answering": f"{prefix}ForQuestionAnswering",
        "multiple-choice": f"{prefix}ForMultipleChoice",
    }


def _decoder(prefix: str) -> dict[str, str]:
    return {"base": f"{prefix}Model", "causal-lm": f"{prefix}ForCausalLM"}


def _seq2seq(prefix: str, lm: str | None = None, **extra: str) -> dict[str, str]:
    return {"base": f"{prefix}Model", "seq2seq-lm": lm or f"{prefix}ForConditionalGeneration", **extra}


# model_type -> Family. THE registry: the Auto classes, pipelines, the model picker and the lazy exports of
# ``import workbench`` are all derived from it. Adding a family = one file in this folder + one entry here.
# Variants of one architecture share a module and differ only by config; their Hub class names are
# aliases of the family's classes (XLMRobertaForMaskedLM is RobertaForMaskedLM), defined in the module.
MODEL_TYPES: dict[str, Family] = {
    # encoders
    "bert": Family("bert", "BertConfig", _encoder("Bert")),
    "roberta": Family("roberta", "RobertaConfig", _encoder("Roberta")),
    "xlm-roberta": Family("roberta", "XLMRobertaConfig", _encoder("XLMRoberta")),
    "camembert": Family("roberta", "CamembertConfig", _encoder("Camembert")),
    "data2vec-text": Family("roberta", "Data2VecTextConfig", _encoder("Data2VecText")),
    "distilbert": Family("distilbert", "DistilBertConfig", _encoder("DistilBert")),
    "albert": Family("albert", "AlbertConfig", {**_encoder("Albert"), "pretraining": "AlbertForPreTraining"}),
    "electra": Family("electra", "ElectraConfig", {**_encoder("Electra"), "pretraining": "ElectraForPreTraining"}),
    # decoders
    "gpt2": Family("gpt2", "GPT2Config", {"base": "GPT2Model", "causal-lm": "GPT2LMHeadModel"}),
    "llama": Family("llama", "LlamaConfig", _decoder("Llama")),
    "mistral": Family("llama", "MistralConfig", _decoder("Mistral")),
    "mixtral": Family("llama", "MixtralConfig", _decoder("Mixtral")),
    "qwen2": Family("llama", "Qwen2Config", _decoder("Qwen2")),
    # encoder-decoders
    "t5": Family("t5", "T5Config", _seq2seq("T5", **{"text-encoding": "T5EncoderModel"})),
    "mt5": Family("t5", "MT5Config", _seq2seq("MT5", **{"text-encoding": "MT5EncoderModel"})),
    "umt5": Family("t5", "UMT5Config", _seq2seq("UMT5", **{"text-encoding": "UMT5EncoderModel"})),
    "bart": Family(
        "bart", "BartConfig", _seq2seq("Bart", **{"sequence-classification": "BartForSequenceClassification"})
    ),
    "mbart": Family(
        "bart", "MBartConfig", _seq2seq("MBart", **{"sequence-classification": "MBartForSequenceClassification"})
    ),
    "marian": Family("bart", "MarianConfig", _seq2seq("Marian", lm="MarianMTModel")),
    "pegasus": Family("bart", "PegasusConfig", _seq2seq("Pegasus")),
    "m2m_100": Family("bart", "M2M100Config", _seq2seq("M2M100")),
}

# Auto class -> the task whose head it loads, in the order the model picker lists tasks.
AUTO_MODEL_CLASSES = {
    "AutoModel": "base",
    "AutoModelForMaskedLM": "masked-lm",
    "AutoModelForCausalLM": "causal-lm",
    "AutoModelForSeq2SeqLM": "seq2seq-lm",
    "AutoModelForSequenceClassification": "sequence-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForMultipleChoice": "multiple-choice",
    "AutoModelForPreTraining": "pretraining",
    "AutoModelForTextEncoding": "text-encoding",
}
TASKS = tuple(AUTO_MODEL_CLASSES.values())


def public_names() -> dict[str, str]:
    """Every public class of the model families -> its module (``models.bert``), for ``import workbench``."""
    names = {}
    for family in MODEL_TYPES.values():
        for name in (family.config, *family.tasks.values(), *family.exports):
            names[name] = f"models.{family.module}"
    return names


def tiny_config(preset: str, **overrides: Any) -> PretrainedConfig:
    """A tiny config for tests and teaching, from a family's ``TINY_PRESETS`` (seconds to build and run on a CPU):
    ``tiny_config("llama-tiny-random", vocab_size=1000)``. Each preset is config.json-shaped, ``model_type``
    included, so ``AutoConfig.for_model(**preset)`` builds it too."""
    known = []
    for module in dict.fromkeys(family.module for family in MODEL_TYPES.values()):
        presets = getattr(importlib.import_module(f"workbench.models.{module}"), "TINY_PRESETS", {})
        if preset in presets:
            values = {**presets[preset], **overrides}
            return config_class_for(values["model_type"])(**values)
        known += presets
    raise ValueError(f"Unknown preset {preset!r}; the presets are: {', '.join(sorted(known))}.")


def register(model_type: str, module: str, config_class: str, classes: dict[str, str], **options) -> None:
    """Add a family (used by family modules that live outside this package, e.g. in tests)."""
    MODEL_TYPES[model_type] = Family(module, config_class, classes, **options)


def supported_model_types() -> list[str]:
    return sorted(MODEL_TYPES)


def _load(model_type: str, name: str) -> Any:
    module_name = MODEL_TYPES[model_type].module
    module = importlib.import_module(module_name if "." in module_name else f"workbench.models.{module_name}")
    return getattr(module, name)


def _unsupported(model_type: str | None, where: str, config_dict: dict | None = None) -> ValueError:
    remote = ""
    if config_dict and config_dict.get("auto_map"):
        remote = " This checkpoint asks for custom code (auto_map); workbench never runs remote code."
    return ValueError(
        f"{where} has model_type {model_type!r}, which workbench does not implement.{remote} "
        f"Supported model types: {', '.join(supported_model_types())}."
    )


def config_class_for(model_type: str) -> type[PretrainedConfig]:
    if model_type not in MODEL_TYPES:
        raise _unsupported(model_type, "The config")
    return _load(model_type, MODEL_TYPES[model_type].config)


def _refuse_remote_code(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("trust_remote_code", False):
        raise ValueError("trust_remote_code=True is not supported: workbench runs only its own model code.")


class AutoConfig:
    """``AutoConfig.from_pretrained(name_or_path, **overrides)`` and ``AutoConfig.for_model(model_type)``."""

    def __init__(self):
        raise TypeError("Use AutoConfig.from_pretrained(...) or AutoConfig.for_model(...).")

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        """The config of a checkpoint (folder or Hub id), or of a config file (``"folder/config.json"``)."""
        _refuse_remote_code(kwargs)
        hub_kwargs = hub.pop_hub_kwargs(kwargs)
        config_dict = load_config_dict(name_or_path, **hub_kwargs)
        model_type = config_dict.get("model_type")
        if model_type not in MODEL_TYPES:
            raise _unsupported(model_type, f"The checkpoint {os.fspath(name_or_path)!r}", config_dict)
        config = config_class_for(model_type).from_dict(config_dict, **kwargs)
        config._name_or_path = os.fspath(name_or_path)
        return config

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(**kwargs)


class _AutoModel:
    task = "base"

    def __init__(self):
        raise TypeError(f"Use {type(self).__name__}.from_pretrained(...) or .from_config(...).")

    @classmethod
    def model_class(cls, config: PretrainedConfig) -> type:
        model_type = config.model_type
        if model_type not in MODEL_TYPES:
            raise _unsupported(model_type, f"{type(config).__name__}")
        classes = MODEL_TYPES[model_type].tasks
        if cls.task not in classes:
            able = sorted(task for task in classes)
            raise ValueError(
                f"{cls.__name__} needs a {cls.task} head, which model_type {model_type!r} does not have "
                f"(it has: {', '.join(able)})."
            )
        return _load(model_type, classes[cls.task])

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        return cls.model_class(config).from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Load a checkpoint (folder or Hub id) with its config, or with ``config=``: a config object, or the
        folder, Hub id or file path of one (``config="other/config.json"``)."""
        _refuse_remote_code(kwargs)
        if os.path.isfile(pretrained_model_name_or_path):
            folder = os.path.dirname(os.fspath(pretrained_model_name_or_path)) or "."
            raise ValueError(
                f"{cls.__name__}.from_pretrained loads a checkpoint's folder or Hub id, and "
                f"{os.fspath(pretrained_model_name_or_path)!r} is a file. Pass the folder that holds config.json and "
                f"the weights ({folder!r}); a config file of its own goes in config=..., e.g. "
                f"{cls.__name__}.from_pretrained({folder!r}, config='path/to/config.json')."
            )
        config = kwargs.pop("config", None)
        if config is None or isinstance(config, (str, os.PathLike)):
            hub_kwargs = {k: kwargs[k] for k in hub.HUB_KWARGS if k in kwargs}
            loading_options = {"torch_dtype", "dtype", "ignore_mismatched_sizes", "output_loading_info", "device_map"}
            overrides = {k: v for k, v in kwargs.items() if k not in loading_options and k not in hub.HUB_KWARGS}
            config = AutoConfig.from_pretrained(config or pretrained_model_name_or_path, **hub_kwargs, **overrides)
            kwargs = {k: v for k, v in kwargs.items() if k not in overrides}
        return cls.model_class(config).from_pretrained(pretrained_model_name_or_path, *args, config=config, **kwargs)


# The Auto classes themselves: one subclass of _AutoModel per entry of AUTO_MODEL_CLASSES, e.g.
# ``class AutoModelForMaskedLM(_AutoModel): task = "masked-lm"``.
for _name, _task in AUTO_MODEL_CLASSES.items():
    globals()[_name] = type(
        _name,
        (_AutoModel,),
        {"task": _task, "__module__": __name__, "__doc__": f"Loads a checkpoint with its {_task} head."},
    )
del _name, _task
