#!/usr/bin/env python
"""Execute notebooks in place so that they are committed with their outputs.

    .venv/bin/python tools/execute_notebooks.py                       # tutorials/ and notebooks/
    .venv/bin/python tools/execute_notebooks.py tutorials/00_quick_tour.ipynb
    .venv/bin/python tools/execute_notebooks.py --check               # only scan the stored outputs

Each notebook runs in a fresh ``python3`` kernel whose working directory is the notebook's folder,
with the same environment as the nbval run in CI (offline Hugging Face access, a private cache,
``WORKBENCH_DATA_DIR``; see ``notebook_environment`` in the root conftest.py). The wall time of each
notebook is printed. The run fails (exit status 1) and the notebook is left unchanged when a cell
raises, when an output holds a traceback, or when an output shows a machine path (/work/, /tmp/,
/root/, the home folder): learners read these notebooks on a web page.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from conftest import notebook_environment  # noqa: E402  (the one definition of the CI environment)

DEFAULT_FOLDERS = ("tutorials", "notebooks")
TEXT_MIMETYPES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*File \"[^\"]+\", line \d+", re.MULTILINE)


def machine_path_pattern() -> re.Pattern:
    roots = {"/work/", "/tmp/", "/root/", "/private/var/", "/var/folders/", str(REPO) + os.sep}
    home = str(Path.home())
    if home not in ("/", ""):
        roots.add(home.rstrip(os.sep) + os.sep)
    return re.compile("|".join(re.escape(r) for r in sorted(roots)))


def find_notebooks(paths: list[str]) -> list[Path]:
    found: list[Path] = []
    for p in paths or [str(REPO / f) for f in DEFAULT_FOLDERS]:
        path = Path(p)
        if path.is_dir():
            found += sorted(q for q in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif path.suffix == ".ipynb" and path.is_file():
            found.append(path)
        elif paths:
            raise SystemExit(f"error: {p} is neither a notebook nor a folder")
    return found


def output_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Tracebacks and machine paths in a notebook's outputs, as 'cell N: ...' lines."""
    paths = machine_path_pattern()
    problems = []
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "error":
                problems.append(f"cell {number}: raised {output.get('ename')}: {output.get('evalue')}")
                continue
            texts = []
            if kind == "stream":
                texts.append(output.get("text", ""))
            for mimetype in TEXT_MIMETYPES:
                value = output.get("data", {}).get(mimetype)
                if value is not None:
                    texts.append(value if isinstance(value, str) else str(value))
            for text in texts:
                if TRACEBACK.search(text):
                    problems.append(f"cell {number}: output holds a traceback")
                match = paths.search(text)
                if match:
                    line = next(ln for ln in text.splitlines() if match.group(0) in ln)
                    problems.append(f"cell {number}: output shows a machine path: {line.strip()[:160]}")
    return problems


def stderr_outputs(nb: nbformat.NotebookNode) -> int:
    return sum(
        1
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def tidy(nb: nbformat.NotebookNode) -> None:
    """Keep diffs small: no per-cell execution timing, one stream output per run of prints, a python3 kernelspec."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.outputs:
            previous = merged[-1] if merged else None
            if (
                output.output_type == "stream"
                and previous is not None
                and previous.output_type == "stream"
                and previous.name == output.name
            ):
                previous.text += output.text
            else:
                merged.append(output)
        cell.outputs = merged
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def execute(path: Path, timeout: int, kernel: str) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=kernel,
        resources={"metadata": {"path": str(path.parent.resolve())}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", help="notebooks or folders (default: tutorials/ notebooks/)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds allowed per cell (default 300)")
    parser.add_argument("--kernel", default="python3", help="kernel name (default python3)")
    parser.add_argument(
        "--budget",
        type=float,
        default=180.0,
        help="warn when a notebook takes longer than this many seconds (default 180)",
    )
    parser.add_argument("--check", action="store_true", help="do not execute: only scan the stored outputs")
    args = parser.parse_args(argv)

    notebooks = find_notebooks(args.paths)
    if not notebooks:
        print("no notebooks found", file=sys.stderr)
        return 1
    os.environ.update(notebook_environment())
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_DATASETS_CACHE"):
        os.environ.pop(var, None)

    failed, rows = [], []
    for path in notebooks:
        shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
        if args.check:
            nb, seconds = nbformat.read(path, as_version=4), None
        else:
            print(f"running  {shown} ...", flush=True)
            try:
                nb, seconds = execute(path, args.timeout, args.kernel)
            except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
                print(f"FAILED   {shown}: a cell did not complete; the notebook was not written.\n{e}", file=sys.stderr)
                failed.append(shown)
                rows.append((shown, None, "cell failed"))
                continue
        problems = output_problems(nb)
        if problems:
            print(f"FAILED   {shown}:", *problems, sep="\n    ", file=sys.stderr)
            failed.append(shown)
            rows.append((shown, seconds, f"{len(problems)} output problem(s)"))
            continue
        note = "ok"
        if stderr_outputs(nb):
            note = f"ok ({stderr_outputs(nb)} stderr output(s): check they are meant)"
        if seconds is not None:
            tidy(nb)
            nbformat.validate(nb)
            nbformat.write(nb, path)
            if seconds > args.budget:
                note += f"; over the {args.budget:.0f} s budget"
            print(f"wrote    {shown} in {seconds:.1f} s", flush=True)
        rows.append((shown, seconds, note))

    width = max(len(str(r[0])) for r in rows)
    print(f"\n{'notebook':<{width}}  {'wall time':>9}  result")
    for shown, seconds, note in rows:
        wall = "-" if seconds is None else f"{seconds:.1f} s"
        print(f"{str(shown):<{width}}  {wall:>9}  {note}")
    if failed:
        print(f"\n{len(failed)} notebook(s) failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
