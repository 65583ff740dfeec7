"""WhisperTokenizer against the reference, on the packaged real tokenizers (openai/whisper-tiny.en: GPT-2's BPE,
51,864 tokens; openai/whisper-base: the multilingual BPE, 51,865 tokens): ids, the decoder's prefix and prompts,
decoding with timestamps and offsets, and the merging of a long recording's windows.

Encoding, prefixes and prompts are compared with the installed reference (v5). Decoding and the window merging are
compared with v4.37 (the version the ASR pipeline follows; it runs in its own environment, see
tests/reference_v4.py), because v5 no longer cleans up spaces before punctuation for BPE tokenizers
(``clean_up_tokenization_spaces``, true in Whisper's files) and v4.37's ``_decode_asr`` is what its pipeline calls.
"""

from __future__ import annotations

import json
import subprocess
import tempfile

import numpy as np
import pytest
import reference_v4
import torch
import transformers

from workbench import AutoTokenizer, hub
from workbench.processing.whisper_tokenizer import WhisperTokenizer, merge_overlapping, merge_whisper_chunks

TINY_EN, BASE = "openai/whisper-tiny.en", "openai/whisper-base"
INSTALLED = {
    repo_id: hub.packaged_source(repo_id) is not None and not hub._missing_parts(repo_id) for repo_id in (TINY_EN, BASE)
}
BOTH = [
    pytest.param(repo_id, marks=pytest.mark.skipif(not INSTALLED[repo_id], reason=hub.install_command(repo_id)))
    for repo_id in (TINY_EN, BASE)
]
TEXTS = [
    " Hello world!",
    "Héllo, ça va? 日本語のテキスト",  # accents, CJK: byte-level pieces
    "  two  spaces\nand a newline\t",
    " don't stop , ok . ( really ) ?",  # spaces before punctuation: v4.37 cleans them up when decoding
    "<|3.00|> timed<|endoftext|> and <|en|>",  # special tokens written in the text are encoded as such
    "",
]
PASSAGE = (
    " The quick brown fox jumps over the lazy dog. Seven, eight, nine! She sells sea shells by the sea shore;"
    " how much wood would a woodchuck chuck? Peter Piper picked a peck of pickled peppers. The rain in Spain"
    " stays mainly in the plain, they said, and then they left at 3:45 p.m. for the station."
)


def folder_of(repo_id: str):
    from pathlib import Path

    return Path(hub.resolve_file(repo_id, "config.json")).parent  # converted into the test cache the first time


@pytest.fixture(scope="module", params=BOTH)
def tokenizers(request):
    """(repo id, ours, the reference v5's) for each packaged checkpoint."""
    folder = folder_of(request.param)
    return request.param, AutoTokenizer.from_pretrained(folder), transformers.WhisperTokenizer.from_pretrained(folder)


def ids_of(encoding) -> list:
    return encoding["input_ids"]


# ------------------------------------------------------------------------------------------------
# Encoding, the prefix, prompts (the reference v5)
# ------------------------------------------------------------------------------------------------


def test_the_class_and_its_special_ids(tokenizers):
    repo_id, ours, reference = tokenizers
    assert isinstance(ours, WhisperTokenizer) and len(ours) == len(reference) == (
        51864 if repo_id == TINY_EN else 51865
    )
    special = ("<|endoftext|>", "<|startoftranscript|>", "<|startofprev|>", "<|notimestamps|>", "<|0.00|>", "<|30.00|>")
    for token in special:
        assert ours.convert_tokens_to_ids(token) == reference.convert_tokens_to_ids(token), token
    assert ours.timestamp_begin == reference.convert_tokens_to_ids("<|0.00|>")
    assert (ours.eos_token_id, ours.pad_token_id, ours.bos_token_id) == (
        reference.eos_token_id,
        reference.pad_token_id,
        reference.bos_token_id,
    )
    assert ours.all_special_ids == reference.all_special_ids  # <|endoftext|> ... <|notimestamps|>, no timestamps


@pytest.mark.parametrize("text", TEXTS)
def test_ids_equal_the_references(tokenizers, text):
    _, ours, reference = tokenizers
    assert ids_of(ours(text)) == reference(text).input_ids
    assert ids_of(ours(text, add_special_tokens=False)) == reference(text, add_special_tokens=False).input_ids
    assert ours.tokenize(text) == reference.tokenize(text)
    pair = ours(text, " and more", add_special_tokens=True)
    assert ids_of(pair) == reference(text, " and more").input_ids


def test_a_batch_with_padding_equals_the_references(tokenizers):
    _, ours, reference = tokenizers
    batch = [" Seven.", " One, two, three, four."]
    got = ours(batch, padding=True, return_tensors="pt")
    want = reference(batch, padding=True, return_tensors="pt")
    assert torch.equal(got["input_ids"], want["input_ids"]) and torch.equal(
        got["attention_mask"], want["attention_mask"]
    )


@pytest.mark.skipif(not INSTALLED[BASE], reason=hub.install_command(BASE))
@pytest.mark.parametrize(
    "settings",
    [{}, {"language": "fr", "task": "translate"}, {"language": "German"},
     {"task": "transcribe", "predict_timestamps": True}, {"language": "en", "predict_timestamps": True}],
)  # fmt: skip
def test_the_prefix_set_at_load_equals_the_references(settings):
    folder = folder_of(BASE)
    ours = AutoTokenizer.from_pretrained(folder, **settings)
    reference = transformers.WhisperTokenizer.from_pretrained(folder, **settings)
    assert ours.prefix_tokens == reference.prefix_tokens
    assert ids_of(ours(" Bonjour.")) == reference(" Bonjour.").input_ids
    assert ours.get_decoder_prompt_ids(task="translate", language="es") == reference.get_decoder_prompt_ids(
        task="translate", language="es"
    )
    assert ours.prefix_tokens == reference.prefix_tokens  # get_decoder_prompt_ids set them, in both
    ours.set_prefix_tokens(language="ja", predict_timestamps=False)
    reference.set_prefix_tokens(language="ja", predict_timestamps=False)
    assert ids_of(ours(" Hi")) == reference(" Hi").input_ids


def test_prompt_ids_equal_the_references(tokenizers):
    _, ours, reference = tokenizers
    for text in (" zero one two three", "Digits spoken on the phone.  ", "Ça va"):
        np.testing.assert_array_equal(ours.get_prompt_ids(text), reference.get_prompt_ids(text))
        assert torch.equal(ours.get_prompt_ids(text, return_tensors="pt"), reference.get_prompt_ids(text, "pt"))
    with pytest.raises(ValueError, match="disallowed special token: <|endoftext|>"):
        ours.get_prompt_ids("before <|endoftext|> after")


def test_bad_settings_get_clear_errors(tokenizers):
    repo_id, ours, _ = tokenizers
    with pytest.raises(ValueError, match="Unsupported language: 'klingon'. Language should be one of: .*english"):
        ours.set_prefix_tokens(language="klingon")
    with pytest.raises(ValueError, match=r"Unsupported task: 'summarize'. Task should be one of \['translate'"):
        ours.set_prefix_tokens(task="summarize")
    assert ours.language is None and ours.task is None  # nothing changed
    # Cantonese came with large-v3's vocabulary; the reference would put <|endoftext|> (the unknown token) there.
    with pytest.raises(ValueError, match="Language 'cantonese' has no token in this tokenizer"):
        ours.set_prefix_tokens(language="cantonese")
    with pytest.raises(NotImplementedError, match="basic_normalize=True"):
        ours.decode(ids_of(ours(" Hi")), normalize=True)
    with pytest.raises(ValueError, match="needs both files"):
        WhisperTokenizer(vocab_file=str(folder_of(repo_id) / "vocab.json"))


def test_basic_normalize_equals_the_references(tokenizers):
    from transformers.models.whisper.english_normalizer import BasicTextNormalizer

    _, ours, _ = tokenizers
    for text in (
        " Hello, World! [noise] (laughs) Ça va?",
        "Éte\u0301 — œuvre straße 3.45 p.m.",
        "  <|en|>  tabs\tand\n",
    ):
        for remove_diacritics in (False, True):
            want = BasicTextNormalizer(remove_diacritics=remove_diacritics)(text)
            assert ours.basic_normalize(text, remove_diacritics=remove_diacritics) == want, (text, remove_diacritics)


# ------------------------------------------------------------------------------------------------
# Decoding and the window merging (the reference v4.37, in its own environment)
# ------------------------------------------------------------------------------------------------

_V4_RUNNER = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch, transformers
transformers.logging.set_verbosity_error()

def plain(x):
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    return x

tokenizers, results = {}, {}
for name, call in json.load(sys.stdin).items():
    try:
        if call["folder"] not in tokenizers:
            tokenizers[call["folder"]] = transformers.AutoTokenizer.from_pretrained(call["folder"])
        tokenizer = tokenizers[call["folder"]]
        if "decode" in call:
            results[name] = plain(tokenizer.decode(call["decode"], **call["kwargs"]))
        else:
            outputs = [{k: np.array([v]) if k != "stride" else tuple(v) for k, v in w.items()} for w in call["windows"]]
            results[name] = plain(tokenizer._decode_asr(outputs, time_precision=0.02, **call["kwargs"]))
    except Exception as e:
        results[name] = {"__error__": f"{type(e).__name__}: {e}"}
json.dump(results, sys.stdout)
"""


def run_v4(calls: dict) -> dict:
    reason = reference_v4.v4_unavailable()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        [str(reference_v4._python()), "-c", _V4_RUNNER],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=600,
        env=reference_v4._env(),
        cwd=tempfile.gettempdir(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def timestamp(tokenizer, seconds: float) -> int:
    return tokenizer.timestamp_begin + int(round(seconds / 0.02))


def decode_cases(tokenizer) -> dict[str, tuple[list[int], dict]]:
    """name -> (ids, decode's options): what generate writes, with and without timestamps and a text prompt."""
    text = lambda s: tokenizer.encode(s, add_special_tokens=False)  # noqa: E731
    t = lambda s: timestamp(tokenizer, s)  # noqa: E731
    start, eos = tokenizer.convert_tokens_to_ids("<|startoftranscript|>"), tokenizer.eos_token_id
    prefix = tokenizer.prefix_tokens
    plain = [*prefix, *text(" Seven , eight . ( nine ) ?"), eos]
    segments = [start, t(0.0), *text(" Hello world."), t(1.24), t(1.24), *text(" How are you?"), t(3.5), eos]
    open_end = [start, t(0.5), *text(" One, two"), t(2.0), t(2.2), *text(" three"), eos]  # the last segment never ends
    windows = [start, t(0.0), *text(" First."), t(29.0), t(1.0), *text(" Second."), t(2.0), eos]  # time goes back
    prompted = [tokenizer.convert_tokens_to_ids("<|startofprev|>"), *text(" digits"), *segments]
    cases = {}
    for name, ids in {"plain": plain, "segments": segments, "open_end": open_end, "windows": windows,
                      "prompted": prompted}.items():  # fmt: skip
        cases[f"{name}"] = (ids, {})
        cases[f"{name}-skip"] = (ids, {"skip_special_tokens": True})
        cases[f"{name}-timestamps"] = (ids, {"decode_with_timestamps": True})
        cases[f"{name}-timestamps-skip"] = (ids, {"decode_with_timestamps": True, "skip_special_tokens": True})
        cases[f"{name}-offsets"] = (ids, {"output_offsets": True})
        cases[f"{name}-offsets-skip"] = (ids, {"output_offsets": True, "skip_special_tokens": True})
    cases["segments-precision"] = (segments, {"output_offsets": True, "time_precision": 0.04})
    cases["plain-no-cleanup"] = (plain, {"skip_special_tokens": True, "clean_up_tokenization_spaces": False})
    cases["plain-basic-normalize"] = (plain, {"skip_special_tokens": True, "basic_normalize": True})
    return cases


def spoken_windows(tokenizer, *, seed: int, language_ids: list[int] | None = None, words: bool = False) -> list[dict]:
    """PASSAGE said at a steady pace (0.3-0.6 s a word, pauses between sentences), heard in 6-second windows with
    1-second strides (what the pipeline's ``chunk_length_s=6, stride_length_s=1`` cuts), as Whisper writes them:
    segments between timestamp tokens relative to each window, the one the window's end cuts left open, a word at
    a window's edge sometimes misheard or missed (``seed``), and with ``words`` a start time per token."""
    rng = np.random.default_rng(seed)
    spoken, time = [], 0.2
    for word in PASSAGE.split(" ")[1:]:
        length = rng.uniform(0.3, 0.6)
        spoken.append((tokenizer.encode(" " + word, add_special_tokens=False), time, time + length, word[-1] in ".!?;"))
        time += length + (0.5 if word[-1] in ".!?;" else rng.uniform(0.0, 0.15))
    total, chunk, stride = time + 0.3, 6.0, 1.0
    start_token, eos = tokenizer.convert_tokens_to_ids("<|startoftranscript|>"), tokenizer.eos_token_id
    windows, start = [], 0.0
    while True:
        end = min(start + chunk, total)
        language = [language_ids[len(windows) % len(language_ids)]] if language_ids else []
        tokens = [start_token, *language]
        times = [0.0] * len(tokens)
        segment_open = False
        for ids, word_start, word_end, sentence_end in spoken:
            if word_end <= start or word_start >= end:
                continue
            if not segment_open:
                tokens.append(timestamp(tokenizer, max(0.0, word_start - start)))
                times.append(max(0.0, word_start - start))
                segment_open = True
            if (word_start < start + 0.4 or word_end > end - 0.4) and rng.random() < 0.3:
                ids = [] if rng.random() < 0.5 else tokenizer.encode(" um", add_special_tokens=False)
            for i, token in enumerate(ids):
                tokens.append(token)
                times.append(round(word_start - start + i * 0.04, 2))
            if sentence_end and word_end < end:
                tokens += [timestamp(tokenizer, word_end - start)] * 2
                times += [round(word_end - start, 2)] * 2
                segment_open = False
        if len(tokens) > 2 and tokens[-1] == tokens[-2] >= tokenizer.timestamp_begin:
            tokens.pop()  # the window ends after a closed segment: its end time once
            times.pop()
        tokens.append(eos)
        times.append(times[-1])
        is_last = end >= total
        window = {"tokens": tokens, "stride": [end - start, 0.0 if start == 0 else stride, 0.0 if is_last else stride]}
        if words:
            window["token_timestamps"] = [round(t, 2) for t in times]
        windows.append(window)
        if is_last:
            return windows
        start += chunk - 2 * stride


def merge_cases(tokenizer, multilingual: bool) -> dict[str, tuple[list[dict], dict]]:
    """name -> (windows, _decode_asr's options)."""
    languages = [tokenizer.convert_tokens_to_ids(t) for t in ("<|en|>", "<|en|>", "<|fr|>")] if multilingual else None
    cases = {}
    for seed in range(3):
        for timestamps in (False, True, "word"):
            for language in (False, True) if multilingual else (False,):
                windows = spoken_windows(tokenizer, seed=seed, language_ids=languages, words=timestamps == "word")
                options = {"return_timestamps": timestamps, "return_language": language}
                cases[f"merge-{seed}-{timestamps}-{language}"] = (windows, options)
    one = spoken_windows(tokenizer, seed=0, words=True)[:1]
    one[0].pop("stride")  # one window without strides: a recording under 30 s
    cases["one-window"] = (one, {"return_timestamps": True, "return_language": False})
    cases["one-window-words"] = (one, {"return_timestamps": "word", "return_language": False})
    return cases


@pytest.fixture(scope="module")
def v4():
    """Every decode and merge case of both checkpoints, run once through v4.37."""
    calls = {}
    for repo_id in (TINY_EN, BASE):
        if not INSTALLED[repo_id]:
            continue
        folder = folder_of(repo_id)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        for name, (ids, options) in decode_cases(tokenizer).items():
            calls[f"{repo_id}/{name}"] = {"folder": str(folder), "decode": ids, "kwargs": options}
        for name, (windows, options) in merge_cases(tokenizer, repo_id == BASE).items():
            calls[f"{repo_id}/{name}"] = {"folder": str(folder), "windows": windows, "kwargs": options}
    return run_v4(calls)


def same(got, expected):
    """JSON-equal (tuples as lists), times within 1e-6."""
    assert not (isinstance(expected, dict) and "__error__" in expected), expected
    got, expected = json.loads(json.dumps(got)), json.loads(json.dumps(expected))
    if isinstance(expected, float) or isinstance(got, float):
        return got is not None and abs(got - expected) < 1e-6
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(same(got[k], expected[k]) for k in got)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(same, got, expected))
    return got == expected


def test_decoding_equals_v4_37(tokenizers, v4):
    repo_id, ours, _ = tokenizers
    cases = decode_cases(ours)
    assert len(cases) == 33
    for name, (ids, options) in cases.items():
        got = ours.decode(ids, **options)
        assert same(got, v4[f"{repo_id}/{name}"]), (name, got, v4[f"{repo_id}/{name}"])
        assert ours.decode(torch.tensor(ids), **options) == got  # a tensor decodes as the list
    batch = [cases["plain"][0], cases["segments"][0]]
    assert ours.batch_decode(batch, skip_special_tokens=True) == [
        v4[f"{repo_id}/plain-skip"],
        v4[f"{repo_id}/segments-skip"],
    ]


def test_decoding_equals_v5_where_v5_kept_v4_37s_behaviour(tokenizers):
    """v5 decodes as v4.37 did except for the clean-up of spaces before punctuation: the same without it."""
    _, ours, reference = tokenizers
    for name, (ids, options) in decode_cases(ours).items():
        if "normalize" in name or "windows" in name:  # v5 counts a window's times on differently
            continue
        options = {**options, "clean_up_tokenization_spaces": False}
        assert same(ours.decode(ids, **options), reference.decode(ids, **options)), name


def test_window_merging_equals_v4_37(tokenizers, v4):
    repo_id, ours, _ = tokenizers
    cases = merge_cases(ours, repo_id == BASE)
    for name, (windows, options) in cases.items():
        got = merge_whisper_chunks(ours, windows, time_precision=0.02, **options)
        assert same(list(got), v4[f"{repo_id}/{name}"]), (name, got, v4[f"{repo_id}/{name}"])
        assert ours._decode_asr(windows, time_precision=0.02, **options) == got  # the reference's name for it
    text, chunks = merge_whisper_chunks(ours, cases["merge-0-True-False"][0], return_timestamps=True)
    assert text.startswith(" The quick brown fox") and len(chunks["chunks"]) >= 4  # the cases exercise the merging
    assert ours.decode(torch.tensor([cases["merge-0-True-False"][0][0]["tokens"]]), skip_special_tokens=True)


def test_merge_overlapping():
    assert merge_overlapping([[1, 2, 3, 4], [3, 4, 5]]) == ([1, 2, 3, 4, 5], [])
    assert merge_overlapping([[1, 2], [7, 8]]) == ([1, 2, 7, 8], [])  # no two matching tokens: joined as they are
    tokens, times = merge_overlapping([[1, 2, 3, 4], [2, 3, 4, 5]], [["a", "b", "c", "d"], ["B", "C", "D", "E"]])
    assert tokens == [1, 2, 3, 4, 5] and times == ["a", "b", "C", "D", "E"]  # the left run up to the overlap's middle


def test_a_window_of_several_rows_is_refused(tokenizers):
    _, ours, _ = tokenizers
    with pytest.raises(ValueError, match="tokens of one window; got a batch of 2 rows"):
        merge_whisper_chunks(ours, [{"tokens": [[1, 2], [3, 4]]}])
