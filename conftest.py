"""Notebook (nbval) settings for the whole repository.

pytest loads this file for every run; it changes nothing unless nbval is active
(``pytest --nbval-lax tutorials/ notebooks/``). The library's own setup lives in tests/conftest.py.

When nbval runs, notebook kernels inherit this process's environment, so we set it here:
offline Hugging Face access, a private cache (never the user's), and the data directory.
Widget outputs are skipped in comparisons: their model ids and state change on every run.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent

# Output mimetypes never compared, even in cells marked # NBVAL_CHECK_OUTPUT.
NBVAL_SKIP_MIMETYPES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")


def _nbval_active(config) -> bool:
    option = config.option
    return bool(getattr(option, "nbval", False) or getattr(option, "nbval_lax", False))


def notebook_environment(repo: Path = REPO) -> dict[str, str]:
    """The environment variables notebooks run with in CI (also used by tools/execute_notebooks.py)."""
    return {
        "WORKBENCH_DATA_DIR": os.environ.get("WORKBENCH_DATA_DIR") or str(repo / "data"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        # A private cache: the packaged MiniLM is copied here on first use; the user's cache is untouched.
        "HF_HOME": os.environ.get("WORKBENCH_NOTEBOOK_HF_HOME") or str(repo / ".cache" / "notebook-hf-home"),
        "TOKENIZERS_PARALLELISM": "false",
        # Silences debugpy's "frozen modules" warning that ipykernel prints on Python 3.11+.
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "PYTHONHASHSEED": "0",
    }


def pytest_configure(config) -> None:
    if not _nbval_active(config):
        return
    os.environ.update(notebook_environment())
    # These would win over HF_HOME inside huggingface_hub and workbench.hub.
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
        os.environ.pop(var, None)


def pytest_collectstart(collector) -> None:
    """Tell nbval's notebook collector to ignore widget mimetypes when it compares outputs."""
    skip = getattr(collector, "skip_compare", None)
    if skip is not None and str(getattr(collector, "path", "")).endswith(".ipynb"):
        collector.skip_compare = tuple(skip) + tuple(m for m in NBVAL_SKIP_MIMETYPES if m not in skip)


# -- progress: one line per notebook, so that minutes of nbval show what they are spent on ---------------

_progress = {"current": None, "started": 0.0, "done": 0}


def pytest_collection_finish(session) -> None:
    if _nbval_active(session.config):
        _progress["total"] = len({item.nodeid.split("::")[0] for item in session.items})


def pytest_runtest_logstart(nodeid, location) -> None:
    import sys
    import time

    notebook = nodeid.split("::")[0]
    if "total" not in _progress or not notebook.endswith(".ipynb") or notebook == _progress["current"]:
        return
    _finish_notebook_line()
    _progress.update(current=notebook, started=time.perf_counter(), done=_progress["done"] + 1)
    sys.stdout.write(f"\n  [{_progress['done']}/{_progress['total']}] {notebook} ")
    sys.stdout.flush()


def pytest_sessionfinish(session) -> None:
    if "total" in _progress:
        _finish_notebook_line()
        print()


def _finish_notebook_line() -> None:
    """Close the current notebook's line with its time (its cells' dots are on the line)."""
    import sys
    import time

    if _progress["current"] is not None:
        sys.stdout.write(f" {time.perf_counter() - _progress['started']:.0f} s")
        sys.stdout.flush()
        _progress["current"] = None
