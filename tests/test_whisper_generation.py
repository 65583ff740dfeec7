"""Whisper's generate() against the reference's, token for token, on a tiny random model whose
generation_config.json is laid out as a real checkpoint's (tests/tiny_whisper.py): language detection, language
and task (code, name, token, one per row), v4.37's forced_decoder_ids, prompt_ids, suppressed tokens,
timestamps, greedy and beam search, the length limits, English-only checkpoints, encoder_outputs in place of
the features; token-level timestamps (median filter + dynamic time warping) to the reference's numbers; the
logits processors; the errors. The reference runs with force_unique_generate_call=True: one decoding pass over
the 30-second window, which is what generate() does here (and what v4.37's short-form generate did: checked too)."""

import json
import subprocess
import warnings

import numpy as np
import pytest
import reference_v4
import torch
import transformers
from parity import assert_close, load_ours_from_reference, reference_model, varied_weights
from tiny_whisper import (
    EOS,
    FRAMES,
    LANGUAGES,
    MEL_BINS,
    NO_TIMESTAMPS,
    PREV,
    START,
    TASKS,
    generation_config_values,
    input_features,
    reference_config,
)
from transformers.models.whisper import generation_whisper

import workbench
from workbench.generation import (
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    WhisperTimeStampLogitsProcessor,
)
from workbench.generation.whisper import dynamic_time_warping, median_filter

FEATURES = input_features(3, seed=1)


def whisper_pair(folder, multilingual: bool = True):
    """(reference, ours loaded from its save), with varied weights and a real checkpoint's generation config."""
    ref = varied_weights(reference_model("WhisperForConditionalGeneration", reference_config(), seed=0))
    ref.generation_config = transformers.GenerationConfig(**generation_config_values(multilingual))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSpeechSeq2Seq, folder)
    return ref, ours


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return whisper_pair(tmp_path_factory.mktemp("whisper-generate"))


def reference_generate(ref, *args, **kwargs):
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        transformers.logging.set_verbosity_error()
        return ref.generate(*args, force_unique_generate_call=True, **kwargs)


def assert_same_generation(ref, ours, *args, **kwargs):
    expected = reference_generate(ref, *args, **kwargs)
    got = ours.generate(*args, **kwargs)
    if isinstance(expected, dict):
        assert torch.equal(got["sequences"], expected["sequences"]), (kwargs, got["sequences"], expected["sequences"])
        return expected, got
    assert torch.equal(got, expected), (kwargs, got, expected)
    return expected, got


# ------------------------------------------------------------------------------------------------
# Tokens
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        {},  # language detected (the most probable language token), transcribe, no timestamps
        dict(language="fr"),
        dict(language="french", task="translate"),
        dict(language=["en", "FR", "<|de|>"]),  # one per input: a code, a code in capitals, a token
        dict(task="translate"),  # language detected
        dict(forced_decoder_ids=[[1, LANGUAGES["<|de|>"]], [2, TASKS["translate"]], [3, NO_TIMESTAMPS]]),  # v4.37
        dict(prompt_ids=torch.tensor([PREV, 3, 4, 5])),  # <|startofprev|> context, before the start token
        dict(decoder_input_ids=torch.tensor([[START, 54, 55, NO_TIMESTAMPS, 9]] * 3)),  # the whole prompt, as given
        dict(suppress_tokens=None, begin_suppress_tokens=None),
        dict(suppress_tokens=[24, 28, 53], begin_suppress_tokens=[61, 62]),
        dict(max_new_tokens=5),
        dict(max_length=10),  # counted from the end of the prompt (up to half the positions), as the reference
        dict(num_beams=3),
        dict(num_beams=3, length_penalty=0.5, no_repeat_ngram_size=2),
    ],
    ids=lambda settings: ",".join(settings) or "defaults",
)
def test_generate_matches_reference(pair, settings):
    ref, ours = pair
    _, got = assert_same_generation(ref, ours, FEATURES, **settings)
    if settings.get("language") == "fr" and "task" not in settings:
        assert got[0, :4].tolist() == [START, LANGUAGES["<|fr|>"], TASKS["transcribe"], NO_TIMESTAMPS]


@pytest.mark.parametrize("num_beams", [1, 3])
def test_timestamps_match_reference(pair, num_beams):
    """No <|notimestamps|>; the first token is an early timestamp; timestamps come in order."""
    ref, ours = pair
    for language in (None, "de"):
        _, got = assert_same_generation(
            ref, ours, FEATURES, return_timestamps=True, language=language, num_beams=num_beams
        )
        assert NO_TIMESTAMPS not in got.tolist()[0]
        first = got[:, 3]  # after <|startoftranscript|> <|language|> <|transcribe|>
        assert bool(((first > NO_TIMESTAMPS) & (first <= NO_TIMESTAMPS + 6)).all())  # max_initial_timestamp_index 5
        for row in got.tolist():
            times = [token for token in row if token > NO_TIMESTAMPS]
            assert times == sorted(times)


def test_rows_that_finish_early_are_padded_as_the_reference(pair):
    ref, ours = pair
    free = ours.generate(FEATURES, language="fr")
    stop = int(free[1, 6])  # a token row 1 produces early: as eos, the rows stop at different steps
    finished_early = []
    for settings in (dict(), dict(num_beams=3, length_penalty=1.5), dict(return_timestamps=True)):
        _, got = assert_same_generation(ref, ours, FEATURES, language="fr", eos_token_id=stop, **settings)
        finished_early.append(bool((got[:, 4:] == EOS).any()))  # padding (the pad id is <|endoftext|>'s)
    assert finished_early[:2] == [True, True]


def test_seeded_sampling_matches_reference(pair):
    """Sampling with a temperature (the reference samples only when given one) draws the same tokens."""
    ref, ours = pair
    for settings in (dict(temperature=0.7, top_k=10, language="fr"), dict(temperature=1.3, return_timestamps=True)):
        torch.manual_seed(5)
        expected = reference_generate(ref, FEATURES, do_sample=True, **settings)
        torch.manual_seed(5)
        assert torch.equal(ours.generate(FEATURES, do_sample=True, **settings), expected), settings


def test_english_only_checkpoint(tmp_path):
    ref, ours = whisper_pair(tmp_path, multilingual=False)
    _, got = assert_same_generation(ref, ours, FEATURES)
    assert got[0, :2].tolist() == [START, NO_TIMESTAMPS]  # no language, no task
    _, got = assert_same_generation(ref, ours, FEATURES, return_timestamps=True)
    assert got[0, 0] == START and got[0, 1] > NO_TIMESTAMPS
    with pytest.raises(ValueError, match="English-only"):
        ours.generate(FEATURES, language="fr")


def test_encoder_outputs_and_short_features(pair):
    """v4.37's ASR pipeline passes the encoder's outputs (and a feature mask, not used by Whisper's attention);
    features shorter than 30 s are padded with zeros, as the reference pads them."""
    ref, ours = pair
    plain = ours.generate(FEATURES, language="fr", return_timestamps=True)
    encoded = ours.get_encoder()(FEATURES)
    mask = torch.ones(3, FRAMES, dtype=torch.long)
    via_encoder = ours.generate(encoder_outputs=encoded, attention_mask=mask, language="fr", return_timestamps=True)
    assert torch.equal(via_encoder, plain)
    assert torch.equal(ours.generate(inputs=FEATURES, language="fr", return_timestamps=True), plain)  # its other name
    detected = ours.generate(encoder_outputs=encoded)  # language detection from the encoder's outputs
    assert torch.equal(detected, ours.generate(FEATURES))
    assert torch.equal(ours.detect_language(FEATURES), detected[:, 1])
    assert_same_generation(ref, ours, FEATURES[:, :, :45], language="fr")  # (the reference detects no language there)
    assert torch.equal(ours.generate(FEATURES[:, :, :45])[:, 1], ours.detect_language(FEATURES[:, :, :45]))


def test_dict_outputs_and_scores(pair):
    ref, ours = pair
    expected, got = assert_same_generation(
        ref, ours, FEATURES, language="fr", return_dict_in_generate=True, output_scores=True, max_new_tokens=6
    )
    assert_close(got.scores, expected.scores, "scores")
    assert got.sequences.shape == (3, 10)


# ------------------------------------------------------------------------------------------------
# Token-level timestamps
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [
        dict(max_new_tokens=12),  # no audio length: the whole window
        dict(max_new_tokens=12, attention_mask="per row"),  # each clip's length from the feature mask
        dict(max_new_tokens=12, return_timestamps=True, attention_mask="same"),
        dict(max_new_tokens=1),  # one new token: nothing to align, all zeros
    ],
    ids=["whole-window", "per-row-lengths", "timestamps", "one-token"],
)
def test_token_timestamps_match_reference(pair, settings):
    ref, ours = pair
    settings = dict(settings, language="fr", return_token_timestamps=True)
    if settings.get("attention_mask") == "per row":
        settings["attention_mask"] = torch.ones(3, FRAMES, dtype=torch.long)
        settings["attention_mask"][1, 40:] = settings["attention_mask"][2, 24:] = 0
    elif settings.get("attention_mask") == "same":
        settings["attention_mask"] = torch.ones(3, FRAMES, dtype=torch.long)
    expected, got = assert_same_generation(ref, ours, FEATURES, **settings)
    assert sorted(got) == ["sequences", "token_timestamps"]
    assert got["token_timestamps"].shape == got["sequences"].shape
    torch.testing.assert_close(got["token_timestamps"], expected["token_timestamps"], atol=0, rtol=0)
    if settings.get("attention_mask") is not None:  # v4.37's pipeline gives the lengths as num_frames
        frames = settings["attention_mask"].sum(-1).tolist()
        again = ours.generate(FEATURES, **{**settings, "attention_mask": None}, num_frames=frames)
        assert torch.equal(again["token_timestamps"], got["token_timestamps"])


def test_v4_pipeline_call_for_word_timestamps(pair):
    """What v4.37's ASR pipeline passes for return_timestamps="word": the encoder's outputs, the feature mask, the
    clip's length in frames and return_timestamps="word" (which asks for token times, not timestamp tokens)."""
    _, ours = pair
    mask = torch.ones(3, FRAMES, dtype=torch.long)
    out = ours.generate(
        encoder_outputs=ours.get_encoder()(FEATURES, attention_mask=mask),
        attention_mask=mask,
        return_timestamps="word",
        return_token_timestamps=True,
        num_frames=48,
        language="fr",
    )
    assert torch.equal(out["sequences"], ours.generate(FEATURES, language="fr"))  # <|notimestamps|> kept
    direct = ours.generate(FEATURES, language="fr", return_token_timestamps=True, num_frames=[48, 48, 48])
    assert torch.equal(out["token_timestamps"], direct["token_timestamps"])


def test_token_timestamps_in_a_dict_output(pair):
    ref, ours = pair
    settings = dict(language="fr", return_token_timestamps=True, return_dict_in_generate=True, max_new_tokens=8)
    expected, got = assert_same_generation(ref, ours, FEATURES, **settings)
    assert torch.equal(got["token_timestamps"], expected["token_timestamps"])
    assert len(got["cross_attentions"]) == 8


def test_dynamic_time_warping_and_median_filter_equal_the_reference():
    rng = np.random.default_rng(0)
    matrices = [
        rng.normal(size=(7, 30)),
        rng.normal(size=(1, 5)),
        rng.normal(size=(12, 12)),
        rng.integers(0, 3, size=(9, 25)).astype(np.float64),  # many ties
        np.zeros((4, 6)),  # all ties
    ]
    for matrix in matrices:
        expected = generation_whisper._dynamic_time_warping(matrix)
        got = dynamic_time_warping(matrix)
        assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1]), matrix.shape
    x = torch.randn(2, 3, 5, 20)
    for width in (1, 3, 7):
        torch.testing.assert_close(median_filter(x, width), generation_whisper._median_filter(x, width), atol=0, rtol=0)
    assert median_filter(x[..., :2], 7) is not None  # shorter than half the window: unchanged
    with pytest.raises(ValueError, match="odd"):
        median_filter(x, 4)


# ------------------------------------------------------------------------------------------------
# Logits processors
# ------------------------------------------------------------------------------------------------


def test_logits_processors_equal_the_reference():
    config = transformers.GenerationConfig(**generation_config_values())
    scores = torch.randn(4, 101, generator=torch.Generator().manual_seed(0))
    scores[:2, :50] += 3.0  # text more probable than all timestamps together in rows 0-1, less in rows 2-3
    prompt = [START, LANGUAGES["<|fr|>"], TASKS["transcribe"]]
    zero, later = NO_TIMESTAMPS + 1, NO_TIMESTAMPS + 9  # <|0.00|>, <|0.16|>
    generated = torch.tensor(
        [
            prompt + [zero, 5, 6, 7],  # text after the opening timestamp
            prompt + [zero, 5, 6, later],  # a segment's end: its closing timestamp or the end of text next
            prompt + [zero, 5, later, later],  # a complete pair: text next, never an earlier time
            prompt + [zero, later, later, 9],  # text after a pair
        ]
    )
    for ids in (generated, generated[:, :3]):  # later steps, and the first step (a timestamp, an early one)
        for ours, theirs in [
            (
                WhisperTimeStampLogitsProcessor(config, begin_index=3),
                transformers.WhisperTimeStampLogitsProcessor(config, begin_index=3),
            ),
            (SuppressTokensLogitsProcessor([1, 2, 500]), transformers.SuppressTokensLogitsProcessor([1, 2, 500])),
            (
                SuppressTokensAtBeginLogitsProcessor([0, EOS], ids.shape[1]),
                transformers.SuppressTokensAtBeginLogitsProcessor([0, EOS], ids.shape[1]),
            ),
        ]:
            torch.testing.assert_close(ours(ids, scores), theirs(ids, scores.clone()), atol=0, rtol=0)
    first_step = WhisperTimeStampLogitsProcessor(config, begin_index=3)(generated[:, :3], scores)
    assert torch.isinf(first_step[:, :zero]).all() and torch.isinf(first_step[:, zero + 6 :]).all()
    assert not torch.isinf(first_step[:, zero : zero + 6]).any()


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_clear_errors(pair, tmp_path):
    _, ours = pair
    with pytest.raises(ValueError, match="Unsupported language 'xx'"):
        ours.generate(FEATURES, language="xx")
    with pytest.raises(ValueError, match="not in this model's generation_config.lang_to_id"):
        ours.generate(FEATURES, language="spanish")  # a Whisper language, not in the tiny vocabulary
    with pytest.raises(ValueError, match="task='summarize'"):
        ours.generate(FEATURES, task="summarize")
    with pytest.raises(ValueError, match="2 entries for a batch of 3"):
        ours.generate(FEATURES, language=["en", "fr"])
    with pytest.raises(ValueError, match="chunk_length_s=30"):
        ours.generate(torch.randn(1, MEL_BINS, 2 * FRAMES))  # "more than 30 seconds"
    with pytest.raises(ValueError, match="long-form"):
        ours.generate(FEATURES, condition_on_prev_tokens=True)
    with pytest.raises(ValueError, match="long-form"):
        ours.generate(FEATURES, temperature=(0.0, 0.2, 0.4))
    with pytest.raises(ValueError, match=r"40 positions. Ask for at most max_new_tokens=36"):
        ours.generate(FEATURES, language="fr", max_new_tokens=37)
    with pytest.raises(ValueError, match="needs input_features"):
        ours.generate(language="fr")
    with pytest.raises(ValueError, match="beam search"):
        ours.generate(FEATURES, return_token_timestamps=True, num_beams=2)
    with pytest.raises(ValueError, match="follow Whisper's prompt"):
        ours.generate(FEATURES, forced_decoder_ids=[[2, TASKS["translate"]]])
    bare = workbench.WhisperForConditionalGeneration(ours.config)  # no generation_config.json: no Whisper keys
    with pytest.raises(ValueError, match="no_timestamps_token_id"):
        bare.generate(FEATURES, return_timestamps=True)
    with pytest.raises(ValueError, match="alignment_heads"):
        bare.generate(FEATURES, return_token_timestamps=True)
    with pytest.raises(ValueError, match="lang_to_id"):
        bare.generate(FEATURES, language="fr")


# ------------------------------------------------------------------------------------------------
# v4.37
# ------------------------------------------------------------------------------------------------

_V4_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import torch, transformers
transformers.logging.set_verbosity_error()
request = json.load(sys.stdin)
model = transformers.WhisperForConditionalGeneration.from_pretrained(request["folder"]).eval()
features = torch.tensor(request["features"])
out = []
for settings in request["settings"]:
    with torch.no_grad():
        result = model.generate(features, **settings)
    out.append(result["sequences"].tolist() if isinstance(result, dict) else result.tolist())
json.dump(out, sys.stdout)
"""


def test_same_sequences_as_v4_short_form_generate(pair, tmp_path):
    """v4.37 forced the prompt token by token and returned the whole sequence; with the language given (v4.37 did
    not detect it) and the default length limit, its sequences are the ones generate() returns here."""
    reason = reference_v4.v4_unavailable()
    if reason:
        pytest.skip(reason)
    _, ours = pair
    folder = tmp_path / "model"
    ours.save_pretrained(folder)
    settings = [dict(language="fr"), dict(language="de", task="translate", return_timestamps=True)]
    request = {"folder": str(folder), "features": FEATURES.tolist(), "settings": settings}
    result = subprocess.run(
        [str(reference_v4._python()), "-c", _V4_SCRIPT],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=600,
        env=reference_v4._env(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for kwargs, expected in zip(settings, json.loads(result.stdout)):
        assert ours.generate(FEATURES, **kwargs).tolist() == expected, kwargs
