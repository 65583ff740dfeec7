"""Audio in every form it arrives in -> the mono float32 waveform, at the right sampling rate, a model hears.

    a path, an http(s):// URL, bytes, a file object    decoded by soundfile (WAV, FLAC, OGG/Vorbis/Opus, MP3,
                                                       AIFF, ...) or, when installed, PyAV (MP4/M4A, WebM, AAC)
    {"array": ..., "sampling_rate": ...}               a decoded ``datasets`` Audio value; the reference
    {"raw": ..., "sampling_rate": ...}                 pipelines' spelling of the same
    {"path": ..., "bytes": ...}                        an undecoded ``datasets`` Audio value (Audio(decode=False))
    a torchcodec AudioDecoder                          a decoded value of ``datasets`` 4 and later
    a numpy array, torch tensor or list of floats      samples at an unknown rate: taken as they are
        |
        v   read_audio: float32 samples (channels, samples) and their sampling rate
        v   to_mono: the channels' mean
        v   resample: band-limited (windowed-sinc) interpolation to the rate asked for
    waveform (samples,) float32

``load_audio(audio, sampling_rate=16000)`` does all of it. Integer PCM arrays (int16 from a WAV reader, say)
are scaled to [-1, 1]; samples that are NaN or infinite are refused, because every feature computed from them
would be NaN too.

The resampler is :func:`resample`, the algorithm (and the default settings) of ``torchaudio.functional.resample``,
which the reference v4.37 speech pipeline uses for arrays at another rate: each output sample is a weighted sum
of the input samples around its instant, the weights a sinc low-pass filter (cut at ``rolloff`` of the lower
Nyquist frequency) shaped by a Hann window ``lowpass_filter_width`` zero crossings wide. torchaudio itself needs
its own build of torch, so it is reimplemented here (a ``conv1d``). Accuracy on one-second pure sines, away from
the edges (tests/test_audio_utils.py checks these):

    8, 22.05, 44.1, 48 kHz -> 16 kHz, tones up to 0.3 x the lower rate (2.4 kHz for 8 kHz audio): within 6e-4
    of the exact sine (scipy.signal.resample_poly's default Kaiser filter: within 2e-3; the two agree to 3e-3).
    Closer to the lower Nyquist frequency the filter rolls off: 2e-2 at 3 kHz in 8 kHz audio.
    ``**KAISER_BEST`` (resampy's "kaiser_best" filter, librosa's default before 0.10: a Kaiser window 64 zero
    crossings wide) is within 1e-6 (float64), at several times the cost.

Decoding with ``datasets`` 5: its Audio feature decodes (and even encodes) through ``torchcodec``, whose PyPI
wheels link the CUDA build of torch and need FFmpeg's shared libraries; with the pinned CPU torch it cannot
load. So ``workbench.data``'s audio columns are ``Audio(decode=False)``: each value is ``{"path", "bytes"}``,
which ``load_audio`` (and the pipelines, which call it) decode here.
"""

from __future__ import annotations

import io
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

AudioInput = Any  # one recording, in any of the forms listed in the module docstring

# resampy's "kaiser_best" filter (librosa's default before 0.10): resample(x, a, b, **KAISER_BEST), most accurate.
KAISER_BEST = dict(
    lowpass_filter_width=64, rolloff=0.9475937167399596, resampling_method="sinc_interp_kaiser", beta=14.769656459379492
)
# What soundfile reads (libsndfile 1.1+); PyAV, when installed, reads the rest.
SOUNDFILE_FORMATS = "WAV, FLAC, OGG (Vorbis, Opus), MP3, AIFF"
_INSTALL_AV = "For MP4, M4A, AAC or WebM audio install PyAV (`pip install av`), or convert the file to WAV or FLAC."
# The largest filter bank resample builds (new phases x taps): 44.1 -> 16 kHz needs 160 x 475.
MAX_KERNEL_SIZE = 20_000_000
# A 2-d array with one dimension at most this long is read as (channels, samples) or (samples, channels).
MAX_CHANNELS = 16


# ------------------------------------------------------------------------------------------------
# Everything at once
# ------------------------------------------------------------------------------------------------


def load_audio(audio: AudioInput, sampling_rate: int | None = None, timeout: float | None = 10.0) -> np.ndarray:
    """One recording -> a mono float32 waveform ``(samples,)``, resampled to ``sampling_rate`` when given and
    the source's rate is known. A bare array (or tensor, or list) has no rate: it is taken as already at
    ``sampling_rate``, as the reference's ``load_audio`` and pipelines take it; pass
    ``{"array": array, "sampling_rate": rate}`` to have it resampled."""
    waveform, rate = read_audio(audio, timeout=timeout)
    if waveform.size == 0:
        raise ValueError("The audio holds no samples (an empty recording): there is nothing to hear.")
    waveform = to_mono(waveform)
    if sampling_rate is not None and rate is not None and rate != sampling_rate:
        waveform = resample(waveform, rate, sampling_rate)
    return waveform


def read_audio(audio: AudioInput, timeout: float | None = 10.0) -> tuple[np.ndarray, int | None]:
    """One recording -> ``(samples, rate)``: float32 samples, ``(samples,)`` or ``(channels, samples)``, and the
    sampling rate (None for a bare array, whose rate nothing says). Nothing is resampled or mixed down."""
    if isinstance(audio, dict):
        return _read_dict(audio, timeout)
    if isinstance(audio, (str, os.PathLike, bytes, bytearray)) or hasattr(audio, "read"):
        samples, rate = read_audio_file(audio, timeout=timeout)
        return samples, rate
    if hasattr(audio, "get_all_samples"):  # torchcodec's AudioDecoder (datasets >= 4)
        decoded = audio.get_all_samples()
        return as_waveform(decoded.data), int(decoded.sample_rate)
    return as_waveform(audio), None


def _read_dict(audio: dict, timeout: float | None) -> tuple[np.ndarray, int | None]:
    key = "array" if "array" in audio else "raw" if "raw" in audio else None
    if key is not None:
        if audio.get("sampling_rate") is None:
            raise ValueError(
                f"The audio dict holds samples under {key!r} but no 'sampling_rate'; without it they cannot be "
                f"resampled. Pass {{{key!r}: array, 'sampling_rate': rate_in_hz}}, or the bare array if it is "
                "already at the model's rate."
            )
        return as_waveform(audio[key]), _check_rate(audio["sampling_rate"])
    if audio.get("bytes") is not None:
        return read_audio_file(audio["bytes"], name=f"the audio bytes of {audio.get('path') or 'a datasets row'}")
    if audio.get("path"):
        return read_audio_file(audio["path"], timeout=timeout)
    raise ValueError(
        f"Cannot read audio from a dict with keys {sorted(audio)}: pass {{'array': samples, 'sampling_rate': rate}} "
        "(or 'raw' for 'array', as the reference pipelines accept), or a datasets Audio value {'path', 'bytes'}."
    )


def _check_rate(rate: Any) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer, float)) or rate <= 0 or rate != int(rate):
        raise ValueError(f"sampling_rate must be a positive whole number of Hz (16000, 44100, ...), got {rate!r}.")
    return int(rate)


# ------------------------------------------------------------------------------------------------
# Samples
# ------------------------------------------------------------------------------------------------


def as_waveform(samples: Any) -> np.ndarray:
    """An array, tensor or list of samples -> a float32 numpy array of the same shape. Integer PCM is scaled to
    [-1, 1] (int16 by 1/32768, int32 by 1/2**31, uint8 centred on 128); NaN or infinite samples are refused."""
    if torch.is_tensor(samples):
        samples = samples.detach().cpu()
        samples = samples.float().numpy() if samples.dtype == torch.bfloat16 else samples.numpy()
    array = np.asarray(samples)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(
            f"Cannot read audio samples from {type(samples).__name__} holding {array.dtype}: pass a numpy array, "
            "torch tensor or list of floats, a file path, or {'array': samples, 'sampling_rate': rate}."
        )
    if array.ndim not in (1, 2):
        raise ValueError(
            f"Audio samples must be 1-d (samples,) or 2-d (channels, samples); got shape {array.shape}. A batch of "
            "recordings is a list of 1-d arrays."
        )
    if np.issubdtype(array.dtype, np.unsignedinteger):
        half = 2.0 ** (8 * array.dtype.itemsize - 1)
        array = (array.astype(np.float64) - half) / half
    elif np.issubdtype(array.dtype, np.integer):
        array = array / 2.0 ** (8 * array.dtype.itemsize - 1)
    array = array.astype(np.float32, copy=False)
    check_finite(array)
    return array


def check_finite(samples: np.ndarray, where: str = "The audio") -> None:
    """Raise a clear error if any sample is NaN or infinite."""
    if not np.isfinite(samples).all():
        bad = np.flatnonzero(~np.isfinite(samples.reshape(-1)))
        raise ValueError(
            f"{where} holds {len(bad)} NaN or infinite sample(s) (the first at index {bad[0]}), so every feature "
            "computed from it would be NaN. Find where they come from, or replace them, e.g. np.nan_to_num(audio)."
        )


def to_mono(samples: np.ndarray) -> np.ndarray:
    """(samples,) stays; a 2-d array of channels is mixed down to their mean. The channel dimension is the short
    one (at most 16 long): (2, 44100) and (44100, 2) are both stereo."""
    if samples.ndim == 1:
        return samples
    channel_axis = _channel_axis(samples.shape)
    return samples.mean(axis=channel_axis, dtype=np.float64).astype(np.float32)


def _channel_axis(shape: tuple[int, int]) -> int:
    rows, columns = shape
    if rows <= MAX_CHANNELS < columns or rows == 1:
        return 0
    if columns <= MAX_CHANNELS < rows or columns == 1:
        return 1
    raise ValueError(
        f"Cannot tell the channels from the samples in audio of shape {shape}: pass (channels, samples) with at "
        f"most {MAX_CHANNELS} channels, or a 1-d mono array. A batch of recordings is a list of 1-d arrays."
    )


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def read_audio_file(
    source: str | os.PathLike | bytes | bytearray | Any, timeout: float | None = 10.0, name: str | None = None
) -> tuple[np.ndarray, int]:
    """Decode a file (path, ``http(s)://`` URL, bytes or file object) -> ``(samples, rate)``: float32 in [-1, 1],
    ``(samples,)`` for mono or ``(channels, samples)``, and the file's sampling rate. soundfile reads WAV, FLAC,
    OGG and MP3; PyAV, when installed, everything FFmpeg reads (MP4/M4A, WebM, AAC, ...)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.startswith(("http://", "https://")):
            return read_audio_file(_download(path, timeout), name=path)
        file = Path(path).expanduser()
        if file.is_dir():
            raise IsADirectoryError(f"{path} is a folder, not an audio file.")
        if not file.is_file():
            raise FileNotFoundError(
                f"No audio file {path!r} (it is not an existing file or an http(s):// URL). Check the path; "
                f"relative paths start from the current directory, {os.getcwd()}."
            )
        name = name or path
        data: Any = file
    elif isinstance(source, (bytes, bytearray)):
        if not source:
            raise ValueError(f"{name or 'The audio bytes'} are empty: there is no audio to decode.")
        data, name = bytes(source), name or "the given audio bytes"
    elif hasattr(source, "read"):
        data, name = source.read(), name or f"the file object {getattr(source, 'name', '')}".strip()
        return read_audio_file(data, name=name)
    else:
        raise TypeError(f"read_audio_file takes a path, URL, bytes or file object; got {type(source).__name__}.")
    return _decode(data, name)


def _download(url: str, timeout: float | None) -> bytes:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except OSError as e:
        raise OSError(
            f"Could not download the audio {url} ({e}). Check the address and your connection, or download it "
            "and pass the file's path."
        ) from e


def _decode(data: Path | bytes, name: str) -> tuple[np.ndarray, int]:
    """soundfile first; PyAV for what it cannot read; a clear error when neither can."""
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data) if isinstance(data, bytes) else data, dtype="float32")
    except (RuntimeError, ValueError) as e:  # soundfile.LibsndfileError is a RuntimeError
        soundfile_error = e
    else:
        return _finish(samples.T if samples.ndim == 2 else samples, int(rate), name)
    try:
        import av  # noqa: F401
    except ImportError:
        raise ValueError(
            f"{name} could not be decoded ({_reason(soundfile_error)}). soundfile reads {SOUNDFILE_FORMATS}; "
            f"the file is corrupt, truncated or in another format. {_INSTALL_AV}"
        ) from soundfile_error
    try:
        samples, rate = _decode_with_av(data)
    except Exception as e:  # PyAV's errors are many (InvalidDataError, ValueError, ...): all mean "cannot decode"
        raise ValueError(
            f"{name} could not be decoded by soundfile ({_reason(soundfile_error)}) nor by PyAV ({e}): the file "
            "is corrupt, truncated or not audio."
        ) from e
    return _finish(samples, rate, name)


def _reason(error: Exception) -> str:
    """libsndfile's own words (\"Format not recognised.\"), without soundfile's \"Error opening <BytesIO ...>\"."""
    return getattr(error, "error_string", None) or str(error)


def _decode_with_av(data: Path | bytes) -> tuple[np.ndarray, int]:
    """The first audio stream, as planar float32 (channels, samples), through PyAV (FFmpeg)."""
    import av

    with av.open(io.BytesIO(data) if isinstance(data, bytes) else str(data)) as container:
        if not container.streams.audio:
            raise ValueError("it has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        to_float = av.AudioResampler(format="fltp", layout=stream.codec_context.layout, rate=rate)
        chunks = []
        for frame in container.decode(stream):
            chunks += [planar.to_ndarray() for planar in to_float.resample(frame)]
        chunks += [planar.to_ndarray() for planar in to_float.resample(None)]
    if not chunks:
        raise ValueError("its audio stream holds no samples")
    samples = np.concatenate(chunks, axis=1)  # (channels, samples)
    return (samples[0] if samples.shape[0] == 1 else samples), int(rate)


def _finish(samples: np.ndarray, rate: int, name: str) -> tuple[np.ndarray, int]:
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    check_finite(samples, where=name)
    return samples, rate


def write_audio(file: str | os.PathLike, waveform: np.ndarray, sampling_rate: int, format: str | None = None) -> None:
    """Write a waveform ((samples,) or (channels, samples), floats in [-1, 1]) to a sound file (WAV, FLAC, OGG,
    MP3 by the file's extension, or ``format``), through soundfile."""
    import soundfile

    samples = as_waveform(waveform)
    soundfile.write(os.fspath(file), samples.T if samples.ndim == 2 else samples, int(sampling_rate), format=format)


# ------------------------------------------------------------------------------------------------
# Resampling: band-limited interpolation (the algorithm of torchaudio.functional.resample)
# ------------------------------------------------------------------------------------------------


def resample(
    waveform: np.ndarray | torch.Tensor,
    orig_freq: int,
    new_freq: int,
    lowpass_filter_width: int = 6,
    rolloff: float = 0.99,
    resampling_method: str = "sinc_interp_hann",
    beta: float | None = None,
) -> np.ndarray | torch.Tensor:
    """``waveform`` (..., time) sampled at ``orig_freq`` Hz -> the same sound at ``new_freq`` Hz; a numpy array
    gives a numpy array, a tensor a tensor. The arguments and their defaults are torchaudio's:
    ``lowpass_filter_width`` zero crossings of the sinc on each side (more: sharper and slower), ``rolloff`` the
    cut-off as a fraction of the lower Nyquist frequency, ``resampling_method`` ``"sinc_interp_hann"`` or
    ``"sinc_interp_kaiser"`` (with ``beta``). ``**KAISER_BEST`` gives the most accurate result.

    With ``orig / new`` reduced to lowest terms (44100 -> 16000 is 441 -> 160), the output repeats a pattern of
    ``new`` phases: output ``j`` sits at input instant ``j * orig / new``. One filter per phase, all computed once,
    and a strided convolution applies them::

        input  (n, time) -> zero-padded by the filter's half-width
               -> conv1d(kernels (new, 1, taps), stride=orig)      (n, new, time / orig): phase p of block b
               -> interleaved                                      (n, time * new / orig)
    """
    if orig_freq <= 0 or new_freq <= 0 or int(orig_freq) != orig_freq or int(new_freq) != new_freq:
        raise ValueError(f"Sampling rates must be positive whole numbers of Hz; got {orig_freq} -> {new_freq}.")
    if resampling_method not in ("sinc_interp_hann", "sinc_interp_kaiser"):
        raise ValueError(
            f"resampling_method must be 'sinc_interp_hann' or 'sinc_interp_kaiser', not {resampling_method!r}."
        )
    is_numpy = not torch.is_tensor(waveform)
    samples = torch.from_numpy(np.ascontiguousarray(waveform)) if is_numpy else waveform
    if not samples.is_floating_point():
        raise TypeError(f"resample takes float samples, got {samples.dtype}; see as_waveform() for integer PCM.")
    if orig_freq == new_freq:
        return waveform
    gcd = math.gcd(int(orig_freq), int(new_freq))
    orig, new = int(orig_freq) // gcd, int(new_freq) // gcd
    if new * (orig + 2 * math.ceil(lowpass_filter_width * orig / (min(orig, new) * rolloff))) > MAX_KERNEL_SIZE:
        raise ValueError(
            f"{orig_freq} Hz -> {new_freq} Hz is the ratio {orig}:{new} in lowest terms, whose filter bank would "
            f"hold over {MAX_KERNEL_SIZE:,} weights. Is {orig_freq} Hz a rounding of a common rate (44100, "
            "48000, 22050, ...)? Then pass that rate."
        )
    kernels, width = _sinc_kernels(orig, new, lowpass_filter_width, rolloff, resampling_method, beta, samples.dtype)
    shape = samples.shape
    flat = samples.reshape(-1, shape[-1])  # (n, time)
    length = flat.shape[-1]
    padded = torch.nn.functional.pad(flat, (width, width + orig))
    phases = torch.nn.functional.conv1d(padded[:, None], kernels.to(samples.device), stride=orig)  # (n, new, blocks)
    out = phases.transpose(1, 2).reshape(flat.shape[0], -1)  # (n, blocks * new): phases interleaved
    out = out[:, : math.ceil(new * length / orig)].reshape(*shape[:-1], -1)
    return out.numpy() if is_numpy else out


@lru_cache(maxsize=16)
def _sinc_kernels(
    orig: int, new: int, zero_crossings: int, rolloff: float, method: str, beta: float | None, dtype: torch.dtype
) -> tuple[torch.Tensor, int]:
    """(new, 1, taps) filters, one per output phase, and their half-width in input samples. Phase ``p`` computes
    ``y[j] = sum_i x[i] * sinc(base * (i / orig - j / new)) * window``, the sinc at ``base`` = rolloff x the lower
    rate, cut ``zero_crossings`` zero crossings out and tapered by the window."""
    base = min(orig, new) * rolloff
    width = math.ceil(zero_crossings * orig / base)
    input_times = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig  # (1, 1, taps)
    t = torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + input_times  # (new, 1, taps): i/orig - j/new
    t = (t * base).clamp(-zero_crossings, zero_crossings)  # in zero crossings of the sinc
    if method == "sinc_interp_hann":
        window = torch.cos(t * math.pi / zero_crossings / 2) ** 2
    else:
        beta_tensor = torch.tensor(float(14.769656459379492 if beta is None else beta), dtype=dtype)
        window = torch.i0(beta_tensor * torch.sqrt(1 - (t / zero_crossings) ** 2)) / torch.i0(beta_tensor)
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones((), dtype=dtype), torch.sin(t) / t)
    return sinc * window * (base / orig), width
