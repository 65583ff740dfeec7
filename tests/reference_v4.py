"""Run the reference v4 pipelines (transformers 4.37, the version our pipelines follow) in their own venv.

The installed reference is v5, whose pipelines changed (and dropped some tasks), and v4 needs an older
``huggingface_hub`` than the rest of the environment. So this helper builds, once per machine, a small
virtual environment under ``.cache/reference-v4-venv`` holding only ``transformers==4.37.2``,
``huggingface_hub<1.0`` and ``tokenizers<0.19``; everything else (torch, numpy, safetensors, ...) comes from
the main venv through a ``.pth`` file, so torch is not downloaded again. The v4 side runs in a subprocess
that reads a JSON list of calls on stdin and writes a JSON list of outputs on stdout.

    from tests.reference_v4 import v4_unavailable, run_v4
    reason = v4_unavailable()          # None, or why the venv could not be built (tests skip with it)
    outputs = run_v4([{"task": "fill-mask", "model": folder, "inputs": "a [MASK].", "call_kwargs": {"top_k": 3}}])

Each call: ``task``, ``model`` (a local folder), optional ``tokenizer`` (folder), ``init_kwargs`` (to
``pipeline()``), ``inputs`` (positional input, omitted when ``None`` and ``call_kwargs`` carry it) and
``call_kwargs``; ``"no_tokenizer": True`` passes no tokenizer (image tasks: v4 would otherwise keep the folder's
name as its tokenizer and fail to batch). Outputs are plain JSON (numpy scalars and tensors turned into numbers
and lists); a call that raised gives ``{"__error__": "TypeName: message"}``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / ".cache" / "reference-v4-venv"
REQUIREMENTS = ("transformers==4.37.2", "huggingface_hub<1.0", "tokenizers>=0.14,<0.19")
_MARKER = "workbench-reference-v4.json"  # written last: a venv without it is incomplete

_RUNNER = r"""
import json, os, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np, torch
import transformers
from transformers import pipeline
transformers.logging.set_verbosity_error()

def plain(x):
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    if hasattr(x, "__next__"):
        return [plain(v) for v in x]
    return x

torch.set_num_threads(1)
calls = json.load(sys.stdin)
pipes, results = {}, []
for call in calls:
    tokenizer = None if call.get("no_tokenizer") else call.get("tokenizer") or call["model"]
    key = json.dumps([call["task"], call["model"], tokenizer, call.get("init_kwargs", {})], sort_keys=True)
    try:
        if key not in pipes:
            pipes[key] = pipeline(call["task"], model=call["model"], tokenizer=tokenizer, **call.get("init_kwargs", {}))
        pipe = pipes[key]
        args = [] if call.get("inputs") is None else [call["inputs"]]
        torch.manual_seed(0)
        out = pipe(*args, **call.get("call_kwargs", {}))
        results.append(plain(out))
    except Exception as e:
        results.append({"__error__": f"{type(e).__name__}: {e}"})
json.dump(results, sys.stdout)
"""


def _python() -> Path:
    return VENV / "bin" / "python"


def _build() -> None:
    """Create the venv (atomically: build in a temporary folder, then rename)."""
    VENV.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=VENV.parent, prefix=".reference-v4-build-"))
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(staging)], check=True, capture_output=True, text=True
        )
        purelib = Path(sysconfig.get_paths()["purelib"])  # the main venv's site-packages (torch, numpy, ...)
        site = subprocess.run(
            [str(staging / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        # After the venv's own site-packages: the venv's transformers 4.x shadows the main venv's 5.x.
        Path(site, "zz_main_venv.pth").write_text(f"{purelib}\n")
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(staging / "bin" / "python"),
                "install",
                "--no-input",
                "--disable-pip-version-check",
                "--retries",
                "1",
                "--timeout",
                "30",
                "-q",
                *REQUIREMENTS,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            raise RuntimeError(f"pip could not install {' '.join(REQUIREMENTS)}: {result.stderr.strip()[-800:]}")
        check = subprocess.run(
            [str(staging / "bin" / "python"), "-c", "import transformers, torch; print(transformers.__version__)"],
            capture_output=True,
            text=True,
            timeout=300,
            env=_env(),
        )
        if check.returncode != 0 or not check.stdout.strip().startswith("4."):
            raise RuntimeError(f"the v4 venv does not import transformers 4.x: {check.stderr.strip()[-800:]}")
        (staging / _MARKER).write_text(json.dumps({"requirements": REQUIREMENTS, "version": check.stdout.strip()}))
        if VENV.exists():
            shutil.rmtree(VENV)
        os.replace(staging, VENV)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HOME=str(REPO / ".cache" / "reference-v4-hf-home"),
        TRANSFORMERS_VERBOSITY="error",
        TOKENIZERS_PARALLELISM="false",
        PYTHONNOUSERSITE="1",
        OMP_NUM_THREADS="1",
    )
    return env


@lru_cache(maxsize=1)
def v4_unavailable() -> str | None:
    """``None`` when the v4 venv is ready (building it first if needed), else the reason it is not."""
    if os.environ.get("WORKBENCH_SKIP_V4"):
        return "WORKBENCH_SKIP_V4 is set"
    VENV.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV.parent / ".reference-v4.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time (pytest-xdist, colleagues' runs)
        try:
            marker = VENV / _MARKER
            if not marker.is_file() or json.loads(marker.read_text()).get("requirements") != list(REQUIREMENTS):
                _build()
        except Exception as e:  # no network for pip, no venv module, ...
            return (
                f"the reference v4 environment ({VENV}) could not be built: {e}. It needs pip access to "
                f"PyPI for {', '.join(REQUIREMENTS)}."
            )
    return None


def run_v4(calls: list[dict], timeout: int = 900) -> list:
    """Run ``calls`` through the v4 pipelines; one subprocess for all of them."""
    reason = v4_unavailable()
    if reason:
        raise RuntimeError(reason)
    calls = [
        {**c, "model": os.fspath(c["model"]), "tokenizer": os.fspath(c["tokenizer"]) if c.get("tokenizer") else None}
        for c in calls
    ]
    result = subprocess.run(
        [str(_python()), "-c", _RUNNER],
        input=json.dumps(calls),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_env(),
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"the v4 runner failed: {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout)
