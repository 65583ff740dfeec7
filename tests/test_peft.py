"""PEFT adapters (LoRA) on workbench models, against the reference + peft on tiny random models.

- Adapters go both ways: made here with ``peft.get_peft_model`` and saved, they load in the reference with peft
  (``PeftModel.from_pretrained``), and the reverse, through peft and through ``AutoModelFor*.from_pretrained(
  adapter_folder)``; logits, hidden states and attentions agree within 1e-5. ``merge_and_unload()`` gives the
  adapter model's outputs, and its save loads in the reference with the same outputs.
- Encoders (BERT, RoBERTa, DistilBERT; sequence and token classification, whose head peft trains as a module to
  save) and decoders with peft's default target modules for their model_type (GPT-2, whose Conv1D peft adapts
  through ``register_workbench_layers``; LLaMA, OPT, GPT-NeoX's fused query_key_value, Phi, Gemma), with greedy
  generation token-identical to the reference's.
- Our Trainer trains the adapter (and the head) only; the integrated API (``add_adapter``, which trains a task head
  as get_peft_model does, ``load_adapter``,
  ``set_adapter``, ``enable_adapters``/``disable_adapters``, ``active_adapters``, ``get_adapter_state_dict``,
  ``save_pretrained``) and its errors.
"""

import json
import subprocess
import sys

import pytest
import torch
import transformers
from parity import (
    assert_close,
    assert_generate_matches,
    assert_outputs_close,
    left_padded_batch,
    load_ours_from_reference,
    padded_batch,
    reference_model,
    varied_weights,
)
from peft import IA3Config, LoraConfig, PeftConfig, PeftModel, get_peft_model
from peft.tuners.tuners_utils import BaseTunerLayer
from tiny_configs import GPT2, LLAMA, VOCAB

import workbench
from workbench.hub import CheckpointNotFoundError
from workbench.peft_integration import register_workbench_layers

ENCODER = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    num_labels=3,
)
DECODER = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
)
DISTILBERT = dict(
    vocab_size=VOCAB, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64, num_labels=3
)

# reference class, its config, peft task type, LoRA settings, inputs the model does not take
ENCODERS = {
    "bert-sequence": ("BertForSequenceClassification", transformers.BertConfig(**ENCODER), "SEQ_CLS", {}, ()),
    "bert-token": ("BertForTokenClassification", transformers.BertConfig(**ENCODER), "TOKEN_CLS", {}, ()),
    "roberta-sequence": ("RobertaForSequenceClassification", transformers.RobertaConfig(**ENCODER), "SEQ_CLS", {}, ()),
    "distilbert-sequence": (
        "DistilBertForSequenceClassification",
        transformers.DistilBertConfig(**DISTILBERT),
        "SEQ_CLS",
        dict(target_modules=["q_lin", "v_lin"]),  # peft has no default for DistilBERT
        ("token_type_ids",),
    ),
}
AUTO_CLASS = {"SEQ_CLS": "AutoModelForSequenceClassification", "TOKEN_CLS": "AutoModelForTokenClassification"}
# LoRA on peft's default target modules for each model_type: GPT-2's Conv1D c_attn; q_proj and v_proj (LLaMA, OPT,
# Gemma); the fused query_key_value (GPT-NeoX); q_proj, v_proj and the MLP's fc1, fc2 (Phi)
DECODERS = {
    "gpt2": ("GPT2LMHeadModel", transformers.GPT2Config(**GPT2)),
    "llama": ("LlamaForCausalLM", transformers.LlamaConfig(**LLAMA)),
    "opt": ("OPTForCausalLM", transformers.OPTConfig(**{**DECODER, "ffn_dim": 48})),
    "gpt_neox": ("GPTNeoXForCausalLM", transformers.GPTNeoXConfig(**DECODER, intermediate_size=48, rotary_pct=0.5)),
    "phi": ("PhiForCausalLM", transformers.PhiConfig(**DECODER, intermediate_size=48)),
    "gemma": ("GemmaForCausalLM", transformers.GemmaConfig(**DECODER, intermediate_size=48, num_key_value_heads=2)),
}


def lora(task_type, **overrides):
    """A LoRA config whose B matrices start random (not zero), so that the adapter changes the outputs from the
    first step; our Conv1D registered (a no-op for the reference's models)."""
    settings = dict(task_type=task_type, r=4, lora_alpha=8, init_lora_weights=False, **overrides)
    return register_workbench_layers(LoraConfig(**settings))


def perturb_saved_modules(peft_model):
    """Move the head that peft trains as a whole (modules_to_save) away from the base model's, so that loading it
    is checked too."""
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "modules_to_save" in name:
                param.add_(torch.randn_like(param) * 0.5)


def eager_reference(folder, class_name):
    return getattr(transformers, class_name).from_pretrained(folder, attn_implementation="eager").eval()


def test_importing_workbench_leaves_peft_alone():
    code = "import sys, workbench; workbench.BertModel; workbench.AutoModel; print('peft' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------------------------
# Round trips with the reference
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ENCODERS)
def test_encoder_adapters_round_trip(case, tmp_path):
    class_name, config, task, settings, drop = ENCODERS[case]
    ref = reference_model(class_name, config, seed=0)
    ours, base_folder = load_ours_from_reference(ref, getattr(workbench, class_name), tmp_path)
    batch = padded_batch(VOCAB)

    # made here, loaded by the reference
    torch.manual_seed(1)
    our_peft = get_peft_model(ours, lora(task, **settings)).eval()
    perturb_saved_modules(our_peft)
    our_peft.save_pretrained(tmp_path / "ours")
    saved = json.loads((tmp_path / "ours" / "adapter_config.json").read_text())
    assert saved["base_model_name_or_path"] == str(base_folder) and saved["task_type"] == task
    ref_peft = PeftModel.from_pretrained(ref, tmp_path / "ours").eval()
    assert_outputs_close(ref_peft, our_peft, batch, drop=drop)

    # merged: the adapter model's outputs, and a checkpoint the reference reads
    expected = ref_peft(**{k: v for k, v in batch.items() if k not in drop}).logits
    merged = our_peft.merge_and_unload()
    assert type(merged) is getattr(workbench, class_name)
    merged.save_pretrained(tmp_path / "merged")
    assert_outputs_close(eager_reference(tmp_path / "merged", class_name), merged, batch, drop=drop)
    torch.testing.assert_close(merged(**{k: v for k, v in batch.items() if k not in drop}).logits, expected)

    # made by the reference, loaded here: by peft, and by the Auto class from the adapter folder
    torch.manual_seed(2)
    ref_peft = get_peft_model(eager_reference(base_folder, class_name), lora(task, **settings)).eval()
    perturb_saved_modules(ref_peft)
    ref_peft.save_pretrained(tmp_path / "theirs")
    ours = PeftModel.from_pretrained(getattr(workbench, class_name).from_pretrained(base_folder), tmp_path / "theirs")
    assert_outputs_close(ref_peft, ours.eval(), batch, drop=drop)
    loaded = getattr(workbench, AUTO_CLASS[task]).from_pretrained(tmp_path / "theirs")
    assert type(loaded) is getattr(workbench, class_name) and loaded.active_adapters() == ["default"]
    assert_outputs_close(ref_peft, loaded, batch, drop=drop)


@pytest.mark.parametrize("case", DECODERS)
def test_decoder_adapters_round_trip(case, tmp_path):
    class_name, config = DECODERS[case]
    ref = varied_weights(reference_model(class_name, config), std=0.3)
    ours, base_folder = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    batch = left_padded_batch(VOCAB)
    prompt = batch["input_ids"]
    settings = dict(attention_mask=batch["attention_mask"], max_new_tokens=6, do_sample=False, pad_token_id=0)

    torch.manual_seed(1)
    our_peft = get_peft_model(ours, lora("CAUSAL_LM")).eval()
    our_peft.save_pretrained(tmp_path / "ours")
    ref_peft = PeftModel.from_pretrained(ref, tmp_path / "ours").eval()
    assert_outputs_close(ref_peft, our_peft, batch, left_padded=True)
    assert_generate_matches(ref_peft, our_peft, prompt, **settings)

    merged = our_peft.merge_and_unload()
    merged.save_pretrained(tmp_path / "merged")
    assert_outputs_close(eager_reference(tmp_path / "merged", class_name), merged, batch, left_padded=True)
    assert_generate_matches(ref_peft, merged, prompt, **settings)

    torch.manual_seed(2)
    ref_peft = get_peft_model(eager_reference(base_folder, class_name), lora("CAUSAL_LM")).eval()
    ref_peft.save_pretrained(tmp_path / "theirs")
    config = register_workbench_layers(PeftConfig.from_pretrained(tmp_path / "theirs"))  # GPT-2's Conv1D
    ours = PeftModel.from_pretrained(
        workbench.AutoModelForCausalLM.from_pretrained(base_folder), tmp_path / "theirs", config=config
    )
    assert_outputs_close(ref_peft, ours.eval(), batch, left_padded=True)
    loaded = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "theirs")
    assert_outputs_close(ref_peft, loaded, batch, left_padded=True)
    assert_generate_matches(ref_peft, loaded, prompt, **settings)


def test_ia3_adapter_round_trip(tmp_path):
    """Another method that adds layers, through the same peft code: IA³ scales keys, values and MLP inputs."""
    ref = reference_model("LlamaForCausalLM", transformers.LlamaConfig(**LLAMA), seed=0)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    our_peft = get_peft_model(ours, IA3Config(task_type="CAUSAL_LM")).eval()
    with torch.no_grad():
        for name, param in our_peft.named_parameters():
            if "ia3_l" in name:
                param.uniform_(0.5, 1.5)
    our_peft.save_pretrained(tmp_path / "ia3")
    loaded = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "ia3")
    ref_peft = PeftModel.from_pretrained(ref, tmp_path / "ia3").eval()
    assert_outputs_close(ref_peft, our_peft, left_padded_batch(VOCAB), left_padded=True)
    assert_outputs_close(ref_peft, loaded, left_padded_batch(VOCAB), left_padded=True)


# ------------------------------------------------------------------------------------------------
# Training with the Trainer
# ------------------------------------------------------------------------------------------------


def tiny_classification_data(n=32, seq=8):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, VOCAB, (n, seq), generator=g)
    labels = (ids[:, 0] > VOCAB // 2).long()  # learnable from the first token
    return [
        {"input_ids": i, "attention_mask": torch.ones(seq, dtype=torch.long), "labels": y} for i, y in zip(ids, labels)
    ]


# reentrant checkpointing computes no gradients in a block whose inputs need none, as with frozen embeddings: the
# model makes its embeddings' output require them (enable_input_require_grads), else the adapter would not move
@pytest.mark.parametrize("checkpointing", [{}, dict(gradient_checkpointing_kwargs={"use_reentrant": True})])
def test_trainer_trains_the_adapter_and_the_head_only(checkpointing, tmp_path):
    torch.manual_seed(0)
    workbench.BertForSequenceClassification(workbench.BertConfig(**{**ENCODER, "num_labels": 2})).save_pretrained(
        tmp_path / "base"
    )
    model = workbench.BertForSequenceClassification.from_pretrained(tmp_path / "base")
    peft_model = get_peft_model(model, LoraConfig(task_type="SEQ_CLS", r=4))
    before = {name: p.detach().clone() for name, p in peft_model.named_parameters()}
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n or "modules_to_save" in n for n in trainable)

    args = workbench.TrainingArguments(
        tmp_path / "run",
        learning_rate=1e-2,
        num_train_epochs=2,
        per_device_train_batch_size=8,
        report_to="none",
        gradient_checkpointing=bool(checkpointing),
        **checkpointing,
    )
    workbench.Trainer(model=peft_model, args=args, train_dataset=tiny_classification_data()).train()
    changed = {name for name, p in peft_model.named_parameters() if not torch.equal(p, before[name])}
    assert changed == trainable

    peft_model.save_pretrained(tmp_path / "adapter")
    assert {p.name for p in (tmp_path / "adapter").iterdir()} >= {"adapter_config.json", "adapter_model.safetensors"}
    reloaded = workbench.AutoModelForSequenceClassification.from_pretrained(tmp_path / "adapter")
    batch = padded_batch(VOCAB)
    peft_model.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).logits, peft_model(**batch).logits)


def test_trainer_with_an_added_adapter_saves_what_the_reference_loads(tmp_path):
    ref = reference_model("LlamaForCausalLM", transformers.LlamaConfig(**LLAMA), seed=0)
    model, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    model.add_adapter(LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"]))
    g = torch.Generator().manual_seed(0)
    data = [{"input_ids": ids, "labels": ids} for ids in torch.randint(3, VOCAB, (16, 10), generator=g)]
    args = workbench.TrainingArguments(tmp_path / "run", learning_rate=1e-2, max_steps=6, report_to="none")
    result = workbench.Trainer(model=model, args=args, train_dataset=data).train()
    assert result.global_step == 6

    model.save_pretrained(tmp_path / "adapter")
    assert sorted(p.name for p in (tmp_path / "adapter").iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "generation_config.json",
    ]
    theirs = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "adapter", attn_implementation="eager")
    assert_outputs_close(theirs.eval(), model.eval(), left_padded_batch(VOCAB), left_padded=True)


def test_added_adapter_trains_the_task_head_as_get_peft_model_does(tmp_path):
    """add_adapter with task_type="SEQ_CLS" trains and saves the new head (a decoder's ``score``) as a module to save,
    so that peft's PeftModel.from_pretrained, which expects it in the file, loads the adapter in the reference."""
    config = transformers.GemmaConfig(**DECODER, intermediate_size=48, num_key_value_heads=2, num_labels=3)
    ref = varied_weights(reference_model("GemmaForSequenceClassification", config), std=0.3)
    model, base_folder = load_ours_from_reference(ref, workbench.GemmaForSequenceClassification, tmp_path)
    torch.manual_seed(1)
    model.add_adapter(LoraConfig(task_type="SEQ_CLS", r=4, init_lora_weights=False))
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert any("score.modules_to_save" in name for name in trainable)
    perturb_saved_modules(model)

    model.save_pretrained(tmp_path / "adapter")
    theirs = PeftModel.from_pretrained(
        eager_reference(base_folder, "GemmaForSequenceClassification"), tmp_path / "adapter"
    )
    batch = left_padded_batch(VOCAB)
    with torch.no_grad():
        assert_close(
            model.eval()(**batch).logits, theirs.eval()(**batch).logits, "logits"
        )  # read at the last real token


# ------------------------------------------------------------------------------------------------
# The integrated API
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def llama_folder(tmp_path):
    torch.manual_seed(0)
    workbench.LlamaForCausalLM(workbench.LlamaConfig(**LLAMA)).save_pretrained(tmp_path / "base")
    return tmp_path / "base"


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_add_set_enable_disable_and_save_adapters(llama_folder, tmp_path):
    model = workbench.AutoModelForCausalLM.from_pretrained(llama_folder)
    ids = torch.randint(3, VOCAB, (2, 7))
    base = logits_of(model, ids)
    with pytest.raises(ValueError, match="no adapter"):
        model.active_adapters()

    torch.manual_seed(1)
    model.add_adapter(LoraConfig(r=4, init_lora_weights=False), adapter_name="a")
    model.add_adapter(LoraConfig(r=4, init_lora_weights=False, target_modules=["o_proj"]), adapter_name="b")
    assert model.active_adapters() == ["b"]
    assert model.peft_config["a"].base_model_name_or_path == str(llama_folder)
    trainable = [name for name, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".b." in name for name in trainable)  # only the active adapter trains
    with_b = logits_of(model, ids)
    model.set_adapter("a")
    with_a = logits_of(model, ids)
    assert not torch.allclose(with_a, with_b) and not torch.allclose(with_a, base)
    model.disable_adapters()
    torch.testing.assert_close(logits_of(model, ids), base)
    model.enable_adapters()
    torch.testing.assert_close(logits_of(model, ids), with_a)

    state = model.get_adapter_state_dict()
    assert state and all("lora_" in key and ".a." not in key for key in state)
    assert not any("o_proj" in key for key in state)
    assert model.get_adapter_state_dict("b") and all("o_proj" in key for key in model.get_adapter_state_dict("b"))

    model.save_pretrained(tmp_path / "a")
    model.load_adapter(tmp_path / "a", adapter_name="a-again")
    assert not any(p.requires_grad for name, p in model.named_parameters() if "a-again" in name)
    model.set_adapter("a-again")
    torch.testing.assert_close(logits_of(model, ids), with_a)

    with pytest.raises(ValueError, match="already has an adapter named 'a'"):
        model.add_adapter(LoraConfig(r=4), adapter_name="a")
    with pytest.raises(ValueError, match=r"No adapter named \['c'\]"):
        model.set_adapter("c")
    model.set_adapter(["a", "b"])
    with pytest.raises(ValueError, match="Several adapters are active"):
        model.save_pretrained(tmp_path / "two")


def test_adapter_errors(llama_folder, tmp_path):
    model = workbench.AutoModelForCausalLM.from_pretrained(llama_folder)
    with pytest.raises(CheckpointNotFoundError, match="not a PEFT adapter"):
        model.load_adapter(llama_folder)
    with pytest.raises(TypeError, match="must be a peft config"):
        model.add_adapter({"r": 4})

    # an adapter trained on another architecture
    gpt2 = workbench.GPT2LMHeadModel(workbench.GPT2Config(**GPT2))
    gpt2.add_adapter(LoraConfig(r=4, target_modules=["c_attn"]))
    gpt2.save_pretrained(tmp_path / "gpt2-adapter")
    with pytest.raises(ValueError, match="does not fit LlamaForCausalLM"):
        model.load_adapter(tmp_path / "gpt2-adapter", peft_config=LoraConfig(r=4, target_modules=["q_proj"]))

    # an adapter with no base model named
    config = json.loads((tmp_path / "gpt2-adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] is None  # built from a config, not loaded
    with pytest.raises(ValueError, match="names no base_model_name_or_path"):
        workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "gpt2-adapter")

    # the base model of a peft.PeftModel holds adapter layers, not a checkpoint
    peft_model = get_peft_model(workbench.AutoModelForCausalLM.from_pretrained(llama_folder), LoraConfig(r=4))
    with pytest.raises(ValueError, match="peft_model.save_pretrained"):
        peft_model.get_base_model().save_pretrained(tmp_path / "broken")


def test_all_linear_adapts_every_linear_layer_but_the_output_layer():
    model = workbench.GPT2LMHeadModel(workbench.GPT2Config(**GPT2))
    model.add_adapter(LoraConfig(r=4, target_modules="all-linear"))
    adapted = {name.split(".")[-1] for name, module in model.named_modules() if isinstance(module, BaseTunerLayer)}
    assert adapted == {"c_attn", "c_proj", "c_fc"}  # GPT-2's Conv1D layers; not lm_head
