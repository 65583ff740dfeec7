"""Reading audio: every input form to one waveform, the resampler's accuracy, the spoken-digits data set, and
bad input (missing, empty, corrupt files, NaN samples, arrays without a rate, ambiguous shapes)."""

from __future__ import annotations

import io
import math
import sys
import wave

import numpy as np
import pytest
import soundfile
import torch

from workbench import data
from workbench.processing import audio_utils
from workbench.processing.audio_utils import KAISER_BEST, load_audio, read_audio, resample, write_audio

DIGIT = "recordings/7_jackson_32.wav"


def fsdd_file(name: str = DIGIT):
    return data.path("fsdd", name)


def sine(frequency: float, rate: int, seconds: float = 1.0, dtype=np.float32) -> np.ndarray:
    return np.sin(2 * np.pi * frequency * np.arange(int(rate * seconds)) / rate).astype(dtype)


def wav_bytes(samples: np.ndarray, rate: int, format: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples.T if samples.ndim == 2 else samples, rate, format=format)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------
# Input forms
# ------------------------------------------------------------------------------------------------


def test_a_wav_file_reads_as_its_16_bit_samples_over_32768():
    path = fsdd_file()
    with wave.open(str(path)) as f:
        rate, pcm = f.getframerate(), np.frombuffer(f.readframes(f.getnframes()), dtype="<i2")
    samples, read_rate = read_audio(str(path))
    assert read_rate == rate == 8000
    assert samples.dtype == np.float32 and samples.shape == pcm.shape
    np.testing.assert_array_equal(samples, pcm / 32768.0)


def test_every_form_of_one_recording_gives_the_same_waveform():
    path = fsdd_file()
    raw = path.read_bytes()
    samples, rate = read_audio(path)
    expected = resample(samples, rate, 16000)
    forms = [
        str(path),
        path,
        raw,
        io.BytesIO(raw),
        {"path": str(path), "bytes": None},  # datasets Audio(decode=False)
        {"path": "renamed.wav", "bytes": raw},
        {"array": samples, "sampling_rate": rate},  # a decoded datasets value
        {"raw": samples.astype(np.float64), "sampling_rate": rate},  # the reference pipelines' spelling
        {"array": torch.from_numpy(samples), "sampling_rate": rate},
        {"array": (samples * 32768).astype(np.int16), "sampling_rate": rate},  # integer PCM is scaled
    ]
    for form in forms:
        waveform = load_audio(form, sampling_rate=16000)
        assert waveform.dtype == np.float32
        np.testing.assert_allclose(waveform, expected, atol=1e-6, err_msg=type(form).__name__)
    assert len(expected) == 2 * len(samples)


def test_a_bare_array_has_no_rate_and_is_taken_as_it_is():
    samples = sine(440, 8000)
    assert read_audio(samples)[1] is None
    np.testing.assert_array_equal(load_audio(samples, sampling_rate=16000), samples)
    np.testing.assert_array_equal(load_audio(samples.tolist()), samples)
    np.testing.assert_array_equal(load_audio(torch.from_numpy(samples)), samples)


def test_stereo_is_mixed_down_to_the_mean_of_its_channels():
    left, right = sine(440, 16000), 0.5 * sine(660, 16000)
    mono = (left.astype(np.float64) + right) / 2
    stereo = np.stack([left, right])  # (channels, samples)
    np.testing.assert_allclose(load_audio(stereo), mono, atol=1e-7)
    np.testing.assert_allclose(load_audio(stereo.T), mono, atol=1e-7)  # (samples, channels)
    from_file = load_audio(wav_bytes(stereo, 16000, "FLAC"))
    np.testing.assert_allclose(from_file, mono, atol=1e-4)  # FLAC keeps 16 bits
    samples, rate = read_audio(wav_bytes(stereo, 16000, "FLAC"))
    assert samples.shape == (2, 16000) and rate == 16000


@pytest.mark.parametrize("format", ["WAV", "FLAC", "OGG", "MP3"])
def test_soundfile_formats_read_back(tmp_path, format):
    tone = 0.5 * sine(440, 16000, seconds=0.5)
    file = tmp_path / f"tone.{format.lower()}"
    write_audio(file, tone, 16000)
    samples, rate = read_audio(file)
    assert rate == 16000 and samples.ndim == 1
    if format in ("WAV", "FLAC"):
        np.testing.assert_allclose(samples, tone, atol=1e-4)
    else:  # lossy: same length (MP3 within a frame) and the same tone
        assert abs(len(samples) - len(tone)) <= 1152
        spectrum = np.abs(np.fft.rfft(samples[:8000], 16000))
        assert abs(int(spectrum.argmax()) - 440) <= 2


def test_pyav_reads_what_soundfile_cannot(tmp_path):
    av = pytest.importorskip("av")
    file = tmp_path / "tone.m4a"
    with av.open(str(file), "w") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(0.5 * sine(440, 16000)[None], format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    waveform = load_audio(file, sampling_rate=16000)
    assert abs(len(waveform) - 16000) < 2048
    spectrum = np.abs(np.fft.rfft(waveform[2000:10000], 16000))
    assert abs(int(spectrum.argmax()) - 440) <= 2


def test_a_datasets_torchcodec_decoder_is_read_through_its_samples():
    class Decoded:  # the shape of torchcodec's AudioSamples
        data = torch.from_numpy(np.stack([sine(440, 8000), sine(440, 8000)]))
        sample_rate = 8000

    class AudioDecoder:
        def get_all_samples(self):
            return Decoded()

    np.testing.assert_allclose(load_audio(AudioDecoder(), 8000), sine(440, 8000), atol=1e-7)


# ------------------------------------------------------------------------------------------------
# The resampler
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampling_a_pure_sine_keeps_it_to_within_5e_4(rate):
    for frequency in (440.0, 1000.0, 3000.0):
        out = resample(sine(frequency, rate), rate, 16000)
        assert len(out) == 16000 and out.dtype == np.float32
        exact = np.sin(2 * np.pi * frequency * np.arange(16000) / 16000)
        inner = slice(1600, 14400)  # away from the edges, where the signal stops
        limit = 2e-2 if frequency > 0.3 * min(rate, 16000) else 6e-4  # close to the lower Nyquist: the roll-off
        assert np.abs(out - exact)[inner].max() < limit, (rate, frequency)
        best = resample(sine(frequency, rate, dtype=np.float64), rate, 16000, **KAISER_BEST)
        assert np.abs(best - exact)[inner].max() < 1e-6, (rate, frequency)


def test_resampling_agrees_with_scipy_resample_poly():
    signal = pytest.importorskip("scipy.signal")
    for rate in (8000, 44100):
        tone = sine(440, rate) + 0.5 * sine(1200, rate)
        g = math.gcd(rate, 16000)
        theirs = signal.resample_poly(tone.astype(np.float64), 16000 // g, rate // g)
        ours = resample(tone, rate, 16000)
        assert len(theirs) == len(ours)
        assert np.abs(ours - theirs)[1600:-1600].max() < 3e-3


def test_resample_keeps_the_batch_dimensions_and_tensors():
    tones = torch.from_numpy(np.stack([sine(440, 44100), sine(880, 44100)]))
    out = resample(tones, 44100, 16000)
    assert torch.is_tensor(out) and out.shape == (2, 16000)
    torch.testing.assert_close(out[1], torch.from_numpy(resample(sine(880, 44100), 44100, 16000)))
    same = sine(440, 16000)
    assert resample(same, 16000, 16000) is same
    assert len(resample(np.zeros(10, np.float32), 8000, 16000)) == 20
    assert len(resample(np.zeros(7, np.float32), 44100, 16000)) == math.ceil(7 * 160 / 441)


def test_resample_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="positive whole numbers"):
        resample(np.zeros(10, np.float32), 0, 16000)
    with pytest.raises(TypeError, match="float samples"):
        resample(np.zeros(10, np.int16), 8000, 16000)
    with pytest.raises(ValueError, match="44101 Hz a rounding"):
        resample(np.zeros(10, np.float32), 44101, 16000)
    with pytest.raises(ValueError, match="resampling_method"):
        resample(np.zeros(10, np.float32), 8000, 16000, resampling_method="linear")


# ------------------------------------------------------------------------------------------------
# The spoken digits
# ------------------------------------------------------------------------------------------------


def test_the_spoken_digits_load_with_an_audio_column_that_load_audio_decodes():
    digits = data.load("fsdd")
    assert {name: len(split) for name, split in digits.items()} == {"train": 2700, "test": 300}
    test = digits["test"]
    assert test.column_names == ["audio", "label", "speaker", "split"]
    assert test.features["label"].names == [str(d) for d in range(10)]
    assert sorted(set(test["speaker"])) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    row = test[0]
    assert row["audio"]["bytes"] is None and row["audio"]["path"].endswith("0_george_0.wav")
    waveform = load_audio(row["audio"], sampling_rate=16000)
    samples, rate = read_audio(row["audio"]["path"])
    assert rate == 8000 and len(waveform) == 2 * len(samples)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


def test_missing_files_folders_and_empty_bytes_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="No audio file 'no-such.wav'"):
        load_audio("no-such.wav")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        load_audio(tmp_path)
    with pytest.raises(ValueError, match="are empty"):
        load_audio(b"")
    with pytest.raises(ValueError, match="holds no samples"):
        load_audio(wav_bytes(np.zeros((2, 0), np.float32), 8000))
    with pytest.raises(ValueError, match="holds no samples"):
        load_audio({"array": [], "sampling_rate": 16000})


def test_a_corrupt_file_names_itself_and_says_what_can_be_read(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as without PyAV
    garbage = tmp_path / "noise.wav"
    garbage.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(ValueError, match=r"noise\.wav could not be decoded \(Format not recognised.*pip install av"):
        load_audio(garbage)
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(fsdd_file().read_bytes()[:30])  # the header cut short
    with pytest.raises(ValueError, match="truncated.wav could not be decoded"):
        load_audio(truncated)
    with pytest.raises(ValueError, match="the audio bytes of song.mp4 could not be decoded"):
        load_audio({"path": "song.mp4", "bytes": b"not audio at all" * 10})


def test_nan_samples_and_an_array_without_its_rate_are_refused():
    with pytest.raises(ValueError, match=r"holds 2 NaN or infinite sample\(s\) \(the first at index 1\)"):
        load_audio(np.array([0.0, np.nan, 0.1, np.inf], np.float32))
    with pytest.raises(ValueError, match="no 'sampling_rate'"):
        load_audio({"array": sine(440, 8000)}, sampling_rate=16000)
    with pytest.raises(ValueError, match="no 'sampling_rate'"):
        load_audio({"raw": sine(440, 8000), "sampling_rate": None})
    with pytest.raises(ValueError, match="positive whole number"):
        load_audio({"array": sine(440, 8000), "sampling_rate": 8000.5})
    with pytest.raises(ValueError, match="keys"):
        load_audio({"samples": sine(440, 8000)})


def test_shapes_and_types_that_are_not_audio_are_refused():
    with pytest.raises(ValueError, match="1-d .* or 2-d"):
        load_audio(np.zeros((2, 3, 100), np.float32))
    with pytest.raises(ValueError, match="Cannot tell the channels"):
        load_audio(np.zeros((100, 200), np.float32))
    with pytest.raises(TypeError, match="Cannot read audio samples"):
        load_audio(["a", "b"])
    with pytest.raises(TypeError, match="Cannot read audio samples"):
        load_audio(object())


def test_silence_is_read_as_zeros():
    silence = load_audio({"array": np.zeros(8000, np.int16), "sampling_rate": 8000}, sampling_rate=16000)
    assert silence.shape == (16000,) and not silence.any()


def test_download_failures_say_what_to_do(monkeypatch):
    import urllib.request

    def refuse(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    with pytest.raises(OSError, match="Could not download the audio https://example.invalid/a.wav"):
        audio_utils.load_audio("https://example.invalid/a.wav")
