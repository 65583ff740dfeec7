"""Transformers Workbench: the Hugging Face Transformers API re-implemented in plain PyTorch.

Everything public is importable from here (``from workbench import AutoModel, AutoTokenizer``) and is
imported lazily, on first use, so that ``import workbench`` stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module (relative to this package) that defines it
_LAZY = {
    "PretrainedConfig": "configuration",
    "PreTrainedModel": "modeling",
    "ModelOutput": "modeling",
    "AutoConfig": "models.auto",
    "AutoModel": "models.auto",
    "AutoModelForMaskedLM": "models.auto",
    "AutoModelForCausalLM": "models.auto",
    "AutoModelForSeq2SeqLM": "models.auto",
    "GenerationConfig": "generation",
    "TextStreamer": "generation",
    "TextIteratorStreamer": "generation",
    "LogitsProcessor": "generation",
    "LogitsProcessorList": "generation",
    "StoppingCriteria": "generation",
    "StoppingCriteriaList": "generation",
    "GPT2Config": "models.gpt2",
    "GPT2Model": "models.gpt2",
    "GPT2LMHeadModel": "models.gpt2",
    "Trainer": "trainer",
    "TrainingArguments": "trainer",
    "TrainerCallback": "trainer",
    "TrainerState": "trainer",
    "TrainerControl": "trainer",
    "EarlyStoppingCallback": "trainer",
    "EvalPrediction": "trainer",
    "get_scheduler": "trainer",
    "set_seed": "trainer",
    "default_data_collator": "data_collator",
    "DefaultDataCollator": "data_collator",
    "DataCollatorWithPadding": "data_collator",
    "DataCollatorForTokenClassification": "data_collator",
    "DataCollatorForMultipleChoice": "data_collator",
    "DataCollatorForLanguageModeling": "data_collator",
    "DataCollatorForSeq2Seq": "data_collator",
    "Seq2SeqTrainer": "trainer_seq2seq",
    "Seq2SeqTrainingArguments": "trainer_seq2seq",
    "AutoModelForSequenceClassification": "models.auto",
    "AutoModelForTokenClassification": "models.auto",
    "AutoModelForQuestionAnswering": "models.auto",
    "AutoModelForMultipleChoice": "models.auto",
    "AutoTokenizer": "tokenization",
    "PreTrainedTokenizerFast": "tokenization",
    "BatchEncoding": "tokenization",
    "pipeline": "pipelines",
    "KVCache": "cache",
    "EncoderDecoderCache": "cache",
    "GenerationMixin": "generation",
    "hub": "hub",
}

# family module -> the class-name prefixes it defines (variants are config switches of one file,
# exported under their Hub names too: XLMRobertaModel is RobertaModel reading an XLM-R config)
_FAMILIES = {
    "models.bert": ("Bert",),
    "models.roberta": ("Roberta", "XLMRoberta", "Camembert", "Data2VecText"),
    "models.distilbert": ("DistilBert",),
    "models.albert": ("Albert",),
    "models.electra": ("Electra",),
}
# decoder-only families: LLaMA, Mistral, Mixtral and Qwen2 share one file (config switches)
for _prefix in ("Llama", "Mistral", "Mixtral", "Qwen2"):
    for _suffix in ("Config", "Model", "ForCausalLM"):
        _LAZY[_prefix + _suffix] = "models.llama"
# encoder-decoder families: T5 (+ mT5, UMT5) in one file, BART (+ mBART, Marian, Pegasus, M2M100/NLLB) in another
for _name in ("T5Config", "MT5Config", "UMT5Config", "T5Model", "T5ForConditionalGeneration", "T5EncoderModel",
              "MT5Model", "MT5ForConditionalGeneration", "MT5EncoderModel", "UMT5Model", "UMT5ForConditionalGeneration",
              "UMT5EncoderModel"):
    _LAZY[_name] = "models.t5"
for _name in ("BartConfig", "MBartConfig", "MarianConfig", "PegasusConfig", "M2M100Config",
              "BartModel", "BartForConditionalGeneration", "BartForSequenceClassification",
              "MBartModel", "MBartForConditionalGeneration", "MBartForSequenceClassification",
              "MarianModel", "MarianMTModel", "PegasusModel", "PegasusForConditionalGeneration",
              "M2M100Model", "M2M100ForConditionalGeneration"):
    _LAZY[_name] = "models.bart"
_LAZY["AlbertForPreTraining"] = "models.albert"
_LAZY["ElectraForPreTraining"] = "models.electra"
for _module, _prefixes in _FAMILIES.items():
    for _prefix in _prefixes:
        for _suffix in ("Config", "Model", "ForMaskedLM", "ForSequenceClassification", "ForTokenClassification",
                        "ForQuestionAnswering", "ForMultipleChoice"):
            _LAZY[_prefix + _suffix] = _module

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
