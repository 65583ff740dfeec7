"""Run code from the Transformers docs with one library and give back what it shows, as plain JSON.

A snippet is the docs' code as written (``from transformers import ...``). ``run_snippet(code, checks, library)``
runs it as the docs' ``>>>`` sessions do: the value of every expression statement is *shown* (recorded, unless it
is None or not data, such as a model), ``print`` goes to a captured stdout, and after the run each ``checks``
expression (``{"loss": "outputs.loss"}``) is evaluated in the snippet's namespace. With ``library="workbench"``
every ``transformers`` in the code becomes ``workbench`` first: the import swap the README promises.

Every run starts from the same seeds in a fresh working folder, with the docs' data sets replaced by the offline
stand-ins of ``docs_datasets`` and ``evaluate.load("accuracy")`` by a few lines of numpy (the metric scripts
need the network); the stand-ins are removed again after the run.

Run as a script (``python tests/docs_runner.py results.json < calls.json``), it runs a JSON list of
``{"name", "code", "checks"}`` calls with ``transformers`` and writes the list of results to ``results.json``: this
is how the references run, v4.37 in its own environment (tests/reference_v4.py) and the installed v5, each in a
process of its own with the test's Hugging Face cache. This file imports neither workbench nor pytest.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import os
import random
import re
import sys
import tempfile
import traceback
import types
from collections.abc import Mapping
from unittest import mock

import docs_datasets
import numpy as np
import torch

# Methods whose results the docs show but that are not outputs to compare (file lists, timings).
SILENT_CALLS = {"save_pretrained", "train", "push_to_hub", "to", "eval", "update", "map"}
# The Hub's pipeline tags of the models the docs give to pipeline() without a task.
HUB_PIPELINE_TAGS = {"openai-community/gpt2": "text-generation", "facebook/bart-large-mnli": "zero-shot-classification"}


def plain(value):
    """A JSON-able copy of ``value``: tensors and arrays as nested lists, mappings (BatchEncoding, model outputs)
    as dicts without their None entries, and anything else that is not data (a model) as ``"<ClassName>"``."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, torch.Tensor):
        return {"__tensor__": plain(value.detach().cpu().tolist()), "dtype": str(value.dtype)}
    if isinstance(value, (np.ndarray, np.generic)):
        return plain(value.tolist())
    if _is_mapping(value):
        items = {str(key): plain(value[key]) for key in value.keys()}
        return {key: item for key, item in items.items() if item is not None}
    if isinstance(value, (list, tuple, types.GeneratorType)):
        return [plain(item) for item in value]
    return f"<{type(value).__name__}>"


def is_data(value) -> bool:
    """Whether a shown value is an output (text, numbers, tensors, their containers) rather than an object."""
    data = (bool, int, float, str, torch.Tensor, np.ndarray, np.generic, list, tuple, types.GeneratorType)
    return isinstance(value, data) or _is_mapping(value)


def _is_mapping(value) -> bool:
    return isinstance(value, Mapping) or (
        hasattr(value, "keys") and hasattr(value, "__getitem__") and not isinstance(value, type)
    )


def swap_library(code: str) -> str:
    """The docs' code with ``workbench`` in place of ``transformers``."""
    return re.sub(r"\btransformers\b", "workbench", code)


def _showing(code: str, filename: str):
    """Compile ``code`` so that each expression statement's value goes to ``_show`` (as at a ``>>>`` prompt)."""
    tree = ast.parse(code, filename)
    for index, node in enumerate(tree.body):
        if isinstance(node, ast.Expr):
            call = node.value
            name = call.func.attr if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) else None
            if name not in SILENT_CALLS:
                tree.body[index] = ast.Expr(ast.Call(ast.Name("_show", ast.Load()), [node.value], []))
    return compile(ast.fix_missing_locations(tree), filename, "exec")


class _Accuracy:
    """``evaluate.load("accuracy")``: the fraction of predictions equal to the references."""

    def __init__(self):
        self.predictions, self.references = [], []

    def add_batch(self, predictions, references):
        self.predictions += np.asarray(predictions).tolist()
        self.references += np.asarray(references).tolist()

    def compute(self, predictions=None, references=None):
        if predictions is not None:
            self.add_batch(predictions, references)
        correct = np.asarray(self.predictions) == np.asarray(self.references)
        self.predictions, self.references = [], []
        return {"accuracy": float(correct.mean())}


def _evaluate_load(name: str, *args, **kwargs):
    if name != "accuracy":
        raise ValueError(f"The offline evaluate stand-in has only 'accuracy', not {name!r}.")
    return _Accuracy()


def _seeded(split):
    """``Dataset.train_test_split`` with seed 0 by default: without a seed it shuffles with a generator drawn
    from OS entropy, and every library's run of a snippet must split alike."""

    def seeded(self, *args, seed=None, **kwargs):
        return split(self, *args, seed=0 if seed is None else seed, **kwargs)

    return seeded


@contextlib.contextmanager
def offline_stand_ins():
    """While running: the docs' data sets and ``evaluate.load("accuracy")`` offline (the Hub and the metric
    scripts need the network). Everything is put back afterwards."""
    stubs = {"evaluate": types.SimpleNamespace(load=_evaluate_load)}
    try:
        import datasets
    except ImportError:  # the v4.37 environment cannot import this datasets version: the stand-in rows only
        datasets = None
        stubs["datasets"] = types.SimpleNamespace(load_dataset=docs_datasets.load_dataset)
    saved = {name: sys.modules.get(name) for name in stubs}
    sys.modules.update(stubs)
    try:
        with contextlib.ExitStack() as patches:
            if datasets is not None:
                patches.enter_context(mock.patch.object(datasets, "load_dataset", docs_datasets.load_dataset))
                split = _seeded(datasets.Dataset.train_test_split)
                patches.enter_context(mock.patch.object(datasets.Dataset, "train_test_split", split))
            yield
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def run_snippet(code: str, checks: dict[str, str], library: str, name: str = "snippet") -> dict:
    """Run the docs' ``code`` with ``library`` ("transformers" or "workbench") in a fresh folder."""
    if library == "workbench":
        code, checks = swap_library(code), {key: swap_library(expr) for key, expr in checks.items()}
    shown = []
    # The snippet runs as a module of its own (dataclasses look their module up in sys.modules).
    module = types.ModuleType(f"docs_{name.replace('-', '_')}")
    namespace = module.__dict__
    namespace["_show"] = lambda value: shown.append(plain(value)) if is_data(value) else None
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    stdout = io.StringIO()
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix=f"docs-{name}-") as folder, offline_stand_ins():
        os.chdir(folder)
        sys.modules[module.__name__] = module
        try:
            with contextlib.redirect_stdout(stdout):
                exec(_showing(code, f"<docs {name}>"), namespace)
                results = {key: plain(eval(expr, namespace)) for key, expr in checks.items()}
        except Exception:
            return {"error": traceback.format_exc(limit=-8), "stdout": stdout.getvalue()}
        finally:
            del sys.modules[module.__name__]
            os.chdir(cwd)
    return {"shown": shown, "stdout": stdout.getvalue(), "checks": results}


def main() -> None:
    import warnings

    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    import transformers
    import transformers.pipelines

    transformers.logging.set_verbosity_error()
    # pipeline(model=...) without a task asks the Hub for the model's pipeline tag, which offline fails: answer
    # as the Hub would for the models the docs name.
    transformers.pipelines.get_task = lambda model, *args, **kwargs: HUB_PIPELINE_TAGS[model]
    calls = json.load(sys.stdin)
    results = [run_snippet(call["code"], call["checks"], "transformers", call["name"]) for call in calls]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
