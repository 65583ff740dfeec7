"""Nothing in workbench changes a process-wide setting behind the user's back.

Importing every module of the package leaves torch's threads, default dtype, determinism and precision flags,
denormal handling, grad mode, the RNG, the environment variables and the root logger as they were; so does a
whole Trainer run (train, evaluate, predict, save_model, the collators), except for the RNG: the Trainer seeds
Python, NumPy and torch with ``TrainingArguments.seed`` when it is made, as the reference does.

Each check runs in a fresh interpreter, so that what other tests (or conftest.py) set does not hide a change.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SNAPSHOT = """
import hashlib, json, logging, os, signal, sys
import torch

def settings():
    matmul = torch.backends.cuda.matmul
    return {
        "threads": torch.get_num_threads(),
        "interop threads": torch.get_num_interop_threads(),
        "default dtype": str(torch.get_default_dtype()),
        "default device": str(torch.get_default_device()),
        "deterministic algorithms": [torch.are_deterministic_algorithms_enabled(),
                                     torch.is_deterministic_algorithms_warn_only_enabled()],
        "denormals kept (no set_flush_denormal)": torch.tensor([1e-42], dtype=torch.float32).mul(1.0).item() != 0,
        "float32 matmul precision": torch.get_float32_matmul_precision(),
        "cudnn": [torch.backends.cudnn.enabled, torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic,
                  torch.backends.cudnn.allow_tf32],
        "cuda matmul": [matmul.allow_tf32, matmul.allow_fp16_reduced_precision_reduction,
                        matmul.allow_bf16_reduced_precision_reduction],
        "mkldnn": torch.backends.mkldnn.enabled,
        "grad enabled": torch.is_grad_enabled(),
        "inference mode": torch.is_inference_mode_enabled(),
        "anomaly detection": torch.is_anomaly_enabled(),
        "cpu autocast": torch.is_autocast_enabled("cpu"),
        "print options": repr(vars(torch._tensor_str.PRINT_OPTS)),
        "environment": dict(os.environ),
        "root logger": [logging.getLogger().level, len(logging.getLogger().handlers)],
        "SIGINT handler": repr(signal.getsignal(signal.SIGINT)),
        "recursion limit": sys.getrecursionlimit(),
        "torch RNG": hashlib.sha1(torch.get_rng_state().numpy().tobytes()).hexdigest(),
    }
"""

IMPORT_EVERYTHING = """
import importlib, pkgutil
import workbench
before = settings()
names = [m.name for m in pkgutil.walk_packages(workbench.__path__, "workbench.") if not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"before": before, "after": settings(), "modules": len(names)}))
"""

TRAIN = """
import tempfile
from workbench.models.bert import BertConfig, BertForMaskedLM, BertForSequenceClassification
from workbench.training import DataCollatorForLanguageModeling, DataCollatorWithPadding, Trainer, TrainingArguments

class Tokenizer:
    pad_token_id, mask_token_id, padding_side, all_special_ids = 0, 4, "right", [0, 1, 2, 3, 4]
    def __len__(self):
        return 50

torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])  # torch's own first-use imports set TORCHINDUCTOR_CACHE_DIR
before = settings()
config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20)
rows = [{"input_ids": [2] + [5 + (i * j) % 40 for j in range(3 + i % 4)] + [3], "label": i % 2} for i in range(12)]
with tempfile.TemporaryDirectory() as out:
    args = TrainingArguments(out, max_steps=3, per_device_train_batch_size=4, report_to="none", disable_tqdm=True,
                             eval_strategy="steps", eval_steps=2, save_steps=2, bf16=True)
    trainer = Trainer(model=BertForSequenceClassification(BertConfig(**config, num_labels=2)), args=args,
                      train_dataset=rows, eval_dataset=rows, data_collator=DataCollatorWithPadding(Tokenizer()))
    trainer.train()
    trainer.evaluate()
    trainer.predict(rows)
    trainer.save_model()
    trainer.save_state()
    mlm = DataCollatorForLanguageModeling(Tokenizer(), seed=0)
    Trainer(model=BertForMaskedLM(BertConfig(**config)), args=TrainingArguments(out, max_steps=1, report_to="none",
            disable_tqdm=True, save_strategy="no"), train_dataset=[{"input_ids": r["input_ids"]} for r in rows],
            data_collator=mlm).train()
after = settings()
print(json.dumps({"before": before, "after": after}))
"""


def run_in_fresh_interpreter(code: str) -> dict:
    repo = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-c", SNAPSHOT + code], cwd=repo, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def changed(before: dict, after: dict) -> dict:
    return {key: (before[key], after[key]) for key in before if before[key] != after[key]}


@pytest.mark.timeout(300)
def test_importing_every_module_changes_no_process_setting():
    found = run_in_fresh_interpreter(IMPORT_EVERYTHING)
    assert found["modules"] > 20
    assert changed(found["before"], found["after"]) == {}


@pytest.mark.timeout(300)
def test_a_trainer_run_changes_no_process_setting_but_the_seeded_rng():
    found = run_in_fresh_interpreter(TRAIN)
    assert set(changed(found["before"], found["after"])) <= {"torch RNG"}
