"""A clone of the repository alone runs its notebooks: no ../shared folder, no WORKBENCH_DATA_DIR.

The repository's files are copied to a temporary folder with nothing beside it; the copy's own workbench
package (not the one installed in the virtual environment) loads every data set and runs a notebook that
reads the data folder, end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "tutorials/04_preprocess_data.ipynb"  # tokenizes reviews read from the data folder


def repository_files() -> list[str]:
    """Every file git would put in a clone (tracked ones, and new ones that are not ignored)."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return [name for name in out.decode().split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("alone") / "transformers-workbench"
    for name in repository_files():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert not (root.parent / "shared").exists()
    return root


def clone_environment(clone: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WORKBENCH_DATA_DIR", "PYTHONPATH")}
    env.update(
        PYTHONPATH=str(clone),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        HF_HOME=str(clone / ".cache" / "hf-home"),
        MPLBACKEND="Agg",
    )
    return env


@pytest.mark.slow
def test_the_clone_loads_every_data_set_from_its_own_folder(clone):
    script = (
        "import json, workbench\n"
        "from workbench import data\n"
        "rows = {name: {split: len(ds) for split, ds in data.load(name).items()} for name in data.list_datasets()}\n"
        "print(json.dumps({'package': workbench.__file__, 'data': str(data.data_dir()), 'rows': rows}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=clone,
        env=clone_environment(clone),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["package"]).is_relative_to(clone)
    assert Path(report["data"]) == clone / "data"
    assert report["rows"]["rotten_tomatoes"] == {"train": 8530, "validation": 1066}
    assert report["rows"]["clothing"] == {"train": 300, "validation": 60}
    assert all(all(n > 0 for n in splits.values()) for splits in report["rows"].values())


@pytest.mark.slow
def test_a_notebook_runs_end_to_end_in_the_clone(clone):
    import nbformat
    from nbclient import NotebookClient

    path = clone / NOTEBOOK
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import workbench\nprint(workbench.__file__)"))
    env = clone_environment(clone)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": path.parent}})
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        client.execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    assert "Traceback" not in outputs
    package = notebook.cells[-1].outputs[0]["text"].strip()
    assert Path(package).is_relative_to(clone), package  # the clone's own workbench ran the notebook
