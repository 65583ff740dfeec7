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
NBVAL_SKIP_MIMETYPES = (
    "application/vnd.jupyter.widget-view+json",
    "application/vnd.jupyter.widget-state+json",
)


def _nbval_active(config) -> bool:
    option = config.option
    return bool(getattr(option, "nbval", False) or getattr(option, "nbval_lax", False))


def notebook_environment(repo: Path = REPO) -> dict[str, str]:
    """The environment variables notebooks run with in CI (also used by tools/execute_notebooks.py)."""
    return {
        "WORKBENCH_DATA_DIR": os.environ.get("WORKBENCH_DATA_DIR") or str(repo.parent / "shared" / "data"),
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
