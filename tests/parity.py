"""Helpers for parity tests against the reference implementation (the `transformers` package).

Typical use, for one family x head:

    ref = reference_model("BertForMaskedLM", ref_config)              # eager attention, eval mode
    ours, folder = load_ours_from_reference(ref, workbench.BertForMaskedLM, tmp_path)
    assert_outputs_close(ref, ours, padded_batch(vocab_size=99))       # logits, hidden states, attentions
    assert_fast_path_matches(ours, batch)                              # SDPA path == eager path
    assert_reference_loads_ours(ours, ref, tmp_path)                   # tensor-identical round trip
"""

from __future__ import annotations

import torch
import transformers

ATOL = 1e-5
RTOL = 1e-4


def reference_model(class_name: str, config):
    cls = getattr(transformers, class_name)
    return cls._from_config(config, attn_implementation="eager").eval()


def padded_batch(vocab_size: int, batch: int = 3, seq: int = 9, choices: int | None = None, low: int = 5, seed: int = 0):
    """Random ids with right padding: row 0 full, row 1 ends 2 tokens early, row 2 keeps 4 tokens."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(low, vocab_size, (batch, seq), generator=g)
    mask = torch.ones(batch, seq, dtype=torch.long)
    if batch > 1:
        mask[1, seq - 2:] = 0
    if batch > 2:
        mask[2, 4:] = 0
    ids = ids.masked_fill(mask == 0, 1)  # 1 is the pad id of the RoBERTa-style configs; harmless elsewhere
    token_types = torch.zeros_like(ids)
    token_types[:, seq // 2:] = 1
    out = {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types * mask}
    if choices:
        out = {k: v[:, None].expand(batch, choices, seq).contiguous() for k, v in out.items()}
    return out


def load_ours_from_reference(ref, our_class, tmp_path):
    folder = tmp_path / "from_reference"
    ref.save_pretrained(folder)
    ours, info = our_class.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [], info
    assert info["unexpected_keys"] == [], info
    return ours, folder


def _close(a, b, what):
    if isinstance(a, (tuple, list)):
        assert len(a) == len(b), f"{what}: {len(a)} vs {len(b)} items"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{what}[{i}]")
    else:
        torch.testing.assert_close(b, a, atol=ATOL, rtol=RTOL, msg=lambda m: f"{what}: {m}")


def assert_outputs_close(ref, ours, batch: dict, drop: tuple[str, ...] = ()):
    """Every output we return (logits, hidden states, attentions) equals the reference's."""
    kwargs = dict(batch, output_attentions=True, output_hidden_states=True)
    kwargs = {k: v for k, v in kwargs.items() if k not in drop}
    with torch.no_grad():
        expected = ref(**kwargs)
        got = ours(**kwargs)
    assert len(got) > 0
    for key in got.keys():
        assert key in expected, f"we return {key!r}, the reference does not"
        _close(expected[key], got[key], key)
    for key in ("attentions", "hidden_states"):
        assert key in got, f"{key} missing from our outputs"
    return expected, got


def assert_fast_path_matches(ours, batch: dict, drop: tuple[str, ...] = ()):
    """The fused SDPA path (no attentions asked) gives the same numbers as the eager path."""
    batch = {k: v for k, v in batch.items() if k not in drop}
    with torch.no_grad():
        eager = ours(**batch, output_attentions=True)
        fast = ours(**batch)
    for key in fast.keys():
        _close(eager[key], fast[key], f"fast vs eager {key}")


def assert_reference_loads_ours(ours, ref, tmp_path):
    """Saved here, loaded by the reference: every tensor identical."""
    folder = tmp_path / "from_workbench"
    ours.save_pretrained(folder)
    back = type(ref).from_pretrained(folder).eval()
    expected = ref.state_dict()
    got = back.state_dict()
    assert sorted(expected) == sorted(got)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    return folder
