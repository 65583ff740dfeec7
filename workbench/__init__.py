"""Transformers Workbench: the Hugging Face Transformers API re-implemented in plain PyTorch.

Everything public is importable from here (``from workbench import AutoModel, AutoTokenizer``) and is
imported lazily, on first use, so that ``import workbench`` stays fast. The model families' names come from
the registry in ``workbench/models/auto.py``; the rest from the table below.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# module (relative to this package) -> the public names it defines
_MODULE_EXPORTS = {
    "configuration": ("PretrainedConfig",),
    "modeling": ("PreTrainedModel",),
    "outputs": ("ModelOutput",),
    "cache": ("KVCache", "EncoderDecoderCache"),
    "models.auto": ("AutoConfig",),
    "generation": (
        "GenerationConfig",
        "GenerationMixin",
        "TextStreamer",
        "TextIteratorStreamer",
        "LogitsProcessor",
        "LogitsProcessorList",
        "StoppingCriteria",
        "StoppingCriteriaList",
    ),
    "processing": (
        "AutoTokenizer",
        "PreTrainedTokenizerFast",
        "BatchEncoding",
        "PaddingStrategy",
        "TruncationStrategy",
        "AutoImageProcessor",
        "AutoFeatureExtractor",
        "AutoProcessor",
        "BatchFeature",
        "ProcessorMixin",
    ),
    "processing.image_processing": (
        "BaseImageProcessor",
        "ViTImageProcessor",
        "DeiTImageProcessor",
        "BeitImageProcessor",
        "ConvNextImageProcessor",
        "BitImageProcessor",
        "CLIPImageProcessor",
        "SiglipImageProcessor",
    ),
    "processing.processor": ("CLIPProcessor", "SiglipProcessor", "VisionTextDualEncoderProcessor"),
    "processing.feature_extraction": (
        "WhisperFeatureExtractor",
        "Wav2Vec2FeatureExtractor",
        "WhisperProcessor",
        "Wav2Vec2Processor",
        "SequenceFeatureExtractor",
    ),
    # the model-specific tokenizer names (tests/test_tokenizer_defaults.py checks this list is complete)
    "processing.tokenizer_classes": (
        "AlbertTokenizer",
        "AlbertTokenizerFast",
        "BartTokenizer",
        "BartTokenizerFast",
        "BertTokenizer",
        "BertTokenizerFast",
        "ByT5Tokenizer",
        "CLIPTokenizer",
        "CLIPTokenizerFast",
        "CamembertTokenizer",
        "CamembertTokenizerFast",
        "CodeLlamaTokenizer",
        "CodeLlamaTokenizerFast",
        "DistilBertTokenizer",
        "DistilBertTokenizerFast",
        "ElectraTokenizer",
        "ElectraTokenizerFast",
        "GPT2Tokenizer",
        "GPT2TokenizerFast",
        "LlamaTokenizer",
        "LlamaTokenizerFast",
        "M2M100Tokenizer",
        "MBartTokenizer",
        "MBartTokenizerFast",
        "MT5Tokenizer",
        "MT5TokenizerFast",
        "MarianTokenizer",
        "NllbTokenizer",
        "NllbTokenizerFast",
        "PegasusTokenizer",
        "PegasusTokenizerFast",
        "Qwen2Tokenizer",
        "Qwen2TokenizerFast",
        "RobertaTokenizer",
        "RobertaTokenizerFast",
        "T5Tokenizer",
        "T5TokenizerFast",
        "Wav2Vec2CTCTokenizer",
        "WhisperTokenizer",
        "WhisperTokenizerFast",
        "XLMRobertaTokenizer",
        "XLMRobertaTokenizerFast",
    ),
    "training": (
        "Trainer",
        "TrainingArguments",
        "TrainerCallback",
        "TrainerState",
        "TrainerControl",
        "EarlyStoppingCallback",
        "EvalPrediction",
        "get_scheduler",
        "set_seed",
        "Seq2SeqTrainer",
        "Seq2SeqTrainingArguments",
        "default_data_collator",
        "DefaultDataCollator",
        "DataCollatorWithPadding",
        "DataCollatorForTokenClassification",
        "DataCollatorForMultipleChoice",
        "DataCollatorForLanguageModeling",
        "DataCollatorForSeq2Seq",
    ),
    "pipelines": ("pipeline",),
    "quantization": ("TorchAoConfig", "quantize_", "quantize_dynamic"),
}
# importable as attributes: ``workbench.hub``
_SUBMODULES = ("hub", "data", "hardware", "tokenization_utils_base", "export")


def _lazy_table() -> dict[str, str]:
    from .models.auto import AUTO_MODEL_CLASSES, public_names

    table = {name: module for module, names in _MODULE_EXPORTS.items() for name in names}
    table.update(dict.fromkeys(AUTO_MODEL_CLASSES, "models.auto"))
    table.update(public_names())
    table.update({name: name for name in _SUBMODULES})
    return table


_LAZY = _lazy_table()
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    module = importlib.import_module(f".{_LAZY[name]}", __name__)
    value = module if name == _LAZY[name] else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
