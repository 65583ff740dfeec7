"""Audio feature extractors and speech processors against the reference: Whisper's log-mel features and
Wav2Vec2's normalized samples on real speech (the spoken digits at 16 kHz), preprocessor_config.json both ways,
the Auto classes, the processors with a CTC and a Whisper tokenizer, and bad input."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
import transformers

from workbench import data
from workbench.processing import AutoFeatureExtractor, AutoProcessor, BatchFeature
from workbench.processing.audio_utils import load_audio
from workbench.processing.feature_extraction import (
    Wav2Vec2FeatureExtractor,
    Wav2Vec2Processor,
    WhisperFeatureExtractor,
    WhisperProcessor,
    mel_filter_bank,
)

transformers.logging.set_verbosity_error()

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
EXTRACTORS = {"WhisperFeatureExtractor": WhisperFeatureExtractor, "Wav2Vec2FeatureExtractor": Wav2Vec2FeatureExtractor}


@pytest.fixture(scope="module")
def speech() -> list[np.ndarray]:
    """Six real recordings (one digit per speaker, 0.3-0.9 s), read and resampled from 8 kHz to 16 kHz here."""
    return [load_audio(data.path("fsdd", f"recordings/{d}_{s}_3.wav"), 16000) for d, s in enumerate(SPEAKERS)]


def assert_features_equal(ours: BatchFeature, reference, atol: float = 1e-5):
    assert set(ours) == set(reference)
    for key in reference:
        expected = [np.asarray(v) for v in reference[key]]
        got = [np.asarray(v) for v in ours[key]]
        assert len(got) == len(expected), key
        for g, e in zip(got, expected):
            assert g.shape == e.shape, key
            np.testing.assert_allclose(g, e, atol=atol, rtol=0, err_msg=key)


# ------------------------------------------------------------------------------------------------
# Whisper
# ------------------------------------------------------------------------------------------------


def test_whisper_features_match_the_reference_on_real_speech(speech):
    ours, reference = WhisperFeatureExtractor(), transformers.WhisperFeatureExtractor()
    for waveform in speech[:2]:  # one recording at a time, as the pipeline calls it
        assert_features_equal(ours(waveform, sampling_rate=16000), reference(waveform, sampling_rate=16000))
    batch = ours(speech, sampling_rate=16000, return_tensors="np")
    assert batch["input_features"].shape == (6, 80, 3000) and batch["input_features"].dtype == np.float32
    assert_features_equal(batch, reference(speech, sampling_rate=16000, return_tensors="np"))


def test_whisper_options_match_the_reference(speech):
    ours, reference = WhisperFeatureExtractor(), transformers.WhisperFeatureExtractor()
    for options in (
        {"return_attention_mask": True},
        {"padding": "longest", "return_attention_mask": True, "do_normalize": True},
        {"padding": "max_length", "max_length": 16000, "pad_to_multiple_of": 480},
    ):
        expected = reference(speech, sampling_rate=16000, return_tensors="np", **options)
        assert_features_equal(ours(speech, sampling_rate=16000, return_tensors="np", **options), expected)
    long = np.concatenate(speech * 10)[: 16000 * 31]  # 31 s: cut to 30 s
    assert_features_equal(ours(long, sampling_rate=16000), reference(long, sampling_rate=16000))


def test_whisper_large_v3_has_128_mel_bands(speech):
    ours, reference = WhisperFeatureExtractor(feature_size=128), transformers.WhisperFeatureExtractor(feature_size=128)
    np.testing.assert_allclose(ours.mel_filters, reference.mel_filters, atol=1e-12)
    assert_features_equal(ours(speech[0], sampling_rate=16000), reference(speech[0], sampling_rate=16000))


def test_whisper_attention_mask_has_one_entry_per_frame(speech):
    """v4.37 gave one more mask entry than frames when the padded length was not a multiple of 160."""
    out = WhisperFeatureExtractor()(speech, sampling_rate=16000, padding="longest", return_attention_mask=True)
    longest = max(len(w) for w in speech)
    assert out["input_features"][0].shape[-1] == len(out["attention_mask"][0]) == longest // 160
    assert [int(m.sum()) for m in out["attention_mask"]] == [min(-(-len(w) // 160), longest // 160) for w in speech]


def test_whisper_mel_filters_are_slaneys():
    filters = mel_filter_bank(201, 80, 0.0, 8000.0, 16000)
    assert filters.shape == (201, 80)
    frequencies = np.linspace(0, 8000, 201)
    # each filter's area (over Hz) is 2 / its width in Hz times half its width: unit area per filter, give or take
    # the sampling of its triangle by the FFT bins
    areas = (filters * (frequencies[1] - frequencies[0])).sum(axis=0)
    np.testing.assert_allclose(areas, 1.0, atol=0.5)


def test_whisper_on_the_gpu_matches_the_cpu(speech):
    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    extractor = WhisperFeatureExtractor()
    on_cpu = extractor(speech, sampling_rate=16000)["input_features"]
    on_gpu = extractor(speech, sampling_rate=16000, device="cuda")["input_features"]
    for c, g in zip(on_cpu, on_gpu):
        np.testing.assert_allclose(g, c, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# Wav2Vec2
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"padding": True, "return_attention_mask": True},
        {"padding": "max_length", "max_length": 9000, "truncation": True, "return_attention_mask": True},
        {"padding": True, "pad_to_multiple_of": 320, "return_attention_mask": True, "return_tensors": "pt"},
    ],
)
def test_wav2vec2_features_match_the_reference(speech, options):
    ours = Wav2Vec2FeatureExtractor()(speech, sampling_rate=16000, **options)
    assert_features_equal(ours, transformers.Wav2Vec2FeatureExtractor()(speech, sampling_rate=16000, **options))


def test_wav2vec2_normalizes_over_the_real_samples_even_without_a_mask(speech):
    """The reference, padding without returning a mask, folds the padding zeros into the mean and variance: a
    recording's values would depend on what it is batched with. Here they do not."""
    extractor = Wav2Vec2FeatureExtractor()
    padded = extractor(speech, sampling_rate=16000, padding=True, return_tensors="np")["input_values"]
    for row, waveform in zip(padded, speech):
        alone = extractor(waveform, sampling_rate=16000)["input_values"][0]
        np.testing.assert_array_equal(row[: len(waveform)], alone)
        assert not row[len(waveform) :].any()


def test_wav2vec2_left_padding_normalizes_the_real_samples(speech):
    """The reference normalizes the first ``length`` values whatever the padding side, so with left padding it
    mixes padding into the statistics and zeroes the end of the recording. Here each recording comes out as it
    would alone, right-aligned."""
    extractor = Wav2Vec2FeatureExtractor(padding_side="left", return_attention_mask=True)
    batch = extractor(speech[:3], sampling_rate=16000, padding=True, return_tensors="np")
    longest = max(len(w) for w in speech[:3])
    for row, mask, waveform in zip(batch["input_values"], batch["attention_mask"], speech[:3]):
        alone = extractor(waveform, sampling_rate=16000)["input_values"][0]
        np.testing.assert_array_equal(row[longest - len(waveform) :], alone)
        assert not row[: longest - len(waveform)].any() and mask.sum() == len(waveform) and mask[-1] == 1
    raw = extractor(speech[:3], sampling_rate=16000, padding=True, do_normalize=False)["input_values"]
    np.testing.assert_array_equal(raw[0][longest - len(speech[0]) :], speech[0])


def test_pad_as_a_data_collator(speech):
    extractor = Wav2Vec2FeatureExtractor(return_attention_mask=True)
    examples = [{"input_values": extractor(w, sampling_rate=16000)["input_values"][0]} for w in speech[:3]]
    reference = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    for options in ({"padding": True, "return_tensors": "pt"}, {"padding": "longest", "pad_to_multiple_of": 8}):
        ours = extractor.pad(examples, **options)
        expected = reference.pad(examples, **options)
        assert type(ours["input_values"]) is type(expected["input_values"])
        assert_features_equal(ours, expected, atol=0)
    log_mels = [
        {"input_features": np.random.default_rng(i).normal(size=(80, 3000)).astype(np.float32)} for i in range(2)
    ]
    ours = WhisperFeatureExtractor().pad(log_mels, return_tensors="pt")  # Whisper's fine-tuning collator
    torch.testing.assert_close(
        ours["input_features"], torch.from_numpy(np.stack([f["input_features"] for f in log_mels]))
    )


# ------------------------------------------------------------------------------------------------
# preprocessor_config.json and the Auto classes
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, settings",
    [
        ("WhisperFeatureExtractor", {"feature_size": 128}),
        ("Wav2Vec2FeatureExtractor", {"return_attention_mask": True, "do_normalize": False}),
    ],
)
def test_preprocessor_config_round_trips_with_the_reference(tmp_path, name, settings):
    getattr(transformers, name)(**settings).save_pretrained(tmp_path / "reference")
    ours = AutoFeatureExtractor.from_pretrained(tmp_path / "reference")
    assert type(ours).__name__ == name
    assert all(getattr(ours, key) == value for key, value in settings.items())
    ours.save_pretrained(tmp_path / "ours")
    written = json.loads((tmp_path / "ours" / "preprocessor_config.json").read_text())
    assert written == json.loads((tmp_path / "reference" / "preprocessor_config.json").read_text())
    back = transformers.AutoFeatureExtractor.from_pretrained(tmp_path / "ours")
    assert type(back).__name__ == name and back.to_dict() == getattr(transformers, name)(**settings).to_dict()


def test_a_hub_whisper_file_with_its_mel_table_loads(tmp_path):
    """openai/whisper-tiny's preprocessor_config.json stores the mel filters and n_samples; both are recomputed."""
    reference = transformers.WhisperFeatureExtractor()
    config = {
        **reference.to_dict(),
        "mel_filters": reference.mel_filters.tolist(),
        "processor_class": "WhisperProcessor",
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    ours = WhisperFeatureExtractor.from_pretrained(tmp_path)
    np.testing.assert_allclose(ours.mel_filters, reference.mel_filters, atol=1e-12)
    assert "mel_filters" not in ours.to_dict() and ours.to_dict()["processor_class"] == "WhisperProcessor"


def test_auto_feature_extractor_follows_the_model_type(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "hubert"}))
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"sampling_rate": 16000, "do_normalize": False}))
    extractor = AutoFeatureExtractor.from_pretrained(tmp_path)
    assert type(extractor) is Wav2Vec2FeatureExtractor and extractor.do_normalize is False


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="unexpected setting.*'n_mels'"):
        WhisperFeatureExtractor(n_mels=80)
    with pytest.raises(TypeError, match="unexpected keyword argument 'normalise'"):
        Wav2Vec2FeatureExtractor()(np.zeros(400, np.float32), sampling_rate=16000, normalise=True)


# ------------------------------------------------------------------------------------------------
# Processors
# ------------------------------------------------------------------------------------------------


def ctc_tokenizer(folder):
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, **{c: 5 + i for i, c in enumerate("EFGHINORSTUVWXZ")}}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    return transformers.Wav2Vec2CTCTokenizer(str(folder / "vocab.json"))


def whisper_tokenizer():
    """Whisper tiny.en's tokenizer layout: GPT-2's byte-level BPE, then <|startoftranscript|>, the languages, the
    tasks, <|startofprev|>, <|notimestamps|> ... as special tokens (50257 on)."""
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    folder = data.path("tokenizers", "gpt2")
    tokenizer = transformers.WhisperTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    specials = ["<|startoftranscript|>", *[f"<|{code}|>" for code in LANGUAGES], "<|translate|>", "<|transcribe|>"]
    specials += ["<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|notimestamps|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.set_prefix_tokens(predict_timestamps=False)  # the template <|startoftranscript|> <|notimestamps|> ...
    return tokenizer


def test_wav2vec2_processor_matches_the_reference(tmp_path, speech):
    extractor = transformers.Wav2Vec2FeatureExtractor(return_attention_mask=True)
    reference = transformers.Wav2Vec2Processor(extractor, ctc_tokenizer(tmp_path))
    reference.save_pretrained(tmp_path / "processor")
    ours = AutoProcessor.from_pretrained(tmp_path / "processor")
    assert type(ours) is Wav2Vec2Processor
    assert_features_equal(ours(speech[0], sampling_rate=16000), reference(speech[0], sampling_rate=16000))
    both = ours(speech[:2], sampling_rate=16000, text=["NINE", "ONE TWO"], padding=True, return_tensors="pt")
    expected = reference(speech[:2], sampling_rate=16000, text=["NINE", "ONE TWO"], padding=True, return_tensors="pt")
    assert set(both) == set(expected) == {"input_values", "attention_mask", "labels"}
    for key in expected:
        torch.testing.assert_close(both[key], expected[key])
    ids = [[0, 14, 14, 0, 12, 0, 4, 13], [6, 6, 0, 4, 4, 14, 0, 0]]
    assert ours.batch_decode(ids) == reference.batch_decode(ids)
    ours.save_pretrained(tmp_path / "ours")
    assert type(transformers.AutoProcessor.from_pretrained(tmp_path / "ours")).__name__ == "Wav2Vec2Processor"


def test_wav2vec2_processor_pads_features_and_labels_as_the_reference(tmp_path, speech):
    reference = transformers.Wav2Vec2Processor(transformers.Wav2Vec2FeatureExtractor(), ctc_tokenizer(tmp_path))
    reference.save_pretrained(tmp_path)
    ours = Wav2Vec2Processor.from_pretrained(tmp_path)
    features = [{"input_values": ours(w, sampling_rate=16000)["input_values"][0]} for w in speech[:3]]
    labels = [{"input_ids": ours(text=t)["input_ids"]} for t in ("ONE", "TWO THREE", "SIX")]
    got = ours.pad(features, labels=labels, padding=True, return_tensors="pt")
    expected = reference.pad(features, labels=labels, padding=True, return_tensors="pt")
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key])


def test_whisper_processor_matches_the_reference(tmp_path, speech):
    tokenizer = whisper_tokenizer()
    transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), tokenizer).save_pretrained(tmp_path)
    ours = AutoProcessor.from_pretrained(tmp_path)
    assert type(ours) is WhisperProcessor and type(ours.feature_extractor) is WhisperFeatureExtractor

    reference = transformers.WhisperProcessor.from_pretrained(tmp_path)
    got = ours(speech[0], sampling_rate=16000, text=" nine", return_tensors="pt")
    expected = reference(speech[0], sampling_rate=16000, text=" nine", return_tensors="pt")
    torch.testing.assert_close(got["input_features"], expected["input_features"], atol=1e-5, rtol=0)
    torch.testing.assert_close(got["labels"], expected["labels"])

    for options in (
        {},
        {"language": "fr", "task": "translate"},
        {"language": "German", "task": "transcribe"},
        {"language": "Japanese", "no_timestamps": False},
        {"task": "transcribe"},
    ):
        # the reference keeps the language and task of the previous call in its tokenizer: forget them
        reference.tokenizer.language = reference.tokenizer.task = None
        assert ours.get_decoder_prompt_ids(**options) == reference.get_decoder_prompt_ids(**options), options

    np.testing.assert_array_equal(ours.get_prompt_ids(" Nine, eight."), reference.get_prompt_ids(" Nine, eight."))
    sequence = [50257, 50362, 40, 716, 262, 2068, 0, 50256]
    for skip in (True, False):
        assert ours.batch_decode([sequence], skip_special_tokens=skip) == reference.batch_decode(
            [sequence], skip_special_tokens=skip
        )


def test_whisper_processor_refuses_unknown_languages_tasks_and_special_prompts(tmp_path):
    transformers.WhisperProcessor(transformers.WhisperFeatureExtractor(), whisper_tokenizer()).save_pretrained(tmp_path)
    processor = WhisperProcessor.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="Unsupported language 'klingon'"):
        processor.get_decoder_prompt_ids(language="klingon")
    with pytest.raises(ValueError, match="Unsupported task: summarize"):
        processor.get_decoder_prompt_ids(task="summarize")
    with pytest.raises(ValueError, match="disallowed special token: <\\|notimestamps\\|>"):
        processor.get_prompt_ids("hello <|notimestamps|>")


def test_speech_processors_need_audio_or_text(tmp_path):
    processor = Wav2Vec2Processor(Wav2Vec2FeatureExtractor(), ctc_tokenizer(tmp_path))
    with pytest.raises(ValueError, match="either an `audio` or `text`"):
        processor()


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXTRACTORS)
def test_bad_audio_gets_a_clear_error(name):
    extractor = EXTRACTORS[name]()
    with pytest.raises(ValueError, match="empty"):
        extractor(np.zeros(0, np.float32), sampling_rate=16000)
    with pytest.raises(ValueError, match="Recording 1 of the batch is empty"):
        extractor([np.ones(800, np.float32), []], sampling_rate=16000)
    with pytest.raises(ValueError, match="NaN or infinite"):
        extractor(np.array([0.1, np.nan] * 400, np.float32), sampling_rate=16000)
    with pytest.raises(TypeError, match="int16 PCM samples"):
        extractor((np.random.default_rng(0).normal(size=800) * 3000).astype(np.int16), sampling_rate=16000)
    with pytest.raises(ValueError, match="Only mono-channel audio"):
        extractor(np.zeros((2, 2, 800), np.float32), sampling_rate=16000)
    with pytest.raises(TypeError, match="load_audio"):
        extractor("speech.wav", sampling_rate=16000)


@pytest.mark.parametrize("name", EXTRACTORS)
def test_a_wrong_or_missing_sampling_rate_is_handled_as_the_reference(name, caplog):
    ours = EXTRACTORS[name]()
    waveform = np.zeros(8000, np.float32)
    with pytest.raises(ValueError, match="trained using a sampling rate of 16000.*not 8000.*load_audio"):
        ours(waveform, sampling_rate=8000)
    with caplog.at_level(logging.WARNING):
        ours(waveform)
    assert "strongly recommended to pass the `sampling_rate`" in caplog.text


@pytest.mark.parametrize("name", EXTRACTORS)
def test_silence_gives_the_reference_features(name):
    silence = np.zeros(16000, np.float32)
    ours = EXTRACTORS[name]()
    assert_features_equal(
        ours(silence, sampling_rate=16000), getattr(transformers, name)()(silence, sampling_rate=16000)
    )


def test_whisper_refuses_a_recording_too_short_for_its_window():
    with pytest.raises(ValueError, match="too short for Whisper's 400-sample window"):
        WhisperFeatureExtractor()(np.ones(100, np.float32), sampling_rate=16000, padding=False)
