"""The audio pipelines against the reference v4.37's: automatic-speech-recognition with CTC models (group-norm and
layer-norm Wav2Vec2) and Whisper (English-only and multilingual), audio-classification with Wav2Vec2 and Whisper
heads; chunking, timestamps, languages, batching; the forms of input; bad input.

Models are tiny random checkpoints built by the reference, saved with the files their Hub checkpoints have (the
Whisper tokenizer: GPT-2's BPE, then whisper-tiny.en's special tokens and its 1,501 timestamp tokens, at the same
ids). The audio is real speech, data/fsdd's spoken digits (8 kHz), resampled to 16 kHz here and given to both as
16 kHz arrays (v4.37 resamples with torchaudio, which is not installed). Text must be identical, timestamps within
0.02 s, scores within 1e-5. The reference runs once, in its own environment, for every case (``reference``).

Whisper's merging of overlapping windows (v4.37's ``tokenizer._decode_asr``) is also checked on synthetic windows
that overlap as real ones do (``synthetic_windows``); the packaged whisper-tiny.en, when it resolves offline,
transcribes real digits sensibly and as v4.37 does.
"""

from __future__ import annotations

import difflib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import reference_v4
import soundfile
import torch
import transformers
from parity import reference_model, varied_weights

from workbench import data, hub
from workbench.generation.whisper import LANGUAGES
from workbench.pipelines import PipelineModelError, pipeline
from workbench.pipelines.base import MAX_UNCHUNKED_SECONDS
from workbench.pipelines.pt_utils import KeyDataset
from workbench.processing import AutoTokenizer
from workbench.processing.audio_utils import load_audio
from workbench.processing.whisper_tokenizer import merge_whisper_chunks

RATE = 16000
TIME_TOLERANCE = 0.02
SCORE_TOLERANCE = 1e-5
EOS, START, NO_TIMESTAMPS = 50256, 50257, 50362  # whisper-tiny.en's ids
SPECIALS = [
    "<|startoftranscript|>",
    *[f"<|{code}|>" for code in LANGUAGES if code != "yue"],  # the 99 languages of Whisper v1 and v2
    *["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"],
]
LANGUAGE_IDS = {f"<|{code}|>": START + 1 + i for i, code in enumerate(c for c in LANGUAGES if c != "yue")}
CTC_VOCAB = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}  # wav2vec2-base-960h's letters
CTC_VOCAB.update({letter: 5 + i for i, letter in enumerate("ETAONIHSRDLUMWCFGYPBVK'XJQZ")})
SPEECH_ENCODER = dict(  # wav2vec2-base's convolutions (one frame per 320 samples), a tiny transformer
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    conv_dim=(32,) * 7,
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
)
DIGITS = {i: str(i) for i in range(10)}
RECORDINGS = ["0_george_0", "1_jackson_1", "2_theo_2", "3_nicolas_3", "4_yweweler_4", "5_lucas_5", "6_george_6"]


# ------------------------------------------------------------------------------------------------
# Tiny checkpoints
# ------------------------------------------------------------------------------------------------


def write_whisper_tokenizer(folder: Path) -> None:
    """whisper-tiny.en's tokenizer files, as the Hub has them: GPT-2's byte-level BPE, <|endoftext|> (50256), the
    special tokens from <|startoftranscript|> (50257) to <|notimestamps|> (50362), the timestamps <|0.00|> (50363)
    to <|30.00|>, added but not special. The tokenizer.json is written in the format every tokenizers release
    reads (the reference v4.37's pins an old one)."""
    gpt2 = data.path("tokenizers", "gpt2")
    vocab = json.loads((gpt2 / "vocab.json").read_text(encoding="utf-8"))
    merges = [line for line in (gpt2 / "merges.txt").read_text(encoding="utf-8").splitlines()[1:] if line]
    added = [("<|endoftext|>", True), *[(token, True) for token in SPECIALS]]
    added += [(f"<|{i * 0.02:.2f}|>", False) for i in range(1501)]
    added_tokens = [
        {"id": EOS + i, "content": token, "special": special, "single_word": False, "lstrip": False}
        | {"rstrip": False, "normalized": False}
        for i, (token, special) in enumerate(added)
    ]
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": ""}
    model |= {"end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": merges}
    tokenizer = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens}
    tokenizer |= {"normalizer": None, "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level}
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer | {"model": model}), encoding="utf-8")
    special_tokens = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    special_tokens["additional_special_tokens"] = SPECIALS
    (folder / "special_tokens_map.json").write_text(json.dumps(special_tokens))
    config = {"tokenizer_class": "WhisperTokenizer", "add_prefix_space": False, "clean_up_tokenization_spaces": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config | special_tokens | {"model_max_length": 1024}))


def whisper_checkpoint(folder: Path, multilingual: bool = False) -> Path:
    """A tiny random Whisper (80 mel bins, 1,500 encoder positions: the real 30-second window) with whisper-tiny.en's
    tokenizer and a generation config laid out as the real checkpoints' (of tiny.en, or of a multilingual one)."""
    config = transformers.WhisperConfig(
        vocab_size=EOS + len(SPECIALS) + 1 + 1501,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_target_positions=40,  # = the generation config's max_length, as in the real checkpoints (448)
        **dict(pad_token_id=EOS, bos_token_id=EOS, eos_token_id=EOS, decoder_start_token_id=START),
    )
    model = varied_weights(reference_model("WhisperForConditionalGeneration", config, seed=0))
    generation = dict(
        decoder_start_token_id=START,
        bos_token_id=EOS,
        eos_token_id=EOS,
        pad_token_id=EOS,
        max_length=40,
        no_timestamps_token_id=NO_TIMESTAMPS,
        prev_sot_token_id=START + 103,
        max_initial_timestamp_index=50,
        alignment_heads=[[1, 0], [1, 2], [0, 3]],
        suppress_tokens=[1, 2, 7, 8, 9, 10, 14, 25, START + 101, START + 102, START + 103, START + 104],
        begin_suppress_tokens=[220, EOS],
        is_multilingual=multilingual,
        return_timestamps=False,
    )
    if multilingual:
        tasks = {"translate": START + 100, "transcribe": START + 101}
        generation.update(
            lang_to_id=LANGUAGE_IDS, task_to_id=tasks, forced_decoder_ids=[[1, None], [2, tasks["transcribe"]]]
        )
    else:
        generation.update(forced_decoder_ids=[[1, NO_TIMESTAMPS]])
    model.generation_config = transformers.GenerationConfig(**generation)
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor().save_pretrained(folder)
    write_whisper_tokenizer(folder)
    return folder


def ctc_checkpoint(folder: Path, layer_norm: bool = False) -> Path:
    """A tiny random Wav2Vec2ForCTC with wav2vec2-base-960h's letters: group norm and no attention mask (as
    wav2vec2-base-960h), or layer norm with one (as wav2vec2-large-960h-lv60-self)."""
    norm = dict(feat_extract_norm="layer", do_stable_layer_norm=True) if layer_norm else {}
    config = transformers.Wav2Vec2Config(**SPEECH_ENCODER, **norm, vocab_size=len(CTC_VOCAB), pad_token_id=0)
    varied_weights(reference_model("Wav2Vec2ForCTC", config, seed=0)).save_pretrained(folder)
    (folder / "vocab.json").write_text(json.dumps(CTC_VOCAB))
    transformers.Wav2Vec2CTCTokenizer(str(folder / "vocab.json")).save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(return_attention_mask=layer_norm).save_pretrained(folder)
    return folder


def classifier_checkpoint(folder: Path, whisper: bool = False) -> Path:
    """A tiny random spoken-digit classifier: Wav2Vec2ForSequenceClassification or WhisperForAudioClassification."""
    labels = dict(num_labels=10, id2label=DIGITS, label2id={label: i for i, label in DIGITS.items()})
    if whisper:
        shape = dict(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=64)
        config = transformers.WhisperConfig(**shape, decoder_attention_heads=4, decoder_ffn_dim=64, **labels)
        model = reference_model("WhisperForAudioClassification", config, seed=0)
        extractor = transformers.WhisperFeatureExtractor()
    else:
        config = transformers.Wav2Vec2Config(**SPEECH_ENCODER, classifier_proj_size=16, **labels)
        model = reference_model("Wav2Vec2ForSequenceClassification", config, seed=0)
        extractor = transformers.Wav2Vec2FeatureExtractor()
    varied_weights(model).save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


BUILDERS = {
    "ctc": ctc_checkpoint,
    "ctc-layer-norm": lambda folder: ctc_checkpoint(folder, layer_norm=True),
    "whisper-en": whisper_checkpoint,
    "whisper-multilingual": lambda folder: whisper_checkpoint(folder, multilingual=True),
    "wav2vec2-classifier": classifier_checkpoint,
    "whisper-classifier": lambda folder: classifier_checkpoint(folder, whisper=True),
}


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("audio-pipelines")
    return {name: build(root / name) for name, build in BUILDERS.items()}


@pytest.fixture(scope="module")
def pipes(folders) -> dict:
    tasks = {
        name: "audio-classification" if "classifier" in name else "automatic-speech-recognition" for name in folders
    }
    return {name: pipeline(tasks[name], model=folder) for name, folder in folders.items()}


def recording(name: str) -> Path:
    return data.path("fsdd", "recordings", f"{name}.wav")


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> dict[str, np.ndarray]:
    """Real speech at 16 kHz: one recording per digit 0-6, and a 7.6-second clip of them said twice over."""
    clips = {name: load_audio(recording(name), sampling_rate=RATE) for name in RECORDINGS}
    return {**clips, "long": np.concatenate(list(clips.values()) * 2)}


# ------------------------------------------------------------------------------------------------
# The reference v4.37, once for every case
# ------------------------------------------------------------------------------------------------

_V4_RUNNER = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch, transformers
transformers.logging.set_verbosity_error()
torch.set_num_threads(1)

def plain(x):
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x

def audio(spec):  # {"npy": path} -> the array; with more keys -> {"raw": array, **keys}
    samples = np.load(spec["npy"])
    extra = {k: (tuple(v) if isinstance(v, list) else v) for k, v in spec.items() if k != "npy"}
    return {"raw": samples, **extra} if extra else samples

def decode_asr(request):
    tokenizer = transformers.AutoTokenizer.from_pretrained(request["tokenizer"])
    outputs = []
    for window in request["windows"]:
        output = {"tokens": np.array([window["tokens"]])}
        if "stride" in window:
            output["stride"] = tuple(window["stride"])
        if "token_timestamps" in window:
            output["token_timestamps"] = np.array([window["token_timestamps"]])
        outputs.append(output)
    return tokenizer._decode_asr(outputs, return_timestamps=request["return_timestamps"],
                                 return_language=request["return_language"], time_precision=0.02)

pipes, results = {}, {}
for name, call in json.load(sys.stdin).items():
    try:
        if "decode_asr" in call:
            results[name] = plain(decode_asr(call["decode_asr"]))
            continue
        key = json.dumps([call["task"], call["model"]])
        if key not in pipes:
            pipes[key] = transformers.pipeline(call["task"], model=call["model"])
        inputs = [audio(spec) for spec in call["inputs"]]
        out = pipes[key](inputs if call["batch"] else inputs[0], **call["kwargs"])
        results[name] = plain(out)
    except Exception as e:
        results[name] = {"__error__": f"{type(e).__name__}: {e}"}
json.dump(results, sys.stdout)
"""

# name -> (model, inputs, call options); a list of inputs is a batch (the reference runs it one at a time).
CASES = {
    "ctc": ("ctc", "0_george_0", {}),
    "ctc-char": ("ctc", "0_george_0", {"return_timestamps": "char"}),
    "ctc-word": ("ctc", "long", {"return_timestamps": "word"}),
    "ctc-chunked-word": ("ctc", "long", {"chunk_length_s": 2, "stride_length_s": 0.5, "return_timestamps": "word"}),
    "ctc-chunked-uneven": (
        "ctc",
        "long",
        {"chunk_length_s": 2, "stride_length_s": (0.5, 0.2), "return_timestamps": "char"},
    ),
    "ctc-given-stride": (
        "ctc",
        {"npy": "1_jackson_1", "sampling_rate": RATE, "stride": (1600, 800)},
        {"return_timestamps": "char"},
    ),
    "ctc-batch": ("ctc", ["0_george_0", "1_jackson_1", "2_theo_2", "3_nicolas_3"], {"batch_size": 3}),
    "ctc-layer-norm-chunked": ("ctc-layer-norm", "long", {"chunk_length_s": 2, "return_timestamps": "word"}),
    "ctc-layer-norm-batch": ("ctc-layer-norm", ["0_george_0", "1_jackson_1", "2_theo_2"], {"batch_size": 3}),
    "whisper": ("whisper-en", "0_george_0", {}),
    "whisper-segments": ("whisper-en", "1_jackson_1", {"return_timestamps": True}),
    "whisper-words": ("whisper-en", "2_theo_2", {"return_timestamps": "word"}),
    "whisper-chunked": ("whisper-en", "long", {"chunk_length_s": 3, "stride_length_s": 1}),
    "whisper-chunked-segments": (  # windows whose segments the tiny Whisper closes (test_cases_exercise_...)
        "whisper-en",
        "long",
        {"chunk_length_s": 2, "stride_length_s": 0.5, "return_timestamps": True},
    ),
    "whisper-chunked-words": (
        "whisper-en",
        "long",
        {"chunk_length_s": 3, "stride_length_s": 1, "return_timestamps": "word"},
    ),
    "whisper-batch": (
        "whisper-en",
        ["0_george_0", "1_jackson_1", "3_nicolas_3"],
        {"batch_size": 2, "return_timestamps": True},
    ),
    "whisper-max-new-tokens": ("whisper-en", "3_nicolas_3", {"max_new_tokens": 7}),
    "whisper-max-new-tokens-forced": (  # v4.37 counts the forced <|fr|> <|translate|> among the new tokens
        "whisper-multilingual",
        "3_nicolas_3",
        {"max_new_tokens": 6, "generate_kwargs": {"language": "fr", "task": "translate"}, "return_timestamps": True},
    ),
    "whisper-translate": (
        "whisper-multilingual",
        "4_yweweler_4",
        {"generate_kwargs": {"language": "fr", "task": "translate"}, "return_language": True},
    ),
    "whisper-language-chunked": (
        "whisper-multilingual",
        "long",
        {
            "chunk_length_s": 3,
            "return_timestamps": True,
            "return_language": True,
            "generate_kwargs": {"language": "german"},
        },
    ),
    "classifier": ("wav2vec2-classifier", "5_lucas_5", {}),
    "classifier-batch": ("wav2vec2-classifier", ["5_lucas_5", "6_george_6", "long"], {"top_k": 3, "batch_size": 2}),
    "whisper-classifier": ("whisper-classifier", "6_george_6", {"top_k": 2}),
}
OURS_ONLY = ("batch_size",)  # options the reference is not given: it runs a batch one input at a time


def task_of(model: str) -> str:
    return "audio-classification" if "classifier" in model else "automatic-speech-recognition"


def inputs_of(spec, audio: dict):
    """A case's inputs for our pipeline: recordings by name (16 kHz arrays), or a dict with more keys."""
    if isinstance(spec, list):
        return [inputs_of(one, audio) for one in spec]
    if isinstance(spec, dict):
        return {"raw": audio[spec["npy"]], **{key: value for key, value in spec.items() if key != "npy"}}
    return audio[spec]


# Cases whose input the reference v4.37 gets in another form, for a deliberate difference: unchunked Whisper word
# timestamps are aligned over the real audio here; v4.37 does that only for input with a stride, and aligned a
# short clip over its 30 s of padding (words near 29.98 s on whisper-base). Given stride (0, 0) it answers as we do.
REFERENCE_INPUTS = {"whisper-words": {"npy": "2_theo_2", "sampling_rate": RATE, "stride": (0, 0)}}


@pytest.fixture(scope="module")
def reference(folders, audio, tmp_path_factory) -> dict:
    """Every case's (and every synthetic window set's) answer from the reference v4.37."""
    reason = reference_v4.v4_unavailable()
    if reason:
        pytest.skip(reason)
    arrays = tmp_path_factory.mktemp("audio-arrays")
    for name, samples in audio.items():
        np.save(arrays / f"{name}.npy", samples)

    def spec(one):
        if isinstance(one, dict):
            return {**one, "npy": str(arrays / f"{one['npy']}.npy")}
        return {"npy": str(arrays / f"{one}.npy")}

    calls = {}
    for name, (model, inputs, kwargs) in CASES.items():
        inputs = REFERENCE_INPUTS.get(name, inputs)
        batch = isinstance(inputs, list)
        calls[name] = {
            "task": task_of(model),
            "model": str(folders[model]),
            "inputs": [spec(one) for one in (inputs if batch else [inputs])],
            "batch": batch,
            "kwargs": {key: value for key, value in kwargs.items() if key not in OURS_ONLY},
        }
    for name, request in synthetic_requests(folders["whisper-en"]).items():
        calls[name] = {"decode_asr": request}
    result = subprocess.run(
        [str(reference_v4._python()), "-c", _V4_RUNNER],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=900,
        env=reference_v4._env(),
        cwd=str(arrays),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def assert_same(got, expected, tolerance: float, where: str = "output") -> None:
    """Equal JSON-like values: strings and integers exactly, floats within ``tolerance``, tuples as lists."""
    if isinstance(expected, dict) and "__error__" in expected:
        raise AssertionError(f"the reference failed: {expected['__error__']}")
    got = json.loads(json.dumps(got))
    _compare(got, expected, tolerance, where)


def _compare(got, expected, tolerance: float, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), f"{where}: keys {got!r} != {expected!r}"
        for key in expected:
            _compare(got[key], expected[key], tolerance, f"{where}[{key!r}]")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{where}: {got!r} != {expected!r}"
        for i, (a, b) in enumerate(zip(got, expected)):
            _compare(a, b, tolerance, f"{where}[{i}]")
    elif isinstance(expected, float) or isinstance(got, float):
        assert got is not None and abs(got - expected) <= tolerance + 1e-9, f"{where}: {got} != {expected}"
    else:
        assert got == expected, f"{where}: {got!r} != {expected!r}"


@pytest.mark.parametrize("case", CASES)
def test_same_answers_as_the_reference(case, pipes, audio, reference):
    model, inputs, kwargs = CASES[case]
    got = pipes[model](inputs_of(inputs, audio), **kwargs)
    tolerance = SCORE_TOLERANCE if task_of(model) == "audio-classification" else TIME_TOLERANCE
    assert_same(got, reference[case], tolerance, case)


def test_cases_exercise_what_they_should(pipes, audio):
    """The tiny Whisper writes timestamps, so segments close inside windows and across them; chunked CTC has
    several windows."""
    model, clip, options = CASES["whisper-chunked-segments"]
    chunked = pipes[model](audio[clip], **options)
    assert len(chunked["chunks"]) >= 3
    windows = pipes["ctc"].preprocess(audio["long"], chunk_length_s=2, stride_length_s=0.5)
    assert len(windows) >= 3 and windows[0]["stride"] == (32000, 0, 8000) and windows[-1]["stride"][2] == 0


# ------------------------------------------------------------------------------------------------
# Whisper's window merging on synthetic windows
# ------------------------------------------------------------------------------------------------


def synthetic_windows(seed: int, multilingual: bool = False, noise: float = 0.1) -> list[dict]:
    """Windows of 6 s with 1-second strides over 24 s of speech, as Whisper would transcribe them: each window's
    tokens are the words it hears, in segments between timestamp tokens (relative to the window), a segment cut by
    the window's end left open, and a time for every token; with ``noise``, words misheard or dropped near the
    window's edges (so the overlaps do not match exactly)."""
    rng = np.random.default_rng(seed)
    words, time = [], 0.3
    while time < 23:  # (tokens, start, end)
        length = rng.uniform(0.2, 0.7)
        words.append((list(rng.integers(300, 20000, size=rng.integers(1, 3))), time, time + length))
        time += length + rng.uniform(0.0, 0.4)
    breaks = set(np.cumsum(rng.integers(2, 6, size=len(words))).tolist())  # segment ends, by word index
    chunk, left, right, step = 6.0, 1.0, 1.0, 4.0
    windows, start = [], 0.0
    while True:
        end = start + chunk
        is_last = end >= 24
        language = LANGUAGE_IDS["<|en|>" if start < 12 or not multilingual else "<|fr|>"]
        tokens = [START, language, START + 101] if multilingual else [START]
        times = [0.0] * len(tokens)
        segment_open = False
        for k, (ids, word_start, word_end) in enumerate(words):
            if word_end <= start or word_start >= end:
                continue
            if not segment_open:
                tokens.append(NO_TIMESTAMPS + 1 + int(round(max(0.0, word_start - start) / 0.02)))
                times.append(max(0.0, word_start - start))
                segment_open = True
            near_edge = word_start - start < 0.5 or end - word_end < 0.5
            if near_edge and rng.random() < noise:
                ids = [] if rng.random() < 0.5 else [int(rng.integers(300, 20000))]
            for i, token in enumerate(ids):
                tokens.append(int(token))
                times.append(round(word_start - start + i * 0.02, 2))
            if k + 1 in breaks and word_end < end:
                stamp = NO_TIMESTAMPS + 1 + int(round((word_end - start) / 0.02))
                tokens += [stamp, stamp]
                times += [word_end - start] * 2
                segment_open = False
        if tokens[-1] > NO_TIMESTAMPS and len(tokens) > 2 and tokens[-1] == tokens[-2]:
            tokens.pop()  # a closed segment at the end: its end only
            times.pop()
        tokens.append(EOS)
        times.append(times[-1])
        stride = (min(chunk, 24 - start), 0.0 if start == 0 else left, 0.0 if is_last else right)
        windows.append({"tokens": tokens, "stride": stride, "token_timestamps": [round(t, 2) for t in times]})
        if is_last:
            return windows
        start += step


SYNTHETIC = {
    f"synthetic-{seed}-{timestamps}-{language}": (seed, timestamps, language)
    for seed in range(4)
    for timestamps in (False, True, "word")
    for language in (False, True)
}


def synthetic_requests(folder: Path) -> dict:
    requests = {}
    for name, (seed, timestamps, language) in SYNTHETIC.items():
        windows = synthetic_windows(seed, multilingual=language, noise=0.1 + 0.1 * seed)
        if seed == 3:  # no strides: a long recording's windows as v4.37 gives them without chunking
            windows = [{key: value for key, value in w.items() if key != "stride"} for w in windows[:1]]
        requests[name] = dict(
            tokenizer=str(folder), windows=windows, return_timestamps=timestamps, return_language=language
        )
    return requests


@pytest.mark.parametrize("case", SYNTHETIC)
def test_window_merging_equals_the_reference(case, folders, reference):
    request = synthetic_requests(folders["whisper-en"])[case]
    tokenizer = AutoTokenizer.from_pretrained(folders["whisper-en"])
    text, optional = merge_whisper_chunks(
        tokenizer,
        request["windows"],
        return_timestamps=request["return_timestamps"],
        return_language=request["return_language"],
    )
    assert_same([text, optional], reference[case], TIME_TOLERANCE, case)


# ------------------------------------------------------------------------------------------------
# Inputs and batching
# ------------------------------------------------------------------------------------------------


def test_the_forms_of_input_give_the_same_answer(pipes, audio, tmp_path):
    pipe = pipes["ctc"]
    at_8khz, rate = soundfile.read(recording("1_jackson_1"), dtype="float32")
    expected = pipe(audio["1_jackson_1"])
    assert pipe(str(recording("1_jackson_1"))) == expected  # a path
    assert pipe(recording("1_jackson_1").read_bytes()) == expected  # bytes
    with open(recording("1_jackson_1"), "rb") as file:  # an open file
        assert pipe(file) == expected
    assert pipe({"array": at_8khz, "sampling_rate": rate}) == expected  # resampled to 16 kHz
    assert pipe({"raw": torch.from_numpy(at_8khz), "sampling_rate": rate}) == expected
    assert pipe(at_8khz, sampling_rate=rate) == expected  # the rate of a bare array, as a call option
    assert pipe({"path": str(recording("1_jackson_1")), "bytes": None}) == expected  # a datasets Audio value
    stereo = tmp_path / "stereo.wav"
    soundfile.write(stereo, np.stack([at_8khz, at_8khz], axis=1), rate)
    assert pipe(str(stereo)) == expected  # mixed down


def test_lists_datasets_and_generators(pipes, audio):
    pipe = pipes["whisper-en"]
    names = ["0_george_0", "1_jackson_1", "2_theo_2"]
    expected = [pipe(audio[name]) for name in names]
    assert pipe([audio[name] for name in names]) == expected
    digits = data.load("fsdd", split="test")
    column = digits.filter(lambda row: Path(row["audio"]["path"]).stem in names)
    column = sorted(column["audio"], key=lambda value: names.index(Path(value["path"]).stem))
    assert pipe(column) == expected
    assert list(pipe(audio[name] for name in names)) == expected
    rows = [{"audio": audio[name]} for name in names]
    assert list(pipe(KeyDataset(rows, "audio"))) == expected


@pytest.mark.parametrize("model", ["ctc", "ctc-layer-norm", "whisper-en", "wav2vec2-classifier", "whisper-classifier"])
def test_batching_never_changes_an_answer(model, pipes, audio):
    inputs = [audio[name] for name in RECORDINGS[:5]]
    one_at_a_time = [pipes[model](x) for x in inputs]
    for batch_size in (2, 5, None):
        assert_same(pipes[model](inputs, batch_size=batch_size), one_at_a_time, 1e-6, f"batch_size={batch_size}")


def test_batches(pipes):
    lengths = [16000, 16000, 12000, 16000, 8000]
    # group norm without a mask: only equal lengths together, longest first
    assert pipes["ctc"]._batches(lengths, None, {}) == [[0, 1, 3], [2], [4]]
    assert pipes["ctc"]._batches(lengths, 2, {}) == [[0, 1], [3], [2], [4]]
    assert pipes["ctc-layer-norm"]._batches(lengths, 2, {}) == [[0, 1], [3, 2], [4]]  # padding is masked
    # at most MAX_BATCH_SECONDS of audio when no batch_size is given: 8 Whisper windows of 30 s
    windows = [30 * RATE] * 20
    assert [len(batch) for batch in pipes["whisper-en"]._batches(windows, None, {})] == [8, 8, 4]
    assert [len(batch) for batch in pipes["whisper-en"]._batches(windows, 16, {})] == [16, 4]


def test_pipeline_finds_the_task_and_the_preparers(folders, audio):
    asr = pipeline(model=folders["whisper-en"])
    assert asr.task == "automatic-speech-recognition" and asr.type == "seq2seq_whisper"
    assert pipeline(model=folders["ctc"]).type == "ctc"
    assert pipeline(model=folders["whisper-classifier"]).task == "audio-classification"
    with pytest.raises(PipelineModelError, match="takes audio"):
        pipeline("text-classification", model=folders["wav2vec2-classifier"])
    with pytest.raises(PipelineModelError, match="no automatic-speech-recognition head"):
        pipeline("automatic-speech-recognition", model=folders["wav2vec2-classifier"])
    # a model object: its preparers from the folder it was loaded from, or from a processor (an id, a folder, an
    # object); a model built in memory names no folder, so the feature extractor must be given
    model = pipeline(model=folders["whisper-en"]).model
    assert pipeline("automatic-speech-recognition", model=model)(audio["0_george_0"]) == asr(audio["0_george_0"])
    by_processor = pipeline("automatic-speech-recognition", model=model, processor=folders["whisper-en"])
    assert by_processor(audio["0_george_0"]) == asr(audio["0_george_0"])
    model.config._name_or_path = ""
    with pytest.raises(ValueError, match="Cannot tell which feature extractor"):
        pipeline("automatic-speech-recognition", model=model)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["ctc", "whisper-en", "wav2vec2-classifier"])
def test_bad_input_gets_a_clear_error(model, pipes, tmp_path):
    pipe = pipes[model]
    with pytest.raises(ValueError, match="no samples"):
        pipe(np.zeros(0, dtype=np.float32))
    with pytest.raises(ValueError, match="empty"):
        pipe(b"")
    nan = np.zeros(8000, dtype=np.float32)
    nan[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pipe(nan)
    with pytest.raises(ValueError, match="no 'sampling_rate'"):  # as the reference, a dict must say its rate
        pipe({"raw": np.zeros(8000, dtype=np.float32)})
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(200)))
    with pytest.raises(ValueError, match="could not be decoded"):
        pipe(str(corrupt))
    with pytest.raises(FileNotFoundError, match="No audio file"):
        pipe(str(tmp_path / "missing.wav"))
    with pytest.raises(ValueError, match="one channel"):
        pipe(np.zeros((2, 8000), dtype=np.float32))
    with pytest.raises(TypeError, match="list of numbers"):
        pipe([0.0, 0.1, 0.2])
    with pytest.raises(ValueError, match="sampling_rate=8000 but the call says"):
        pipe({"array": np.zeros(800, dtype=np.float32), "sampling_rate": 8000}, sampling_rate=16000)


@pytest.mark.parametrize("model", ["ctc", "whisper-en", "wav2vec2-classifier", "whisper-classifier"])
def test_silence_is_transcribed(model, pipes):
    out = pipes[model](np.zeros(RATE, dtype=np.float32))
    assert isinstance(out, list if "classifier" in model else dict)


def test_ten_minutes_without_chunking_is_refused_then_chunked(pipes, tmp_path):
    """A 10-minute file: a clear error without chunk_length_s (never an out-of-memory crash), a transcript with."""
    file = tmp_path / "ten-minutes.flac"
    noise = np.random.default_rng(0).normal(0, 0.01, 600 * RATE).astype(np.float32)
    soundfile.write(file, noise, RATE)
    with pytest.raises(ValueError, match=r"600\.0 s long; Whisper hears 30 s at a time.*chunk_length_s=30"):
        pipes["whisper-en"](str(file))
    with pytest.raises(ValueError, match=rf"600\.0 s long.*limit here is {MAX_UNCHUNKED_SECONDS} s.*chunk_length_s"):
        pipes["ctc"](str(file))
    with pytest.raises(ValueError, match="Classify windows"):
        pipes["wav2vec2-classifier"](str(file))
    out = pipes["ctc"](str(file), chunk_length_s=30, return_timestamps="char")
    assert out["chunks"] and out["chunks"][-1]["timestamp"][1] > 590


def test_options_that_do_not_fit_the_model(pipes, audio):
    clip = audio["0_george_0"]
    with pytest.raises(ValueError, match="cannot return `char` timestamps"):
        pipes["whisper-en"](clip, return_timestamps="char")
    with pytest.raises(ValueError, match="character level timestamps, or word level"):
        pipes["ctc"](clip, return_timestamps=True)
    with pytest.raises(ValueError, match="CTC model"):
        pipes["ctc"](clip, generate_kwargs={"max_new_tokens": 3})
    with pytest.raises(ValueError, match="Only Whisper can return language"):
        pipes["ctc"](clip, return_language=True)
    with pytest.raises(ValueError, match="both as an argument and inside"):
        pipes["whisper-en"](clip, max_new_tokens=3, generate_kwargs={"max_new_tokens": 4})
    with pytest.raises(ValueError, match="decoder has 40 positions.*max_new_tokens=39"):  # the tiny one's 40
        pipes["whisper-en"](clip, max_new_tokens=40)
    with pytest.raises(ValueError, match="Whisper hears 30 s at a time, so longer windows"):
        pipes["whisper-en"](clip, chunk_length_s=40)
    with pytest.raises(ValueError, match="Chunk length must be superior to stride length"):
        pipes["ctc"](clip, chunk_length_s=2, stride_length_s=1)
    with pytest.raises(ValueError, match="English-only"):
        pipes["whisper-en"](clip, generate_kwargs={"language": "fr"})
    with pytest.raises(ValueError, match="top_k must be a positive integer"):
        pipes["wav2vec2-classifier"](clip, top_k=0)
    with pytest.raises(TypeError, match="unexpected"):
        pipes["wav2vec2-classifier"](clip, chunk_length_s=3)


def test_whisper_classifier_refuses_more_than_its_window(pipes):
    with pytest.raises(ValueError, match="Whisper hears 30 s at a time, so the rest would be cut off"):
        pipes["whisper-classifier"](np.zeros(31 * RATE, dtype=np.float32))


# ------------------------------------------------------------------------------------------------
# The packaged whisper-tiny.en on real speech
# ------------------------------------------------------------------------------------------------

SPEAKERS = ["george", "jackson", "theo", "nicolas", "yweweler", "lucas"]
SPOKEN = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


@pytest.fixture(scope="module")
def whisper_tiny_en() -> Path:
    try:
        config = hub.resolve_file("openai/whisper-tiny.en", "config.json")
    except hub.CheckpointNotFoundError as e:
        pytest.skip(f"the packaged whisper-tiny.en is not available: {e}")
    return Path(config).parent


def _heard(text: str) -> list[int]:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    names = {name: digit for digit, name in SPOKEN.items()}
    return [names[w] if w in names else int(w) for w in words if w in names or w.isdigit() and len(w) == 1]


def _digits_clip(names: list[str]) -> np.ndarray:
    """The recordings one after another at 16 kHz, a quarter of a second of silence after each."""
    pause = np.zeros(RATE // 4, dtype=np.float32)
    return np.concatenate([np.concatenate([load_audio(recording(name), RATE), pause]) for name in names])


def test_whisper_tiny_en_transcribes_spoken_digits(whisper_tiny_en):
    """Ten digits said one after another (about 7 s): heard in order. (A lone sub-second digit, padded to Whisper's
    30 s, is often heard as "Thank you." or "you.": 5 of these 10 alone are right, exactly as with the reference
    v4.37, which test_whisper_tiny_en_long_form_equals_the_reference checks.)"""
    pipe = pipeline("automatic-speech-recognition", model=str(whisper_tiny_en))
    names = [f"{digit}_{SPEAKERS[digit % 6]}_{digit + 10}" for digit in range(10)]
    heard = _heard(pipe(_digits_clip(names))["text"])
    right = sum(block.size for block in difflib.SequenceMatcher(None, heard, list(range(10))).get_matching_blocks())
    assert right >= 7, heard


LONG_FORM = [
    {"chunk_length_s": 5, "stride_length_s": 1},
    {"chunk_length_s": 5, "stride_length_s": 1, "return_timestamps": True},
    {"chunk_length_s": 5, "stride_length_s": 1, "return_timestamps": "word"},
]
LONE_DIGITS = [f"{digit}_{SPEAKERS[digit % 6]}_{digit + 10}" for digit in range(10)]


@pytest.fixture(scope="module")
def tiny_en_cases(whisper_tiny_en, tmp_path_factory) -> tuple[np.ndarray, dict]:
    """18 digits (about 11 s) and the reference v4.37's answers on them (``LONG_FORM``) and on ten lone digits."""
    reason = reference_v4.v4_unavailable()
    if reason:
        pytest.skip(reason)
    folder = tmp_path_factory.mktemp("tiny-en")
    digits = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3]
    speech = _digits_clip([f"{digit}_{SPEAKERS[i % 6]}_{i}" for i, digit in enumerate(digits)])
    np.save(folder / "speech.npy", speech)
    for name in LONE_DIGITS:
        np.save(folder / f"{name}.npy", load_audio(recording(name), RATE))
    model = {"task": "automatic-speech-recognition", "model": str(whisper_tiny_en)}
    calls = {
        str(i): model | {"batch": False, "kwargs": kw, "inputs": [{"npy": str(folder / "speech.npy")}]}
        for i, kw in enumerate(LONG_FORM)
    }
    lone = [{"npy": str(folder / f"{name}.npy")} for name in LONE_DIGITS]
    calls["lone"] = model | {"batch": True, "kwargs": {}, "inputs": lone}
    result = subprocess.run(
        [str(reference_v4._python()), "-c", _V4_RUNNER],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=900,
        env=reference_v4._env(),
        cwd=str(folder),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return speech, json.loads(result.stdout)


def test_whisper_tiny_en_long_form_equals_the_reference(whisper_tiny_en, tiny_en_cases):
    """Windows of 5 s, with and without segment timestamps, and ten lone digits: v4.37's answers on the packaged
    checkpoint; the long clip's digits mostly heard."""
    speech, expected = tiny_en_cases
    pipe = pipeline("automatic-speech-recognition", model=str(whisper_tiny_en))
    answers = [pipe(speech, **kw) for kw in LONG_FORM[:2]]
    for i, (kw, answer) in enumerate(zip(LONG_FORM, answers)):
        assert_same(answer, expected[str(i)], TIME_TOLERANCE, str(kw))
    assert_same(pipe([str(recording(name)) for name in LONE_DIGITS]), expected["lone"], TIME_TOLERANCE, "lone digits")
    heard = _heard(answers[0]["text"])
    assert len(heard) >= 0.8 * 18, heard


@pytest.mark.xfail(
    reason="open: on the real whisper-tiny.en one word's end differs from v4.37's (3.14 s vs 3.30 s, chunk 3 of the "
    "5-second windows); the text and the other words agree. The tiny random Whisper's word timestamps equal v4.37's.",
    strict=False,
)
def test_whisper_tiny_en_word_timestamps_equal_the_reference(whisper_tiny_en, tiny_en_cases):
    speech, expected = tiny_en_cases
    pipe = pipeline("automatic-speech-recognition", model=str(whisper_tiny_en))
    assert_same(pipe(speech, **LONG_FORM[2]), expected["2"], TIME_TOLERANCE, str(LONG_FORM[2]))


def test_decoding_the_same_as_the_reference_tokenizer(folders):
    """What the window merging decodes: text tokens, alone and in pieces that split characters."""
    ours = AutoTokenizer.from_pretrained(folders["whisper-en"])
    reference = transformers.AutoTokenizer.from_pretrained(folders["whisper-en"])
    ids = ours(" Nine, eight — déjà vu! 九", add_special_tokens=False)["input_ids"]
    assert ours.decode(ids) == reference.decode(ids)
    for k in range(len(ids)):
        assert ours.decode(ids[: k + 1]) == reference.decode(ids[: k + 1])
    assert sorted(ours.all_special_ids) == sorted(reference.all_special_ids)
    assert ours.convert_tokens_to_ids("<|notimestamps|>") == NO_TIMESTAMPS
