"""Math shared by the model families, by topic; ``from workbench import layers`` and ``layers.attention(...)``.

Nothing here knows which architecture calls it. Each family file names its own modules (so that state-dict keys
match the Hub's) and calls these functions for the arithmetic. A forward pass reads in its family file and here:

    core.py       attention (fused and eager paths, pattern hook), heads split/merged, padding and causal masks,
                  the packed layout of padded training batches, decoder positions
    positions.py  rotary embeddings (scaled, interleaved, partial), sinusoidal tables, ALiBi
    blocks.py     scaled token embeddings, RMSNorm, activations by config name, weight initialisation
    heads.py      what task heads compute: kept logits, pooling, span/choice reshapes, the losses
    vision.py     pixel checks, drop path, patch embeddings, position-table resizing, layer scale
    audio.py      SpecAugment's random spans, the CTC loss, a learned mix of layers

Every public name of those modules is importable from here (listed below); add a new one to the list too.
"""

from __future__ import annotations

from .audio import ctc_loss, random_span_mask, weighted_layer_sum
from .blocks import ACTIVATIONS, RMSNorm, ScaledEmbedding, activation, gelu_new, init_weights, quick_gelu
from .core import (
    HookPoint,
    TokenLayout,
    attention,
    check_decoder_length,
    decoder_attention_mask,
    decoder_positions,
    drop_padded_keys,
    merge_heads,
    padding_mask,
    positions_from_mask,
    soft_cap,
    split_fused_qkv_per_head,
    split_heads,
    training_layout,
)
from .heads import (
    causal_lm_loss,
    classifier_dropout,
    flatten_choices,
    image_text_contrastive_loss,
    keep_logits,
    pool_last_token,
    seq2seq_lm_loss,
    sequence_classification_loss,
    shift_tokens_right,
    sigmoid_pair_loss,
    span_logits,
    span_loss,
    token_classification_loss,
)
from .positions import (
    ROPE_TYPES,
    RotaryEmbedding,
    alibi_bias,
    alibi_slopes,
    apply_partial_rotary,
    apply_rotary,
    apply_rotary_interleaved,
    biased_mask,
    repeat_kv,
    rope_parameters_from,
    rotate_every_two,
    rotate_half,
    sinusoidal_table_halves,
    sinusoidal_table_interleaved,
    sinusoids_log_spaced,
    standard_rope_parameters,
)
from .vision import (
    DropPath,
    LayerScale,
    PatchEmbeddings,
    as_pair,
    check_pixel_values,
    drop_path,
    relative_position_index,
    resize_position_table,
)
