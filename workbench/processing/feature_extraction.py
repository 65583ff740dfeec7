"""Audio feature extractors: waveforms -> what a speech model takes, and the processors that add a tokenizer.

A speech model hears a waveform sampled at a fixed rate (16 kHz for every checkpoint here): a float per 1/16000 s.
``audio_utils.load_audio`` brings any recording there (decoding, mixing down, resampling); a feature extractor
then pads a batch to one length and computes the model's input from the samples:

    Wav2Vec2FeatureExtractor (Wav2Vec2, HuBERT, data2vec-audio: the model convolves the raw samples itself)
      waveform (samples,) -> pad to the batch's longest (or max_length) with padding_value
        -> do_normalize: (x - mean) / sqrt(var + 1e-7), mean and var over the real samples only
      input_values (batch, samples) float32 [+ attention_mask (batch, samples): 1 real, 0 padding]

    WhisperFeatureExtractor (Whisper: the model reads a log-mel spectrogram of 30 seconds)
      waveform (samples,) -> pad with silence / cut to 30 s = 480,000 samples
        -> STFT: 400-sample (25 ms) periodic Hann windows every 160 samples (10 ms)    (batch, 201, 3001)
        -> |.|^2, the last frame dropped                       power spectrum          (batch, 201, 3000)
        -> 80 (large-v3: 128) Slaney mel filters, 0-8 kHz      mel power               (batch, 80, 3000)
        -> log10 (floor 1e-10), clamped at (its max - 8), then (x + 4) / 4
      input_features (batch, 80, 3000) float32, roughly in [-1, 1] [+ attention_mask (batch, 3000) per frame]

Both are loaded from and saved to ``preprocessor_config.json`` with the keys the Hub's checkpoints use. The
numbers are the reference's: Whisper's features within 1e-6 of its torch path on real speech, Wav2Vec2's equal.
Where the reference is silently wrong these refuse or do better: empty audio and NaN samples are clear errors;
integer PCM arrays are refused (the reference reads int16 as floats 32768 times too loud); Wav2Vec2's
normalization always uses the real length (the reference, padding without returning an attention mask, folds
the padding zeros into the mean and variance); Whisper's attention mask has one entry per feature frame (as the
current reference; v4.37 gave one more when the padded length is not a multiple of 160).

``Wav2Vec2Processor`` and ``WhisperProcessor`` put a feature extractor and a tokenizer behind one call:
``processor(audio, sampling_rate=16000)`` gives the features, ``processor(text=...)`` the token ids, and both
together the features with the token ids as ``labels`` (the fine-tuning recipes' call).
"""

from __future__ import annotations

import copy
import logging
import math
from typing import Any

import numpy as np
import torch

from .audio_utils import check_finite
from .padding import PaddingStrategy
from .processor import BatchFeature, PreprocessorConfigMixin, ProcessorMixin

__all__ = [
    "SequenceFeatureExtractor",
    "Wav2Vec2FeatureExtractor",
    "Wav2Vec2Processor",
    "WhisperFeatureExtractor",
    "WhisperProcessor",
    "mel_filter_bank",
]

logger = logging.getLogger(__name__)

# Keywords a feature extractor's call takes besides its settings.
CALL_OPTIONS = (
    "padding",
    "max_length",
    "truncation",
    "pad_to_multiple_of",
    "return_attention_mask",
    "return_tensors",
    "sampling_rate",
)


# ------------------------------------------------------------------------------------------------
# What every feature extractor shares: settings, padding
# ------------------------------------------------------------------------------------------------


class SequenceFeatureExtractor(PreprocessorConfigMixin):
    """Settings (the keys of preprocessor_config.json, keyword arguments of the constructor) and ``pad``.

    - ``feature_size``: values per time step of the model's input (1 for a waveform, 80 mel bands for Whisper).
    - ``sampling_rate``: the rate, in Hz, that the model was trained on; audio at another rate is refused.
    - ``padding_value``, ``padding_side``: what pads a short input, and on which side.
    - ``return_attention_mask``: whether a call returns ``attention_mask`` unless told otherwise.
    """

    type_key = "feature_extractor_type"
    model_input_names: list[str] = ["input_values"]
    # The settings and their defaults; each family's class adds its own.
    defaults: dict[str, Any] = {
        "feature_size": 1,
        "sampling_rate": 16000,
        "padding_value": 0.0,
        "padding_side": "right",
        "return_attention_mask": True,
    }
    # Keys the file holds that follow from the settings (saved as the reference saves them, recomputed on load).
    derived_keys: tuple[str, ...] = ()
    # What a combined processor passes to this part (of its call, and of from_pretrained: the settings).
    call_keywords = (*CALL_OPTIONS, *defaults)

    def __init__(self, **settings: Any):
        unknown = [key for key in settings if key not in self.defaults]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected setting(s) {', '.join(map(repr, unknown))}; its settings are "
                f"{', '.join(self.defaults)}."
            )
        for key, default in self.defaults.items():
            setattr(self, key, settings[key] if key in settings else copy.deepcopy(default))
        if self.padding_side not in ("right", "left"):
            raise ValueError(f"padding_side must be 'right' or 'left', not {self.padding_side!r}.")
        self.extra_keys: dict[str, Any] = {}  # keys of a loaded file that no setting reads, saved back as they were

    @classmethod
    def from_dict(cls, config: dict[str, Any], **overrides: Any) -> SequenceFeatureExtractor:
        """A feature extractor from the keys of a preprocessor_config.json; ``overrides`` replace keys. Keys that
        no setting reads are kept and saved back; derived keys (Whisper's ``n_samples``) and a stored
        ``mel_filters`` table are recomputed from the settings, as the reference does."""
        unknown = [key for key in overrides if key not in cls.defaults]
        if unknown:
            raise TypeError(
                f"{cls.__name__} has no setting(s) {', '.join(map(repr, unknown))}; its settings are "
                f"{', '.join(cls.defaults)}."
            )
        config = {**config, **overrides}
        for key in ("feature_extractor_type", "image_processor_type", "_processor_class", "mel_filters", "window"):
            config.pop(key, None)
        for key in cls.derived_keys:
            config.pop(key, None)
        extractor = cls(**{key: config.pop(key) for key in list(config) if key in cls.defaults})
        extractor.extra_keys = config
        return extractor

    def to_dict(self) -> dict[str, Any]:
        """The keys of preprocessor_config.json, those the reference writes (every setting, the derived keys,
        the class name), plus the loaded file's other keys."""
        config = dict(self.extra_keys)
        config.update({key: copy.deepcopy(getattr(self, key)) for key in self.defaults})
        config.update({key: getattr(self, key) for key in self.derived_keys})
        config[self.type_key] = type(self).__name__
        return config

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    # ---- padding ----------------------------------------------------------------------------------

    def pad(
        self,
        processed_features: dict | list,
        padding: bool | str | PaddingStrategy = True,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
    ) -> BatchFeature:
        """Pad (and with ``truncation=True`` cut) a batch to one length: ``{"input_values": [array, ...]}`` or a
        list of such dicts (a data collator's examples). ``padding``: ``True``/``"longest"`` to the longest,
        ``"max_length"`` to ``max_length``, ``False`` not at all; ``pad_to_multiple_of`` rounds the length up.
        Returns numpy arrays (torch tensors if the inputs were tensors) unless ``return_tensors`` says otherwise,
        as the reference's ``pad``."""
        if isinstance(processed_features, (list, tuple)):
            if not processed_features or not isinstance(processed_features[0], dict):
                raise ValueError("pad takes a dict of lists, or a non-empty list of dicts (one per example).")
            processed_features = {
                key: [example[key] for example in processed_features] for key in processed_features[0]
            }
        main = self.model_input_names[0]
        if main not in processed_features:
            raise ValueError(f"pad needs the key {main!r}; got {list(processed_features)}.")
        if return_attention_mask is None:
            return_attention_mask = self.return_attention_mask
        if len(processed_features[main]) == 0:
            return BatchFeature({**processed_features, **({"attention_mask": []} if return_attention_mask else {})})
        if return_tensors is None:
            return_tensors = "pt" if torch.is_tensor(processed_features[main][0]) else "np"
        columns = {key: [_to_numpy(value) for value in values] for key, values in processed_features.items()}
        padded = self._pad_columns(columns, padding, max_length, truncation, pad_to_multiple_of, return_attention_mask)
        return BatchFeature(padded, tensor_type=return_tensors)

    def _pad_columns(
        self,
        columns: dict[str, list[np.ndarray]],
        padding: bool | str | PaddingStrategy,
        max_length: int | None,
        truncation: bool,
        pad_to_multiple_of: int | None,
        return_attention_mask: bool,
    ) -> dict[str, list[np.ndarray]]:
        """``pad`` on numpy arrays: a list per key, the main input and the attention mask padded (or cut), the
        other keys passed through. A mask the batch holds is padded and kept."""
        main = self.model_input_names[0]
        batch_size = len(columns[main])
        if any(len(values) != batch_size for values in columns.values()):
            raise ValueError(
                "The keys of the batch hold different numbers of examples: "
                + ", ".join(f"{key}: {len(values)}" for key, values in columns.items())
            )
        strategy = _padding_strategy(padding, max_length)
        if strategy is not PaddingStrategy.DO_NOT_PAD and self.padding_value is None:
            raise ValueError("Padding needs a padding_value; set feature_extractor.padding_value = 0.0, say.")
        values = list(columns[main])
        masks = list(columns.get("attention_mask") or [np.ones(len(v), np.int32) for v in values])
        if truncation:
            if max_length is None:
                raise ValueError("truncation=True needs max_length.")
            limit = _round_up(max_length, pad_to_multiple_of)
            values, masks = [v[:limit] for v in values], [m[:limit] for m in masks]
        if strategy is PaddingStrategy.LONGEST:
            max_length = max(len(v) for v in values)
        target = _round_up(max_length, pad_to_multiple_of) if strategy is not PaddingStrategy.DO_NOT_PAD else 0
        for i in range(batch_size):
            missing = max(0, target - len(values[i]))
            if missing:
                side = (0, missing) if self.padding_side == "right" else (missing, 0)
                widths = (side, (0, 0)) if values[i].ndim == 2 else side  # (frames, features): pad the frames
                values[i] = np.pad(values[i], widths, constant_values=self.padding_value)
                masks[i] = np.pad(masks[i], side)
        out = {key: list(column) for key, column in columns.items() if key not in (main, "attention_mask")}
        out[main] = [v.astype(np.float32) if v.dtype == np.float64 else v for v in values]
        if return_attention_mask or "attention_mask" in columns:
            out["attention_mask"] = masks
        return out

    # ---- the call's input -------------------------------------------------------------------------

    def _check_sampling_rate(self, sampling_rate: int | None) -> None:
        if sampling_rate is None:
            logger.warning(
                "It is strongly recommended to pass the `sampling_rate` argument to `%s()`. Failing to do so can "
                "result in silent errors that might be hard to debug.",
                type(self).__name__,
            )
        elif sampling_rate != self.sampling_rate:
            raise ValueError(
                f"The model corresponding to this feature extractor: {type(self).__name__} was trained using a "
                f"sampling rate of {self.sampling_rate}. Please make sure that the provided `raw_speech` input was "
                f"sampled with {self.sampling_rate} and not {sampling_rate}. (Resample it: "
                f"workbench.processing.audio_utils.load_audio({{'array': audio, 'sampling_rate': {sampling_rate}}}, "
                f"sampling_rate={self.sampling_rate}).)"
            )

    def _waveforms(self, raw_speech: Any) -> list[np.ndarray]:
        """One waveform or a batch -> a list of float32 (samples,) arrays, the reference's rules for what is a
        batch: a 2-d array, or a list whose first item is an array or a list."""
        if raw_speech is None:
            raise ValueError(f"{type(self).__name__} needs audio: feature_extractor(waveform, sampling_rate=16000).")
        if torch.is_tensor(raw_speech):
            raw_speech = _to_numpy(raw_speech)
        if isinstance(raw_speech, np.ndarray):
            if raw_speech.ndim > 2:
                raise ValueError(
                    f"Only mono-channel audio is supported for input to {type(self).__name__}: got an array of shape "
                    f"{raw_speech.shape}. Mix it down first (audio_utils.to_mono) and pass a list of 1-d arrays."
                )
            batch = list(raw_speech) if raw_speech.ndim == 2 else [raw_speech]
        elif isinstance(raw_speech, (list, tuple)):
            if not raw_speech:
                raise ValueError("Got an empty list of recordings: there is no audio to process.")
            batched = isinstance(raw_speech[0], (np.ndarray, list, tuple)) or torch.is_tensor(raw_speech[0])
            batch = list(raw_speech) if batched else [raw_speech]
        else:
            raise TypeError(
                f"{type(self).__name__} takes a waveform (a 1-d numpy array, tensor or list of floats) or a list of "
                f"them, not {type(raw_speech).__name__}. To read a file: audio_utils.load_audio(path, "
                f"sampling_rate={self.sampling_rate})."
            )
        return [self._waveform(speech, i, len(batch)) for i, speech in enumerate(batch)]

    def _waveform(self, speech: Any, index: int, batch_size: int) -> np.ndarray:
        where = "The audio" if batch_size == 1 else f"Recording {index} of the batch"
        array = _to_numpy(speech)
        pcm = np.issubdtype(array.dtype, np.integer) and array.size > 0 and np.abs(array).max() > 1
        if pcm:  # whole numbers beyond +-1: samples of a WAV file, not floats
            raise TypeError(
                f"{where} holds {array.dtype} PCM samples; feature extractors take floats in [-1, 1]. Convert with "
                "audio_utils.as_waveform(samples) (which divides int16 by 32768)."
            )
        array = array.astype(np.float32)
        if array.ndim != 1:
            raise ValueError(f"{where} must be a 1-d waveform (mono); got shape {array.shape}.")
        if array.size == 0:
            raise ValueError(f"{where} is empty (0 samples): there is nothing to hear.")
        check_finite(array, where)
        return array


def _to_numpy(value: Any) -> np.ndarray:
    if torch.is_tensor(value):
        value = value.detach().cpu()
        return (value.float() if value.dtype == torch.bfloat16 else value).numpy()
    return np.asarray(value)


def _padding_strategy(padding: bool | str | PaddingStrategy, max_length: int | None) -> PaddingStrategy:
    if padding is True:
        strategy = PaddingStrategy.LONGEST
    elif padding is False or padding is None:
        strategy = PaddingStrategy.DO_NOT_PAD
    else:
        try:
            strategy = PaddingStrategy(padding)
        except ValueError:
            raise ValueError(
                f"padding={padding!r} is not a padding strategy: use True/'longest', 'max_length' or False."
            ) from None
    if strategy is PaddingStrategy.MAX_LENGTH and max_length is None:
        raise ValueError("padding='max_length' needs max_length.")
    return strategy


def _round_up(length: int, multiple: int | None) -> int:
    return length if not multiple or length % multiple == 0 else (length // multiple + 1) * multiple


def zero_mean_unit_var_norm(
    input_values: list[np.ndarray], lengths: list[int], padding_value: float = 0.0, padding_side: str = "right"
) -> list[np.ndarray]:
    """Each array minus the mean of its ``length`` real samples (the first ones; the last ones with left
    padding), divided by their standard deviation (+1e-7 under the root); the padding set to ``padding_value``.
    The reference's arithmetic, in float32."""
    normalized = []
    for values, length in zip(input_values, lengths):
        real = slice(0, length) if padding_side == "right" else slice(len(values) - length, len(values))
        padding = slice(length, None) if padding_side == "right" else slice(0, len(values) - length)
        scaled = (values - values[real].mean()) / np.sqrt(values[real].var() + 1e-7)
        scaled[padding] = padding_value
        normalized.append(scaled)
    return normalized


# ------------------------------------------------------------------------------------------------
# Wav2Vec2: normalized samples
# ------------------------------------------------------------------------------------------------


class Wav2Vec2FeatureExtractor(SequenceFeatureExtractor):
    """The raw samples, padded and normalized: ``input_values`` (batch, samples) for Wav2Vec2, HuBERT and
    data2vec-audio. ``do_normalize`` (default True) makes each recording zero-mean, unit-variance over its real
    samples. ``return_attention_mask``: as the checkpoint says (False for group-norm models such as
    wav2vec2-base-960h, which were trained on zero-padded batches without a mask; True for layer-norm models
    such as wav2vec2-large-960h-lv60-self, which need the mask in a batch).

    A call: ``extractor(waveform_or_batch, sampling_rate=16000, padding=True, return_tensors="pt")``. No padding
    by default (``padding=False``), so a batch of different lengths needs ``padding=True`` to make one tensor.
    """

    model_input_names = ["input_values", "attention_mask"]
    defaults = {**SequenceFeatureExtractor.defaults, "return_attention_mask": False, "do_normalize": True}
    call_keywords = (*CALL_OPTIONS, *defaults)

    def __call__(
        self,
        raw_speech: Any,
        padding: bool | str | PaddingStrategy = False,
        max_length: int | None = None,
        truncation: bool = False,
        pad_to_multiple_of: int | None = None,
        return_attention_mask: bool | None = None,
        return_tensors: str | None = None,
        sampling_rate: int | None = None,
        do_normalize: bool | None = None,
    ) -> BatchFeature:
        self._check_sampling_rate(sampling_rate)
        waveforms = self._waveforms(raw_speech)
        padded = self._pad_columns(  # with the mask: the real lengths (returned only if asked)
            {"input_values": waveforms}, padding, max_length, truncation, pad_to_multiple_of, True
        )
        input_values = list(padded["input_values"])
        masks = [np.asarray(mask, dtype=np.int32) for mask in padded["attention_mask"]]
        if self.do_normalize if do_normalize is None else do_normalize:
            lengths = [int(mask.sum()) for mask in masks]
            input_values = zero_mean_unit_var_norm(input_values, lengths, self.padding_value, self.padding_side)
        features = {"input_values": input_values}
        if self.return_attention_mask if return_attention_mask is None else return_attention_mask:
            features["attention_mask"] = masks
        return BatchFeature(features, tensor_type=return_tensors)


# ------------------------------------------------------------------------------------------------
# Whisper: log-mel spectrogram
# ------------------------------------------------------------------------------------------------


def hertz_to_mel(frequencies: np.ndarray) -> np.ndarray:
    """Hz -> mels on Slaney's scale (librosa's default): linear to 1 kHz (3 mels per 200 Hz), logarithmic above."""
    frequencies = np.asarray(frequencies, dtype=np.float64)
    mels = 3.0 * frequencies / 200.0
    log_region = frequencies >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(frequencies, 1e-12) / 1000.0) * (27.0 / np.log(6.4)), mels)


def mel_to_hertz(mels: np.ndarray) -> np.ndarray:
    """Mels on Slaney's scale -> Hz (the inverse of :func:`hertz_to_mel`)."""
    mels = np.asarray(mels, dtype=np.float64)
    return np.where(mels >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (mels - 15.0)), 200.0 * mels / 3.0)


def mel_filter_bank(
    num_frequency_bins: int, num_mel_filters: int, min_frequency: float, max_frequency: float, sampling_rate: int
) -> np.ndarray:
    """(num_frequency_bins, num_mel_filters) float64: triangular filters whose centres are evenly spaced in mels
    between ``min_frequency`` and ``max_frequency``, each scaled to unit area (Slaney's normalization, librosa's
    ``norm="slaney"``). Power spectrum (..., frequencies) @ this = mel power spectrum (..., mel bands)."""
    mel_edges = np.linspace(hertz_to_mel(min_frequency), hertz_to_mel(max_frequency), num_mel_filters + 2)
    edges = mel_to_hertz(mel_edges)  # (filters + 2,): filter i rises from edges[i], peaks at i + 1, falls to i + 2
    fft_frequencies = np.linspace(0, sampling_rate // 2, num_frequency_bins)
    slopes = edges[None, :] - fft_frequencies[:, None]  # (bins, filters + 2)
    widths = np.diff(edges)
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    filters = np.maximum(0.0, np.minimum(rising, falling))  # (bins, filters)
    filters *= 2.0 / (edges[2:] - edges[:-2])[None, :]
    if (filters.max(axis=0) == 0.0).any():
        raise ValueError(
            f"{num_mel_filters} mel filters over {num_frequency_bins} frequency bins leave some filters empty: use "
            "fewer mel filters or a longer FFT."
        )
    return filters


class WhisperFeatureExtractor(SequenceFeatureExtractor):
    """Whisper's log-mel spectrogram: ``input_features`` (batch, feature_size, nb_max_frames), 80 mel bands (128
    for large-v3 checkpoints, which say ``"feature_size": 128``) x 3000 frames of 10 ms = 30 seconds.

    Settings besides the shared ones: ``n_fft`` (400), ``hop_length`` (160), ``chunk_length`` (30 s),
    ``dither`` (0.0: the standard deviation of Gaussian noise added to the samples, the current reference's
    option). A call pads or cuts every recording to ``chunk_length`` seconds unless told otherwise
    (``padding="longest"`` computes only the batch's longest; the model still needs 3000 frames).
    ``do_normalize=True`` (default False) normalizes the waveform first, as Wav2Vec2's extractor does.
    ``device="cuda"`` computes the spectrogram there (the features come back on the CPU).
    """

    model_input_names = ["input_features"]
    defaults = {
        **SequenceFeatureExtractor.defaults,
        "feature_size": 80,
        "return_attention_mask": False,
        "hop_length": 160,
        "chunk_length": 30,
        "n_fft": 400,
        "dither": 0.0,
    }
    derived_keys = ("n_samples", "nb_max_frames")
    call_keywords = (*CALL_OPTIONS, *defaults, "do_normalize", "device")

    def __init__(self, **settings: Any):
        super().__init__(**settings)
        self.n_samples = self.chunk_length * self.sampling_rate  # 480,000: the samples of one 30-second window
        self.nb_max_frames = self.n_samples // self.hop_length  # 3000 feature frames
        self.mel_filters = mel_filter_bank(1 + self.n_fft // 2, self.feature_size, 0.0, 8000.0, self.sampling_rate)

    def __call__(
        self,
        raw_speech: Any,
        truncation: bool = True,
        pad_to_multiple_of: int | None = None,
        return_tensors: str | None = None,
        return_attention_mask: bool | None = None,
        padding: bool | str | PaddingStrategy = "max_length",
        max_length: int | None = None,
        sampling_rate: int | None = None,
        do_normalize: bool | None = None,
        device: str | torch.device = "cpu",
    ) -> BatchFeature:
        self._check_sampling_rate(sampling_rate)
        waveforms = self._waveforms(raw_speech)
        padded = self._pad_columns(
            {"input_features": waveforms}, padding, max_length or self.n_samples, truncation, pad_to_multiple_of, True
        )
        samples = list(padded["input_features"])
        if do_normalize:
            lengths = [int(mask.sum()) for mask in padded["attention_mask"]]
            samples = zero_mean_unit_var_norm(samples, lengths, self.padding_value, self.padding_side)
        if len({len(s) for s in samples}) == 1:
            features = list(self.log_mel_spectrogram(np.stack(samples), device))
        else:  # padding=False with recordings of different lengths: one spectrogram each
            features = [self.log_mel_spectrogram(s[None], device)[0] for s in samples]
        output = {"input_features": features}
        if self.return_attention_mask if return_attention_mask is None else return_attention_mask:
            # one entry per feature frame: a frame is real if its first sample is (160 samples per frame)
            output["attention_mask"] = [
                np.asarray(mask[: len(mask) // self.hop_length * self.hop_length : self.hop_length], np.int32)
                for mask in padded["attention_mask"]
            ]
        return BatchFeature(output, tensor_type=return_tensors)

    def log_mel_spectrogram(self, waveforms: np.ndarray, device: str | torch.device = "cpu") -> np.ndarray:
        """(batch, samples) float32 -> (batch, feature_size, samples // hop_length) log-mel features, the
        reference's torch computation (its numpy one agrees to 1e-5)."""
        if waveforms.shape[-1] <= self.n_fft // 2:
            raise ValueError(
                f"A recording of {waveforms.shape[-1]} samples is too short for Whisper's {self.n_fft}-sample window "
                "(the STFT reflects it at both ends); pad it (the default padding='max_length' does)."
            )
        audio = torch.from_numpy(waveforms).to(device, torch.float32)
        if self.dither:
            audio = audio + self.dither * torch.randn(audio.shape, dtype=audio.dtype, device=audio.device)
        power = self.power_spectrogram(audio)  # (batch, frequencies, frames that hear sound)
        mel_filters = torch.from_numpy(self.mel_filters).to(audio.device, torch.float32)  # (frequencies, mels)
        mel_power = audio.new_zeros(audio.shape[0], self.feature_size, audio.shape[-1] // self.hop_length)
        mel_power[..., : power.shape[-1]] = mel_filters.T @ power  # (batch, mels, frames); silent frames: 0
        log_spec = torch.clamp(mel_power, min=1e-10).log10()
        loudest = log_spec.amax(dim=(1, 2), keepdim=True)  # per recording
        log_spec = torch.maximum(log_spec, loudest - 8.0)  # at most 80 dB of dynamic range
        return ((log_spec + 4.0) / 4.0).cpu().numpy()

    def power_spectrogram(self, audio: torch.Tensor) -> torch.Tensor:
        """(batch, samples) -> |STFT|^2 (batch, n_fft // 2 + 1, frames): periodic Hann windows centred on every
        hop (the ends reflected), as the reference computes it, for the first ``frames`` of the
        ``samples // hop_length`` frames; the ones after them see only zeros and have zero power.

        A short recording padded to 30 s is mostly that silence: only the frames that reach a non-zero sample are
        transformed (for a 1-second clip, 1/30 of the work); the caller knows the others are zero."""
        frames = audio.shape[-1] // self.hop_length
        half = self.n_fft // 2
        if audio[:, -1].any():  # sound to the end (a long recording): every frame is needed
            end = audio.shape[-1]
        else:  # after this sample, every recording is silent
            nonzero = torch.nonzero(audio.abs().amax(dim=0))
            end = int(nonzero[-1]) + 1 if len(nonzero) else 0
        needed = max(1, min(frames, math.ceil((end + half) / self.hop_length)))  # frames that reach a sample < end
        cut = min(audio.shape[-1], needed * self.hop_length + half)  # the samples those frames see
        window = torch.hann_window(self.n_fft, device=audio.device)  # periodic
        stft = torch.stft(audio[:, :cut], self.n_fft, self.hop_length, window=window, return_complex=True)
        stft = stft[..., :needed]
        return stft.real**2 + stft.imag**2  # |.|^2, without abs()'s square root


# ------------------------------------------------------------------------------------------------
# Processors: a feature extractor and a tokenizer
# ------------------------------------------------------------------------------------------------

# Keywords both parts of a speech processor take when a call has audio and text (as the reference passes them).
_SHARED_KEYWORDS = (
    "padding",
    "max_length",
    "truncation",
    "pad_to_multiple_of",
    "return_attention_mask",
    "return_tensors",
)


class SpeechProcessorMixin(ProcessorMixin):
    """A feature extractor and a tokenizer: ``processor(audio, sampling_rate=16000)`` -> the feature extractor's
    output; ``processor(text=...)`` -> the tokenizer's; both -> the features with the text's ``input_ids`` as
    ``labels``. Keyword arguments go to the part that takes them (padding options to both)."""

    attributes = ("feature_extractor", "tokenizer")

    def __call__(self, audio: Any = None, *, text: Any = None, sampling_rate: int | None = None, **kwargs: Any):
        if audio is None and text is None:
            raise ValueError("You need to specify either an `audio` or `text` input to process.")
        if audio is not None and text is None:
            return self.feature_extractor(audio, sampling_rate=sampling_rate, **kwargs)
        if audio is None:
            return self.tokenizer(text, **kwargs)
        own = set(self.feature_extractor.call_keywords)
        inputs = self.feature_extractor(
            audio, sampling_rate=sampling_rate, **{key: value for key, value in kwargs.items() if key in own}
        )
        encodings = self.tokenizer(text, **{k: v for k, v in kwargs.items() if k not in own or k in _SHARED_KEYWORDS})
        inputs["labels"] = encodings["input_ids"]
        return inputs

    def pad(self, input_features: Any = None, *, labels: Any = None, **kwargs: Any):
        """A data collator's step: pad the features with the feature extractor and the ``labels`` (a list of
        ``{"input_ids": ...}``) with the tokenizer; the padded label ids come back as ``labels``."""
        if input_features is None and labels is None:
            raise ValueError("pad needs input_features, labels, or both.")
        if input_features is not None:
            input_features = self.feature_extractor.pad(input_features, **kwargs)
        if labels is not None:
            labels = self.tokenizer.pad(labels, **kwargs)
        if labels is None:
            return input_features
        if input_features is None:
            return labels
        input_features["labels"] = labels["input_ids"]
        return input_features


class Wav2Vec2Processor(SpeechProcessorMixin):
    """A :class:`Wav2Vec2FeatureExtractor` and a CTC tokenizer (``Wav2Vec2CTCTokenizer``): samples in, and
    ``batch_decode(predicted_ids)`` CTC-decodes the model's argmax back to text."""


class WhisperProcessor(SpeechProcessorMixin):
    """A :class:`WhisperFeatureExtractor` and Whisper's tokenizer: ``processor(audio, sampling_rate=16000,
    return_tensors="pt").input_features`` for ``generate``, ``batch_decode(ids, skip_special_tokens=True)`` for
    the text, and the decoder prompt's ids (``get_decoder_prompt_ids``, ``get_prompt_ids``)."""

    def get_decoder_prompt_ids(
        self, task: str | None = None, language: str | None = None, no_timestamps: bool = True
    ) -> list[tuple[int, int]]:
        """The forced decoder ids after <|startoftranscript|>: ``[(1, <|fr|>), (2, <|transcribe|>), (3,
        <|notimestamps|>)]`` for ``language="fr"`` (a code, a name such as "french", or the token),
        ``task="transcribe"`` or ``"translate"``; each one only if given, <|notimestamps|> only if
        ``no_timestamps``. The ids are looked up in the tokenizer's vocabulary."""
        from ..generation.whisper import LANGUAGES, TASK_IDS, language_token_id

        tokens = []
        if language is not None:
            languages = {f"<|{code}|>": self._token_id(f"<|{code}|>", required=False) for code in LANGUAGES}
            tokens.append(language_token_id(language, {t: i for t, i in languages.items() if i is not None}))
        if task is not None:
            if task not in TASK_IDS:
                raise ValueError(f"Unsupported task: {task}. Task should be in: {TASK_IDS}")
            tokens.append(self._token_id(f"<|{task}|>"))
        if no_timestamps:
            tokens.append(self._token_id("<|notimestamps|>"))
        return [(position + 1, token) for position, token in enumerate(tokens)]

    def get_prompt_ids(self, text: str, return_tensors: str | None = "np"):
        """The ids of a text prompt for ``generate(prompt_ids=...)``: <|startofprev|> then `` text`` (a space
        first, stripped), which must hold no special token."""
        ids = [self._token_id("<|startofprev|>")]
        ids += self.tokenizer(" " + text.strip(), add_special_tokens=False)["input_ids"]
        first_special = self._token_id("<|endoftext|>")
        special = next((i for i in ids[1:] if i >= first_special), None)
        if special is not None:
            token = self.tokenizer.convert_ids_to_tokens(special)
            raise ValueError(f"Encountered text in the prompt corresponding to disallowed special token: {token}.")
        if return_tensors == "pt":
            return torch.tensor(ids)
        if return_tensors == "np":
            return np.array(ids)
        return ids

    def _token_id(self, token: str, required: bool = True) -> int | None:
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if token_id is None or token_id == self.tokenizer.unk_token_id and token != self.tokenizer.unk_token:
            if not required:
                return None
            raise ValueError(f"The tokenizer has no {token} token: is it a Whisper tokenizer?")
        return token_id
