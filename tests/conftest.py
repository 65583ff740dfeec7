"""Shared test setup: offline, a private Hugging Face cache, the data directory, determinism."""

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("WORKBENCH_DATA_DIR", str(REPO / "data"))  # the data sets shipped in the repository
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One cache for the whole run (seeded with the packaged MiniLM on first use), never the user's.
os.environ.setdefault("HF_HOME", str(REPO / ".cache" / "test-hf-home"))
os.environ.pop("HF_HUB_CACHE", None)
os.environ.pop("HUGGINGFACE_HUB_CACHE", None)

# Tests run tiny models, for which one thread is fastest (and several colleagues' processes may share
# the CPU); benchmarks in bench/ choose their own thread counts.
torch.set_num_threads(1)


@pytest.fixture
def data_dir() -> Path:
    path = Path(os.environ["WORKBENCH_DATA_DIR"])
    if not path.is_dir():
        pytest.skip(f"WORKBENCH_DATA_DIR={path} does not exist")
    return path


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
