"""The demo tabs: what each one computes, and which models it offers. Plain Python, no Gradio.

The app has a tab per text task: classification, NER (entities highlighted), question answering (the
answer highlighted in its context), fill-mask, text generation (tokens stream in), summarization /
translation, zero-shot classification, embeddings similarity, and attention (a PNG image: gr.HTML runs no
scripts). Each tab has a model dropdown fed by the checkpoints on this machine (packaged checkpoints, the
Hugging Face cache, folders given with ``--model``) and is a named API endpoint (``/classify``, ``/ner``,
``/qa``, ``/fill_mask``, ``/generate``, ``/text2text``, ``/zero_shot``, ``/similarity``, ``/attention``)
that ``gradio_client`` can call. Offline, only all-MiniLM-L6-v2 ships with real weights (similarity and
attention); a tab without a model says so and how to get one.

A task function takes a pipeline and the tab's inputs and returns JSON-able values (or a PIL image); bad
input raises ``DemoInputError`` with a message for the user. ``TABS`` lists the tabs with their function,
inputs and outputs; ``app.py`` turns each into Gradio components.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ..checkpoints import find_checkpoints

MAX_CHARS = 2000  # per text box (the QA context may be 4x longer)
MAX_NEW_TOKENS = 128
MAX_SENTENCES = 32
MAX_LABELS = 16


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

    if config.get("model_type") not in MODEL_TYPES:
        return False
    if task == "feature-extraction":
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
    example = {"text-generation": "./my-gpt2", "summarization": "./my-t5"}.get(tab.key, "./my-checkpoint")
    return (
        f"**No model for the {tab.key} tab on this machine.** Start the demo with a local "
        f"checkpoint folder (config.json + weights + tokenizer files): `workbench demo --model {tab.key}="
        f"{example}`, or put a Hub checkpoint in the local cache while online with `workbench fetch ORG/NAME` "
        f"and pass `--model {tab.key}=ORG/NAME`."
    )


class TabModels:
    """Per tab: the checkpoints it may load (the dropdown's choices, nothing else), and loaded pipelines."""

    def __init__(self, models: dict[str, str] | None = None, fixed: dict[str, Any] | None = None):
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
                    self._pipes[cache_key] = self.fixed[key]
                else:
                    from ..pipelines import pipeline

                    self._pipes[cache_key] = pipeline(tab.task, model=name)
                self._locks[cache_key] = threading.Lock()
            return self._pipes[cache_key], self._locks[cache_key]
