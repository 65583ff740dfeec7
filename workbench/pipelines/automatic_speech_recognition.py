"""automatic-speech-recognition: speech -> text, with a CTC model (Wav2Vec2, HuBERT, data2vec-audio) or Whisper.

    >>> transcribe = pipeline("automatic-speech-recognition", model="openai/whisper-tiny.en")
    >>> transcribe("digits.wav")
    {'text': ' Nine, eight, seven.'}
    >>> transcribe("lecture.flac", chunk_length_s=30, return_timestamps=True)
    {'text': ' ...', 'chunks': [{'text': ' Nine, eight,', 'timestamp': (0.0, 1.8)}, ...]}

Inputs are paths, bytes, arrays, ``{"array", "sampling_rate"}`` dicts, ``datasets`` Audio values, or lists of
them (see ``AudioPipeline`` in base.py); every recording is resampled to the feature extractor's rate (16 kHz).

How each kind of model hears a recording:

    CTC        input_values (samples,) -> model -> logits (frames, letters): a letter for every 20 ms (320 samples)
               -> argmax per frame -> tokenizer.decode: repeats merged, blanks dropped         "NINE EIGHT"
    Whisper    input_features (80, 3000): 30 s of log-mel spectrogram -> generate(): text tokens (with <|1.24|>
               timestamp tokens when asked) -> the text tokens decoded                       " Nine, eight."

Long recordings: ``chunk_length_s`` cuts them into overlapping windows; ``stride_length_s`` (default a sixth of
the window) on each side is heard as context but its text is dropped when the windows are put back together:

    recording   |------------------------------------------------------------------|
    window 1    |====================|sss|                        = transcribed   s = stride: heard, dropped
    window 2                   |sss|====================|sss|
    window 3                                      |sss|======================|

    CTC      each window's frames minus its strides, concatenated, then decoded: exact, as every frame is 20 ms.
    Whisper  the text is not tied to frames, so windows are joined by the timestamp tokens Whisper writes at the
             ends of its segments (``merge_whisper_chunks`` in processing/whisper_tokenizer.py): a segment ending
             in a right stride is finished by the next window, and the tokens two windows both heard are found by
             sliding one window's tokens over the other's. This is the reference v4.37's
             ``tokenizer._decode_asr``, rewritten.

``return_timestamps``: CTC ``"char"`` or ``"word"``: each letter's (word's) first and last frame, in seconds.
Whisper ``True``: segments between timestamp tokens; ``"word"``: a time for each word, from the cross-attention's
alignment with the audio (``generate(return_token_timestamps=True)``: dynamic time warping). ``return_language``
(Whisper): each chunk's language. ``generate_kwargs`` / ``max_new_tokens`` go to Whisper's ``generate``
(``generate_kwargs={"language": "fr", "task": "translate"}``).

Where this differs from v4.37 (the README's list): Whisper without chunking takes at most 30 s (v4.37 decoded
longer audio window after window, a long-form algorithm not implemented here: the error says to pass
``chunk_length_s=30``), and ``chunk_length_s`` over 30 s is refused (v4.37 silently cut each window to 30 s); CTC
models take at most ``MAX_UNCHUNKED_SECONDS`` without chunking; ``generate_kwargs`` on a CTC model are an error
(v4.37 ignored them); a batch's padding frames are never decoded (v4.37 decoded them in batches of CTC
recordings of different lengths); keys of an input dict other than the audio's are not echoed in the output.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from ..generation.stopping_criteria import MaxLengthCriteria
from ..generation.whisper import token_timestamps
from ..processing.whisper_tokenizer import merge_whisper_chunks
from .base import AudioPipeline

logger = logging.getLogger(__name__)

WHISPER = "seq2seq_whisper"  # the reference's name for the kind of model (``pipe.type``)
CTC = "ctc"


class AutomaticSpeechRecognitionPipeline(AudioPipeline):
    task = "automatic-speech-recognition"

    def _check_model(self) -> None:
        super()._check_model()
        name = type(self.model).__name__
        if getattr(self.model.config, "model_type", None) == "whisper" and hasattr(self.model, "generate"):
            self.type = WHISPER
        elif name.endswith("ForCTC"):
            self.type = CTC
        else:
            raise ValueError(
                f"The {self.task} pipeline needs a CTC model (Wav2Vec2ForCTC, HubertForCTC, ...) or "
                f"WhisperForConditionalGeneration, but the model is a {name}. Load it with AutoModelForCTC or "
                "AutoModelForSpeechSeq2Seq.from_pretrained(...)."
            )
        if self.tokenizer is None:
            raise ValueError(
                f"The {self.task} pipeline needs the model's tokenizer to turn its tokens into text; pass "
                "tokenizer=... (a tokenizer object, a Hub id or a local folder) or processor=..."
            )

    def _sanitize_parameters(
        self,
        chunk_length_s: float | None = None,
        stride_length_s: float | tuple[float, float] | None = None,
        return_timestamps: bool | str | None = None,
        return_language: bool | None = None,
        generate_kwargs: dict | None = None,
        max_new_tokens: int | None = None,
        sampling_rate: int | None = None,
        ignore_warning: bool | None = None,  # v4.37's switch for a warning about other seq2seq models: none here
    ) -> tuple[dict, dict, dict]:
        options = (("chunk_length_s", chunk_length_s), ("stride_length_s", stride_length_s))
        pre = {key: value for key, value in (*options, ("sampling_rate", sampling_rate)) if value is not None}
        forward: dict[str, Any] = {}
        post: dict[str, Any] = {}
        whisper = self.type == WHISPER
        generate_kwargs = dict(generate_kwargs or {})
        if max_new_tokens is not None:
            if "max_new_tokens" in generate_kwargs:
                raise ValueError(
                    "`max_new_tokens` is defined both as an argument and inside `generate_kwargs` argument, please "
                    "use only 1 version"
                )
            generate_kwargs["max_new_tokens"] = max_new_tokens
        if generate_kwargs:
            if not whisper:
                raise ValueError(
                    "generate_kwargs and max_new_tokens are settings of Whisper's generate(); "
                    f"{type(self.model).__name__} is a CTC model, which reads its text off the audio frames in one "
                    "forward pass."
                )
            forward["generate_kwargs"] = generate_kwargs
        if return_timestamps is not None:
            if whisper and return_timestamps not in (True, False, "word"):
                raise ValueError(
                    "Whisper cannot return `char` timestamps, only word level or segment level timestamps. Use "
                    "`return_timestamps='word'` or `return_timestamps=True` respectively."
                )
            if not whisper and return_timestamps not in (False, "char", "word"):
                raise ValueError(
                    "CTC can either predict character level timestamps, or word level timestamps. Set "
                    "`return_timestamps='char'` or `return_timestamps='word'` as required."
                )
            forward["return_timestamps"] = post["return_timestamps"] = return_timestamps
        if return_language is not None:
            if not whisper:
                raise ValueError("Only Whisper can return language for now.")
            post["return_language"] = return_language
        return pre, forward, post

    # ---- pre-processing: a recording -> windows of features -----------------------------------------

    def preprocess(
        self,
        item: Any,
        chunk_length_s: float | None = None,
        stride_length_s: float | tuple[float, float] | None = None,
        sampling_rate: int | None = None,
    ) -> list[dict[str, Any]]:
        samples = self.waveform(item, sampling_rate)
        if chunk_length_s:
            windows = self._windows(len(samples), chunk_length_s, stride_length_s)
        else:
            self._check_unchunked(len(samples))
            windows = [(0, len(samples), self._given_stride(item, sampling_rate, len(samples)))]
        rate = self.feature_extractor.sampling_rate
        features = self.feature_extractor([samples[start:end] for start, end, _ in windows], sampling_rate=rate)
        chunks = []
        for i, (start, end, stride) in enumerate(windows):
            chunk = {name: values[i] for name, values in features.items()}
            heard = self.feature_extractor.n_samples if self.type == WHISPER else len(chunk["input_values"])
            # "sound": the samples of audio in the window (a Whisper window's features are padded to 30 s)
            chunks.append({**chunk, "samples": heard, "sound": min(end, len(samples)) - start, "stride": stride})
        return chunks

    def _windows(
        self, total: int, chunk_length_s: float, stride_length_s: float | tuple[float, float] | None
    ) -> list[tuple[int, int, tuple[int, int, int]]]:
        """(start, end, stride) of each window, in samples, as the reference v4.37 cuts them: windows of
        ``chunk_length_s`` starting every ``chunk - left - right`` samples; ``stride`` is (the window's length, the
        samples of left context, of right context), no left context in the first window, no right in the last. For
        CTC the lengths are whole frames (multiples of ``inputs_to_logits_ratio``)."""
        rate = self.feature_extractor.sampling_rate
        if self.type == WHISPER and chunk_length_s > self.feature_extractor.chunk_length:
            raise ValueError(
                f"chunk_length_s={chunk_length_s}: Whisper hears {self.feature_extractor.chunk_length} s at a time, so "
                f"longer windows would be cut. Use chunk_length_s={self.feature_extractor.chunk_length} (or less)."
            )
        if stride_length_s is None:
            stride_length_s = chunk_length_s / 6
        left_s, right_s = (stride_length_s, stride_length_s) if np.isscalar(stride_length_s) else stride_length_s
        align = self.model.config.inputs_to_logits_ratio if self.type == CTC else 1
        chunk_len, left, right = (int(round(s * rate / align) * align) for s in (chunk_length_s, left_s, right_s))
        if chunk_len <= left + right:
            raise ValueError(
                f"Chunk length must be superior to stride length: chunk_length_s={chunk_length_s} leaves nothing "
                f"between strides of {left_s} s and {right_s} s. Use shorter strides (stride_length_s=...)."
            )
        windows = []
        for start in range(0, total, chunk_len - left - right):
            end = start + chunk_len
            is_last = end > total if right > 0 else end >= total
            stride = (min(end, total) - start, 0 if start == 0 else left, 0 if is_last else right)
            if stride[0] > stride[1]:  # a window holding only left context would add nothing
                windows.append((start, end, stride))
            if is_last:
                break
        return windows

    def _check_unchunked(self, samples: int) -> None:
        """A recording transcribed in one piece must fit: Whisper's 30 s window, a CTC model's memory."""
        extractor = self.feature_extractor
        if self.type == WHISPER and samples > extractor.n_samples:
            raise ValueError(
                f"This recording is {samples / extractor.sampling_rate:.1f} s long; Whisper hears "
                f"{extractor.chunk_length} s at a time. Transcribe it in overlapping windows: pipe(audio, "
                f"chunk_length_s={extractor.chunk_length}) (or pipeline(..., chunk_length_s="
                f"{extractor.chunk_length})). (The reference v4.37 decodes such audio sequentially, window after "
                "window, which workbench does not implement.)"
            )
        fix = "Transcribe it in windows: pipe(audio, chunk_length_s=30) (or pipeline(..., chunk_length_s=30))."
        self.check_unchunked_length(samples, fix)

    def _given_stride(self, item: Any, sampling_rate: int | None, samples: int) -> tuple[int, int, int] | None:
        """An input dict's ``"stride": (left, right)``: samples at its ends heard as context but not transcribed
        (how the reference's streaming microphone passes overlapping pieces), rescaled to the model's rate."""
        if not isinstance(item, dict) or item.get("stride") is None:
            return None
        left, right = item["stride"]
        if left + right > samples:
            raise ValueError(f"Stride is too large for input: {left} + {right} samples of stride, {samples} in all.")
        ratio = self.feature_extractor.sampling_rate / (item.get("sampling_rate") or sampling_rate)
        return samples, int(round(left * ratio)), int(round(right * ratio))

    # ---- the model ----------------------------------------------------------------------------------

    def _forward_batch(self, rows: list[dict], forward: dict) -> list[dict[str, Any]]:
        outputs = self._ctc_forward(rows) if self.type == CTC else self._whisper_forward(rows, **forward)
        for row in rows:  # the features are not needed after the model has heard them
            for name in ("input_values", "attention_mask", "input_features"):
                row.pop(name, None)
        return outputs

    def _ctc_forward(self, rows: list[dict]) -> list[dict[str, Any]]:
        """The best letter of every real frame of each row, and its stride in frames."""
        batch, _, _ = self._collate(rows)
        best = self.model(**batch).logits.argmax(dim=-1).cpu()  # (rows, frames)
        frames = self.model._get_feat_extract_output_lengths(torch.tensor([row["samples"] for row in rows]))
        ratio = 1 / self.model.config.inputs_to_logits_ratio
        return [
            {"tokens": tokens[:n], "stride": rescale_stride(row["stride"], ratio) if row["stride"] else None}
            for row, tokens, n in zip(rows, best, frames.tolist())
        ]

    def _whisper_forward(
        self, rows: list[dict], return_timestamps: bool | str | None = None, generate_kwargs: dict | None = None
    ) -> list[dict[str, Any]]:
        """generate() on a batch of 30-second windows: each row's tokens (and a time per token for word timestamps)."""
        features = torch.stack([torch.as_tensor(row["input_features"]) for row in rows])
        features = features.to(self.device, self.model.dtype)  # (rows, mel bins, 3000)
        settings = dict(generate_kwargs or {})
        if return_timestamps:
            settings["return_timestamps"] = return_timestamps
        if return_timestamps == "word":  # the decoder's cross-attentions, for the alignment
            settings.update(return_token_timestamps=True, return_dict_in_generate=True)
        length = self._sequence_length_limit(settings)
        output = self.model.generate(features, **settings)
        sequences = output if torch.is_tensor(output) else output["sequences"]  # (rows, prompt + new tokens)
        results = [{"tokens": tokens[:length]} for tokens in sequences.cpu()]
        if return_timestamps == "word":
            # the alignment runs over the audio each window holds, never its padding to 30 s (v4.37 limits it so
            # only for strided windows: an unchunked 2 s clip got word times near 30 s)
            frames = [row["sound"] // self.feature_extractor.hop_length for row in rows]
            for result, times in zip(results, self._token_times(output["cross_attentions"], frames)):
                result["token_timestamps"] = times[:length]
        return results

    def _sequence_length_limit(self, settings: dict) -> int | None:
        """``max_new_tokens`` counted as v4.37 counts it, turned into a stopping rule on the sequence's length (and
        ``settings`` changed to apply it); None without ``max_new_tokens``.

        v4.37's generate() starts the decoder with <|startoftranscript|> alone and then forces the language, task and
        <|notimestamps|> tokens one step at a time, so they count among the new tokens: ``max_new_tokens=7`` on
        whisper-tiny.en gives <|startoftranscript|> <|notimestamps|> and 6 text tokens. Here (as in the current
        reference) those tokens are the decoder's prompt, so the pipeline stops the sequence at
        1 + max_new_tokens tokens instead (plus the text of ``prompt_ids``, which v4.37 adds to max_new_tokens).
        """
        max_new_tokens = settings.pop("max_new_tokens", None)
        if max_new_tokens is None:
            return None
        prompt_ids = settings.get("prompt_ids")
        length = 1 + max_new_tokens + (len(prompt_ids) - 1 if prompt_ids is not None else 0)
        positions = self.model.config.max_target_positions
        if length > positions:
            raise ValueError(
                f"max_new_tokens={max_new_tokens} asks for a decoder sequence of {length} tokens (counting "
                f"<|startoftranscript|> and the text of prompt_ids), but Whisper's decoder has {positions} positions. "
                f"Ask for at most max_new_tokens={max_new_tokens - (length - positions)}."
            )
        settings["stopping_criteria"] = [*settings.get("stopping_criteria", []), MaxLengthCriteria(length)]
        return length

    def _token_times(self, cross_attentions, num_frames: list[int]) -> torch.Tensor:
        """A start time for every token of generate()'s sequences, (rows, tokens), as v4.37's pipeline times them:
        the alignment (dynamic time warping over the ``alignment_heads``' cross-attention) runs over every decoder
        position, the prompt's too, and the token at position p + 1 gets the time at which the alignment reaches
        position p (whose query predicted it); the first token gets 0. (generate(return_token_timestamps=True)
        follows the current reference instead, which aligns only the generated positions.)"""
        heads = self.model.generation_config.alignment_heads
        filter_width = self.model.config.median_filter_width
        times = token_timestamps(cross_attentions, heads, 0, num_frames, filter_width)  # (rows, positions + 1)
        return torch.cat([times.new_zeros(len(times), 1), times[:, :-1]], dim=1).cpu()

    # ---- post-processing: a recording's windows -> its text -----------------------------------------

    def postprocess(
        self, chunks: list[dict], return_timestamps: bool | str | None = None, return_language: bool | None = None
    ) -> dict[str, Any]:
        if self.type == WHISPER:
            return self._whisper_postprocess(chunks, return_timestamps, return_language)
        kept = [  # each window's frames without its strides
            chunk["tokens"][chunk["stride"][1] : chunk["stride"][0] - chunk["stride"][2]]
            if chunk["stride"]
            else chunk["tokens"]
            for chunk in chunks
        ]
        tokens = torch.cat(kept).tolist()
        result: dict[str, Any] = {"text": self.tokenizer.decode(tokens)}
        if return_timestamps:
            decoded = self.tokenizer.decode(
                tokens, output_char_offsets=True, output_word_offsets=return_timestamps == "word"
            )
            offsets = decoded["word_offsets"] if return_timestamps == "word" else decoded["char_offsets"]
            ratio, rate = self.model.config.inputs_to_logits_ratio, self.feature_extractor.sampling_rate
            result["chunks"] = [
                {
                    "text": offset[return_timestamps],
                    "timestamp": (offset["start_offset"] * ratio / rate, offset["end_offset"] * ratio / rate),
                }
                for offset in offsets
            ]
        return result

    def _whisper_postprocess(
        self, chunks: list[dict], return_timestamps: bool | str | None, return_language: bool | None
    ) -> dict[str, Any]:
        extractor = self.feature_extractor
        rate = extractor.sampling_rate
        outputs = []
        for chunk in chunks:
            output = {"tokens": chunk["tokens"].tolist()}
            # word times end where the audio ends: an unchunked recording is one window without strides
            stride = chunk["stride"] or ((chunk["sound"], 0, 0) if return_timestamps == "word" else None)
            if stride:
                output["stride"] = tuple(samples / rate for samples in stride)  # in seconds
            if "token_timestamps" in chunk:
                output["token_timestamps"] = chunk["token_timestamps"].tolist()
            outputs.append(output)
        time_precision = extractor.chunk_length / self.model.config.max_source_positions  # 0.02 s per position
        text, optional = merge_whisper_chunks(
            self.tokenizer, outputs, return_timestamps=return_timestamps, return_language=return_language,
            time_precision=time_precision,
        )  # fmt: skip
        return {"text": text, **optional}


def rescale_stride(stride: tuple[int, int, int], ratio: float) -> tuple[int, int, int]:
    """A stride (length, left, right) in samples -> in frames (``ratio`` frames per sample), as the reference
    rounds it: (160_000, 16_000, 16_000) -> (500, 50, 50) at 320 samples a frame."""
    length, left, right = stride
    frames = int(round(length * ratio))
    return frames, int(round(left / length * frames)), int(round(right / length * frames))


# ------------------------------------------------------------------------------------------------
# Whisper: windows of tokens -> one transcript (the reference v4.37's tokenizer._decode_asr)
# ------------------------------------------------------------------------------------------------
