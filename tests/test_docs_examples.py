"""Code from the Transformers docs runs unchanged with ``workbench`` in place of ``transformers`` (issue 20, §2).

Every snippet of tests/docs_snippets.py (the quick tour, the pipeline, AutoClass, preprocessing and fine-tuning
tutorials, generation with LLMs, chat templates and the text task guides) runs twice: as written, with the
reference library, and with the import swapped, with workbench. Both load the same tiny checkpoints, saved under
the Hub ids the docs use in a private Hugging Face cache (tests/docs_hub.py) and read offline, and the same
stand-in data sets (tests/docs_datasets.py). What the code shows, prints and the listed checks (tensors, pipeline
outputs, generated text, the Trainer's losses) must agree: strings, ints and structure exactly, floats within
1e-4 (absolute, or relative for large values), printed numbers to their last printed digit.

The references run in processes of their own, all snippets of one reference in one process, started when the
first test needs them: transformers 4.37 (the docs' version, in the environment of tests/reference_v4.py) for
everything but the Trainer pages, which run on the installed v5 (4.37's Trainer cannot run against this
environment's accelerate and datasets).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from docs_hub import build_hub_cache
from docs_runner import run_snippet
from docs_snippets import SNIPPETS, Snippet

from tests.reference_v4 import VENV, v4_unavailable

TESTS = Path(__file__).resolve().parent
TOL = 1e-4
_NUMBER = re.compile(r"-?\d+\.(\d+)(?:e[-+]?\d+)?")


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory):
    """A fresh HF_HOME holding the docs' checkpoints, for workbench here and the references' processes."""
    home = tmp_path_factory.mktemp("docs-hf-home")
    build_hub_cache(home / "hub")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HOME", str(home))
        for variable in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
            patch.delenv(variable, raising=False)
        yield home


class References:
    """The reference runs of all snippets, one process per reference, started at once and awaited on first use."""

    def __init__(self, hf_home: Path, folder: Path):
        self.processes, self.outputs, self.results, self.skipped = {}, {}, {}, {}
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"))
        }
        env.update(
            HF_HOME=str(hf_home),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            HF_DATASETS_OFFLINE="1",
            HF_HUB_DISABLE_TELEMETRY="1",
            TRANSFORMERS_VERBOSITY="error",
            TOKENIZERS_PARALLELISM="false",
            OMP_NUM_THREADS="1",
            PYTHONNOUSERSITE="1",
        )
        pythons = {}
        if importlib.util.find_spec("transformers") is None:
            self.skipped["v5"] = "the reference library (transformers) is not installed"
        else:
            pythons["v5"] = sys.executable
        reason = v4_unavailable()
        if reason:
            self.skipped["v4"] = f"reference v4.37 unavailable: {reason}"
        else:
            pythons["v4"] = str(VENV / "bin" / "python")
        for kind, python in pythons.items():
            calls = [{"name": s.name, "code": s.code, "checks": s.checks} for s in SNIPPETS if s.reference == kind]
            self.outputs[kind] = folder / f"{kind}.json"
            with open(folder / f"{kind}.stderr", "w") as stderr:
                process = subprocess.Popen(
                    [python, str(TESTS / "docs_runner.py"), str(self.outputs[kind])],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr,
                    env=env,
                    cwd=folder,
                    text=True,
                )
            process.stdin.write(json.dumps(calls))
            process.stdin.close()
            self.processes[kind] = (process, [call["name"] for call in calls], folder / f"{kind}.stderr")

    def of(self, snippet: Snippet) -> dict:
        kind = snippet.reference
        if kind in self.skipped:
            pytest.skip(self.skipped[kind])
        if kind not in self.results:
            process, names, stderr = self.processes[kind]
            if process.wait(timeout=900) != 0:
                raise RuntimeError(f"the {kind} reference run failed:\n{stderr.read_text()[-3000:]}")
            self.results[kind] = dict(zip(names, json.loads(self.outputs[kind].read_text())))
        return self.results[kind][snippet.name]

    def close(self) -> None:
        for process, _, _ in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def references(hf_home, tmp_path_factory):
    runs = References(hf_home, tmp_path_factory.mktemp("docs-references"))
    yield runs
    runs.close()


def assert_same(ours, theirs, where: str) -> None:
    """Same structure, keys, strings, ints and bools; floats within TOL (relative for large ones)."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{where}: expected a dict, got {ours!r:.200}"
        assert sorted(ours) == sorted(theirs), f"{where}: keys {sorted(ours)} != {sorted(theirs)}"
        for key in theirs:
            assert_same(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, list):
        assert isinstance(ours, list), f"{where}: expected a list, got {ours!r:.200}"
        assert len(ours) == len(theirs), f"{where}: {len(ours)} items != {len(theirs)}: {ours!r:.300} {theirs!r:.300}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, float):
        assert isinstance(ours, float), f"{where}: {ours!r} is not a float like {theirs!r}"
        assert math.isclose(ours, theirs, rel_tol=TOL, abs_tol=TOL), f"{where}: {ours} != {theirs}"
    else:
        assert ours == theirs and type(ours) is type(theirs), f"{where}: {ours!r:.500} != {theirs!r:.500}"


def assert_same_text(ours: str, theirs: str) -> None:
    """Printed output: the same text, numbers equal to the last digit printed (give or take one) or within TOL.
    The Trainer's log lines (timings, which differ from run to run, in a layout of each library's own) are left out."""
    ours, theirs = (
        "".join(line for line in text.splitlines(keepends=True) if "runtime" not in line) for text in (ours, theirs)
    )
    if ours == theirs:
        return
    assert _NUMBER.sub("#", ours) == _NUMBER.sub("#", theirs), f"printed:\n{ours}\n!= the reference's:\n{theirs}"
    for a, b in zip(_NUMBER.finditer(ours), _NUMBER.finditer(theirs)):
        last_digit = 10.0 ** -len(b.group(1))
        close = abs(float(a.group()) - float(b.group())) <= max(1.5 * last_digit, TOL)
        assert close, f"printed {a.group()} != {b.group()}"


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.name for s in SNIPPETS])
def test_docs_snippet(snippet: Snippet, references: References):
    ours = run_snippet(snippet.code, snippet.checks, "workbench", snippet.name)
    theirs = references.of(snippet)
    assert "error" not in theirs, f"the reference failed on {snippet.page}:\n{theirs['error']}"
    assert "error" not in ours, f"workbench failed on {snippet.page}:\n{ours['error']}"
    assert_same(ours["shown"], theirs["shown"], "shown")
    assert_same(ours["checks"], theirs["checks"], "checks")
    if snippet.compare_printed:
        assert_same_text(ours["stdout"], theirs["stdout"])


# ---- What the pages needed, checked directly ----------------------------------------------------------------


def test_configs_from_a_file_path(tmp_path):
    """AutoConfig and the config classes read a config.json by its path (create_a_model's
    ``DistilBertConfig.from_pretrained("./your_model_save_path/config.json")``); ``config=`` takes one too."""
    import workbench

    config = workbench.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4)
    workbench.BertForSequenceClassification(config).save_pretrained(tmp_path / "model")
    file = tmp_path / "model" / "config.json"
    assert workbench.AutoConfig.from_pretrained(file).to_dict() == config.to_dict() | {"_name_or_path": str(file)}
    assert workbench.BertConfig.from_pretrained(str(file), hidden_act="relu").hidden_act == "relu"
    three_labels = tmp_path / "three_labels.json"
    three_labels.write_text(json.dumps({**json.loads(file.read_text()), "id2label": {"0": "a", "1": "b", "2": "c"}}))
    model = workbench.AutoModelForSequenceClassification.from_pretrained(
        tmp_path / "model", config=str(three_labels), ignore_mismatched_sizes=True
    )
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}

    with pytest.raises(ValueError, match="is a file. Pass the folder that holds config.json"):
        workbench.AutoModel.from_pretrained(file)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="holds a JSON list, not a config"):
        workbench.AutoConfig.from_pretrained(tmp_path / "list.json")
    (tmp_path / "weights.bin").write_bytes(b"\x80\x02binary")
    with pytest.raises(ValueError, match="is not a JSON config file"):
        workbench.AutoConfig.from_pretrained(tmp_path / "weights.bin")


def test_key_datasets_stream_like_the_reference(hf_home):
    """``pipe(KeyDataset(...))`` and ``pipe(KeyPairDataset(...))`` give an iterator with the data set's length,
    whose answers are those of the same inputs given as a list."""
    from workbench.pipelines import pipeline
    from workbench.pipelines.pt_utils import KeyDataset, KeyPairDataset

    rows = [
        {"premise": "A man is playing a guitar.", "hypothesis": "Someone makes music."},
        {"premise": "The cat sleeps.", "hypothesis": "A dog is barking loudly at the mailman."},
        {"premise": "It rains.", "hypothesis": "The street is wet."},
    ]
    pipe = pipeline("text-classification", model="stevhliu/my_awesome_model")
    answers = pipe(KeyPairDataset(rows, "premise", "hypothesis"), batch_size=2)
    assert not isinstance(answers, list) and len(answers) == 3
    pairs = [{"text": row["premise"], "text_pair": row["hypothesis"]} for row in rows]
    assert_same(list(answers), pipe(pairs), "pairs")
    assert_same(list(pipe(KeyDataset(rows, "premise"))), pipe([row["premise"] for row in rows]), "texts")


def test_text_generation_batches_give_one_prompt_at_a_time_answers(hf_home):
    """GPT-2 has no pad token: batches are padded on the left with its end-of-text token, hold prompts of one length
    while max_length (which counts the padded prompt) sets the length, and each prompt's sequences are cut where it
    would have stopped alone; the answers are those of batch_size=1, which is how the reference runs a list."""
    from workbench.pipelines import pipeline

    generator = pipeline("text-generation", model="openai-community/gpt2")
    prompts = ["Paris is", "The quick brown fox jumps over", "Hello", "One two three", "Hi"]
    alone = generator(prompts, do_sample=False, batch_size=1)
    assert generator(prompts, do_sample=False) == alone  # max_length=50 from task_specific_params
    assert generator(prompts, do_sample=False, max_new_tokens=6, return_tensors=True) == generator(
        prompts, do_sample=False, max_new_tokens=6, return_tensors=True, batch_size=1
    )
    # An end-of-sequence token that one prompt reaches early: alone, it stops there; in a batch it must too.
    options = dict(do_sample=False, max_new_tokens=8, return_tensors=True)
    prompt_length = len(generator.tokenizer(prompts[0])["input_ids"])
    stop = generator(prompts[0], **options)[0]["generated_token_ids"][prompt_length + 1]  # its second new token
    one_at_a_time = generator(prompts, batch_size=1, eos_token_id=stop, **options)
    assert len(one_at_a_time[0][0]["generated_token_ids"]) == prompt_length + 2
    assert generator(prompts, eos_token_id=stop, **options) == one_at_a_time
    assert generator(prompts, eos_token_id=stop, num_beams=2, num_return_sequences=2, **options) == generator(
        prompts, eos_token_id=stop, num_beams=2, num_return_sequences=2, batch_size=1, **options
    )


def test_a_streamer_follows_each_prompt_of_a_list(hf_home):
    """With a streamer, a list of prompts is generated one at a time (in a batch it would have to follow several
    sequences at once); the reference does the same."""
    from workbench import TextStreamer
    from workbench.pipelines import pipeline

    generator = pipeline("text-generation", model="openai-community/gpt2")
    streamer = TextStreamer(generator.tokenizer, skip_prompt=True)
    prompts = ["Paris is", "The quick brown fox jumps over"]
    assert generator(prompts, streamer=streamer, do_sample=False, max_new_tokens=4) == generator(
        prompts, do_sample=False, max_new_tokens=4
    )
