"""The pipeline engine shared by every task: inputs -> pre-process -> batched model -> post-process.

A task pipeline defines four small methods, as in Hugging Face Transformers:

- ``_sanitize_parameters(**kwargs)`` splits call-time options into (pre-process, forward, post-process) ones;
- ``preprocess(item, **options)`` turns one input into a list of *chunks* (a long context split with a
  stride gives several), each a dict holding the model's inputs (token ids as lists, pixel values or audio
  features as arrays) plus any bookkeeping;
- ``forward_outputs(model_output)`` picks the tensors post-processing needs;
- ``postprocess(chunks, **options)`` turns one input's chunks (with their outputs) into the answer.

The engine in between is what makes batching fast (``Pipeline._run``):

1. every input of a list is pre-processed (tokenized, or turned into pixels or audio features) up front;
2. the chunks are sorted by length, longest first, and cut into batches of ``batch_size`` (``_batches``; the
   generation pipelines batch only where that gives the answers of one input at a time);
3. each batch is padded only to its own longest row (dynamic padding), so short sentences are never
   padded to the length of the longest one in the data set; inputs of equal shape (images) are stacked;
4. model outputs are split back into rows with the padding cut off, and regrouped in input order.

Lists (and other sized sequences such as a ``datasets`` column) give a list of answers; a generator
gives a generator, processed in windows of ``16 * batch_size`` inputs so that memory stays bounded; a
``torch.utils.data.Dataset`` (such as ``pt_utils.KeyDataset``) gives an iterator too, one that knows its length.
A progress bar (``tqdm``) appears on long inputs, or on request with ``progress_bar=True``.

Tasks on images build on :class:`ImagePipeline`: the whole list goes through the image processor in one call
(it opens and resizes the images in parallel threads), each image is one chunk holding its pixels, and images of
one size are stacked into a batch.

Tasks on audio build on :class:`AudioPipeline`: each recording is read and resampled to the feature extractor's
rate (``processing.audio_utils.load_audio``), then cut into chunks by the task; a batch holds at most
``MAX_BATCH_SECONDS`` of audio unless ``batch_size`` says otherwise.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import PIL.Image
import PIL.ImageOps
import torch
from torch.utils.data import Dataset

from ..processing.audio_utils import load_audio
from ..processing.image_utils import is_single_image, load_image

# Inputs of at least this many chunks show a progress bar (unless progress_bar=False).
PROGRESS_BAR_MIN_CHUNKS = 512
# The batch size used when neither pipeline(..., batch_size=) nor the call names one. Sorting by length
# makes batching safe (rows of a batch have nearly the same length), so it is on by default.
DEFAULT_BATCH_SIZE = 32
# Pad values of the tokenizer's columns; other columns are padded with the feature extractor's padding value, or 0.
_PAD_VALUES = {"attention_mask": 0, "special_tokens_mask": 1}
EXIF_ORIENTATION = 0x0112  # the EXIF tag that says how a photo is turned

_MISSING = object()


class Pipeline:
    """Base class of the task pipelines. Build one with :func:`workbench.pipelines.pipeline`."""

    task: str = ""
    # Output keys whose second dimension is the sequence (cut back to each row's length after batching).
    token_outputs: tuple[str, ...] = ()

    def __init__(
        self,
        model,
        tokenizer=None,
        *,
        image_processor=None,
        feature_extractor=None,
        processor=None,
        task: str | None = None,
        device=None,
        batch_size: int | None = None,
        progress_bar: bool | None = None,
        **kwargs: Any,
    ):
        self.model = model.eval() if hasattr(model, "eval") else model
        # What prepares the inputs: a tokenizer (text), an image processor, an audio feature extractor, or a
        # processor combining them (whose parts fill in the ones not given).
        self.processor = processor
        self.tokenizer = tokenizer if tokenizer is not None else getattr(processor, "tokenizer", None)
        self.image_processor = (
            image_processor if image_processor is not None else getattr(processor, "image_processor", None)
        )
        self.feature_extractor = (
            feature_extractor if feature_extractor is not None else getattr(processor, "feature_extractor", None)
        )
        self.task = task or self.task
        self.device = _device_of(model) if device is None else torch.device(device)
        self.batch_size = batch_size
        self.progress_bar = progress_bar
        self._check_model()
        self._preprocess_params, self._forward_params, self._postprocess_params = self._sanitize_parameters(**kwargs)

    # ---- what a task defines ---------------------------------------------------------------------

    def _check_model(self) -> None:
        """Raise if the model's head does not fit the task (checked once, when the pipeline is built)."""

    def _sanitize_parameters(self, **kwargs: Any) -> tuple[dict, dict, dict]:
        if kwargs:
            raise TypeError(f"The {self.task} pipeline got unexpected argument(s): {', '.join(sorted(kwargs))}.")
        return {}, {}, {}

    def _is_single(self, inputs: Any) -> bool:
        """True when ``inputs`` is one input (a string) rather than a collection of them."""
        return isinstance(inputs, str)

    def _check_input(self, item: Any) -> Any:
        """Validate (and normalise) one input; raise TypeError / ValueError with a clear message."""
        if not isinstance(item, str):
            raise TypeError(
                f"The {self.task} pipeline takes a string, a list of strings, a generator of strings or a "
                f"datasets column; got an item of type {type(item).__name__}."
            )
        if not item.strip():
            raise ValueError(f"The {self.task} pipeline got an empty string; pass some text.")
        return item

    def preprocess(self, item: Any, **params: Any) -> list[dict[str, Any]]:
        raise NotImplementedError

    def preprocess_many(self, items: list[Any], **params: Any) -> list[list[dict[str, Any]]]:
        """Pre-process a list of inputs (tasks whose inputs tokenize in one call override this for speed)."""
        return [self.preprocess(item, **params) for item in items]

    def forward_outputs(self, output: Any, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"logits": output["logits"]}

    def postprocess(self, chunks: list[dict[str, Any]], **params: Any) -> Any:
        raise NotImplementedError

    def _wrap_single(self, result: Any, inputs: Any, call_kwargs: dict) -> Any:
        """The answer for a single input (some tasks wrap it in a list, as the reference does)."""
        return result

    # ---- calling ----------------------------------------------------------------------------------

    def __call__(
        self,
        inputs: Any = _MISSING,
        *args: Any,
        batch_size: int | None = None,
        num_workers: int | None = None,
        progress_bar: bool | None = None,
        **kwargs: Any,
    ):
        if inputs is _MISSING:
            raise TypeError(f"The {self.task} pipeline needs an input: pipe('some text') or pipe(['a', 'b']).")
        if args:
            raise TypeError(f"The {self.task} pipeline got unexpected positional arguments {args!r}.")
        call_kwargs = dict(kwargs)
        pre, fwd, post = self._params(kwargs)
        batch_size = batch_size or self.batch_size  # None: the task's default (see _batches)
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        progress_bar = self.progress_bar if progress_bar is None else progress_bar

        if self._is_single(inputs):
            result = self._run([self._check_input(inputs)], pre, fwd, post, batch_size, False)[0]
            return self._wrap_single(result, inputs, call_kwargs)
        if _is_hf_dataset(inputs):
            raise TypeError(
                "Pass one column of the data set, not the whole datasets.Dataset: pipe(dataset['text']) "
                "(or a generator: pipe(row['text'] for row in dataset))."
            )
        if isinstance(inputs, Dataset) and hasattr(inputs, "__len__"):
            items = (inputs[i] for i in range(len(inputs)))  # streamed, as the reference streams data sets
            return _SizedIterator(self._run_stream(items, pre, fwd, post, batch_size, progress_bar), len(inputs))
        if isinstance(inputs, (list, tuple)) or (
            hasattr(inputs, "__len__") and hasattr(inputs, "__getitem__") and not isinstance(inputs, (dict, bytes))
        ):
            items = [inputs[i] for i in range(len(inputs))]
            if not items:
                raise ValueError(f"The {self.task} pipeline got an empty list; pass at least one input.")
            items = [self._check_input(item) for item in items]
            _draw_a_loader_seed()
            return self._run(items, pre, fwd, post, batch_size, progress_bar)
        if isinstance(inputs, Iterable) and not isinstance(inputs, (dict, bytes)):
            return self._run_stream(iter(inputs), pre, fwd, post, batch_size, progress_bar)
        return self._check_input(inputs)  # raises the task's clear TypeError

    def _params(self, kwargs: dict) -> tuple[dict, dict, dict]:
        pre, fwd, post = self._sanitize_parameters(**kwargs)
        return (
            {**self._preprocess_params, **pre},
            {**self._forward_params, **fwd},
            {**self._postprocess_params, **post},
        )

    def _run_stream(self, iterator: Iterator, pre, fwd, post, batch_size, progress_bar) -> Iterator:
        window = 16 * (batch_size or DEFAULT_BATCH_SIZE)
        bar = _progress(None, progress_bar is True, self.task)
        _draw_a_loader_seed()
        while True:
            items = list(itertools.islice(iterator, window))
            if not items:
                break
            items = [self._check_input(item) for item in items]
            results = self._run(items, pre, fwd, post, batch_size, False)
            if bar is not None:
                bar.update(len(items))
            yield from results
        if bar is not None:
            bar.close()

    def _run(self, items: list, pre: dict, fwd: dict, post: dict, batch_size: int, progress_bar) -> list:
        chunks_per_item = self.preprocess_many(items, **pre)
        flat = [chunk for chunks in chunks_per_item for chunk in chunks]
        show = progress_bar if progress_bar is not None else len(flat) >= PROGRESS_BAR_MIN_CHUNKS
        bar = _progress(len(flat), show, self.task)
        with torch.inference_mode():
            for batch in self._batches([self._length(chunk) for chunk in flat], batch_size, fwd):
                rows = [flat[k] for k in batch]
                outputs = self._forward_batch(rows, fwd)
                for chunk, output in zip(rows, outputs):
                    chunk.update(output)
                if bar is not None:
                    bar.update(len(rows))
        if bar is not None:
            bar.close()
        return [self.postprocess(chunks, **post) for chunks in chunks_per_item]

    # ---- batching ---------------------------------------------------------------------------------

    def _batches(self, lengths: list[int], batch_size: int | None, fwd: dict) -> list[list[int]]:
        """Which chunks go through the model together, as lists of indices into ``lengths`` (the chunks' lengths):
        longest first (a too-long input fails early), ``batch_size`` at a time (default ``DEFAULT_BATCH_SIZE``)."""
        order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
        size = batch_size or DEFAULT_BATCH_SIZE
        return [order[start : start + size] for start in range(0, len(order), size)]

    def _model_input_names(self) -> list[str]:
        """The inputs the model takes, as the input preparers name them (``input_ids``, ``pixel_values``, ...)."""
        names = []
        for preparer in (self.tokenizer, self.image_processor, self.feature_extractor):
            if preparer is not None:
                names += [n for n in getattr(preparer, "model_input_names", ()) if n not in names]
        if self.tokenizer is not None and "input_ids" not in names:
            names.insert(0, "input_ids")
        return names or ["input_ids", "attention_mask"]

    def _length(self, chunk: dict) -> int:
        """A chunk's length: what batches are sorted by, and what token outputs are cut back to."""
        return len(chunk["input_ids"])

    def _pad_value(self, name: str):
        if name == "input_ids":
            pad_id = getattr(self.tokenizer, "pad_token_id", None)
            if pad_id is None:  # masked out anyway: any id will do (GPT-2 has no pad token)
                pad_id = getattr(self.tokenizer, "eos_token_id", None)
            return 0 if pad_id is None else pad_id
        if name == "token_type_ids":
            return getattr(self.tokenizer, "pad_token_type_id", 0)
        if name in _PAD_VALUES:
            return _PAD_VALUES[name]
        return getattr(self.feature_extractor, "padding_value", 0.0)

    def _padding_side(self) -> str:
        """The side a batch's rows are padded on: the tokenizer's (audio pipelines: the feature extractor's)."""
        return getattr(self.tokenizer, "padding_side", "right")

    def _collate(self, rows: list[dict]) -> tuple[dict[str, torch.Tensor], list[int], bool]:
        """Batch the rows' model inputs: (tensors, lengths, left-padded?).

        Inputs of one shape in every row (images) are stacked; others (token ids, audio) are padded along
        their first axis to the longest row of this batch, on the tokenizer's padding side.
        """
        lengths = [self._length(row) for row in rows]
        left = self._padding_side() == "left"
        batch = {}
        for name in self._model_input_names():
            if name in rows[0]:
                batch[name] = _pad_and_stack([row[name] for row in rows], self._pad_value(name), left)
        if "attention_mask" not in batch and "input_ids" in batch and len(set(lengths)) > 1:
            longest = max(lengths)
            mask = [[0] * (longest - n) + [1] * n if left else [1] * n + [0] * (longest - n) for n in lengths]
            batch["attention_mask"] = torch.tensor(mask, dtype=torch.long)
        model_dtype = getattr(self.model, "dtype", None)
        for name, value in batch.items():
            cast = model_dtype if value.is_floating_point() and isinstance(model_dtype, torch.dtype) else None
            batch[name] = value.to(device=self.device, dtype=cast)  # pixels and audio in the model's dtype
        return batch, lengths, left

    def _forward_batch(self, rows: list[dict], fwd: dict) -> list[dict[str, Any]]:
        batch, lengths, left = self._collate(rows)
        output = self._model_forward(batch, **fwd)
        outputs = {key: _to_cpu(value) for key, value in self.forward_outputs(output, batch).items()}
        split = []
        for i, n in enumerate(lengths):
            row = {}
            for key, value in outputs.items():
                value = value[i]
                if key in self.token_outputs:
                    value = value[-n:] if left else value[:n]
                row[key] = value
            split.append(row)
        return split

    def _model_forward(self, batch: dict[str, torch.Tensor], **fwd: Any):
        try:
            return self.model(**batch, **fwd)
        except ValueError as e:
            if "position embeddings" in str(e) or "Truncate" in str(e):
                raise ValueError(
                    f"{e} In a pipeline, pass truncation=True to cut long inputs, e.g. pipe(texts, truncation=True)."
                ) from e
            raise

    def __repr__(self) -> str:
        name = getattr(getattr(self.model, "config", None), "_name_or_path", "") or type(self.model).__name__
        return f"{type(self).__name__}(task={self.task!r}, model={name!r}, device={str(self.device)!r})"

    def save_pretrained(self, save_directory) -> None:
        """Save the model and what prepares its inputs (tokenizer, image processor, ...) into one folder
        (``pipeline(task, model=that_folder)`` reloads it)."""
        self.model.save_pretrained(save_directory)
        if self.processor is not None:
            self.processor.save_pretrained(save_directory)
            return
        for preparer in (self.tokenizer, self.image_processor, self.feature_extractor):
            if preparer is not None:
                preparer.save_pretrained(save_directory)


class ImagePipeline(Pipeline):
    """Base class of the pipelines whose input is an image: a path, an ``http(s)://`` URL, a PIL image, a numpy
    array or torch tensor, or a value of a ``datasets`` Image column; or a list, a generator or a column of them.

    ``preprocess_many`` gives the whole list to the image processor in one call (it opens, converts and resizes
    the images in parallel threads, see ``processing.image_processing``); each image becomes one chunk holding its
    ``pixel_values`` (channels, height, width). Images of one size are stacked into a batch; a batch that mixes
    sizes (a processor without a fixed output size) runs one forward pass per size.
    """

    def __call__(self, inputs: Any = _MISSING, *args: Any, images: Any = _MISSING, **kwargs: Any):
        if images is not _MISSING:  # the reference's keyword: pipe(images=...)
            if inputs is not _MISSING:
                raise TypeError(f"The {self.task} pipeline got its images twice: as an argument and as images=.")
            inputs = images
        if inputs is _MISSING:
            raise TypeError(
                f"The {self.task} pipeline needs an image: pipe('photo.jpg'), pipe(pil_image) or a list of them."
            )
        return super().__call__(inputs, *args, **kwargs)

    def _is_single(self, inputs: Any) -> bool:
        return is_single_image(inputs)

    def _check_input(self, item: Any) -> Any:
        if isinstance(item, str) and not item.strip():
            raise ValueError(f"The {self.task} pipeline got an empty string; pass an image's path or URL.")
        if not is_single_image(item):
            kind = f"an array of shape {tuple(item.shape)}" if hasattr(item, "shape") else type(item).__name__
            raise TypeError(
                f"The {self.task} pipeline takes images: a path or URL, a PIL image, a numpy array or torch tensor "
                f"(height, width[, channels]) or (channels, height, width), a datasets Image value, or a list of "
                f"them; got {kind}."
            )
        return item

    def preprocess_many(self, items: list, timeout: float | None = None, **image_processor_kwargs: Any) -> list:
        if self.image_processor is None:
            raise ValueError(
                f"The {self.task} pipeline has no image processor; build it with pipeline({self.task!r}, model=..., "
                "image_processor=...) (an image processor object, a Hub id or a local folder)."
            )
        if timeout is not None:  # the processor would download with its default timeout
            items = [
                load_image(x, timeout) if isinstance(x, str) and x.startswith(("http://", "https://")) else x
                for x in items
            ]
        items = [_upright(item) for item in items]
        pixel_values = self.image_processor(items, return_tensors=None, **image_processor_kwargs)["pixel_values"]
        return [[{"pixel_values": pixels}] for pixels in pixel_values]  # pixels: (channels, height, width)

    def _length(self, chunk: dict) -> int:
        """An image's size in pixels: batches are sorted by it, so images of one size are neighbours."""
        return chunk["pixel_values"].shape[-2] * chunk["pixel_values"].shape[-1]

    def _forward_batch(self, rows: list[dict], fwd: dict) -> list[dict[str, Any]]:
        shapes = [row["pixel_values"].shape for row in rows]
        outputs: list = [None] * len(rows)
        for shape in dict.fromkeys(shapes):  # usually one
            same = [i for i, other in enumerate(shapes) if other == shape]
            for i, output in zip(same, super()._forward_batch([rows[i] for i in same], fwd)):
                outputs[i] = output
        for row in rows:  # the pixels are not needed after the forward pass
            del row["pixel_values"]
        return outputs


def _upright(image: Any) -> Any:
    """A PIL image turned by its EXIF orientation, as the reference pipelines turn every image they are given (files
    are turned when they are opened; a PIL image opened by the user, or a datasets value, may still carry the tag)."""
    if isinstance(image, PIL.Image.Image) and image.getexif().get(EXIF_ORIENTATION, 1) != 1:
        return PIL.ImageOps.exif_transpose(image)
    return image


# An audio batch holds at most this many seconds of audio (its longest chunk times its rows) unless batch_size is
# given: 32 Whisper windows of 30 s would be 16 minutes of audio in one forward pass.
MAX_BATCH_SECONDS = 240
# Models that read the raw waveform (Wav2Vec2, HuBERT, data2vec-audio) attend over all of a recording's frames at
# once (50 a second): memory grows with the square of its length. Longer recordings must be chunked or cut.
MAX_UNCHUNKED_SECONDS = 60


class AudioPipeline(Pipeline):
    """Base class of the pipelines whose input is a recording: a file's path or ``http(s)://`` URL, the bytes or an
    open file of a WAV, FLAC, OGG or MP3 file, a numpy array or torch tensor of samples, ``{"array" (or "raw"):
    samples, "sampling_rate": rate}``, a value of a ``datasets`` Audio column; or a list, a generator or a column
    of them.

    ``waveform`` decodes a recording, mixes it down to mono and resamples it to the feature extractor's rate
    (``processing.audio_utils.load_audio``). A bare array or tensor says nothing about its rate: it is taken as
    already at the model's rate, as the reference takes it; give its rate to have it resampled, as
    ``{"array": samples, "sampling_rate": 8000}`` or with the call option ``sampling_rate=8000``. A 2-d array is
    refused (stereo, or a batch? a batch is a list of 1-d arrays); files and dicts with several channels are mixed
    down. Empty recordings and NaN samples are refused with a clear error.

    Batches: chunks are sorted by length, longest first, and a batch holds at most ``MAX_BATCH_SECONDS`` of audio
    (or ``batch_size`` chunks when that is given). A raw-waveform model hears the zeros that pad a batch unless it
    takes an attention mask and normalizes each frame on its own (``feat_extract_norm="layer"``; a group norm spans
    the whole clip): such a model's chunks share a batch only with chunks of their length, so that batching never
    changes an answer.
    """

    def _check_model(self) -> None:
        if self.feature_extractor is None:
            raise ValueError(
                f"The {self.task} pipeline needs the model's feature extractor (its preprocessor_config.json); pass "
                f"feature_extractor=... (a feature extractor object, a Hub id or a local folder)."
            )

    def _is_single(self, inputs: Any) -> bool:
        return is_audio(inputs)

    def _check_input(self, item: Any) -> Any:
        if isinstance(item, (str, os.PathLike)) and not os.fspath(item).strip():
            raise ValueError(f"The {self.task} pipeline got an empty string; pass an audio file's path or URL.")
        if not is_audio(item):
            hint = (
                " A list of numbers is read as a list of inputs: pass one recording as a numpy array."
                if isinstance(item, (int, float))
                else ""
            )
            raise TypeError(
                f"The {self.task} pipeline takes audio: a file's path or URL, its bytes, a numpy array or torch tensor "
                "of samples, {'array': samples, 'sampling_rate': rate}, a datasets Audio value, or a list of them; "
                f"got an item of type {type(item).__name__}.{hint}"
            )
        return item

    def waveform(self, item: Any, sampling_rate: int | None = None) -> np.ndarray:
        """One recording -> its mono float32 samples at the feature extractor's rate. ``sampling_rate``: the rate
        of a bare array or tensor (or of a dict's samples that name none)."""
        bare = isinstance(item, np.ndarray) or torch.is_tensor(item)
        if bare and item.ndim != 1:
            raise ValueError(
                f"The {self.task} pipeline takes one channel of audio, a 1-d array; got shape {tuple(item.shape)}. "
                "For a batch pass a list of 1-d arrays; mix a multi-channel recording down first "
                "(processing.audio_utils.to_mono), or pass {'array': samples, 'sampling_rate': rate}."
            )
        if sampling_rate is not None and bare:
            item = {"array": item, "sampling_rate": sampling_rate}
        elif sampling_rate is not None and isinstance(item, dict) and ("array" in item or "raw" in item):
            if item.get("sampling_rate") is None:
                item = {**item, "sampling_rate": sampling_rate}
            elif item["sampling_rate"] != sampling_rate:
                raise ValueError(
                    f"The audio says sampling_rate={item['sampling_rate']} but the call says sampling_rate="
                    f"{sampling_rate}; give one of them."
                )
        samples = load_audio(item, sampling_rate=self.feature_extractor.sampling_rate)
        if samples.size == 0:
            raise ValueError(f"The {self.task} pipeline got empty audio (0 samples): there is nothing to hear.")
        return samples

    def _length(self, chunk: dict) -> int:
        """The samples a chunk's model input holds (a Whisper window: 30 s, however little of it is sound)."""
        return chunk["samples"]

    def _padding_side(self) -> str:
        return getattr(self.feature_extractor, "padding_side", "right")

    def _hears_padding(self) -> bool:
        """Whether zeros padding a row of a batch would change the model's answer for it (see the class docstring)."""
        if "input_values" not in self.feature_extractor.model_input_names:
            return False  # spectrogram models get fixed-size windows: nothing is padded
        masked = self.feature_extractor.return_attention_mask
        per_frame_norm = getattr(self.model.config, "feat_extract_norm", "layer") == "layer"
        return not (masked and per_frame_norm)

    def _batches(self, lengths: list[int], batch_size: int | None, fwd: dict) -> list[list[int]]:
        order = sorted(range(len(lengths)), key=lambda k: -lengths[k])
        budget = MAX_BATCH_SECONDS * self.feature_extractor.sampling_rate
        batches: list[list[int]] = []
        for k in order:
            batch = batches[-1] if batches else None
            fits = batch is not None and (
                len(batch) < batch_size if batch_size else (len(batch) + 1) * lengths[batch[0]] <= budget
            )
            if fits and self._hears_padding():
                fits = lengths[k] == lengths[batch[0]]
            if fits:
                batch.append(k)
            else:
                batches.append([k])
        return batches

    def check_unchunked_length(self, samples: int, fix: str) -> None:
        """Refuse a recording too long for a raw-waveform model in one pass (``MAX_UNCHUNKED_SECONDS``), saying
        ``fix``."""
        seconds = samples / self.feature_extractor.sampling_rate
        if "input_values" in self.feature_extractor.model_input_names and seconds > MAX_UNCHUNKED_SECONDS:
            raise ValueError(
                f"This recording is {seconds:.1f} s long: {type(self.model).__name__} would attend over all of its "
                f"{int(seconds * 50):,} frames at once, and memory grows with the square of that (the limit here is "
                f"{MAX_UNCHUNKED_SECONDS} s). {fix}"
            )


def is_audio(value: Any) -> bool:
    """Whether ``value`` is one recording in a form the audio pipelines read (not a list of them)."""
    return (
        isinstance(value, (str, os.PathLike, bytes, bytearray, dict, np.ndarray))
        or torch.is_tensor(value)
        or hasattr(value, "read")  # an open file
        or hasattr(value, "get_all_samples")  # torchcodec's AudioDecoder (datasets >= 4)
    )


def _draw_a_loader_seed() -> None:
    """Advance torch's random generator as the reference does for a list, a generator or a data set of inputs: it
    feeds them through a ``torch.utils.data.DataLoader``, whose iterator draws a base seed from the generator. With
    it, seeded sampling (text generation) gives the reference's answers, seed for seed."""
    torch.empty((), dtype=torch.int64).random_()


class _SizedIterator:
    """The answers for a data set, one at a time, with the data set's length (``tqdm`` shows the progress)."""

    def __init__(self, iterator: Iterator, length: int):
        self._iterator, self._length = iterator, length

    def __iter__(self) -> Iterator:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __len__(self) -> int:
        return self._length


def _pad_and_stack(values: list, pad_value, left: bool) -> torch.Tensor:
    """One model input of every row -> a (batch, ...) tensor, rows padded along their first axis to the longest."""
    tensors = [torch.as_tensor(v) for v in values]
    longest = max(t.shape[0] for t in tensors) if tensors[0].dim() else 0
    padded = []
    for t in tensors:
        missing = longest - t.shape[0] if t.dim() else 0
        if missing:
            fill = t.new_full((missing, *t.shape[1:]), pad_value)
            t = torch.cat([fill, t] if left else [t, fill])
        padded.append(t)
    stacked = torch.stack(padded)
    return stacked.long() if not stacked.is_floating_point() and stacked.dtype != torch.bool else stacked


def _device_of(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    return value


def _is_hf_dataset(inputs: Any) -> bool:
    cls = type(inputs)
    return cls.__module__.startswith("datasets") and cls.__name__ in ("Dataset", "IterableDataset", "DatasetDict")


def _progress(total: int | None, show: bool, task: str):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=task, unit="input" if total is None else "seq", leave=False)


def softmax(x, axis: int = -1):
    """The reference's numerically stable softmax over numpy arrays (same float32 arithmetic)."""
    import numpy as np

    maxes = np.max(x, axis=axis, keepdims=True)
    shifted = np.exp(x - maxes)
    return shifted / shifted.sum(axis=axis, keepdims=True)


def sigmoid(x):
    import numpy as np

    return 1.0 / (1.0 + np.exp(-x))


CLASSIFICATION_FUNCTIONS = ("softmax", "sigmoid", "none")


def classification_function(config, function_to_apply: Any = None) -> str:
    """What turns a classifier's logits into scores, chosen as the reference v4.37 chooses it: ``function_to_apply``
    when given (a name in any case, or the reference's ``ClassificationFunction``), else ``"sigmoid"`` for one label
    or a multi-label model, ``"softmax"`` for several labels, else the config's ``function_to_apply``, else none."""
    if function_to_apply is not None:
        name = str(getattr(function_to_apply, "value", function_to_apply)).lower()
        if name not in CLASSIFICATION_FUNCTIONS:
            raise ValueError(
                f"function_to_apply={function_to_apply!r} is not one of {', '.join(CLASSIFICATION_FUNCTIONS)}."
            )
        return name
    problem_type = getattr(config, "problem_type", None)
    if problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    if problem_type == "single_label_classification" or config.num_labels > 1:
        return "softmax"
    return classification_function(config, getattr(config, "function_to_apply", None) or "none")


def classification_scores(logits, function: str):
    """A classifier's scores from its (float32 numpy) logits with ``function`` (see ``classification_function``)."""
    if function == "sigmoid":
        return sigmoid(logits)
    if function == "softmax":
        return softmax(logits)
    return logits
