"""audio-classification: the labels of a recording, best first, with their scores.

    >>> classify = pipeline("audio-classification", model="superb/wav2vec2-base-superb-ks")
    >>> classify("yes.wav", top_k=2)
    [{'score': 0.997, 'label': 'yes'}, {'score': 0.002, 'label': '_unknown_'}]

The ``top_k`` best labels (default 5, at most the model's number of labels), scored by the softmax of the logits,
as the reference v4.37 scores them; a list of recordings gives a list of such lists. Models:
Wav2Vec2ForSequenceClassification (HuBERT, data2vec-audio: the mean of the frames' states, classified) and
WhisperForAudioClassification (the same over Whisper's encoder). Inputs: see ``AudioPipeline`` in base.py.

A recording is classified whole: a raw-waveform model takes at most ``MAX_UNCHUNKED_SECONDS`` at once and Whisper
its 30-second window; longer recordings are refused with a clear error (v4.37 cut them to 30 s for Whisper without
a word) -- classify windows of them instead.
"""

from __future__ import annotations

from typing import Any

from .base import AudioPipeline

DEFAULT_TOP_K = 5


class AudioClassificationPipeline(AudioPipeline):
    task = "audio-classification"

    def _check_model(self) -> None:
        super()._check_model()
        name = type(self.model).__name__
        if not name.endswith(("ForSequenceClassification", "ForAudioClassification")):
            raise ValueError(
                f"The {self.task} pipeline needs an audio-classification head, but the model is a {name}. Load it "
                "with AutoModelForAudioClassification.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self, top_k: int | None = None, sampling_rate: int | None = None
    ) -> tuple[dict, dict, dict]:
        pre = {} if sampling_rate is None else {"sampling_rate": sampling_rate}
        post: dict[str, Any] = {}
        if top_k is not None:  # None is the default, 5 (as in the reference; not every label)
            if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
                raise ValueError(f"top_k must be a positive integer (the number of labels to return), got {top_k!r}.")
            post["top_k"] = top_k
        return pre, {}, post

    def preprocess(self, item: Any, sampling_rate: int | None = None) -> list[dict[str, Any]]:
        samples = self.waveform(item, sampling_rate)
        extractor = self.feature_extractor
        fix = "Classify windows of it (e.g. a few seconds each) instead."
        if "input_features" in extractor.model_input_names and len(samples) > extractor.n_samples:
            raise ValueError(
                f"This recording is {len(samples) / extractor.sampling_rate:.1f} s long; Whisper hears "
                f"{extractor.chunk_length} s at a time, so the rest would be cut off unheard. {fix}"
            )
        self.check_unchunked_length(len(samples), fix)
        features = extractor(samples, sampling_rate=extractor.sampling_rate)
        chunk = {name: values[0] for name, values in features.items()}
        heard = extractor.n_samples if "input_features" in chunk else len(samples)
        return [{**chunk, "samples": heard}]

    def postprocess(self, chunks: list[dict], top_k: int = DEFAULT_TOP_K) -> list[dict[str, Any]]:
        config = self.model.config
        probabilities = chunks[0]["logits"].softmax(-1)  # (num_labels,)
        scores, ids = probabilities.topk(min(top_k, config.num_labels))
        return [{"score": score, "label": config.id2label[i]} for score, i in zip(scores.tolist(), ids.tolist())]
