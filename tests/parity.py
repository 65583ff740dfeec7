"""Helpers for parity tests against the reference implementation (the `transformers` package).

One harness for every family: build a tiny random reference model, load ours from its save, feed both the
same padded batch, compare every output, and check that the reference loads what we save:

    ref = reference_model("BertForMaskedLM", ref_config)              # eager attention, eval mode
    ours, folder = load_ours_from_reference(ref, workbench.BertForMaskedLM, tmp_path)   # or an Auto class
    batch = padded_batch(vocab_size=99)
    assert_outputs_close(ref, ours, batch)                             # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch)                              # SDPA path == eager path
    assert_reference_loads_ours(ours, ref, tmp_path)      # tensor-identical round trip

The batch is what changes from one kind of model to the next:

- encoders: `padded_batch(vocab_size)`, right-padded, with token types; every output is compared everywhere.
- decoders: `left_padded_batch(vocab_size)`, padded on the left as for generation. Pass `left_padded=True`
  to the comparisons: the reference then gets the position ids its generate() computes (ours derives them
  from the mask), and outputs are compared at real tokens only (nothing ever reads a pad's row).
- encoder-decoders: `seq2seq_batch(vocab_size)`, a padded source and a target (with a padded
  decoder_attention_mask when asked); encoder, decoder and cross attentions are compared like the rest.

What is here:

- models and checkpoints: `reference_model`, `load_ours_from_reference`, `assert_reference_loads_ours`
  (the whole checkpoint contract), `assert_same_checkpoint_files` (two model.safetensors
  files), `varied_weights` (weights that make a tiny model's generations worth comparing);
- batches: `padded_batch`, `left_padded_batch`, `seq2seq_batch`, and `padding_mask` for any other layout;
  `generate_position_ids` (what the reference's generate() passes with a left-padded batch);
- comparisons: `assert_outputs_close`, `assert_fast_path_matches`, `assert_close` (a tensor or nested
  tuples of them, within ATOL and RTOL), `assert_generate_matches` (generate() token for token: greedy,
  beam search, and sampling with `seed=`);
- training: `assert_gradient_checkpointing_matches` (the same loss and gradients with checkpointed blocks).

The KV cache (`past_key_values`, or `cache`) is left out of output comparisons: the two libraries keep it
in different objects, and decoding through it is tested against the full forward instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
import transformers
from safetensors import safe_open

ATOL = 1e-5
RTOL = 1e-4
CACHE = ("past_key_values", "cache")  # the KV cache (`cache`: the reference's newer name), not compared


# ------------------------------------------------------------------------------------------------
# Models and checkpoints
# ------------------------------------------------------------------------------------------------


def reference_model(class_name: str, config, seed: int | None = None):
    """The reference's `class_name` built from `config`: eager attention (so that it can return
    attentions), eval mode. With `seed`, torch is re-seeded first, so the weights do not depend on
    what the test drew before."""
    if seed is not None:
        torch.manual_seed(seed)
    cls = getattr(transformers, class_name)
    return cls._from_config(config, attn_implementation="eager").eval()


def varied_weights(model, std: float = 0.5, seed: int = 1):
    """Re-draw every weight with std 0.5 (norm weights around 1). With the default initialisation a tiny
    random model may repeat one token forever; these weights give varied tokens and some early eos, so
    that generation's bookkeeping (finished rows, padding, beam hypotheses) is actually exercised."""
    norms = {name for name, module in model.named_modules() if "Norm" in type(module).__name__}
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            module_name, _, kind = name.rpartition(".")
            param.normal_(1.0 if module_name in norms and kind == "weight" else 0.0, std)
    return model


def load_ours_from_reference(ref, our_class, tmp_path):
    """Saved by the reference, loaded here by `our_class` (a model class or an Auto class) with no
    missing or unexpected keys. Returns (our model, the reference's save folder)."""
    folder = tmp_path / "from_reference"
    ref.save_pretrained(folder)
    ours, info = our_class.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [], info
    assert info["unexpected_keys"] == [], info
    return ours, folder


def assert_reference_loads_ours(ours, ref, tmp_path, reference_class=None, key_prefix: str = ""):
    """Saved here, loaded by the reference: `reference_class` (default: the reference model's own class;
    an Auto class also checks that config.json leads to it) builds the reference's class, with every
    tensor identical. Returns our save folder. `key_prefix`: our file's keys are the reference's with this
    prefix (the Hub's layout, where the current reference writes a bare one: CLIP's towers alone).

    The whole checkpoint contract: config.json's `architectures` names the reference's class, the reference
    reports no missing or unexpected keys, and our model.safetensors holds exactly the keys and tensors
    that the reference writes."""
    folder = tmp_path / "from_workbench"
    ours.save_pretrained(folder)
    back, info = (reference_class or type(ref)).from_pretrained(folder, output_loading_info=True)
    assert type(back) is type(ref)
    expected = ref.state_dict()
    got = back.state_dict()
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    assert json.loads((folder / "config.json").read_text())["architectures"] == [type(ref).__name__]
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    ref.save_pretrained(tmp_path / "saved_by_reference")
    assert_same_checkpoint_files(tmp_path / "saved_by_reference", folder, key_prefix)
    return folder


def assert_same_checkpoint_files(reference_folder: Path, our_folder: Path, key_prefix: str = "") -> list[str]:
    """The two folders' model.safetensors hold the same keys (the Hub's layout: tied weights written
    once; ours with `key_prefix` in front) and identical tensors. Returns our keys."""
    with (
        safe_open(reference_folder / "model.safetensors", "pt") as theirs,
        safe_open(our_folder / "model.safetensors", "pt") as mine,
    ):
        assert sorted(key_prefix + key for key in theirs.keys()) == sorted(mine.keys())
        for key in theirs.keys():
            assert torch.equal(theirs.get_tensor(key), mine.get_tensor(key_prefix + key)), key
        return sorted(mine.keys())


# ------------------------------------------------------------------------------------------------
# Batches
# ------------------------------------------------------------------------------------------------


def padding_mask(length: int, left: Sequence[int] | None = None, right: Sequence[int] | None = None):
    """A (rows, length) attention mask: row i has left[i] pads (zeros) at its start and right[i] at its end."""
    rows = len(left if left is not None else right)
    mask = torch.ones(rows, length, dtype=torch.long)
    for row, (start, end) in enumerate(zip(left or (0,) * rows, right or (0,) * rows)):
        mask[row, :start] = 0
        mask[row, length - end :] = 0
    return mask


def padded_batch(
    vocab_size: int, batch: int = 3, seq: int = 9, choices: int | None = None, low: int = 5, seed: int = 0
):
    """An encoder's batch: random ids with right padding (row 0 full, row 1 ends 2 tokens early, row 2
    keeps 4 tokens) and token types 0 then 1; with `choices`, each row repeated for multiple choice."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, vocab_size, (batch, seq), generator=g)
    mask = padding_mask(seq, right=[0, 2, seq - 4][:batch] + [0] * (batch - 3))
    ids = ids.masked_fill(mask == 0, 1)  # 1 is the pad id of the RoBERTa-style configs; harmless elsewhere
    token_types = torch.zeros_like(ids)
    token_types[:, seq // 2 :] = 1
    out = {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types * mask}
    if choices:
        out = {k: v[:, None].expand(batch, choices, seq).contiguous() for k, v in out.items()}
    return out


def left_padded_batch(
    vocab_size: int, left_pads: tuple[int, ...] = (0, 2, 5), seq: int = 9, seed: int = 0, low: int = 3
):
    """A decoder's batch, padded on the left as for generation (pad id 0): one row per entry of
    `left_pads`, by default row 0 full, row 1 two pads, row 2 five pads."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, vocab_size, (len(left_pads), seq), generator=g)
    mask = padding_mask(seq, left=left_pads)
    return {"input_ids": ids.masked_fill(mask == 0, 0), "attention_mask": mask}


def seq2seq_batch(
    vocab_size: int,
    seed: int = 0,
    source_length: int = 9,
    target_length: int = 6,
    source_left_pads: tuple[int, ...] = (0, 0, 0),
    source_right_pads: tuple[int, ...] = (0, 2, 5),
    target_right_pads: tuple[int, ...] | None = None,
    low: int = 3,
    high: int | None = None,
    pad_token_id: int = 0,
    eos_token_id: int | None = None,
    decoder_start_token_id: int | None = None,
):
    """An encoder-decoder's batch. Source ids in [low, high) padded as asked with pad_token_id (by default
    row 0 full, row 1 two pads, row 2 five, on the right), eos_token_id (if given) ending each row's real
    tokens; then, from the same generator, target ids (decoder_start_token_id, if given, first), not
    padded themselves: with `target_right_pads` a decoder_attention_mask marks their padding."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, high or vocab_size, (len(source_right_pads), source_length), generator=g)
    mask = padding_mask(source_length, left=source_left_pads, right=source_right_pads)
    if eos_token_id is not None:
        last_real = source_length - 1 - mask.flip(-1).argmax(-1)  # (batch,)
        ids[torch.arange(len(ids)), last_real] = eos_token_id
    decoder_ids = torch.randint(low, high or vocab_size, (len(ids), target_length), generator=g)
    if decoder_start_token_id is not None:
        decoder_ids[:, 0] = decoder_start_token_id
    out = {
        "input_ids": ids.masked_fill(mask == 0, pad_token_id),
        "attention_mask": mask,
        "decoder_input_ids": decoder_ids,
    }
    if target_right_pads is not None:
        out["decoder_attention_mask"] = padding_mask(target_length, right=target_right_pads)
    return out


def generate_position_ids(attention_mask):
    """The position ids the reference's generate() passes for a left-padded batch: real tokens count
    from 0, pads get 1."""
    return (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)


# ------------------------------------------------------------------------------------------------
# Comparisons
# ------------------------------------------------------------------------------------------------


def assert_close(actual, expected, what: str = "output"):
    """A tensor, or a tuple of them (hidden states, attentions: one per layer), within ATOL and RTOL."""
    if isinstance(expected, (tuple, list)):
        assert isinstance(actual, tuple) and len(actual) == len(expected), (
            f"{what}: {type(actual).__name__} of {len(actual)} items, the reference has {len(expected)}"
        )
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{what}[{i}]")
    else:
        torch.testing.assert_close(actual, expected, atol=ATOL, rtol=RTOL, msg=lambda m: f"{what}: {m}")


def _returned(outputs) -> list[str]:
    """The outputs' names, less the cache and empty placeholders (the reference's BERT returns
    cross_attentions=() when asked for attentions)."""
    empty = [key for key, value in outputs.items() if isinstance(value, tuple) and not value]
    return sorted(key for key in outputs.keys() if key not in CACHE and key not in empty)


def _at_real_tokens(key: str, value, real):
    """The entries of a (batch, seq, ...) output at real tokens; for attentions, the rows of real queries."""
    if isinstance(value, tuple):
        return tuple(_at_real_tokens(key, item, real) for item in value)
    if key.endswith("attentions"):
        value = value.transpose(1, 2)  # (batch, heads, q, k) -> (batch, q, heads, k)
    return value[real]


def _assert_outputs_equal(got, expected, real, what: str = ""):
    """Every output in `got` but the cache equals the one in `expected`; only at real tokens if `real`
    (a (batch, seq) bool mask) is given."""
    for key in got.keys():
        if key in CACHE:
            continue
        assert key in expected, f"we return {key!r}, the reference does not"
        if real is None:
            assert_close(got[key], expected[key], what + key)
        else:
            assert_close(_at_real_tokens(key, got[key], real), _at_real_tokens(key, expected[key], real), what + key)


def assert_outputs_close(ref, ours, batch: dict, drop: tuple[str, ...] = (), left_padded: bool = False):
    """Run both on `batch` (less the `drop` inputs) asking for attentions and hidden states: we return
    exactly the outputs the reference returns (the cache aside), each close to the reference's. With
    `left_padded`, a decoder's batch: see the module docstring. Returns (expected, got)."""
    kwargs = dict(batch, output_attentions=True, output_hidden_states=True)
    kwargs = {k: v for k, v in kwargs.items() if k not in drop}
    real = kwargs["attention_mask"].bool() if left_padded else None
    reference_only = {"position_ids": generate_position_ids(kwargs["attention_mask"])} if left_padded else {}
    with torch.no_grad():
        expected = ref(**kwargs, **reference_only)
        got = ours(**kwargs)
    assert _returned(got) == _returned(expected), f"we return {_returned(got)}, the reference {_returned(expected)}"
    _assert_outputs_equal(got, expected, real)
    return expected, got


def assert_fast_path_matches(ours, batch: dict, drop: tuple[str, ...] = (), left_padded: bool = False):
    """The fused SDPA path (no attentions asked) gives the same numbers as the eager path. Returns
    (eager, fast)."""
    batch = {k: v for k, v in batch.items() if k not in drop}
    real = batch["attention_mask"].bool() if left_padded else None
    with torch.no_grad():
        eager = ours(**batch, output_attentions=True)
        fast = ours(**batch)
    _assert_outputs_equal(fast, eager, real, "fast vs eager ")
    return eager, fast


def assert_generate_matches(ref, ours, *inputs, seed: int | None = None, **settings):
    """Both generate() from the same inputs and settings and give the same tokens (the sequences of a
    dict output). With `seed`, torch is re-seeded before each, for sampling. Returns (expected, got)."""
    with torch.no_grad():
        if seed is not None:
            torch.manual_seed(seed)
        expected = ref.generate(*inputs, **settings)
        if seed is not None:
            torch.manual_seed(seed)
        got = ours.generate(*inputs, **settings)
    expected_ids = expected if isinstance(expected, torch.Tensor) else expected.sequences
    got_ids = got if isinstance(got, torch.Tensor) else got.sequences
    assert got_ids.shape == expected_ids.shape and torch.equal(got_ids, expected_ids), (settings, got_ids, expected_ids)
    return expected, got


def assert_gradient_checkpointing_matches(model, batch: dict, seed: int = 1):
    """In training mode (dropout on), `model(**batch).loss` and every gradient are the same with
    `gradient_checkpointing_enable()` as without: the checkpointed blocks replay the random state."""
    model.train()
    runs = []
    for checkpointing in (False, True):
        if checkpointing:
            model.gradient_checkpointing_enable()
        torch.manual_seed(seed)
        model.zero_grad()
        loss = model(**batch).loss
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        runs.append((loss.detach(), grads))
    model.gradient_checkpointing_disable()
    model.eval()
    (loss, grads), (checkpointed_loss, checkpointed_grads) = runs
    torch.testing.assert_close(checkpointed_loss, loss)
    for name, grad in grads.items():
        torch.testing.assert_close(checkpointed_grads[name], grad, msg=lambda m: f"{name}: {m}")
