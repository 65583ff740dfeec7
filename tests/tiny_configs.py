"""Tiny random configs (the reference config's keyword arguments) of the families whose tests span several
files: GPT-2 and LLaMA (their own tests and tests/test_generation.py), T5 (its own tests and
tests/test_seq2seq_generation.py). Test files never import each other: what two of them share lives here,
and the harness in tests/parity.py."""

import transformers

VOCAB = 99

GPT2 = dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2)

LLAMA = dict(
    vocab_size=VOCAB,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=48,
    max_position_embeddings=64,
    bos_token_id=1,
    eos_token_id=2,
)

T5 = dict(
    vocab_size=VOCAB,
    d_model=32,
    d_kv=8,
    d_ff=64,
    num_layers=2,
    num_heads=4,
    decoder_start_token_id=0,
    # few buckets and a short max distance, so that 9-token inputs reach the log-spaced buckets
    relative_attention_num_buckets=8,
    relative_attention_max_distance=16,
)

# variant -> (reference config class, overrides, the Hub class name we must write into config.json)
T5_VARIANTS = {
    "t5": ("T5Config", {}, "T5ForConditionalGeneration"),
    "t5-v1_1": (
        "T5Config",
        dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False),
        "T5ForConditionalGeneration",
    ),
    "ul2": ("T5Config", dict(feed_forward_proj="gated-silu", tie_word_embeddings=False), "T5ForConditionalGeneration"),
    "mt5": ("MT5Config", {}, "MT5ForConditionalGeneration"),
    "umt5": ("UMT5Config", {}, "UMT5ForConditionalGeneration"),
    "deeper-decoder": (
        "T5Config",
        dict(num_decoder_layers=3, feed_forward_proj="gated-gelu"),
        "T5ForConditionalGeneration",
    ),
}


def t5_config(variant: str, **overrides):
    """The reference's config of a T5 variant, tiny."""
    class_name, values, _ = T5_VARIANTS[variant]
    return getattr(transformers, class_name)(**{**T5, **values, **overrides})


# The T5 tests' seq2seq_batch layout: encoder ids with padding (row 1 right-padded by 2, row 2 left-padded by 3),
# decoder ids that start with decoder_start_token_id 0, and a decoder mask whose row 1 is right-padded by 2.
T5_BATCH = dict(
    source_left_pads=(0, 0, 3),
    source_right_pads=(0, 2, 0),
    target_right_pads=(0, 2, 0),
    low=2,
    decoder_start_token_id=0,
)
