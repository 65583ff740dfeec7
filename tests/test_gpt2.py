"""GPT-2 parity with the reference on a tiny random config: logits, hidden states, attentions on
left-padded batches, the KV cache, and the Conv1D checkpoint layout in both directions."""

import pytest
import torch
import transformers
from safetensors import safe_open

import workbench
from parity import assert_reference_loads_ours, load_ours_from_reference

VOCAB = 99


def tiny_config(**overrides):
    values = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2)
    values.update(overrides)
    return transformers.GPT2Config(**values)


def reference(config, class_name="GPT2LMHeadModel"):
    torch.manual_seed(0)
    return getattr(transformers, class_name)._from_config(config, attn_implementation="eager").eval()


def left_padded_batch(seed: int = 0, batch: int = 3, seq: int = 9):
    """Row 0 full, row 1 two pads on the left, row 2 five pads on the left; plus the positions that
    count real tokens only (what the reference's generate computes and passes)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, VOCAB, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    mask[1, :2] = 0
    mask[2, :5] = 0
    ids = ids.masked_fill(mask == 0, 0)
    positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
    return ids, mask, positions


def assert_decoder_close(ref_out, our_out, mask):
    """Logits and hidden states at real tokens, attention rows of real query tokens."""
    real = mask.bool()
    torch.testing.assert_close(our_out.logits[real], ref_out.logits[real], atol=1e-5, rtol=1e-4)
    assert len(our_out.hidden_states) == len(ref_out.hidden_states)
    for ours, theirs in zip(our_out.hidden_states, ref_out.hidden_states):
        torch.testing.assert_close(ours[real], theirs[real], atol=1e-5, rtol=1e-4)
    assert len(our_out.attentions) == len(ref_out.attentions)
    for ours, theirs in zip(our_out.attentions, ref_out.attentions):
        torch.testing.assert_close(ours.transpose(1, 2)[real], theirs.transpose(1, 2)[real], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("options", [{}, {"scale_attn_by_inverse_layer_idx": True, "activation_function": "gelu"},
                                     {"n_inner": 48, "scale_attn_weights": False}])
def test_lm_head_parity_left_padded(options, tmp_path):
    ref = reference(tiny_config(**options))
    ours, _ = load_ours_from_reference(ref, workbench.GPT2LMHeadModel, tmp_path)
    ids, mask, positions = left_padded_batch()
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, position_ids=positions, output_attentions=True, output_hidden_states=True)
        got = ours(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)  # positions derived
        fast = ours(ids, attention_mask=mask)  # SDPA path
    assert_decoder_close(expected, got, mask)
    torch.testing.assert_close(fast.logits[mask.bool()], got.logits[mask.bool()], atol=1e-5, rtol=1e-4)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_base_model_parity_and_right_padding(tmp_path):
    ref = reference(tiny_config(), "GPT2Model")
    ours, _ = load_ours_from_reference(ref, workbench.GPT2Model, tmp_path)
    ids, _, _ = left_padded_batch()
    mask = torch.ones_like(ids)
    mask[1, -3:] = 0  # right padding: positions are 0, 1, 2, ... for real tokens either way
    with torch.no_grad():
        expected = ref(ids, attention_mask=mask, output_hidden_states=True)
        got = ours(ids, attention_mask=mask, output_hidden_states=True)
    real = mask.bool()
    torch.testing.assert_close(got.last_hidden_state[real], expected.last_hidden_state[real], atol=1e-5, rtol=1e-4)


def test_checkpoint_keeps_the_hub_conv1d_layout(tmp_path):
    """Saved here: the same keys, shapes and tensors as the reference writes (Conv1D weights (in, out))."""
    ref = reference(tiny_config())
    ours, ref_folder = load_ours_from_reference(ref, workbench.GPT2LMHeadModel, tmp_path)
    assert ours.transformer.h[0].attn.c_attn.weight.shape == (32, 96)
    ours.save_pretrained(tmp_path / "ours")
    with safe_open(ref_folder / "model.safetensors", "pt") as theirs, safe_open(tmp_path / "ours" / "model.safetensors", "pt") as mine:
        assert sorted(theirs.keys()) == sorted(mine.keys())
        assert "lm_head.weight" not in mine.keys()  # tied to transformer.wte.weight, as the reference saves
        for key in theirs.keys():
            assert torch.equal(theirs.get_tensor(key), mine.get_tensor(key)), key


def test_bare_checkpoint_into_lm_head_model(tmp_path):
    ref = reference(tiny_config(), "GPT2Model")
    ref.save_pretrained(tmp_path)
    model, info = workbench.AutoModelForCausalLM.from_pretrained(tmp_path, output_loading_info=True)
    assert isinstance(model, workbench.GPT2LMHeadModel)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert model.lm_head.weight is model.transformer.wte.weight


def test_left_padding_does_not_change_a_row(tmp_path):
    """With the mask alone (no position ids), a left-padded row gives the logits it gives unpadded."""
    ours, _ = load_ours_from_reference(reference(tiny_config()), workbench.GPT2LMHeadModel, tmp_path)
    ids, mask, _ = left_padded_batch()
    with torch.no_grad():
        batched = ours(ids, attention_mask=mask).logits
        alone = ours(ids[2:, 5:]).logits
    torch.testing.assert_close(batched[2, 5:], alone[0], atol=1e-5, rtol=1e-4)


def test_kv_cache_matches_full_forward(tmp_path):
    ours, _ = load_ours_from_reference(reference(tiny_config()), workbench.GPT2LMHeadModel, tmp_path)
    ids, mask, _ = left_padded_batch()
    with torch.no_grad():
        full = ours(ids, attention_mask=mask).logits
        first = ours(ids[:, :6], attention_mask=mask[:, :6], use_cache=True)
        assert first.past_key_values.get_seq_length() == 6 and first.cache is first.past_key_values
        step = ours(ids[:, 6:], attention_mask=mask, past_key_values=first.past_key_values)
        legacy = ours(ids[:, 6:], attention_mask=mask, past_key_values=tuple(ours(ids[:, :6], attention_mask=mask[:, :6]).past_key_values))
    torch.testing.assert_close(step.logits, full[:, 6:], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(legacy.logits, full[:, 6:], atol=1e-5, rtol=1e-4)


def test_loss_matches_reference(tmp_path):
    ref = reference(tiny_config())
    ours, _ = load_ours_from_reference(ref, workbench.GPT2LMHeadModel, tmp_path)
    ids, _, _ = left_padded_batch()
    labels = ids.clone()
    labels[1, :3] = -100
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, labels=labels).loss, ref(ids, labels=labels).loss)


def test_input_longer_than_the_position_table(tmp_path):
    ours, _ = load_ours_from_reference(reference(tiny_config(n_positions=16)), workbench.GPT2LMHeadModel, tmp_path)
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

    ref = reference(tiny_config())
    state = {k.removeprefix("transformer."): v.contiguous() for k, v in ref.state_dict().items() if k != "lm_head.weight"}
    for i in range(2):
        state[f"h.{i}.attn.bias"] = torch.tril(torch.ones(64, 64, dtype=torch.bool))[None, None]
        state[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ref.config.save_pretrained(tmp_path)
    ours, info = workbench.GPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    ids, mask, positions = left_padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids).logits, ref(ids).logits, atol=1e-5, rtol=1e-4)
