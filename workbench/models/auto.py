"""Auto classes: pick the config and model class from a checkpoint's ``model_type``.

``AutoModelForSequenceClassification.from_pretrained("some/bert")`` reads config.json, finds
``"model_type": "bert"`` below, imports ``workbench.models.bert`` and calls
``BertForSequenceClassification.from_pretrained``. Family modules are imported only when used.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from .. import hub
from ..configuration import PretrainedConfig, load_config_dict

# Task names used by the Auto classes below, in the order the model picker lists them.
TASKS = ("base", "masked-lm", "causal-lm", "seq2seq-lm", "sequence-classification", "token-classification",
         "question-answering", "multiple-choice")


def _heads(prefix: str) -> dict[str, str]:
    return {
        "base": f"{prefix}Model",
        "masked-lm": f"{prefix}ForMaskedLM",
        "sequence-classification": f"{prefix}ForSequenceClassification",
        "token-classification": f"{prefix}ForTokenClassification",
        "question-answering": f"{prefix}ForQuestionAnswering",
        "multiple-choice": f"{prefix}ForMultipleChoice",
    }


def _seq2seq(prefix: str, classifier: bool = False) -> dict[str, str]:
    heads = {"base": f"{prefix}Model", "seq2seq-lm": f"{prefix}ForConditionalGeneration"}
    if classifier:
        heads["sequence-classification"] = f"{prefix}ForSequenceClassification"
    return heads


# model_type -> (module in workbench.models, config class, task -> model class).
# Variants of one architecture map to the same module: they differ only by config.
MODEL_TYPES: dict[str, tuple[str, str, dict[str, str]]] = {
    "bert": ("bert", "BertConfig", _heads("Bert")),
    "roberta": ("roberta", "RobertaConfig", _heads("Roberta")),
    "xlm-roberta": ("roberta", "XLMRobertaConfig", _heads("Roberta")),
    "camembert": ("roberta", "CamembertConfig", _heads("Roberta")),
    "data2vec-text": ("roberta", "Data2VecTextConfig", _heads("Roberta")),
    "distilbert": ("distilbert", "DistilBertConfig", _heads("DistilBert")),
    "albert": ("albert", "AlbertConfig", _heads("Albert")),
    "electra": ("electra", "ElectraConfig", _heads("Electra")),
    "gpt2": ("gpt2", "GPT2Config", {"base": "GPT2Model", "causal-lm": "GPT2LMHeadModel"}),
    "llama": ("llama", "LlamaConfig", {"base": "LlamaModel", "causal-lm": "LlamaForCausalLM"}),
    "mistral": ("llama", "MistralConfig", {"base": "LlamaModel", "causal-lm": "LlamaForCausalLM"}),
    "mixtral": ("llama", "MixtralConfig", {"base": "LlamaModel", "causal-lm": "LlamaForCausalLM"}),
    "qwen2": ("llama", "Qwen2Config", {"base": "LlamaModel", "causal-lm": "LlamaForCausalLM"}),
    # encoder-decoders: T5 and its variants in one file, the BART family in another
    "t5": ("t5", "T5Config", _seq2seq("T5")),
    "mt5": ("t5", "MT5Config", _seq2seq("T5")),
    "umt5": ("t5", "UMT5Config", _seq2seq("T5")),
    "bart": ("bart", "BartConfig", _seq2seq("Bart", classifier=True)),
    "mbart": ("bart", "MBartConfig", _seq2seq("Bart", classifier=True)),
    "marian": ("bart", "MarianConfig", _seq2seq("Bart")),
    "pegasus": ("bart", "PegasusConfig", _seq2seq("Bart")),
    "m2m_100": ("bart", "M2M100Config", _seq2seq("Bart")),
}


def register(model_type: str, module: str, config_class: str, classes: dict[str, str]) -> None:
    """Add a family (used by family modules that live outside this package, e.g. in tests)."""
    MODEL_TYPES[model_type] = (module, config_class, classes)


def supported_model_types() -> list[str]:
    return sorted(MODEL_TYPES)


def _load(model_type: str, name: str) -> Any:
    module_name = MODEL_TYPES[model_type][0]
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
    return _load(model_type, MODEL_TYPES[model_type][1])


def _refuse_remote_code(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("trust_remote_code", False):
        raise ValueError("trust_remote_code=True is not supported: workbench runs only its own model code.")


class AutoConfig:
    """``AutoConfig.from_pretrained(name_or_path, **overrides)`` and ``AutoConfig.for_model(model_type)``."""

    def __init__(self):
        raise TypeError("Use AutoConfig.from_pretrained(...) or AutoConfig.for_model(...).")

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
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
        classes = MODEL_TYPES[model_type][2]
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
        _refuse_remote_code(kwargs)
        config = kwargs.pop("config", None)
        if config is None:
            hub_kwargs = {k: kwargs[k] for k in hub.HUB_KWARGS if k in kwargs}
            loading_options = {"torch_dtype", "dtype", "ignore_mismatched_sizes", "output_loading_info", "device_map"}
            overrides = {k: v for k, v in kwargs.items() if k not in loading_options and k not in hub.HUB_KWARGS}
            config = AutoConfig.from_pretrained(pretrained_model_name_or_path, **hub_kwargs, **overrides)
            kwargs = {k: v for k, v in kwargs.items() if k not in overrides}
        return cls.model_class(config).from_pretrained(pretrained_model_name_or_path, *args, config=config, **kwargs)


class AutoModel(_AutoModel):
    task = "base"


class AutoModelForMaskedLM(_AutoModel):
    task = "masked-lm"


class AutoModelForCausalLM(_AutoModel):
    task = "causal-lm"


class AutoModelForSeq2SeqLM(_AutoModel):
    task = "seq2seq-lm"


class AutoModelForSequenceClassification(_AutoModel):
    task = "sequence-classification"


class AutoModelForTokenClassification(_AutoModel):
    task = "token-classification"


class AutoModelForQuestionAnswering(_AutoModel):
    task = "question-answering"


class AutoModelForMultipleChoice(_AutoModel):
    task = "multiple-choice"
