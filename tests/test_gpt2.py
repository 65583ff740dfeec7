"""GPT-2 parity with the reference on a tiny random config: logits, hidden states, attentions on
left-padded batches, the KV cache, and the Conv1D checkpoint layout in both directions."""

import pytest
import torch
import transformers
from decoder_checks import check_left_padding_does_not_change_a_row
from parity import (
    ATOL,
    RTOL,
    assert_fast_path_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    assert_same_checkpoint_files,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
)
from tiny_configs import GPT2, VOCAB

import workbench


def tiny_config(**overrides):
    return transformers.GPT2Config(**{**GPT2, **overrides})


def tiny_reference(class_name="GPT2LMHeadModel", **overrides):
    return reference_model(class_name, tiny_config(**overrides), seed=0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"scale_attn_by_inverse_layer_idx": True, "activation_function": "gelu"},
        {"n_inner": 48, "scale_attn_weights": False},
    ],
)
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = tiny_reference(**options)
    ours, _ = load_ours_from_reference(ref, workbench.GPT2LMHeadModel, tmp_path)
    batch = left_padded_batch(VOCAB)
    assert_outputs_close(ref, ours, batch, left_padded=True)  # the reference gets position ids, ours derives them
    assert_fast_path_matches(ours, batch, left_padded=True)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_parity_and_right_padding(tmp_path):
    ref = tiny_reference("GPT2Model")
    ours, _ = load_ours_from_reference(ref, workbench.GPT2Model, tmp_path)
    ids = left_padded_batch(VOCAB)["input_ids"]
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0  # right padding: positions are 0, 1, 2, ... for real tokens either way
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, output_hidden_states=True)
        got = ours(ids, attention_mask=mask, output_hidden_states=True)
    real = mask.bool()
    torch.testing.assert_close(got.last_hidden_state[real], expected.last_hidden_state[real], atol=ATOL, rtol=RTOL)


def test_checkpoint_keeps_the_hub_conv1d_layout(tmp_path):
    """Saved here: the same keys, shapes and tensors as the reference writes (Conv1D weights (in, out))."""
    ours, ref_folder = load_ours_from_reference(tiny_reference(), workbench.GPT2LMHeadModel, tmp_path)
    assert ours.transformer.h[0].attn.c_attn.weight.shape == (32, 96)
    ours.save_pretrained(tmp_path / "ours")
    keys = assert_same_checkpoint_files(ref_folder, tmp_path / "ours")
    assert "lm_head.weight" not in keys  # tied to transformer.wte.weight, as the reference saves


def test_bare_checkpoint_into_lm_head_model(tmp_path):
    ref = tiny_reference("GPT2Model")
    ref.save_pretrained(tmp_path)
    model, info = workbench.AutoModelForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert isinstance(model, workbench.GPT2LMHeadModel)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert model.lm_head.weight is model.transformer.wte.weight


def test_left_padding_does_not_change_a_row(tmp_path):
    """With the mask alone (no position ids), a left-padded row gives the logits it gives unpadded."""
    ours, _ = load_ours_from_reference(tiny_reference(), workbench.GPT2LMHeadModel, tmp_path)
    check_left_padding_does_not_change_a_row(ours)


def test_kv_cache_matches_full_forward(tmp_path):
    ours, _ = load_ours_from_reference(tiny_reference(), workbench.GPT2LMHeadModel, tmp_path)
    batch = left_padded_batch(VOCAB)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        full = ours(ids, attention_mask=mask).logits
        first = ours(ids[:, :6], attention_mask=mask[:, :6], use_cache=True)
        assert first.past_key_values.get_seq_length() == 6 and first.cache is first.past_key_values
        step = ours(ids[:, 6:], attention_mask=mask, past_key_values=first.past_key_values)
        legacy_cache = tuple(ours(ids[:, :6], attention_mask=mask[:, :6]).past_key_values)
        legacy = ours(ids[:, 6:], attention_mask=mask, past_key_values=legacy_cache)
    torch.testing.assert_close(step.logits, full[:, 6:], atol=ATOL, rtol=RTOL)
    torch.testing.assert_close(legacy.logits, full[:, 6:], atol=ATOL, rtol=RTOL)


def test_loss_matches_reference(tmp_path):
    ref = tiny_reference()
    ours, _ = load_ours_from_reference(ref, workbench.GPT2LMHeadModel, tmp_path)
    ids = left_padded_batch(VOCAB)["input_ids"]
    labels = ids.clone()
    labels[1, :3] = -100
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, labels=labels).loss, ref(ids, labels=labels).loss)


def test_input_longer_than_the_position_table(tmp_path):
    ours, _ = load_ours_from_reference(tiny_reference(n_positions=16), workbench.GPT2LMHeadModel, tmp_path)
    with pytest.raises(ValueError, match="position embeddings for at most 16"):
        ours(torch.ones(1, 17, dtype=torch.long))
    cache = ours(torch.ones(1, 10, dtype=torch.long), use_cache=True).past_key_values
    with pytest.raises(ValueError, match="16 positions.*cache holds 10"):
        ours(torch.ones(1, 7, dtype=torch.long), past_key_values=cache)


def test_tiny_preset_and_config_aliases():
    from workbench.models.gpt2 import TINY_PRESETS

    config = workbench.GPT2Config(**TINY_PRESETS["gpt2-tiny-random"])
    assert (config.hidden_size, config.num_hidden_layers, config.max_position_embeddings) == (32, 2, 128)
    model = workbench.GPT2LMHeadModel(config)
    assert model(torch.tensor([[1, 2, 3]])).logits.shape == (1, 3, 128)


def test_hub_style_checkpoint_without_prefix_and_with_mask_buffers(tmp_path):
    """The layout of the original Hub files: no "transformer." prefix, plus attn.bias / attn.masked_bias buffers."""
    from safetensors.torch import save_file

    ref = tiny_reference()
    state = {
        k.removeprefix("transformer."): v.contiguous() for k, v in ref.state_dict().items() if k != "lm_head.weight"
    }
    for i in range(2):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(64, 64, dtype=torch.bool))[None, None]
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ref.config.save_pretrained(tmp_path)
    ours, info = workbench.GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    ids = left_padded_batch(VOCAB)["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, ref(ids).logits, atol=ATOL, rtol=RTOL)
