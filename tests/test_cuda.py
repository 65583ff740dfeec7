"""The same code on a CUDA GPU: models, generation, pipelines and the Trainer.

Skipped where torch sees no GPU (CI and classrooms run on CPUs). On a GPU machine, run
``pytest tests/test_cuda.py``: every check compares against the reference implementation on the same
device, or against our own CPU result, so a device-specific bug (a tensor left on the CPU, a mask built
in the wrong dtype) shows up as a failure, not as slightly different numbers.
"""

from __future__ import annotations

import pytest
import torch

import workbench
from tests.parity import padded_batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def _exact_matmuls():
    # TF32 would make GPU matmuls differ from the CPU's in the 3rd digit; the parity checks want fp32.
    previous = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = previous


def _reference_pair(class_name: str, config_values: dict, tmp_path, config_name: str):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = getattr(transformers, config_name)(**config_values)
    ref = getattr(transformers, class_name)._from_config(config, attn_implementation="eager").eval()
    ref.save_pretrained(tmp_path / "model")
    ours = getattr(workbench, class_name).from_pretrained(tmp_path / "model").eval()
    return ref.to(CUDA), ours.to(CUDA)


def _on_cuda(batch: dict) -> dict:
    return {k: v.to(CUDA) for k, v in batch.items()}


BERT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
GPT2 = dict(vocab_size=99, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2)
T5 = dict(
    vocab_size=99,
    d_model=32,
    d_kv=8,
    d_ff=37,
    num_layers=2,
    num_heads=4,
    feed_forward_proj="gated-gelu",
    tie_word_embeddings=False,
    decoder_start_token_id=0,
    pad_token_id=0,
    eos_token_id=1,
)
BART = dict(
    vocab_size=99,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=37,
    decoder_ffn_dim=37,
    max_position_embeddings=64,
)


def test_encoder_on_gpu_matches_reference(tmp_path):
    ref, ours = _reference_pair("BertForSequenceClassification", BERT, tmp_path, "BertConfig")
    batch = _on_cuda(padded_batch(vocab_size=99))
    with torch.no_grad():
        expected = ref(**batch, output_attentions=True)
        got = ours(**batch, output_attentions=True)
        fast = ours(**batch)  # the fused SDPA path on the GPU
    torch.testing.assert_close(got.logits, expected.logits, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(fast.logits, expected.logits, atol=1e-5, rtol=1e-4)
    for a, b in zip(got.attentions, expected.attentions):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_training_step_skipping_padding_on_gpu_matches_reference(tmp_path):
    # In training mode the encoder packs the real tokens (layers.TokenLayout); dropout off, so the numbers compare.
    values = dict(BERT, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    ref, ours = _reference_pair("BertForSequenceClassification", values, tmp_path, "BertConfig")
    ref.train(), ours.train()
    batch = _on_cuda({**padded_batch(vocab_size=99), "labels": torch.tensor([0, 1, 0])})
    expected, got = ref(**batch), ours(**batch)
    torch.testing.assert_close(got.loss, expected.loss, atol=1e-5, rtol=1e-4)
    expected.loss.backward()
    got.loss.backward()
    reference_grads = dict(ref.named_parameters())
    for name, parameter in ours.named_parameters():
        torch.testing.assert_close(parameter.grad, reference_grads[name].grad, atol=1e-5, rtol=1e-3)


def test_gradient_checkpointing_on_gpu_gives_the_same_gradients():
    # Dropout on: the checkpoint replays the CUDA random state, so the recomputed masks are the same.
    model = workbench.BertForSequenceClassification(workbench.BertConfig(**BERT)).to(CUDA).train()
    batch = _on_cuda({**padded_batch(vocab_size=99), "labels": torch.tensor([0, 1, 0])})

    def gradients():
        torch.manual_seed(5)
        model.zero_grad()
        model(**batch).loss.backward()
        return {name: p.grad.clone() for name, p in model.named_parameters()}

    plain = gradients()
    model.gradient_checkpointing_enable()
    checkpointed = gradients()
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-6, rtol=1e-5)


def test_bf16_on_gpu_stays_close(tmp_path):
    _, ours = _reference_pair("BertModel", BERT, tmp_path, "BertConfig")
    batch = _on_cuda(padded_batch(vocab_size=99))
    with torch.no_grad():
        full = ours(**batch).last_hidden_state
        half = ours.to(torch.bfloat16)(**batch).last_hidden_state
    assert half.dtype == torch.bfloat16 and half.device.type == "cuda"
    cosine = torch.nn.functional.cosine_similarity(full.flatten(1), half.float().flatten(1))
    assert bool((cosine > 0.99).all()), cosine


@pytest.mark.parametrize("num_beams", [1, 3])
def test_decoder_generate_on_gpu_matches_reference(tmp_path, num_beams):
    ref, ours = _reference_pair("GPT2LMHeadModel", GPT2, tmp_path, "GPT2Config")
    ids = torch.randint(3, 99, (2, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, :3] = 0  # left padding
    kwargs = dict(attention_mask=mask.to(CUDA), max_new_tokens=12, do_sample=False, num_beams=num_beams, pad_token_id=0)
    expected = ref.generate(ids.to(CUDA), **kwargs)
    got = ours.generate(ids.to(CUDA), **kwargs)
    assert got.device.type == "cuda"
    assert torch.equal(got, expected)


@pytest.mark.parametrize("family,num_beams", [("T5", 1), ("T5", 3), ("Bart", 1), ("Bart", 3)])
def test_encoder_decoder_generate_on_gpu_matches_reference(tmp_path, family, num_beams):
    values = T5 if family == "T5" else BART
    ref, ours = _reference_pair(f"{family}ForConditionalGeneration", values, tmp_path, f"{family}Config")
    batch = _on_cuda(padded_batch(vocab_size=99))
    kwargs = dict(attention_mask=batch["attention_mask"], max_new_tokens=10, num_beams=num_beams, do_sample=False)
    expected = ref.generate(batch["input_ids"], **kwargs)
    got = ours.generate(batch["input_ids"], **kwargs)
    assert torch.equal(got, expected)


def test_sampling_on_gpu_is_seeded(tmp_path):
    _, ours = _reference_pair("GPT2LMHeadModel", GPT2, tmp_path, "GPT2Config")
    ids = torch.tensor([[5, 6, 7]], device=CUDA)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)
        runs.append(ours.generate(ids, max_new_tokens=10, do_sample=True, top_p=0.9, pad_token_id=0))
    assert torch.equal(runs[0], runs[1])


def test_pipeline_on_device(tmp_path):
    from tiny_checkpoints import tiny_bert, tiny_t5

    folder = tiny_bert(tmp_path / "cls", "ForSequenceClassification", ["NEGATIVE", "POSITIVE"])
    texts = ["a fine film", "a dull, overlong film that never ends", "ok"]
    on_cpu = workbench.pipeline("text-classification", model=folder)(texts)
    gpu_pipe = workbench.pipeline("text-classification", model=folder, device=0)
    assert gpu_pipe.device.type == "cuda"
    on_gpu = gpu_pipe(texts, batch_size=2)
    assert [r["label"] for r in on_gpu] == [r["label"] for r in on_cpu]
    for a, b in zip(on_gpu, on_cpu):
        assert abs(a["score"] - b["score"]) < 1e-4
    t5 = tiny_t5(tmp_path / "t5")
    cpu_text = workbench.pipeline("text2text-generation", model=t5)(texts, max_new_tokens=6)
    gpu_text = workbench.pipeline("text2text-generation", model=t5, device="cuda")(texts, max_new_tokens=6)
    assert gpu_text == cpu_text


def test_trainer_on_gpu_in_bf16(tmp_path):
    torch.manual_seed(0)
    model = workbench.BertForSequenceClassification(workbench.BertConfig(**BERT, num_labels=2))
    g = torch.Generator().manual_seed(0)
    rows = [{"input_ids": torch.randint(3, 99, (12,), generator=g).tolist(), "label": i % 2} for i in range(64)]
    for row in rows:  # a learnable rule: the label is whether token 7 appears first
        row["input_ids"][0] = 7 if row["label"] else 8
    args = workbench.TrainingArguments(
        output_dir=str(tmp_path / "out"),
        num_train_epochs=8,
        per_device_train_batch_size=16,
        learning_rate=3e-3,
        bf16=True,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        logging_steps=4,
    )
    trainer = workbench.Trainer(model=model, args=args, train_dataset=rows)
    assert args.device.type == "cuda"
    trainer.train()
    assert next(model.parameters()).device.type == "cuda"
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert losses[-1] < losses[0], losses
    metrics = trainer.evaluate(rows)
    assert metrics["eval_loss"] < 0.69
