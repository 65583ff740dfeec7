"""AudioExplorer: hear a recording, see its waveform and log-mel spectrogram, and where Whisper heard each word.

    from workbench.widgets import AudioExplorer

    AudioExplorer("speech.wav")                                   # waveform + log-mel spectrogram, playable
    AudioExplorer("speech.wav", model="openai/whisper-tiny.en")   # + Whisper's words and its alignment

With a Whisper model the recording is transcribed by ``pipeline("automatic-speech-recognition")`` with
``return_timestamps="word"`` (the words and their times, as the pipeline gives them),
and the transcript is aligned to the audio the way those times are computed: the decoder reads the transcript once
(teacher forcing), the cross-attention of the checkpoint's ``alignment_heads`` (tokens x audio frames, one frame
per 20 ms) is standardised over the tokens, smoothed along time and averaged over the heads, and dynamic time
warping finds the monotonic path through it that attends most. The picture::

    ▶ ━━━━━━━━━━━━━━━━━━━━━━━━━━ (the audio player)
    waveform       ▁▃█▆▂▁▁▂▆█▅▂▁▁▁▃▇█▄▁      a band per word behind the waveform and the word row
    words          | three |   | one  |
    log-mel        ░▒▓█▓▒░░▒▓██▓▒░░▒▓█▒░     80 mel bands x 100 frames per second (Whisper's input);
    alignment      row per token: ■ where     the words' edges dashed across it and the alignment
                   the heads look, — the warping path
                   0 s        1 s        2 s

Everything is inline (SVG, PNG and WAV data URIs): no network, no scripts. Controls: the time window (zoom),
the word to highlight, the alignment on or off. ``to_html()`` (a standalone page that still plays),
``to_svg()`` and ``to_png()`` (matplotlib) export the current view; a saved notebook keeps a PNG of it.
"""

from __future__ import annotations

import base64
import io
import logging
import os
from typing import Any

import ipywidgets as widgets
import numpy as np

from ..display import escape

__all__ = ["AudioExplorer", "alignment_path"]

SAMPLING_RATE = 16_000  # Whisper's; every recording is resampled to it
MAX_SECONDS = 30.0  # one Whisper window: the alignment covers no more
WIDTH, LEFT, RIGHT = 900, 84, 12  # pixels: the drawing, the margin for row labels, the right margin
WAVE_H, WORDS_H, MEL_H, ROW_H, AXIS_H, TOP = 90, 24, 150, 14, 28, 28
SPECTROGRAM_COLORMAP, ALIGNMENT_COLORMAP = "magma", "Blues"
WORD_COLORS = ("#ffd8a8", "#a5d8ff")  # alternate bands, so that neighbouring words stay apart
HIGHLIGHT = "#f03e3e"
PATH_COLOR = "#e8590c"

_CSS = """
.wbaudio{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:13px;color:#222;
  background:#fff;padding:6px}
.wbaudio svg text{font-family:inherit;font-size:11px;fill:#333}
.wbaudio audio{width:100%;max-width:900px;margin:2px 0 6px 0}
.wbaudio .transcript{font-size:14px;margin:2px 0 4px 0}
.wbaudio .note{color:#555;font-size:12px;margin-top:4px}
"""


# ------------------------------------------------------------------------------------------------
# The numbers: waveform, spectrogram, words and alignment
# ------------------------------------------------------------------------------------------------


def _load_waveform(audio: Any, sampling_rate: int | None) -> np.ndarray:
    """Any recording (path, bytes, array with ``sampling_rate``, {"array", "sampling_rate"} dict) -> 16 kHz mono."""
    from ..processing.audio_utils import check_finite, load_audio

    if isinstance(audio, (np.ndarray, list)) or hasattr(audio, "numpy"):
        if sampling_rate is None:
            raise ValueError(
                "An array of samples has no sampling rate: pass sampling_rate= (e.g. AudioExplorer(samples, "
                "sampling_rate=8000)) or a {'array': samples, 'sampling_rate': rate} dict."
            )
        audio = {"array": np.asarray(audio, dtype=np.float32), "sampling_rate": sampling_rate}
    waveform = load_audio(audio, SAMPLING_RATE)
    check_finite(waveform)
    seconds = len(waveform) / SAMPLING_RATE
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"The recording is {seconds:.1f} s long; the explorer shows at most {MAX_SECONDS:.0f} s (one Whisper "
            "window). Cut it first, e.g. a {'array': samples[: 30 * rate], 'sampling_rate': rate} dict."
        )
    if len(waveform) < 400:
        raise ValueError(f"The recording is {len(waveform)} samples long: too short to draw (400 at least, 25 ms).")
    return waveform


def alignment_path(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monotonic path through an alignment (tokens, frames) that attends most: dynamic time warping on its
    negative, as Whisper's word timestamps do. Returns (token index, frame index) per step."""
    from ..generation.whisper import dynamic_time_warping

    return dynamic_time_warping(-matrix.astype(np.float64))


def whisper_alignment(model, tokenizer, input_features, num_frames: int) -> tuple[np.ndarray, list[str]]:
    """Where Whisper looked while it wrote each token: (text tokens, encoder frames) and the tokens' strings.

    ``generate()`` writes the transcript (greedy, the pipeline's tokens); the decoder then reads that sequence once,
    its prompt included (teacher forcing), with ``output_attentions=True``. Decoder position p predicts token p + 1,
    so row i is the attention of the position that predicts text token i. Per alignment head the attention is
    standardised over the tokens and median-filtered along time; the rows are the mean over the heads. Only the
    ``num_frames`` feature frames that hear the audio count (two per encoder frame), not the padding."""
    import torch

    from ..generation.whisper import median_filter

    with torch.no_grad():
        sequence = model.generate(input_features)[0]  # (prompt + text tokens + end of text,)
        outputs = model(input_features=input_features, decoder_input_ids=sequence[None, :-1], output_attentions=True)
    ids = sequence.tolist()
    text_positions = [p for p in range(1, len(ids)) if ids[p] < tokenizer.eos_token_id]  # specials come after EOT
    states = num_frames // 2
    if not text_positions:
        return np.zeros((0, states), np.float32), []
    rows = torch.tensor(text_positions) - 1  # the positions that predict the text tokens
    heads = model.generation_config.alignment_heads
    weights = torch.stack([outputs.cross_attentions[layer][0, head, rows, :states] for layer, head in heads])
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)  # over the tokens, per frame
    width = getattr(model.config, "median_filter_width", 7)
    matrix = median_filter((weights - mean) / std.clamp_min(1e-8), width).mean(dim=0)  # (tokens, states)
    return matrix.float().numpy(), [tokenizer.decode([ids[p]]) for p in text_positions]


# ------------------------------------------------------------------------------------------------
# Drawing helpers
# ------------------------------------------------------------------------------------------------


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _wav_uri(waveform: np.ndarray) -> str:
    """16-bit PCM WAV at 16 kHz, as a data URI an <audio> element plays."""
    import wave

    pcm = (np.clip(waveform, -1.0, 1.0) * 32767).round().astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(SAMPLING_RATE)
        f.writeframes(pcm.tobytes())
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _colorize(values: np.ndarray, colormap: str) -> np.ndarray:
    """(rows, cols) -> (rows, cols, 3) uint8 through a matplotlib colormap, scaled to the values' range."""
    from matplotlib import colormaps

    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return (colormaps[colormap](scaled)[..., :3] * 255).round().astype(np.uint8)


def _ticks(start: float, end: float) -> list[float]:
    """Round times for the axis: 5 to 10 of them between start and end."""
    span = max(end - start, 1e-3)
    step = next(s for s in (0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10) if span / s <= 10)
    first = np.ceil(start / step) * step
    return [round(t, 3) for t in np.arange(first, end + 1e-9, step)]


# ------------------------------------------------------------------------------------------------
# The widget
# ------------------------------------------------------------------------------------------------


class AudioExplorer(widgets.VBox):
    """A recording drawn as waveform and log-mel spectrogram, playable, with Whisper's words and alignment.

    ``audio``: a path (WAV, FLAC, OGG, MP3), bytes, a ``{"array", "sampling_rate"}`` dict, or an array with
    ``sampling_rate=``; resampled to 16 kHz, at most 30 s. ``model``: a Whisper checkpoint (id, folder or
    ``WhisperForConditionalGeneration``) to transcribe and align with, and ``processor`` its ``WhisperProcessor``
    (loaded from the model's folder when omitted). ``words``: your own ``[{"text", "timestamp": (start, end)}]``
    instead (a pipeline's ``chunks``).

    Properties: ``window`` (start, end) in seconds, ``word`` (index of the highlighted word, or None),
    ``show_alignment``; results: ``text``, ``words``, ``waveform``, ``log_mel`` (80, frames), ``alignment``
    (tokens, frames of 20 ms) and its ``alignment_tokens``, ``duration``, ``html``, ``notes``.
    """

    def __init__(
        self,
        audio: Any,
        model: Any = None,
        processor: Any = None,
        *,
        sampling_rate: int | None = None,
        words: list[dict] | None = None,
        show_alignment: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        from ..processing.feature_extraction import WhisperFeatureExtractor

        self.waveform = _load_waveform(audio, sampling_rate)
        self.duration = len(self.waveform) / SAMPLING_RATE
        self.text, self.words = "", [dict(w) for w in (words or [])]
        self.alignment, self.alignment_tokens, self.alignment_heads = None, [], []
        self.model_name = None
        extractor = processor.feature_extractor if processor is not None else WhisperFeatureExtractor()
        if model is not None:
            model, processor = self._load(model, processor)
            extractor = processor.feature_extractor
            self._transcribe(model, processor)
        self.log_mel = extractor.log_mel_spectrogram(self.waveform[None])[0]  # (mel bands, frames of 10 ms)
        self._check_words()

        self._window_w = widgets.FloatRangeSlider(
            value=(0.0, round(self.duration, 2)),
            min=0.0,
            max=round(self.duration, 2),
            step=0.01,
            description="Window (s)",
            continuous_update=False,
            readout_format=".2f",
            layout=widgets.Layout(width="460px"),
        )
        self._word_w = widgets.Dropdown(
            options=[("none", -1)] + [(f"{i}: {w['text'].strip()}", i) for i, w in enumerate(self.words)],
            value=-1,
            description="Word",
            layout=widgets.Layout(width="220px"),
        )
        self._align_w = widgets.Checkbox(
            value=bool(show_alignment), description="Alignment", indent=False, layout=widgets.Layout(width="110px")
        )
        self._zoom_w = widgets.Button(description="Zoom to word", layout=widgets.Layout(width="120px"))
        self._zoom_w.on_click(lambda _: self.zoom_to_word())
        self._audio_w = widgets.HTML(self._audio_html())
        self._out = widgets.HTML()
        for control in (self._window_w, self._word_w, self._align_w):
            control.observe(lambda change: self._render(), names="value")
        has_words = bool(self.words)
        self._word_w.layout.display = None if has_words else "none"
        self._zoom_w.layout.display = None if has_words else "none"
        self._align_w.layout.display = None if self.alignment is not None else "none"
        self.children = [
            self._audio_w,
            widgets.HBox([self._window_w, self._word_w, self._zoom_w, self._align_w]),
            self._out,
        ]
        self._render()

    # ----- loading and transcribing -----
    @staticmethod
    def _load(model, processor):
        from ..models.auto import AutoModelForSpeechSeq2Seq
        from ..processing import AutoProcessor

        if isinstance(model, (str, os.PathLike)):
            name = os.fspath(model)
            model = AutoModelForSpeechSeq2Seq.from_pretrained(name)
            processor = processor if processor is not None else AutoProcessor.from_pretrained(name)
        if not hasattr(getattr(model, "generation_config", None), "alignment_heads") or not hasattr(model, "generate"):
            raise TypeError(
                f"model= must be a Whisper speech-to-text model (WhisperForConditionalGeneration, or its id such as "
                f"'openai/whisper-tiny.en'), got {type(model).__name__}."
            )
        if not model.generation_config.alignment_heads:
            raise ValueError(
                "This Whisper checkpoint lists no alignment_heads in its generation_config.json, so there are no "
                "word timestamps to draw: set generation_config.alignment_heads ([layer, head] pairs)."
            )
        if processor is None:
            processor = AutoProcessor.from_pretrained(model.config._name_or_path)
        return model.eval(), processor

    def _transcribe(self, model, processor) -> None:
        from ..pipelines import pipeline

        self.model_name = str(getattr(model.config, "_name_or_path", "") or type(model).__name__)
        asr = pipeline(
            "automatic-speech-recognition",
            model=model,
            tokenizer=processor.tokenizer,
            feature_extractor=processor.feature_extractor,
        )
        # word timestamps come from the alignment, not from timestamp tokens: the pipeline's (v4.37's) warning that
        # Whisper "did not predict an ending timestamp" always fires then, and says nothing about this recording
        logger = logging.getLogger(type(asr).__module__)
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            clip = {"array": self.waveform, "sampling_rate": SAMPLING_RATE}  # at most 30 s: one window
            result = asr(clip, return_timestamps="word")
        finally:
            logger.setLevel(level)
        self.text = result["text"]
        if not self.words:
            self.words = [dict(chunk) for chunk in result.get("chunks", [])]
        features = processor.feature_extractor(self.waveform, sampling_rate=SAMPLING_RATE, return_tensors="pt")
        features = features["input_features"].to(model.device, model.dtype)  # (1, mel bands, 3000)
        frames = len(self.waveform) // processor.feature_extractor.hop_length  # feature frames that hear the clip
        self.alignment, self.alignment_tokens = whisper_alignment(model, processor.tokenizer, features, frames)
        self.alignment_heads = [tuple(pair) for pair in model.generation_config.alignment_heads]

    def _check_words(self) -> None:
        for n, word in enumerate(self.words):
            start, end = (word.get("timestamp") or (None, None))[:2]
            if "text" not in word or start is None:
                raise ValueError(
                    f"words[{n}] = {word!r}: each word needs 'text' and 'timestamp': (start, end) in seconds, as the "
                    "speech pipeline's chunks with return_timestamps='word'."
                )
            word["timestamp"] = (float(start), float(end if end is not None else self.duration))

    # ----- properties -----
    @property
    def window(self) -> tuple[float, float]:
        return tuple(self._window_w.value)

    @window.setter
    def window(self, value: tuple[float, float]) -> None:
        start, end = (float(v) for v in value)
        if not 0 <= start < end <= max(self.duration, self._window_w.max) + 1e-6:
            raise ValueError(
                f"window must be (start, end) with 0 <= start < end <= {self.duration:.2f} s, not {value}."
            )
        self._window_w.value = (start, min(end, self._window_w.max))

    @property
    def word(self) -> int | None:
        return None if self._word_w.value < 0 else self._word_w.value

    @word.setter
    def word(self, value: int | None) -> None:
        if value is not None and not 0 <= int(value) < len(self.words):
            raise ValueError(f"word must be None or an index in 0..{len(self.words) - 1}, not {value}.")
        self._word_w.value = -1 if value is None else int(value)

    @property
    def show_alignment(self) -> bool:
        return self._align_w.value

    @show_alignment.setter
    def show_alignment(self, value: bool) -> None:
        self._align_w.value = bool(value)

    @property
    def html(self) -> str:
        return self._out.value

    @property
    def notes(self) -> list[str]:
        return list(self._notes)

    def zoom_to_word(self, index: int | None = None, margin: float = 0.25) -> None:
        """Show ``index`` (default: the highlighted word) with ``margin`` seconds either side."""
        index = self.word if index is None else index
        if index is None:
            self.window = (0.0, self._window_w.max)
            return
        self.word = index
        start, end = self.words[index]["timestamp"]
        self.window = (max(0.0, start - margin), min(self._window_w.max, max(end, start + 0.05) + margin))

    # ----- drawing -----
    def _layout(self) -> dict[str, tuple[int, int]]:
        """Each panel's top and height in pixels, from the top of the drawing."""
        rows = {"wave": WAVE_H}
        if self.words:
            rows["words"] = WORDS_H
        rows["mel"] = MEL_H
        if self.show_alignment and self.alignment is not None and len(self.alignment_tokens):
            rows["align"] = ROW_H * len(self.alignment_tokens)
        y, places = TOP, {}
        for name, height in rows.items():
            places[name] = (y, height)
            y += height + 6
        places["axis"] = (y, AXIS_H)
        return places

    def _columns(self, per_second: float, count: int) -> slice:
        """The columns (frames) of an array sampled ``per_second`` that the window shows."""
        start, end = self.window
        return slice(
            int(start * per_second), max(int(start * per_second) + 1, min(count, int(np.ceil(end * per_second))))
        )

    def _x(self, seconds: float) -> float:
        start, end = self.window
        return LEFT + (seconds - start) / (end - start) * (WIDTH - LEFT - RIGHT)

    def _visible_words(self) -> list[tuple[int, dict]]:
        start, end = self.window
        return [(i, w) for i, w in enumerate(self.words) if w["timestamp"][1] >= start and w["timestamp"][0] <= end]

    def _title(self) -> str:
        return "Waveform and log-mel spectrogram" + (f" · {self.model_name}" if self.model_name else "")

    def _word_spans(self) -> list[tuple[int, dict, float, float]]:
        """The words in the window: (index, word, left x, right x), clipped to the plot."""
        spans = []
        for i, word in self._visible_words():
            x0, x1 = (min(WIDTH - RIGHT, max(LEFT, self._x(t))) for t in word["timestamp"])
            spans.append((i, word, x0, max(x1, x0 + 1)))
        return spans

    def _svg(self, xmlns: bool = False) -> str:
        places = self._layout()
        height = places["axis"][0] + AXIS_H
        plot_w = WIDTH - LEFT - RIGHT
        start, end = self.window
        ns = ' xmlns="http://www.w3.org/2000/svg"' if xmlns else ""
        title = self._title()
        parts = [
            f'<svg class="audioview"{ns} width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img">',
            f'<text x="0" y="16" font-weight="bold" font-size="13">{escape(title)}</text>',
            f'<text x="{WIDTH - RIGHT}" y="16" text-anchor="end">{start:.2f}–{end:.2f} s of '
            f"{self.duration:.2f} s · 16 kHz</text>",
        ]
        # the words: a band per word behind the waveform and the word row
        band_bottom = sum(places["words" if "words" in places else "wave"])
        for i, word, x0, x1 in self._word_spans():
            parts.append(
                f'<g class="word w{i}"><title>{escape(word["text"].strip())}: {word["timestamp"][0]:.2f}–'
                f'{word["timestamp"][1]:.2f} s</title><rect x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" '
                f'height="{band_bottom - TOP}" fill="{WORD_COLORS[i % 2]}" fill-opacity="0.35"/>'
            )
            if "words" in places:
                y, h = places["words"]
                weight = ' font-weight="bold"' if i == self.word else ""
                parts.append(
                    f'<text x="{(x0 + x1) / 2:.1f}" y="{y + h / 2 + 4:.1f}" text-anchor="middle" '
                    f'font-size="12"{weight}>{escape(word["text"].strip())}</text>'
                )
            parts.append("</g>")
        # the waveform: min and max of the samples under each pixel column
        y, h = places["wave"]
        samples = self.waveform[self._columns(SAMPLING_RATE, len(self.waveform))]
        columns = np.array_split(samples, min(plot_w, len(samples)))
        peak = max(float(np.abs(self.waveform).max()), 1e-6)
        mid = y + h / 2
        path = "".join(
            f"M{LEFT + n * plot_w / len(columns):.1f} {mid - c.max() / peak * h / 2:.1f}"
            f"V{mid - c.min() / peak * h / 2:.1f}"
            for n, c in enumerate(columns)
        )
        parts.append(f'<path d="{path}" stroke="#1c7ed6" stroke-width="1" fill="none"/>')
        parts.append(f'<text x="0" y="{mid + 4:.0f}">waveform</text>')
        if "words" in places:
            parts.append(f'<text x="0" y="{places["words"][0] + 16}">words</text>')
        # the log-mel spectrogram, low frequencies at the bottom
        y, h = places["mel"]
        mel = self.log_mel[:, self._columns(100, self.log_mel.shape[1])][::-1]  # (mel bands, frames), flipped
        parts.append(
            f'<image x="{LEFT}" y="{y}" width="{plot_w}" height="{h}" preserveAspectRatio="none" '
            f'href="{_png_uri(_colorize(mel, SPECTROGRAM_COLORMAP))}"/>'
            f'<text x="0" y="{y + h / 2 - 4:.0f}">log-mel</text>'
            f'<text x="0" y="{y + h / 2 + 10:.0f}" fill="#777">{self.log_mel.shape[0]} bands</text>'
        )
        if "align" in places:
            parts.append(self._alignment_svg(*places["align"]))
        # the words' boundaries over the spectrogram and the alignment; the highlighted word outlined in red
        mel_top, bottom = places["mel"][0], places["axis"][0] - 6
        for i, word, x0, x1 in self._word_spans():
            parts.append(
                f'<path d="M{x0:.1f} {mel_top}V{bottom}M{x1:.1f} {mel_top}V{bottom}" stroke="#fff" '
                'stroke-opacity="0.7" stroke-dasharray="3 3"/>'
            )
            if i == self.word:
                parts.append(
                    f'<rect class="highlight" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" height="{bottom - TOP}" '
                    f'fill="none" stroke="{HIGHLIGHT}" stroke-width="2"/>'
                )
        # the time axis
        y = places["axis"][0]
        parts.append(f'<path d="M{LEFT} {y}H{WIDTH - RIGHT}" stroke="#888"/>')
        for t in _ticks(start, end):
            x = self._x(t)
            parts.append(
                f'<path d="M{x:.1f} {y}v4" stroke="#888"/><text x="{x:.1f}" y="{y + 16}" text-anchor="middle">'
                f"{t:g} s</text>"
            )
        parts.append("</svg>")
        return "".join(parts)

    def _alignment_svg(self, y: int, h: int) -> str:
        """The alignment heads' attention, a row per token, and the warping path through it."""
        plot_w = WIDTH - LEFT - RIGHT
        cols = self._columns(50, self.alignment.shape[1])  # 50 encoder frames per second
        image = _colorize(self.alignment[:, cols], ALIGNMENT_COLORMAP)
        parts = [
            f'<image x="{LEFT}" y="{y}" width="{plot_w}" height="{h}" preserveAspectRatio="none" '
            f'href="{_png_uri(image)}"/>'
        ]
        for row, token in enumerate(self.alignment_tokens):
            parts.append(
                f'<text x="{LEFT - 4}" y="{y + row * ROW_H + ROW_H - 3}" text-anchor="end" font-size="10">'
                f"{escape(repr(token)[1:-1])}</text>"
            )
        token_path, frame_path = alignment_path(self.alignment)
        points = " ".join(
            f"{self._x((f + 0.5) / 50):.1f},{y + (t + 0.5) * ROW_H:.1f}"
            for t, f in zip(token_path, frame_path)
            if cols.start <= f < cols.stop
        )
        if points:
            parts.append(f'<polyline points="{points}" fill="none" stroke="{PATH_COLOR}" stroke-width="1.5"/>')
        parts.append(f'<text x="0" y="{y - 2}" font-size="10" fill="#777">alignment</text>')
        return "".join(parts)

    def _audio_html(self) -> str:
        return (
            f'<div class="wbaudio"><style>{_CSS}</style><audio controls src="{_wav_uri(self.waveform)}"></audio></div>'
        )

    def _render(self) -> None:
        notes = []
        if self.alignment is not None:
            notes.append(
                "Words and times: the automatic-speech-recognition pipeline (return_timestamps='word'). Alignment: the "
                f"cross-attention of the {len(self.alignment_heads)} alignment heads (darker: more attention), a row "
                "per token, and the warping path (orange) that the word times follow."
            )
        elif not self.words:
            notes.append("Pass model='openai/whisper-tiny.en' to transcribe the recording and see where each word is.")
        self._notes = notes
        transcript = f'<div class="transcript">“{escape(self.text.strip())}”</div>' if self.text else ""
        note_html = "".join(f'<div class="note">{escape(n)}</div>' for n in notes)
        self._out.value = f'<div class="wbaudio"><style>{_CSS}</style>{transcript}{self._svg()}{note_html}</div>'

    # ----- export -----
    def to_svg(self) -> str:
        """A static SVG image of the current view (standalone, with its namespace)."""
        svg = self._svg(xmlns=True)
        return svg.replace("<svg ", '<svg font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" ', 1)

    def to_html(self, title: str | None = None) -> str:
        """A standalone HTML page of the current view, with the audio player: open it in any browser, offline."""
        title = title or ("Audio · " + (self.text.strip() or f"{self.duration:.2f} s"))
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{escape(title)}</title><style>body{{margin:16px;background:#fff}}</style></head><body>"
            f"{self._audio_w.value}{self._out.value}</body></html>\n"
        )

    def save_html(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.to_html(), encoding="utf-8")

    def to_png(self, dpi: int = 80) -> bytes:
        """A static PNG image of the current view, drawn with matplotlib at the SVG's places."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        places = self._layout()
        height = places["axis"][0] + AXIS_H
        ppi = 100  # the SVG's pixels per inch of the figure: fonts in points are pixels * 72 / ppi
        fig = Figure(figsize=(WIDTH / ppi, height / ppi))
        start, end = self.window
        font = 11 * 72 / ppi
        fig.text(0, 1 - 16 / height, self._title(), fontsize=13 * 72 / ppi, fontweight="bold")
        labels = {"wave": "waveform", "words": "words", "mel": "log-mel", "align": "alignment"}
        panels = {}
        for name, (y, h) in places.items():
            if name == "axis":
                continue
            ax = fig.add_axes((LEFT / WIDTH, 1 - (y + h) / height, (WIDTH - LEFT - RIGHT) / WIDTH, h / height))
            ax.set_xlim(start, end)
            ax.set_xticks([])
            ax.set_yticks([])
            if name != "align":  # the alignment keeps its axes for the token labels
                ax.set_axis_off()
            fig.text(0, 1 - (y + min(h, 30) / 2 + 4) / height, labels[name], fontsize=font)
            panels[name] = ax

        cols = self._columns(SAMPLING_RATE, len(self.waveform))
        times = np.arange(cols.start, cols.stop) / SAMPLING_RATE
        panels["wave"].plot(times, self.waveform[cols], color="#1c7ed6", linewidth=0.5)
        mel = self.log_mel[:, self._columns(100, self.log_mel.shape[1])]  # (mel bands, frames in the window)
        panels["mel"].imshow(mel, origin="lower", aspect="auto", cmap=SPECTROGRAM_COLORMAP, extent=(start, end, 0, 1))
        if "align" in panels:
            ax, n = panels["align"], len(self.alignment_tokens)
            ax.imshow(
                self.alignment, aspect="auto", cmap=ALIGNMENT_COLORMAP, extent=(0, self.alignment.shape[1] / 50, n, 0)
            )
            token_path, frame_path = alignment_path(self.alignment)
            ax.plot((frame_path + 0.5) / 50, token_path + 0.5, color=PATH_COLOR, linewidth=1.2)
            ax.set_xlim(start, end)
            ax.set_yticks(np.arange(n) + 0.5, [repr(t)[1:-1] for t in self.alignment_tokens], fontsize=font * 0.9)
            ax.tick_params(length=0)
        for i, word in self._visible_words():
            left, right = word["timestamp"]
            for name in ("wave", "words"):
                if name in panels:
                    panels[name].axvspan(left, right, color=WORD_COLORS[i % 2], alpha=0.35, zorder=0)
            if "words" in panels:
                weight = "bold" if i == self.word else "normal"
                middle = (max(start, left) + min(end, right)) / 2
                panels["words"].text(middle, 0.5, word["text"].strip(), ha="center", va="center", fontsize=font,
                                     fontweight=weight)  # fmt: skip
            for name in ("mel", "align"):
                if name in panels:
                    for x in (left, right):
                        panels[name].axvline(x, color="white", alpha=0.7, linestyle=(0, (3, 3)), linewidth=1)
            if i == self.word:  # outlined in red across every panel
                top, bottom = 1 - TOP / height, 1 - (places["axis"][0] - 6) / height
                x0, x1 = ((LEFT + (t - start) / (end - start) * (WIDTH - LEFT - RIGHT)) / WIDTH for t in (left, right))
                x0, x1 = max(x0, LEFT / WIDTH), min(x1, 1 - RIGHT / WIDTH)
                outline = Rectangle((x0, bottom), x1 - x0, top - bottom, fill=False, edgecolor=HIGHLIGHT, linewidth=1.5)
                fig.add_artist(outline)
        axis = fig.add_axes((LEFT / WIDTH, 1 - places["axis"][0] / height, (WIDTH - LEFT - RIGHT) / WIDTH, 1e-6))
        axis.set_xlim(start, end)
        axis.set_yticks([])
        axis.set_xticks(_ticks(start, end), [f"{t:g} s" for t in _ticks(start, end)], fontsize=font)
        buffer = io.BytesIO()
        FigureCanvasAgg(fig)
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        return buffer.getvalue()

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus a static PNG of the current view for pages without widgets."""
        bundle = super()._repr_mimebundle_(**kwargs)
        data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
        data = dict(data or {})
        try:
            data["image/png"] = base64.b64encode(self.to_png()).decode("ascii")
        except Exception:  # never let the snapshot break the display of the widget
            pass
        return data, metadata

    def __repr__(self) -> str:
        words = f", {len(self.words)} words" if self.words else ""
        return f"AudioExplorer({self.duration:.2f} s at 16 kHz{words}, window={self.window})"
