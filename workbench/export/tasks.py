"""What an exported graph takes and returns, per task: names and dynamic axes as optimum names them.

A task names the head that is exported (``fill-mask`` -> the ``masked-lm`` class of the registry) and the
graph files it becomes. Each graph is a list of inputs and outputs, each with its dynamic axes, the axes
whose size may change from one run to the next (``{0: "batch_size", 1: "sequence_length"}``); every
other axis is fixed at export (the hidden size, the number of heads, the vocabulary).

    encoders         model.onnx                  input_ids, attention_mask[, token_type_ids] -> the head's outputs
    decoders         model.onnx                  input_ids, attention_mask, position_ids -> logits
      ...-with-past  model.onnx                  + past_key_values.{i}.key/value -> + present.{i}.key/value
    encoder-decoders encoder_model.onnx          input_ids, attention_mask -> last_hidden_state
                     decoder_model.onnx          input_ids, encoder_attention_mask, encoder_hidden_states -> logits
      ...-with-past  decoder_with_past_model.onnx  input_ids, encoder_attention_mask,
                                                   past_key_values.{i}.decoder/encoder.key/value
                                                   -> logits, present.{i}.decoder.key/value

A with-past decoder graph takes a cache of any length, zero included: the first step of generation feeds an empty
cache (past_sequence_length 0) and every later step the ``present`` tensors of the step before. The names are the
ones optimum writes and ONNX Runtime's generation code reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models.auto import MODEL_TYPES

BATCH = {0: "batch_size"}
TOKENS = {0: "batch_size", 1: "sequence_length"}


@dataclass(frozen=True)
class Task:
    """One export task: the head it exports, the kind of model, and what its graphs return."""

    name: str  # optimum's task name: "fill-mask", "text-generation-with-past", ...
    head: str  # the registry's task key (MODEL_TYPES[...].tasks) whose class is exported
    kind: str  # "encoder", "decoder" or "encoder-decoder": which graphs are written
    outputs: dict[str, dict[int, str]]  # the head's outputs -> dynamic axes (past/present are added for with_past)
    with_past: bool = False  # decoders: the graph reads and returns the key/value cache


_ENCODER_TASKS = [
    Task("feature-extraction", "base", "encoder", {"last_hidden_state": TOKENS}),
    Task("fill-mask", "masked-lm", "encoder", {"logits": TOKENS}),
    Task("text-classification", "sequence-classification", "encoder", {"logits": BATCH}),
    Task("token-classification", "token-classification", "encoder", {"logits": TOKENS}),
    Task("question-answering", "question-answering", "encoder", {"start_logits": TOKENS, "end_logits": TOKENS}),
]
_DECODER_TASKS = [
    Task("text-generation", "causal-lm", "decoder", {"logits": TOKENS}),
    Task("text-generation-with-past", "causal-lm", "decoder", {"logits": TOKENS}, with_past=True),
]
_SEQ2SEQ_LOGITS = {"logits": {0: "batch_size", 1: "decoder_sequence_length"}}
_SEQ2SEQ_TASKS = [
    Task("text2text-generation", "seq2seq-lm", "encoder-decoder", _SEQ2SEQ_LOGITS),
    Task("text2text-generation-with-past", "seq2seq-lm", "encoder-decoder", _SEQ2SEQ_LOGITS, with_past=True),
]
TASKS: dict[str, Task] = {task.name: task for task in _ENCODER_TASKS + _DECODER_TASKS + _SEQ2SEQ_TASKS}

# The model types whose export the tests check (ONNX Runtime agrees with PyTorch; decoders: the same greedy
# tokens as generate()). Another family may trace into a graph that computes something else, so it is refused
# until a test covers it.
FAMILIES = {
    "encoder": ("bert", "roberta", "xlm-roberta", "camembert", "distilbert", "albert", "electra"),
    "decoder": (
        "gpt2",
        "llama",
        "mistral",
        "qwen2",
        "gemma",
        "gpt_neox",
        "persimmon",
        "phi",
        "stablelm",
        "gpt_bigcode",
    ),
    "encoder-decoder": ("bart", "marian", "pegasus", "m2m_100", "t5", "mt5"),
}

# Absolute tolerance of the ONNX Runtime check where the reference's exporter (optimum) uses another than 1e-5.
DEFAULT_ATOL = 1e-5
ATOL = {
    "bert": 1e-4,
    "roberta": 1e-4,
    "xlm-roberta": 1e-4,
    "camembert": 1e-4,
    "distilbert": 1e-4,
    "albert": 1e-4,
    "electra": 1e-4,
    "mt5": 1e-4,
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ValueError(f"Unknown export task {name!r}. The tasks are: {', '.join(TASKS)}.")
    return TASKS[name]


def supported_tasks(model_type: str) -> list[str]:
    """The export tasks a model type supports: those of its kind whose head the family has."""
    family = MODEL_TYPES.get(model_type)
    kinds = [kind for kind, model_types in FAMILIES.items() if model_type in model_types]
    if family is None or not kinds:
        return []
    return [task.name for task in TASKS.values() if task.kind == kinds[0] and task.head in family.tasks]


def check_supported(model_type: str, task_name: str) -> Task:
    """The task, or a ValueError naming what is supported: the tasks of this model type, or the model types."""
    task = get_task(task_name)
    able = supported_tasks(model_type)
    if not able:
        families = "; ".join(f"{kind}s: {', '.join(types)}" for kind, types in FAMILIES.items())
        raise ValueError(
            f"ONNX export does not support model_type {model_type!r} yet. Supported model types: {families}."
        )
    if task_name not in able:
        raise ValueError(
            f"model_type {model_type!r} cannot be exported for {task_name!r}; its export tasks are: {', '.join(able)}."
        )
    return task


def atol_for(model_type: str) -> float:
    return ATOL.get(model_type, DEFAULT_ATOL)


def encoder_inputs(config) -> list[str]:
    """BERT, ALBERT and ELECTRA read segment ids; RoBERTa (one segment type) and DistilBERT do not (as optimum)."""
    names = ["input_ids", "attention_mask"]
    if getattr(config, "type_vocab_size", 0) > 1:
        names.append("token_type_ids")
    return names


def past_names(prefix: str, num_layers: int, parts: tuple[str, ...] = ("",)) -> list[str]:
    """``past_key_values.0.key, past_key_values.0.value, ...`` (``parts`` ("decoder.", "encoder.") for seq2seq)."""
    return [f"{prefix}.{i}.{part}{kv}" for i in range(num_layers) for part in parts for kv in ("key", "value")]
