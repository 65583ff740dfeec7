"""Gradio demos: one app with a tab per task, or one Interface for any pipeline.

    from workbench.demos import build_app, build_demo
    from workbench.pipelines import pipeline

    build_demo(pipeline("feature-extraction")).launch()     # one pipeline, one Interface
    build_app({"text-generation": "path/to/tiny-gpt"}).launch(server_name="127.0.0.1")

    workbench demo [--port N] [--model TASK=ID_OR_PATH ...] [--share]     # the same, from a shell
    python -m workbench.demos ...                                         # the same again

The app has a tab per text task: classification, NER (entities highlighted), question answering (the
answer highlighted in its context), fill-mask, text generation (tokens stream in), summarization /
translation, zero-shot classification, embeddings similarity, and attention (a PNG image: gr.HTML runs no
scripts). Each tab has a model dropdown fed by the model picker's catalogue (packaged checkpoints, the
Hugging Face cache, folders given with ``--model``) and is a named API endpoint (``/classify``, ``/ner``,
``/qa``, ``/fill_mask``, ``/generate``, ``/text2text``, ``/zero_shot``, ``/similarity``, ``/attention``)
that ``gradio_client`` can call. Offline, only all-MiniLM-L6-v2 ships with real weights (similarity and
attention); a tab without a model says so and how to get one.

Safe defaults: nothing launches at import; ``launch_app`` binds 127.0.0.1 and keeps share off unless asked;
the queue is on with ``CONCURRENCY_LIMIT`` workers per endpoint; inputs longer than ``MAX_CHARS`` are refused
with a message; no extra files are served (``allowed_paths`` empty; gradio's own temporary folder is a
private one, ``GRADIO_TEMP_DIR``, created per process unless already set); a model dropdown only accepts
the checkpoints it lists, so an API caller cannot make the server load an arbitrary path.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator

__all__ = ["build_demo", "build_app", "launch_app", "available_models", "TABS", "MAX_CHARS", "MAX_NEW_TOKENS",
           "CONCURRENCY_LIMIT", "QUEUE_SIZE", "DemoInputError"]

MAX_CHARS = 2000  # per text box (the QA context may be 4x longer)
MAX_NEW_TOKENS = 128
MAX_SENTENCES = 32
MAX_LABELS = 16
CONCURRENCY_LIMIT = 2  # workers per endpoint (CPU-bound models; 2 cores in a classroom)
QUEUE_SIZE = 256  # requests waiting at most, across the app; more get "queue full"


@dataclass(frozen=True)
class Tab:
    key: str  # the --model TASK key
    title: str
    task: str  # the pipeline task whose checkpoints the dropdown lists
    api_name: str


TABS: tuple[Tab, ...] = (
    Tab("text-classification", "Classify", "text-classification", "classify"),
    Tab("token-classification", "NER", "token-classification", "ner"),
    Tab("question-answering", "QA", "question-answering", "qa"),
    Tab("fill-mask", "Fill-mask", "fill-mask", "fill_mask"),
    Tab("text-generation", "Generate", "text-generation", "generate"),
    Tab("summarization", "Summarize", "summarization", "text2text"),
    Tab("zero-shot-classification", "Zero-shot", "zero-shot-classification", "zero_shot"),
    Tab("feature-extraction", "Similarity", "feature-extraction", "similarity"),
    Tab("attention", "Attention", "feature-extraction", "attention"),
)
_TAB_BY_KEY = {t.key: t for t in TABS}
_KEY_ALIASES = {"sentiment-analysis": "text-classification", "ner": "token-classification", "qa": "question-answering",
                "translation": "summarization", "text2text-generation": "summarization",
                "embeddings": "feature-extraction", "similarity": "feature-extraction",
                "zero-shot": "zero-shot-classification"}


class DemoInputError(ValueError):
    """Bad input to a demo function (empty, too long, no mask token...): shown to the user as is."""


# ------------------------------------------------------------------------------------------------
# Safe file access: gradio's temporary folder is a private one
# ------------------------------------------------------------------------------------------------

_TEMP_LOCK = threading.Lock()


def _private_temp_dir() -> str:
    """Point gradio's temporary folder (uploads, images it serves) at a private folder of this process.

    Gradio serves files only from that folder, ``allowed_paths`` and static paths; by default the folder is
    a shared ``/tmp/gradio``. Set ``GRADIO_TEMP_DIR`` yourself to choose another one.
    """
    with _TEMP_LOCK:
        if not os.environ.get("GRADIO_TEMP_DIR"):
            os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="workbench-demo-")
        return os.environ["GRADIO_TEMP_DIR"]


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
    from ..widgets.model_picker import find_checkpoints

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
        raise ValueError(f"Unknown demo task {key!r}; use one of: {', '.join(_TAB_BY_KEY)} (aliases: "
                         f"{', '.join(_KEY_ALIASES)}).")
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


def _missing_message(tab: Tab) -> str:
    example = {"text-generation": "./my-gpt2", "summarization": "./my-t5"}.get(tab.key, "./my-checkpoint")
    return (f"**No model for the {tab.key} tab on this machine.** Start the demo with a local "
            f"checkpoint folder (config.json + weights + tokenizer files): `workbench demo --model {tab.key}="
            f"{example}`, or put a Hub checkpoint in the local cache while online with `workbench fetch ORG/NAME` "
            f"and pass `--model {tab.key}=ORG/NAME`.")


class _Models:
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
            raise DemoInputError(_missing_message(tab).replace("**", "").replace("`", "'"))
        name = name or self.choices[key][0]
        if name not in self.choices[key]:
            raise DemoInputError(f"Model {name!r} is not offered by this demo; choose one of: "
                                 f"{', '.join(self.choices[key])}.")
        cache_key = ("feature-extraction" if key == "attention" else key, name)
        with self._lock:
            if cache_key not in self._pipes:
                if key in self.fixed:
                    self._pipes[cache_key] = self.fixed[key]
                else:
                    from ..pipelines import pipeline

                    task = tab.task if key != "attention" else "feature-extraction"
                    self._pipes[cache_key] = pipeline(task, model=name)
                self._locks[cache_key] = threading.Lock()
            return self._pipes[cache_key], self._locks[cache_key]


# ------------------------------------------------------------------------------------------------
# The task functions: plain Python (text in, JSON-able values out), shared by the app and build_demo
# ------------------------------------------------------------------------------------------------


def _check_text(value: Any, what: str, limit: int = MAX_CHARS) -> str:
    text = "" if value is None else str(value)
    if not text.strip():
        raise DemoInputError(f"The {what} is empty: type some text first.")
    if len(text) > limit:
        raise DemoInputError(f"The {what} is {len(text)} characters long; this demo accepts at most {limit}. "
                             "Shorten it (or run the pipeline in a notebook for long inputs).")
    return text


def classify(pipe, text: str) -> dict[str, float]:
    text = _check_text(text, "text")
    return {r["label"]: float(r["score"]) for r in pipe(text, top_k=None)}


def ner(pipe, text: str) -> dict:
    text = _check_text(text, "text")
    entities = pipe(text, aggregation_strategy="simple")
    return {"text": text, "entities": [{"entity": e["entity_group"], "start": int(e["start"]), "end": int(e["end"]),
                                        "score": float(e["score"])} for e in entities]}


def question_answering(pipe, question: str, context: str) -> tuple[dict, dict]:
    question = _check_text(question, "question")
    context = _check_text(context, "context", 4 * MAX_CHARS)
    answer = pipe(question=question, context=context)
    highlighted = {"text": context, "entities": [{"entity": "answer", "start": int(answer["start"]),
                                                  "end": int(answer["end"])}]}
    return highlighted, {"answer": answer["answer"], "score": float(answer["score"]), "start": int(answer["start"]),
                         "end": int(answer["end"])}


def fill_mask(pipe, text: str) -> dict[str, float]:
    text = _check_text(text, "text")
    mask = pipe.tokenizer.mask_token
    for generic in ("[MASK]", "<mask>"):  # accept either spelling whatever the model's mask token
        if generic != mask:
            text = text.replace(generic, mask)
    if text.count(mask) != 1:
        raise DemoInputError(f"Put exactly one mask token {mask!r} in the text (found {text.count(mask)}), e.g. "
                             f"'Paris is the {mask} of France.'")
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


def _sentence_embeddings(pipe, sentences: list[str]):
    """Mean-pooled, L2-normalised sentence vectors from a feature-extraction pipeline (sentence-transformers'
    recipe for all-MiniLM-L6-v2): (n, hidden)."""
    import torch

    vectors = []
    for out in pipe(sentences, truncation=True, return_tensors=True):
        tokens = out[0] if out.dim() == 3 else out  # (seq, hidden): one sentence, no padding
        vectors.append(tokens.float().mean(0))
    return torch.nn.functional.normalize(torch.stack(vectors), dim=-1)


def similarity(pipe, source: str, sentences: str) -> list[list]:
    """Cosine similarity of ``source`` to each line of ``sentences``, best first: ``[[sentence, score], ...]``."""
    source = _check_text(source, "source sentence")
    others = [s.strip() for s in _check_text(sentences, "list of sentences").splitlines() if s.strip()]
    if len(others) > MAX_SENTENCES:
        raise DemoInputError(f"{len(others)} sentences given; this demo compares at most {MAX_SENTENCES}.")
    emb = _sentence_embeddings(pipe, [source, *others])
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
            raise DemoInputError(f"head {head} does not exist: this model has heads 0..{viz.num_heads - 1} "
                                 "(-1 for the mean of all heads).")
    else:
        head = None
    viz.layer, viz.head = layer, head
    return Image.open(io.BytesIO(viz.to_png(dpi=90))).convert("RGB")


# ------------------------------------------------------------------------------------------------
# Gradio wiring
# ------------------------------------------------------------------------------------------------


def _wrap(models: _Models, key: str, fn: Callable, *, streaming: bool = False) -> Callable:
    """fn(pipe, *inputs) -> a Gradio handler(*inputs, model_name): input errors become gr.Error messages."""
    import gradio as gr

    if streaming:
        def handler(*args):
            *inputs, name = args
            try:
                pipe, lock = models.get(key, name)
                with lock:
                    yield from fn(pipe, *inputs)
            except DemoInputError as e:
                raise gr.Error(str(e), print_exception=False) from None
    else:
        def handler(*args):
            *inputs, name = args
            try:
                pipe, lock = models.get(key, name)
                with lock:
                    return fn(pipe, *inputs)
            except DemoInputError as e:
                raise gr.Error(str(e), print_exception=False) from None
    handler.__name__ = _TAB_BY_KEY[key].api_name
    handler.__doc__ = fn.__doc__
    # the API page and gradio_client name the parameters after the task function's (plus the model)
    names = [*list(inspect.signature(fn).parameters)[1:], "model"]
    handler.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    return handler


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

# tab key -> (task function, [(component kind, label, default)], [(output kind, label)], streaming)
_SPECS: dict[str, tuple] = {
    "text-classification": (classify, [("text", "Text", EXAMPLES["classify"])], [("label", "Labels")], False),
    "token-classification": (ner, [("text", "Text", EXAMPLES["ner"])], [("highlight", "Entities")], False),
    "question-answering": (question_answering, [("line", "Question", EXAMPLES["qa_q"]),
                                                ("text", "Context", EXAMPLES["qa_c"])],
                           [("highlight", "Answer in context"), ("json", "Answer")], False),
    "fill-mask": (fill_mask, [("line", "Text with one [MASK]", EXAMPLES["fill_mask"])], [("label", "Predictions")],
                  False),
    "text-generation": (generate, [("text", "Prompt", EXAMPLES["generate"]), ("tokens", "Max new tokens", 32)],
                        [("textout", "Generated text")], True),
    "summarization": (text2text, [("text", "Text", EXAMPLES["text2text"])], [("textout", "Output")], False),
    "zero-shot-classification": (zero_shot, [("text", "Text", EXAMPLES["zero_shot"]),
                                             ("line", "Candidate labels (comma-separated)", EXAMPLES["zero_shot_labels"]),
                                             ("check", "Several labels can be true", False)],
                                 [("label", "Scores")], False),
    "feature-extraction": (similarity, [("line", "Source sentence", EXAMPLES["similarity_source"]),
                                        ("text", "Sentences to compare (one per line)", EXAMPLES["similarity"])],
                           [("table", "Cosine similarity")], False),
    "attention": (attention, [("line", "Text", EXAMPLES["attention"]), ("layer", "Layer", 0),
                              ("head", "Head (-1: mean of all heads)", -1), ("view", "View", "heatmap")],
                  [("image", "Attention")], False),
}


def _input(kind: str, label: str, value: Any):
    import gradio as gr

    if kind == "text":
        return gr.Textbox(label=label, value=value, lines=4, max_length=MAX_CHARS * 4)
    if kind == "line":
        return gr.Textbox(label=label, value=value, lines=1)
    if kind == "tokens":
        return gr.Slider(1, MAX_NEW_TOKENS, value=value, step=1, label=label)
    if kind == "check":
        return gr.Checkbox(label=label, value=value)
    if kind == "layer":
        return gr.Number(label=label, value=value, precision=0, minimum=0)
    if kind == "head":
        return gr.Number(label=label, value=value, precision=0, minimum=-1)
    if kind == "view":
        return gr.Radio(["heatmap", "model", "head"], label=label, value=value)
    raise ValueError(kind)


def _output(kind: str, label: str):
    import gradio as gr

    return {"label": lambda: gr.Label(label=label, num_top_classes=10),
            "highlight": lambda: gr.HighlightedText(label=label, combine_adjacent=False, show_legend=True),
            "json": lambda: gr.JSON(label=label),
            "textout": lambda: gr.Textbox(label=label, lines=6, buttons=["copy"]),
            "table": lambda: gr.Dataframe(headers=["sentence", "cosine similarity"], label=label,
                                          datatype=["str", "number"], interactive=False),
            "image": lambda: gr.Image(label=label, type="pil", format="png", interactive=False, buttons=["download", "fullscreen"])}[kind]()


def _tab_for_pipeline(pipe) -> str:
    from ..pipelines import check_task

    task = check_task(getattr(pipe, "task", "") or "")[0]
    if task in ("text2text-generation", "translation"):
        return "summarization"
    return task


def build_demo(pipeline, *, title: str | None = None):
    """A ready ``gr.Interface`` for any workbench pipeline: ``build_demo(p).launch(inline=True)``.

    Feature-extraction pipelines get the sentence-similarity demo. The interface is queued (at most
    ``CONCURRENCY_LIMIT`` requests at a time) and its endpoint is named after the task (``/similarity``,
    ``/classify``, ...; see ``TABS``).
    """
    import gradio as gr

    _private_temp_dir()
    key = _tab_for_pipeline(pipeline)
    tab = _TAB_BY_KEY[key]
    models = _Models(fixed={key: pipeline})
    fn, inputs, outputs, streaming = _SPECS[key]
    handler = _wrap(models, key, fn, streaming=streaming)
    name = models.default(key)

    def run(*args):  # the Interface has no model dropdown: one pipeline
        return handler(*args, name)

    def run_stream(*args):
        yield from handler(*args, name)

    for f in (run, run_stream):  # API parameter names: the task function's
        f.__signature__ = inspect.Signature(list(inspect.signature(handler).parameters.values())[:-1])

    demo = gr.Interface(
        fn=run_stream if streaming else run,
        inputs=[_input(*spec) for spec in inputs],
        outputs=[_output(*spec) for spec in outputs],
        title=title or f"{tab.title} · {name}",
        description=f"workbench `{pipeline.task}` pipeline on `{name}`. " + (fn.__doc__ or "").strip().split("\n")[0],
        flagging_mode="never",
        analytics_enabled=False,
        api_name=tab.api_name,
        concurrency_limit=CONCURRENCY_LIMIT,
    )
    demo.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    return demo


def build_app(models: dict[str, str] | None = None, *, title: str = "Transformers Workbench demos"):
    """The Blocks app: a tab per task, each with a model dropdown and a named API endpoint.

    ``models``: ``{task: Hub id or local folder}`` to offer (first in its dropdown), e.g.
    ``{"text-generation": "./tiny-gpt"}``; tasks are the keys of ``TABS`` (aliases such as "ner",
    "sentiment-analysis", "translation" work). Nothing is loaded until a tab is used.
    """
    import gradio as gr

    _private_temp_dir()
    registry = _Models(models)
    with gr.Blocks(title=title, analytics_enabled=False) as app:
        gr.Markdown(f"# {title}\nHugging Face Transformers pipelines in plain PyTorch, running on this machine. "
                    f"Each tab is also an API endpoint (see *Use via API* at the bottom of the page).")
        for tab in TABS:
            fn, inputs, outputs, streaming = _SPECS[tab.key]
            with gr.Tab(tab.title, id=tab.api_name, elem_id=tab.api_name):
                choices = registry.choices[tab.key]
                if not choices:
                    gr.Markdown(_missing_message(tab))
                in_components = [_input(*spec) for spec in inputs]
                model = gr.Dropdown(choices=choices, value=registry.default(tab.key), label="Model",
                                    allow_custom_value=False, interactive=bool(choices))
                button = gr.Button("Submit", variant="primary", interactive=bool(choices))
                out_components = [_output(*spec) for spec in outputs]
                button.click(_wrap(registry, tab.key, fn, streaming=streaming), inputs=[*in_components, model],
                             outputs=out_components, api_name=tab.api_name, concurrency_limit=CONCURRENCY_LIMIT,
                             concurrency_id=tab.api_name)
    app.queue(default_concurrency_limit=CONCURRENCY_LIMIT, max_size=QUEUE_SIZE)
    app.workbench_models = registry.choices  # what each tab offers (for tests and the CLI's banner)
    return app


def launch_app(app, *, port: int | None = None, host: str = "127.0.0.1", share: bool = False, **kwargs: Any):
    """``app.launch`` with the safe defaults: local address only, no share link, no extra file access."""
    if kwargs.get("allowed_paths"):
        raise ValueError("This demo serves no files of yours: allowed_paths must stay empty.")
    kwargs.pop("allowed_paths", None)
    return app.launch(server_name=host, server_port=port, share=share, allowed_paths=[], show_error=True,
                      **kwargs)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m workbench.demos", description="Gradio demos of every pipeline.")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)")
    parser.add_argument("--model", action="append", default=[], metavar="TASK=ID_OR_PATH",
                        help="checkpoint for a tab, e.g. text-generation=./tiny-gpt (repeatable)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")


def run_from_args(args) -> int:
    models = parse_model_args(args.model)
    app = build_app(models)
    for tab in TABS:
        offered = app.workbench_models[tab.key]
        print(f"  {tab.title:<22} /{tab.api_name:<11} {offered[0] if offered else '(no model: see the tab)'}")
    launch_app(app, port=args.port, host=args.host, share=args.share)
    return 0
