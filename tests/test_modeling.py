"""Configs, checkpoint loading/saving, and the errors users meet."""

import json
import os

import pytest
import torch
import transformers
from parity import padded_batch, reference_model

import workbench
from workbench.outputs import ModelOutput, SequenceClassifierOutput


def tiny_bert_folder(tmp_path, head="BertForSequenceClassification", **overrides):
    values = dict(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
    )
    values.update(overrides)
    ref = reference_model(head, transformers.BertConfig(**values))
    folder = tmp_path / "ckpt"
    ref.save_pretrained(folder)
    return folder, ref


# -- configs ---------------------------------------------------------------------------------------


def test_config_round_trip_keeps_unknown_keys(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    data = json.loads((folder / "config.json").read_text())
    data["some_future_key"] = {"nested": [1, 2]}
    (folder / "config.json").write_text(json.dumps(data))
    config = workbench.AutoConfig.from_pretrained(folder)
    assert isinstance(config, workbench.BertConfig)
    assert config.some_future_key == {"nested": [1, 2]}
    config.save_pretrained(tmp_path / "again")
    saved = json.loads((tmp_path / "again" / "config.json").read_text())
    assert saved["some_future_key"] == {"nested": [1, 2]}
    assert saved["model_type"] == "bert" and saved["hidden_size"] == 32
    # and the reference reads it
    assert transformers.AutoConfig.from_pretrained(tmp_path / "again").hidden_size == 32


def test_labels_and_overrides(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    config = workbench.AutoConfig.from_pretrained(folder, num_labels=3, hidden_dropout_prob=0.0)
    assert config.num_labels == 3 and config.id2label == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert config.hidden_dropout_prob == 0.0
    named = workbench.BertConfig(id2label={"0": "negative", "1": "positive"})
    assert named.label2id == {"negative": 0, "positive": 1} and named.num_labels == 2
    assert json.loads(named.to_json_string())["id2label"] == {"0": "negative", "1": "positive"}
    with pytest.raises(ValueError, match="num_labels=3 disagrees"):
        workbench.BertConfig(num_labels=3, id2label={0: "a", 1: "b"})


def test_reference_config_keys_read_here(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path, num_labels=3)
    ours = workbench.AutoConfig.from_pretrained(folder)
    theirs = transformers.AutoConfig.from_pretrained(folder)
    for key in (
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "layer_norm_eps",
        "max_position_embeddings",
        "type_vocab_size",
        "pad_token_id",
    ):
        assert getattr(ours, key) == getattr(theirs, key), key
    assert ours.id2label == theirs.id2label


def test_unknown_model_type_lists_supported(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mamba9", "auto_map": {"AutoModel": "x.Y"}}))
    with pytest.raises(ValueError) as e:
        workbench.AutoModel.from_pretrained(tmp_path)
    message = str(e.value)
    assert "'mamba9'" in message and "bert" in message and "roberta" in message
    assert "never runs remote code" in message


def test_trust_remote_code_is_refused(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    with pytest.raises(ValueError, match="trust_remote_code"):
        workbench.AutoModel.from_pretrained(folder, trust_remote_code=True)


def test_auto_class_without_that_head(tmp_path, monkeypatch):
    from workbench.models import auto

    monkeypatch.setitem(auto.MODEL_TYPES, "bert", auto.Family("bert", "BertConfig", {"base": "BertModel"}))
    folder, _ = tiny_bert_folder(tmp_path)
    with pytest.raises(ValueError, match="needs a question-answering head"):
        workbench.AutoModelForQuestionAnswering.from_pretrained(folder)


# -- loading -----------------------------------------------------------------------------------------


def test_dtype_options(tmp_path):
    folder, ref = tiny_bert_folder(tmp_path)
    assert workbench.AutoModel.from_pretrained(folder).dtype == torch.float32
    bf16 = workbench.AutoModel.from_pretrained(folder, torch_dtype=torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in bf16.parameters())
    ref.to(torch.float16).save_pretrained(tmp_path / "half")
    assert workbench.AutoModel.from_pretrained(tmp_path / "half", torch_dtype="auto").dtype == torch.float16
    assert workbench.AutoModel.from_pretrained(tmp_path / "half", dtype="float32").dtype == torch.float32
    with pytest.raises(ValueError, match="not a torch dtype"):
        workbench.AutoModel.from_pretrained(folder, torch_dtype="float33")


def test_sharded_save_and_load(tmp_path):
    folder, ref = tiny_bert_folder(tmp_path)
    model = workbench.AutoModelForSequenceClassification.from_pretrained(folder)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="20KB")
    files = sorted(os.listdir(tmp_path / "sharded"))
    assert "model.safetensors.index.json" in files and "model.safetensors" not in files
    shards = [f for f in files if f.startswith("model-")]
    assert len(shards) > 2
    back = workbench.AutoModelForSequenceClassification.from_pretrained(tmp_path / "sharded")
    theirs = transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "sharded")
    for key, value in model.state_dict().items():
        assert torch.equal(back.state_dict()[key], value)
        assert torch.equal(theirs.state_dict()[key], value)
    # saving again unsharded removes the stale shards
    model.save_pretrained(tmp_path / "sharded")
    assert sorted(os.listdir(tmp_path / "sharded")) == ["config.json", "model.safetensors"]


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    folder, _ = tiny_bert_folder(tmp_path)
    model = workbench.AutoModelForSequenceClassification.from_pretrained(folder)
    target = tmp_path / "out"
    model.save_pretrained(target)
    before = (target / "model.safetensors").read_bytes()
    with torch.no_grad():
        model.classifier.weight.add_(1.0)

    import safetensors.torch

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(safetensors.torch, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        model.save_pretrained(target)
    assert (target / "model.safetensors").read_bytes() == before
    assert sorted(os.listdir(target)) == ["config.json", "model.safetensors"]


def test_truncated_safetensors(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(OSError, match="not a readable safetensors file"):
        workbench.AutoModel.from_pretrained(folder)


def test_garbage_safetensors_header(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
    with pytest.raises(OSError, match="damaged|not a readable"):
        workbench.AutoModel.from_pretrained(folder)


def test_no_weights_at_all(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    (folder / "model.safetensors").unlink()
    with pytest.raises(OSError, match="has a config.json but no weights"):
        workbench.AutoModel.from_pretrained(folder)


def test_shape_mismatch_between_config_and_weights(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["vocab_size"] = 120
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"word_embeddings.weight of shape \(99, 32\).*expects \(120, 32\)"):
        workbench.AutoModel.from_pretrained(folder)


def test_num_labels_change_with_ignore_mismatched_sizes(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    with pytest.raises(ValueError, match=r"classifier\.(weight|bias) of shape"):
        workbench.AutoModelForSequenceClassification.from_pretrained(folder, num_labels=5)
    model, info = workbench.AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert model.classifier.weight.shape == (5, 32)
    assert sorted(k for k, _, _ in info["mismatched_keys"]) == ["classifier.bias", "classifier.weight"]


@pytest.mark.parametrize(
    "head",
    ["BertForMaskedLM", "RobertaForMaskedLM", "AlbertForMaskedLM", "ElectraForMaskedLM", "DistilBertForMaskedLM"],
)
def test_new_heads_from_an_encoder_checkpoint_start_at_the_reference_init(tmp_path, head):
    """An encoder-only checkpoint (like all-MiniLM-L6-v2) loaded with a masked-LM head: the head's bare
    bias must start at zero, as in the reference, not as uninitialised memory (NaN, huge values)."""
    family = head.replace("ForMaskedLM", "")
    config = getattr(transformers, f"{family}Config")(
        vocab_size=99,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        embedding_size=16,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=37,
    )
    folder = tmp_path / "encoder"
    reference_model(f"{family}Model", config).save_pretrained(folder)
    for _ in range(3):  # uninitialised memory differs from call to call: look more than once
        model = getattr(workbench, head).from_pretrained(folder)
        for name, tensor in model.state_dict().items():
            assert bool(torch.isfinite(tensor).all()), name
            if name.endswith("bias") and "LayerNorm" not in name and "layer_norm" not in name:
                assert float(tensor.abs().max()) == 0.0, name  # every new bias starts at zero
        logits = model(**{k: v for k, v in padded_batch(vocab_size=99).items() if k != "token_type_ids"}).logits
        assert bool(torch.isfinite(logits).all())


def test_a_loaded_weight_survives_when_only_its_bias_is_missing(tmp_path):
    from safetensors.torch import load_file, save_file

    folder, ref = tiny_bert_folder(tmp_path)
    state = load_file(folder / "model.safetensors")
    del state["classifier.bias"]
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    model, info = workbench.BertForSequenceClassification.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == ["classifier.bias"]
    assert torch.equal(model.classifier.weight, ref.classifier.weight)  # kept, not re-initialised
    assert not model.classifier.bias.detach().any()


def test_bin_checkpoint_with_plain_tensors_loads(tmp_path):
    folder, ref = tiny_bert_folder(tmp_path)
    (folder / "model.safetensors").unlink()
    torch.save(ref.state_dict(), folder / "pytorch_model.bin")
    model = workbench.AutoModelForSequenceClassification.from_pretrained(folder)
    batch = padded_batch(99)
    with torch.no_grad():
        torch.testing.assert_close(model(**batch).logits, ref(**batch).logits)


class Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_bin_checkpoint_with_pickled_objects_is_refused(tmp_path):
    folder, ref = tiny_bert_folder(tmp_path)
    (folder / "model.safetensors").unlink()
    state = dict(ref.state_dict())
    state["evil"] = Payload()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(OSError, match="Refusing to load.*weights_only"):
        workbench.AutoModel.from_pretrained(folder)


# -- running ----------------------------------------------------------------------------------------


def test_input_longer_than_positions(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    model = workbench.AutoModel.from_pretrained(folder)
    with pytest.raises(ValueError, match=r"70 tokens .* at most 64.*truncation=True, max_length=64"):
        model(input_ids=torch.ones(1, 70, dtype=torch.long))


def test_empty_batch_and_wrong_inputs(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    model = workbench.AutoModel.from_pretrained(folder)
    with pytest.raises(ValueError, match="empty batch"):
        model(input_ids=torch.ones(0, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="empty batch"):
        model(input_ids=torch.ones(2, 0, dtype=torch.long))
    with pytest.raises(TypeError, match="return_tensors='pt'"):
        model(input_ids=[[1, 2, 3]])
    with pytest.raises(TypeError, match="integer token ids"):
        model(input_ids=torch.ones(1, 3))
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model()


def test_model_output_access():
    logits = torch.zeros(2, 3)
    out = SequenceClassifierOutput(logits=logits)
    assert out.logits is out["logits"] is out[0]
    assert out.loss is None and "loss" not in out and len(out) == 1
    out.loss = torch.tensor(1.0)
    assert out[0] is out.loss  # positions follow the field order
    with pytest.raises(TypeError):
        SequenceClassifierOutput(nonsense=1)
    assert isinstance(out, ModelOutput)


def test_num_parameters_matches_reference(tmp_path):
    folder, ref = tiny_bert_folder(tmp_path, head="BertForMaskedLM")
    model = workbench.AutoModelForMaskedLM.from_pretrained(folder)
    assert model.num_parameters() == ref.num_parameters()
    assert model.num_parameters(exclude_embeddings=True) == ref.num_parameters(exclude_embeddings=True)


def test_loading_is_memory_mapped_and_lazy(tmp_path, monkeypatch):
    """Tensors are read one at a time from the safetensors file, never through a full state dict."""
    import safetensors.torch

    folder, _ = tiny_bert_folder(tmp_path)

    def forbidden(*a, **k):
        raise AssertionError("full state dict loaded")

    monkeypatch.setattr(safetensors.torch, "load_file", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    workbench.AutoModel.from_pretrained(folder, torch_dtype=torch.bfloat16)


def test_minilm_by_hub_id_offline():
    model = workbench.AutoModel.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
    assert model.config.num_hidden_layers == 6 and model.num_parameters() == 22_713_216


def test_config_given_as_a_path(tmp_path):
    folder, _ = tiny_bert_folder(tmp_path)
    model = workbench.BertModel.from_pretrained(folder, config=str(folder / "config.json"))
    assert model.config.hidden_size == workbench.AutoConfig.from_pretrained(folder).hidden_size
    model = workbench.BertModel.from_pretrained(folder, config=folder)  # a folder works too
    assert isinstance(model.config, workbench.BertConfig)
