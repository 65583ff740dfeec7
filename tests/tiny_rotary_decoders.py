"""Tiny random configs of the decoders that rotate part of each head (GPT-NeoX, Persimmon, StableLM, Phi, Phi-3),
shared by their test files (test files never import each other), and the text-generation pipeline check on a
family's tiny reference. tiny_reference and varied_pair
take any (config class, keyword arguments) pair: test_gemma.py builds Gemma's with them."""

from __future__ import annotations

import decoder_checks
import transformers
from parity import load_ours_from_reference, reference_model, varied_weights

import workbench

VOCAB = 99
_COMMON = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=48,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
)
# each: the reference's config class, its keyword arguments (half of each 8-channel head rotates)
GPT_NEOX = ("GPTNeoXConfig", dict(_COMMON, rotary_pct=0.5))
GPT_NEOX_JAPANESE = (
    "GPTNeoXJapaneseConfig",
    dict({k: v for k, v in _COMMON.items() if k != "intermediate_size"}, intermediate_multiple_size=2),
)
PERSIMMON = ("PersimmonConfig", _COMMON)  # partial_rotary_factor 0.5 and qk_layernorm by default
STABLELM = ("StableLmConfig", dict(_COMMON, num_key_value_heads=2, partial_rotary_factor=0.5))
PHI = ("PhiConfig", _COMMON)  # partial_rotary_factor 0.5 by default
PHI3 = ("Phi3Config", dict(_COMMON, num_key_value_heads=2, pad_token_id=0))


def tiny_reference(family: tuple[str, dict], class_name: str, seed: int = 0, **overrides):
    """The reference's ``class_name`` on a tiny config of ``family`` (one of the tuples above)."""
    config_name, values = family
    return reference_model(class_name, getattr(transformers, config_name)(**{**values, **overrides}), seed=seed)


def varied_pair(family: tuple[str, dict], class_name: str, tmp_path, **overrides):
    """A tiny reference ``class_name`` with varied weights (so that generated tokens vary), and ours loaded
    from its save by the Auto class."""
    ref = varied_weights(tiny_reference(family, class_name, **overrides), std=0.3)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path)
    return ref, ours


def check_text_generation_pipeline(family: tuple[str, dict], class_name: str, tmp_path, **overrides):
    """decoder_checks.check_text_generation_pipeline on the reference's ``class_name`` of ``family``, built with
    GPT-2's token ids."""
    ref = tiny_reference(family, class_name, **decoder_checks.GPT2_TOKENIZER_IDS, **overrides)
    return decoder_checks.check_text_generation_pipeline(ref, tmp_path)
