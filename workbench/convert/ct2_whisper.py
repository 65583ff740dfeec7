"""Whisper from CTranslate2: a faster-whisper checkpoint folder turned into the Hub's Whisper folder.

faster-whisper runs Whisper with CTranslate2, whose converter writes a folder of four files:

    model.bin          the weights (below); a package may ship it cut in parts, model.bin.part1, .part2, ...
    config.json        alignment_heads, lang_ids, suppress_ids, suppress_ids_begin (what generation needs)
    tokenizer.json     the Hub checkpoint's tokenizer, without the 1,501 timestamp tokens
    vocabulary.txt     one token per line, id = line number: the tokenizer's tokens, then <|0.00|> ... <|30.00|>

model.bin is a flat list of named tensors (CTranslate2's ``python/ctranslate2/specs/model_spec.py`` writes it,
``src/models/model.cc`` reads it), little-endian:

    uint32 binary version (4 to 6 here)   string spec name ("WhisperSpec")   uint32 spec revision
    uint32 number of variables, then for each:
        string name ("encoder/layer_0/self_attention/linear_0/weight")
        uint8 rank, uint32 dims[rank], uint8 dtype (0 float32, 1 int8, 2 int16, 3 int32, 4 float16, 5 bfloat16)
        uint32 byte count, the bytes (row-major)
    uint32 number of aliases, then pairs of strings: a name and the variable it shares ("decoder/projection/weight"
    is "decoder/embeddings/weight": the output projection tied to the token embeddings)
    (a string is a uint16 length, counting a final NUL, then its bytes and the NUL)

Rank-0 variables are settings (heads, activation, pre-norm). The tensors map to the Hub's keys of
``WhisperForConditionalGeneration`` (under ``model.``), with {side} encoder or decoder and {n} a layer:

    CTranslate2                                        Hub (model.)
    {side}/layer_{n}/self_attention/linear_0  [3d, d]  {side}.layers.{n}.self_attn.q_proj, k_proj, v_proj (fused q/k/v)
    {side}/layer_{n}/self_attention/linear_1           {side}.layers.{n}.self_attn.out_proj
    {side}/layer_{n}/self_attention/layer_norm         {side}.layers.{n}.self_attn_layer_norm
    decoder/layer_{n}/attention/linear_0               decoder.layers.{n}.encoder_attn.q_proj
    decoder/layer_{n}/attention/linear_1      [2d, d]  decoder.layers.{n}.encoder_attn.k_proj, v_proj (fused k/v)
    decoder/layer_{n}/attention/linear_2               decoder.layers.{n}.encoder_attn.out_proj
    decoder/layer_{n}/attention/layer_norm             decoder.layers.{n}.encoder_attn_layer_norm
    {side}/layer_{n}/ffn/linear_0, linear_1            {side}.layers.{n}.fc1, fc2
    {side}/layer_{n}/ffn/layer_norm                    {side}.layers.{n}.final_layer_norm
    {side}/layer_norm                                  {side}.layer_norm
    encoder/conv1, conv2                               encoder.conv1, conv2
    encoder/position_encodings/encodings               encoder.embed_positions.weight (the sinusoids, stored)
    decoder/position_encodings/encodings               decoder.embed_positions.weight (learned)
    decoder/embeddings/weight                          decoder.embed_tokens.weight (proj_out is tied to it)

A layer norm's gamma and beta are its weight and bias. Whisper's key projections have no bias, so CTranslate2
stores zeros in the fused biases' key rows: they are checked to be zero and dropped. A name no rule matches, a
setting with a value Whisper does not have, a nonzero key bias, or a result whose keys or shapes differ from
``WhisperForConditionalGeneration``'s stop the conversion with an error. float16 and bfloat16 tensors are
written as float32; int8-quantized files are refused (their weights would come back approximate).

The folder written is laid out as the Hub's openai/whisper-* folders: config.json, generation_config.json,
preprocessor_config.json, model.safetensors, the tokenizer (tokenizer.json with the timestamp tokens,
tokenizer_config.json, special_tokens_map.json, added_tokens.json, vocab.json, merges.txt) and a README.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .. import hub

BINARY_VERSIONS = range(4, 7)  # 4: the dtype byte; 6: CTranslate2 4.x's files
SPEC_NAME = "WhisperSpec"
DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16, 5: "bfloat16"}
TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|>, every 0.02 s
TIME_PRECISION = 0.02


# ------------------------------------------------------------------------------------------------
# The key map
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """CTranslate2 names matching ``pattern`` hold the Hub's ``keys`` (their concatenation along the first axis when
    there are several). Templates take the pattern's groups: {side}, {n} and {param} (gamma/beta read as
    weight/bias)."""

    pattern: str
    keys: tuple[str, ...]


_LAYER = r"(?P<side>encoder|decoder)/layer_(?P<n>\d+)/"
_DECODER_LAYER = r"(?P<side>decoder)/layer_(?P<n>\d+)/"
_LINEAR = r"/(?P<param>weight|bias)"
_NORM = r"/(?P<param>gamma|beta)"


def _in_layer(*modules: str) -> tuple[str, ...]:
    return tuple(f"{{side}}.layers.{{n}}.{module}.{{param}}" for module in modules)


RULES = (
    Rule(
        _LAYER + "self_attention/linear_0" + _LINEAR,
        _in_layer("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"),
    ),
    Rule(_LAYER + "self_attention/linear_1" + _LINEAR, _in_layer("self_attn.out_proj")),
    Rule(_LAYER + "self_attention/layer_norm" + _NORM, _in_layer("self_attn_layer_norm")),
    Rule(_DECODER_LAYER + "attention/linear_0" + _LINEAR, _in_layer("encoder_attn.q_proj")),
    Rule(_DECODER_LAYER + "attention/linear_1" + _LINEAR, _in_layer("encoder_attn.k_proj", "encoder_attn.v_proj")),
    Rule(_DECODER_LAYER + "attention/linear_2" + _LINEAR, _in_layer("encoder_attn.out_proj")),
    Rule(_DECODER_LAYER + "attention/layer_norm" + _NORM, _in_layer("encoder_attn_layer_norm")),
    Rule(_LAYER + "ffn/linear_0" + _LINEAR, _in_layer("fc1")),
    Rule(_LAYER + "ffn/linear_1" + _LINEAR, _in_layer("fc2")),
    Rule(_LAYER + "ffn/layer_norm" + _NORM, _in_layer("final_layer_norm")),
    Rule(r"(?P<side>encoder|decoder)/layer_norm" + _NORM, ("{side}.layer_norm.{param}",)),
    Rule(r"encoder/(?P<conv>conv[12])" + _LINEAR, ("encoder.{conv}.{param}",)),
    Rule(r"(?P<side>encoder|decoder)/position_encodings/encodings", ("{side}.embed_positions.weight",)),
    Rule(r"decoder/embeddings/weight", ("decoder.embed_tokens.weight",)),
)
PARAM_NAMES = {"gamma": "weight", "beta": "bias", "weight": "weight", "bias": "bias"}
ZERO_BIASES = re.compile(r"\.k_proj\.bias$")  # stored by CTranslate2 as zeros; the Hub's layers have none

# Settings stored as rank-0 variables: read into config.json, or checked to have Whisper's value.
HEAD_COUNTS = {"encoder/num_heads": "encoder_attention_heads", "decoder/num_heads": "decoder_attention_heads"}
WHISPER_SETTINGS = {
    "decoder/activation": 3,  # GELU, exact (erf)
    "decoder/pre_norm": 1,  # a layer norm before each block
    "decoder/scale_embeddings": 0,  # no sqrt(d_model) factor on the embeddings
    "decoder/alibi": 0,  # no ALiBi: learned positions
    "decoder/start_from_zero_embedding": 0,
    "decoder/alignment_layer": -1,  # CTranslate2's alignment output for translation models (Whisper's word
    "decoder/alignment_heads": 1,  # timestamps use config.json's alignment_heads instead): the defaults
}
TIED = {"decoder/projection/weight": "decoder/embeddings/weight"}  # proj_out shares the token embeddings


# ------------------------------------------------------------------------------------------------
# Conversion
# ------------------------------------------------------------------------------------------------


def convert(source: Path, out: Path) -> None:
    """Write ``out`` (the Hub's Whisper folder) from the faster-whisper folder ``source``."""
    from safetensors.numpy import save

    if not source.is_dir():
        raise ValueError(
            f"{source} is a file: pass the faster-whisper folder (model.bin, config.json, tokenizer.json)."
        )
    model_files = model_bin_files(source)
    ct2_config = _read_json(source / "config.json", "CTranslate2's config.json")
    spec, variables, aliases = read_model_bin(model_files)
    tokenizer = _read_json(source / "tokenizer.json", "the tokenizer (tokenizer.json)")
    vocabulary = read_vocabulary(source / "vocabulary.txt")

    state, settings = whisper_state_dict(variables, aliases)
    tokens = special_token_ids(tokenizer, vocabulary, len(state["model.decoder.embed_tokens.weight"]))
    config = whisper_config(state, settings, tokens, ct2_config)
    check_against_whisper(state, config)
    files = {
        "config.json": _json(config),
        "generation_config.json": _json(generation_config(config, tokens, ct2_config)),
        "preprocessor_config.json": _json(preprocessor_config(config)),
        **tokenizer_files(tokenizer, vocabulary, tokens),
        "README.md": _model_card(model_files, spec, config, state, tokens),
    }
    for name, text in files.items():
        hub.atomic_write_text(out / name, text)
    hub.atomic_write_bytes(out / "model.safetensors", save(state, metadata={"format": "pt"}))


def model_bin_files(folder: Path) -> list[Path]:
    """model.bin, or its parts model.bin.part1, model.bin.part2, ... in order (one file cut in pieces)."""
    whole = folder / "model.bin"
    parts = sorted(folder.glob("model.bin.part*"), key=lambda p: int(p.suffix[5:]) if p.suffix[5:].isdigit() else -1)
    numbers = [p.suffix[5:] for p in parts]
    if whole.is_file() and parts:
        raise ValueError(f"{folder} holds both model.bin and its parts ({', '.join(p.name for p in parts)}).")
    if whole.is_file():
        return [whole]
    if not parts:
        present = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
        raise FileNotFoundError(f"{folder} has no model.bin (nor model.bin.part1, ...); it holds: {present}.")
    if numbers != [str(i) for i in range(1, len(parts) + 1)]:
        raise ValueError(
            f"The parts of model.bin in {folder} are {', '.join(p.name for p in parts)}: expected "
            "model.bin.part1, model.bin.part2, ... with none missing."
        )
    return parts


class PartsReader:
    """Files read one after the other as the single file they were cut from."""

    def __init__(self, paths: list[Path]):
        self._paths = list(paths)
        self._file: BinaryIO = open(self._paths.pop(0), "rb")

    def read(self, size: int) -> bytes:
        chunks = []
        while size > 0:
            chunk = self._file.read(size)
            if not chunk:
                if not self._paths:
                    break
                self._file.close()
                self._file = open(self._paths.pop(0), "rb")
                continue
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._file.close()


def read_model_bin(files: list[Path]) -> tuple[str, dict[str, np.ndarray | int], dict[str, str]]:
    """model.bin (or its parts, in order): the spec name, the variables by name (tensors as float32 numpy arrays,
    settings as ints) and the aliases (name -> the variable it shares)."""
    reader = PartsReader(files)
    where = files[0].name if len(files) == 1 else f"{files[0].name} ... {files[-1].name}"

    def take(fmt: str):
        size = struct.calcsize("<" + fmt)
        data = reader.read(size)
        if len(data) < size:
            raise ValueError(f"{where} ends early: it is truncated, or a part of it is missing.")
        return struct.unpack("<" + fmt, data)

    def take_string() -> str:
        (length,) = take("H")
        return reader.read(length)[:-1].decode("utf-8")  # the stored length counts the final NUL

    try:
        (version,) = take("I")
        if version not in BINARY_VERSIONS:
            raise ValueError(
                f"{where} has CTranslate2 binary version {version}; this converter reads versions "
                f"{BINARY_VERSIONS.start} to {BINARY_VERSIONS.stop - 1}."
            )
        spec = take_string()
        if spec != SPEC_NAME:
            raise ValueError(f"{where} holds a {spec!r} model, not Whisper ({SPEC_NAME!r}).")
        take("I")  # the spec revision: it versions CTranslate2's settings, not the tensors' layout
        (count,) = take("I")
        variables = {}
        for _ in range(count):
            name = take_string()
            (rank,) = take("B")
            shape = take("I" * rank)
            dtype_id, size = take("BI")
            variables[name] = _array(name, reader.read(size), shape, dtype_id, size, where)
        (alias_count,) = take("I")
        aliases = {}
        for _ in range(alias_count):
            alias = take_string()
            aliases[alias] = take_string()
        if reader.read(1):
            raise ValueError(f"{where} has bytes after its last alias: not a CTranslate2 model file.")
    finally:
        reader.close()
    return spec, variables, aliases


def _array(name: str, data: bytes, shape: tuple[int, ...], dtype_id: int, size: int, where: str):
    if dtype_id not in DTYPES:
        raise ValueError(f"{name} in {where} has dtype id {dtype_id}, which CTranslate2 does not define.")
    dtype = DTYPES[dtype_id]
    if len(data) < size:
        raise ValueError(f"{where} ends inside {name}: it is truncated, or a part of it is missing.")
    if dtype == "bfloat16":
        array = (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)  # bf16: float32's top half
    else:
        array = np.frombuffer(data, dtype)
    if array.size != int(np.prod(shape)):
        raise ValueError(f"{name} in {where}: {size} bytes do not hold a {list(shape)} tensor of {np.dtype(dtype)}.")
    if not shape:
        return int(array[0])  # a setting
    if np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"{name} in {where} is stored as {array.dtype}: an int8-quantized CTranslate2 model. Convert from one "
            "saved in float16 or float32 (ct2-transformers-converter without --quantization, or --quantization "
            "float16)."
        )
    return array.reshape(shape).astype(np.float32)


def whisper_state_dict(
    variables: dict[str, np.ndarray | int], aliases: dict[str, str]
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The Hub's state dict (``model.``-prefixed float32 arrays, no ``proj_out.weight``: it is tied) and the
    settings read from rank-0 variables (the head counts)."""
    state, settings, unmatched = {}, {}, []
    for name, value in variables.items():
        if isinstance(value, int):
            if name in HEAD_COUNTS:
                settings[HEAD_COUNTS[name]] = value
            elif name in WHISPER_SETTINGS:
                if value != WHISPER_SETTINGS[name]:
                    raise ValueError(
                        f"{name} is {value} in model.bin, but {WHISPER_SETTINGS[name]} in every Whisper: this model "
                        "is not a Whisper this converter can write as the Hub's WhisperForConditionalGeneration."
                    )
            else:
                unmatched.append(f"{name} = {value}")
            continue
        if name in TIED:
            if not np.array_equal(value, variables[TIED[name]]):
                raise ValueError(f"{name} differs from {TIED[name]}: Whisper ties them (proj_out is embed_tokens).")
            continue
        keys = _hub_keys(name)
        if keys is None:
            unmatched.append(f"{name} {list(value.shape)}")
            continue
        for key, piece in zip(keys, np.split(value, len(keys), axis=0)):
            if ZERO_BIASES.search(key):
                if np.any(piece):
                    raise ValueError(f"The {key} rows of {name} are not zero, but the Hub's Whisper has no {key}.")
                continue
            if "model." + key in state:
                raise ValueError(f"Two variables hold {key}; the second is {name}.")
            state["model." + key] = np.ascontiguousarray(piece)
    unknown_aliases = {alias: target for alias, target in aliases.items() if TIED.get(alias) != target}
    unmatched += [f"{alias} (an alias of {target})" for alias, target in unknown_aliases.items()]
    if unmatched:
        raise ValueError(
            "These variables of model.bin match no rule of ct2_whisper.RULES (nor a known setting), so the file is not "
            "a Whisper this converter knows:\n  " + "\n  ".join(unmatched)
        )
    return dict(sorted(state.items())), settings


def _hub_keys(name: str) -> tuple[str, ...] | None:
    for rule in RULES:
        match = re.fullmatch(rule.pattern, name)
        if match:
            groups = match.groupdict()
            if "param" in groups:
                groups["param"] = PARAM_NAMES[groups["param"]]
            return tuple(key.format(**groups) for key in rule.keys)
    return None


def read_vocabulary(path: Path) -> list[str]:
    """vocabulary.txt: a token per line (a token may be the empty string: an empty line)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the faster-whisper folder's list of tokens (with the timestamps).")
    text = path.read_text(encoding="utf-8")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n")  # not splitlines(): \x85 is a token


# ------------------------------------------------------------------------------------------------
# Tokens, config.json and generation_config.json
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpecialTokens:
    """The ids of Whisper's special tokens, read from the tokenizer."""

    end_of_text: int  # <|endoftext|>: end of sequence and padding
    start_of_transcript: int  # <|startoftranscript|>: the decoder's first token
    languages: dict[str, int]  # "<|en|>" -> id, in the vocabulary's order
    tasks: dict[str, int]  # "transcribe"/"translate" -> id
    start_of_prev: int  # <|startofprev|>: before a text prompt
    no_timestamps: int  # <|notimestamps|>: the last special token; the timestamps follow it
    vocab_size: int

    @property
    def is_multilingual(self) -> bool:
        return self.vocab_size >= 51865  # OpenAI's rule: the English-only vocabulary has 51,864 tokens


def special_token_ids(tokenizer: dict, vocabulary: list[str], vocab_size: int) -> SpecialTokens:
    """Whisper's special tokens in tokenizer.json; vocabulary.txt must list the same tokens, then the 1,501
    timestamps, as many as the model's embeddings."""
    added = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
    needed = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>", "<|startofprev|>",
              "<|notimestamps|>")  # fmt: skip
    missing = [token for token in needed if token not in added]
    if missing:
        raise ValueError(f"tokenizer.json has no {', '.join(missing)}: not a Whisper tokenizer.")
    by_id = {i: token for token, i in tokenizer["model"]["vocab"].items()}
    by_id.update({i: token for token, i in added.items()})
    no_timestamps = added["<|notimestamps|>"]
    if sorted(by_id) != list(range(no_timestamps + 1)):
        raise ValueError("tokenizer.json's ids are not 0 ... <|notimestamps|> with none missing.")
    expected = [by_id[i] for i in range(no_timestamps + 1)] + [
        f"<|{i * TIME_PRECISION:.2f}|>" for i in range(TIMESTAMPS)
    ]
    if vocabulary != expected:
        first = next(
            (i for i, (a, b) in enumerate(zip(vocabulary, expected)) if a != b), min(len(vocabulary), len(expected))
        )
        raise ValueError(
            f"vocabulary.txt ({len(vocabulary)} tokens) is not tokenizer.json's {no_timestamps + 1} tokens followed by "
            f"the {TIMESTAMPS} timestamps <|0.00|> ... <|30.00|>: the first difference is at id {first}."
        )
    if len(vocabulary) != vocab_size:
        raise ValueError(f"vocabulary.txt has {len(vocabulary)} tokens but the model's embeddings {vocab_size} rows.")
    start = added["<|startoftranscript|>"]
    return SpecialTokens(
        end_of_text=added["<|endoftext|>"],
        start_of_transcript=start,
        languages={by_id[i]: i for i in range(start + 1, added["<|translate|>"])},
        tasks={"transcribe": added["<|transcribe|>"], "translate": added["<|translate|>"]},
        start_of_prev=added["<|startofprev|>"],
        no_timestamps=no_timestamps,
        vocab_size=vocab_size,
    )


def whisper_config(state: dict[str, np.ndarray], settings: dict[str, int], tokens: SpecialTokens, ct2: dict) -> dict:
    """config.json: the keys the reference writes for a WhisperConfig, sizes read from the tensors' shapes."""
    conv1 = state["model.encoder.conv1.weight"]  # (d_model, num_mel_bins, 3)

    def layer_count(side: str) -> int:
        return len({key.split(".")[3] for key in state if key.startswith(f"model.{side}.layers.")})

    return {
        "activation_dropout": 0.0,
        "activation_function": "gelu",
        "apply_spec_augment": False,
        "architectures": ["WhisperForConditionalGeneration"],
        "attention_dropout": 0.0,
        "begin_suppress_tokens": _required(ct2, "suppress_ids_begin"),
        "bos_token_id": 50257,  # every openai/whisper-* config says 50257; nothing reads it (see decoder_start)
        "classifier_proj_size": 256,
        "d_model": int(conv1.shape[0]),
        "decoder_attention_heads": settings["decoder_attention_heads"],
        "decoder_ffn_dim": int(state["model.decoder.layers.0.fc1.weight"].shape[0]),
        "decoder_layerdrop": 0.0,
        "decoder_layers": layer_count("decoder"),
        "decoder_start_token_id": tokens.start_of_transcript,
        "dropout": 0.0,
        "encoder_attention_heads": settings["encoder_attention_heads"],
        "encoder_ffn_dim": int(state["model.encoder.layers.0.fc1.weight"].shape[0]),
        "encoder_layerdrop": 0.0,
        "encoder_layers": layer_count("encoder"),
        "eos_token_id": tokens.end_of_text,
        "init_std": 0.02,
        "is_encoder_decoder": True,
        "mask_feature_length": 10,
        "mask_feature_min_masks": 0,
        "mask_feature_prob": 0.0,
        "mask_time_length": 10,
        "mask_time_min_masks": 2,
        "mask_time_prob": 0.05,
        "max_source_positions": int(state["model.encoder.embed_positions.weight"].shape[0]),
        "max_target_positions": int(state["model.decoder.embed_positions.weight"].shape[0]),
        "median_filter_width": 7,
        "model_type": "whisper",
        "num_hidden_layers": layer_count("encoder"),
        "num_mel_bins": int(conv1.shape[1]),
        "pad_token_id": tokens.end_of_text,
        "scale_embedding": False,
        "suppress_tokens": _required(ct2, "suppress_ids"),
        "torch_dtype": "float32",
        "use_cache": True,
        "use_weighted_layer_sum": False,
        "vocab_size": tokens.vocab_size,
    }


def generation_config(config: dict, tokens: SpecialTokens, ct2: dict) -> dict:
    """generation_config.json as the openai/whisper-* checkpoints have it: a multilingual model's languages and
    tasks, and a prompt that leaves the language to detect (position 1) and transcribes (position 2); an
    English-only model's prompt is <|startoftranscript|> <|notimestamps|>."""
    values = {
        "alignment_heads": _required(ct2, "alignment_heads"),  # the cross-attention heads that follow the speech
        "begin_suppress_tokens": config["begin_suppress_tokens"],
        "bos_token_id": config["bos_token_id"],
        "decoder_start_token_id": tokens.start_of_transcript,
        "eos_token_id": tokens.end_of_text,
        "is_multilingual": tokens.is_multilingual,
        "max_initial_timestamp_index": 50,  # OpenAI's rule: the first timestamp at most 1 s (50 x 0.02 s) in
        "max_length": config["max_target_positions"],
        "no_timestamps_token_id": tokens.no_timestamps,
        "pad_token_id": tokens.end_of_text,
        "prev_sot_token_id": tokens.start_of_prev,
        "return_timestamps": False,
        "suppress_tokens": config["suppress_tokens"],
    }
    if tokens.is_multilingual:
        values["forced_decoder_ids"] = [[1, None], [2, tokens.tasks["transcribe"]]]
        values["lang_to_id"] = tokens.languages
        values["task_to_id"] = tokens.tasks
    else:
        values["forced_decoder_ids"] = [[1, tokens.no_timestamps]]
    return dict(sorted(values.items()))


def preprocessor_config(config: dict) -> dict:
    """WhisperFeatureExtractor's settings, as the openai/whisper-* checkpoints have them (less the mel filters,
    which the feature extractor computes)."""
    return {
        "chunk_length": 30,
        "feature_extractor_type": "WhisperFeatureExtractor",
        "feature_size": config["num_mel_bins"],
        "hop_length": 160,
        "n_fft": 400,
        "n_samples": 480000,
        "nb_max_frames": 3000,
        "padding_side": "right",
        "padding_value": 0.0,
        "processor_class": "WhisperProcessor",
        "return_attention_mask": False,
        "sampling_rate": 16000,
    }


def _required(ct2: dict, key: str):
    if key not in ct2:
        raise ValueError(f"CTranslate2's config.json has no {key!r}: it is needed for Whisper's generation config.")
    return ct2[key]


# ------------------------------------------------------------------------------------------------
# The tokenizer
# ------------------------------------------------------------------------------------------------


def tokenizer_files(tokenizer: dict, vocabulary: list[str], tokens: SpecialTokens) -> dict[str, str]:
    """The Hub's tokenizer files: tokenizer.json with the timestamps added, the reference's tokenizer_config.json,
    special_tokens_map.json and added_tokens.json, and vocab.json + merges.txt for its Python tokenizer.

    The timestamps are special tokens here (so ``skip_special_tokens=True`` drops them in any tokenizer), but they
    are not in ``additional_special_tokens``: the reference's Whisper tokenizer takes the last of those, plus one,
    as the first timestamp's id. That list must end at <|notimestamps|> (without it the reference would start the
    timestamps after <|endoftext|> and read every time 2.12 s late; with the timestamps in it, none at all)."""
    timestamps = [
        {"id": i, "content": vocabulary[i], "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for i in range(tokens.no_timestamps + 1, tokens.vocab_size)
    ]  # fmt: skip
    full = {**tokenizer, "added_tokens": [*tokenizer["added_tokens"], *timestamps]}
    added = full["added_tokens"]
    specials = [token["content"] for token in tokenizer["added_tokens"]]  # <|endoftext|> ... <|notimestamps|>
    end_of_text = {
        "content": "<|endoftext|>",
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
    }
    special_tokens_map = {
        "additional_special_tokens": specials,
        **{name: end_of_text for name in ("bos_token", "eos_token", "pad_token", "unk_token")},
    }
    tokenizer_config = {
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(token["id"]): {key: token[key] for key in sorted(token) if key != "id"} for token in added
        },
        "additional_special_tokens": specials,
        "bos_token": "<|endoftext|>",
        "clean_up_tokenization_spaces": True,
        "eos_token": "<|endoftext|>",
        "errors": "replace",
        "model_max_length": 1024,
        "pad_token": "<|endoftext|>",
        "processor_class": "WhisperProcessor",
        "tokenizer_class": "WhisperTokenizer",
        "unk_token": "<|endoftext|>",
    }  # fmt: skip
    bpe = tokenizer["model"]
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in bpe["merges"]]
    return {
        "tokenizer.json": json.dumps(full, indent=2, ensure_ascii=False) + "\n",
        "tokenizer_config.json": _json(tokenizer_config),
        "special_tokens_map.json": _json(special_tokens_map),
        "added_tokens.json": _json({t["content"]: t["id"] for t in added if t["content"] not in bpe["vocab"]}),
        "vocab.json": _json(bpe["vocab"]),
        "merges.txt": "#version: 0.2\n" + "".join(merge + "\n" for merge in merges),
    }


# ------------------------------------------------------------------------------------------------
# Checks and files
# ------------------------------------------------------------------------------------------------


def check_against_whisper(state: dict[str, np.ndarray], config: dict) -> None:
    """The converted keys and shapes must be WhisperForConditionalGeneration's, less the tied proj_out (built on the
    meta device: no memory)."""
    import torch

    from ..models.whisper import WhisperConfig, WhisperForConditionalGeneration

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(WhisperConfig(**config))
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if k != "proj_out.weight"}
    got = {k: tuple(v.shape) for k, v in state.items()}
    problems = [f"missing: {k}" for k in sorted(expected.keys() - got.keys())]
    problems += [f"unexpected: {k}" for k in sorted(got.keys() - expected.keys())]
    problems += [
        f"{k}: {got[k]} in the file, {expected[k]} in WhisperForConditionalGeneration"
        for k in sorted(expected.keys() & got.keys())
        if got[k] != expected[k]
    ]
    if problems:
        raise ValueError(
            "The converted weights do not fit WhisperForConditionalGeneration:\n  " + "\n  ".join(problems)
        )


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: a faster-whisper folder holds {what}.")
    return json.loads(path.read_text(encoding="utf-8"))


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _model_card(model_files: list[Path], spec: str, config: dict, state: dict, tokens: SpecialTokens) -> str:
    digest = hashlib.sha256()
    for path in model_files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    parameters = sum(int(t.size) for t in state.values())
    kind = "a multilingual" if tokens.is_multilingual else "an English-only"
    parts = " + ".join(p.name for p in model_files)
    return (
        "# Whisper converted from CTranslate2 (faster-whisper)\n\n"
        f"Converted by `workbench convert ct2-whisper` from a faster-whisper folder: {parts} "
        f"(a {spec}, sha256 of the whole file {digest.hexdigest()}), config.json, tokenizer.json, vocabulary.txt.\n"
        f"{kind.capitalize()} `WhisperForConditionalGeneration`: {config['encoder_layers']} encoder and "
        f"{config['decoder_layers']} decoder layers, {config['d_model']} wide, {config['encoder_attention_heads']} "
        f"heads, {config['num_mel_bins']} mel bins, {config['vocab_size']:,} tokens; {parameters:,} parameters.\n\n"
        "CTranslate2 files usually hold float16 weights: these are written as float32, so they are the original "
        "weights rounded to float16. generation_config.json takes the alignment heads and suppressed tokens from "
        "CTranslate2's config.json; the tokenizer is the folder's tokenizer.json with the 1,501 timestamp tokens "
        "of vocabulary.txt added as special tokens. There is no normalizer.json (the English spelling map that the "
        "reference's tokenizer uses for `normalize=True`).\n"
    )
