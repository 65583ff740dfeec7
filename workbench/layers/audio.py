"""Audio pieces shared by the speech families: SpecAugment's random spans, the CTC loss, a learned mix of
layers."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# ------------------------------------------------------------------------------------------------
# Audio: SpecAugment's random spans, CTC loss, a learned mix of layers
# ------------------------------------------------------------------------------------------------


def random_span_mask(
    shape: tuple[int, int],
    mask_prob: float,
    mask_length: int,
    attention_mask: torch.Tensor | None = None,
    min_masks: int = 0,
) -> torch.Tensor:
    """SpecAugment (Park et al. 2019): random spans of ``mask_length`` steps to hide along one axis, (batch, length)
    bool, True = masked. Used while training on frames (time) and on channels (features).

    Each row gets about ``mask_prob * real_length / mask_length`` spans (at least ``min_masks``; rounded up or down
    by one shared random draw), their starts drawn without replacement among the row's real steps
    (``attention_mask`` (batch, length) gives each row's real length); spans may overlap. Drawn with NumPy's global
    generator exactly as the reference draws them, so ``np.random.seed(n)`` gives the reference's masks. As there,
    a row that gets no span (shorter than the others) has its last, padding, step marked.
    """
    import numpy as np

    batch, length = shape
    if mask_length < 1:
        raise ValueError(f"mask_length must be at least 1, got {mask_length}.")
    if mask_length > length:
        raise ValueError(f"mask_length ({mask_length}) is longer than the axis it masks ({length} steps).")
    rounding = np.random.rand(1).item()  # one draw: the span counts are rounded up with this probability

    def span_count(real_length: int) -> int:
        count = max(int(mask_prob * real_length / mask_length + rounding), min_masks)
        count = min(count, length // mask_length)  # no more spans than fit the axis
        return min(count, max(real_length - (mask_length - 1), 0))  # every span starts among the real steps

    mask = np.zeros((batch, length), dtype=bool)
    if span_count(length) == 0:
        return torch.from_numpy(mask)
    real_lengths = attention_mask.sum(-1).tolist() if attention_mask is not None else [length] * batch
    for row, real_length in enumerate(real_lengths):
        starts = np.random.choice(np.arange(real_length - (mask_length - 1)), span_count(real_length), replace=False)
        for start in starts if len(starts) else [length - 1]:
            mask[row, start : start + mask_length] = True
    return torch.from_numpy(mask)


def ctc_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    logit_lengths: torch.Tensor,
    blank_id: int,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> torch.Tensor:
    """Connectionist temporal classification (Graves et al. 2006): -log of the total probability of all the frame
    labellings (with blanks and repeats) that collapse to the target, as the reference computes it.

    logits (batch, frames, vocab); labels (batch, max_target) padded with -100 (or the blank id: a target never
    holds a blank); logit_lengths (batch,) the real frames of each row. ``reduction`` "mean" divides each row's
    loss by its target length, then averages; "sum" adds the rows up. A target longer than its frames can be
    aligned has an infinite loss, zeroed with its gradients by ``zero_infinity``. Computed in float32."""
    labels = labels.to(logits.device)
    real = (labels != -100) & (labels != blank_id)  # (batch, max_target)
    log_probs = F.log_softmax(logits, dim=-1, dtype=torch.float32).transpose(0, 1)  # (frames, batch, vocab)
    with torch.backends.cudnn.flags(enabled=False):  # cuDNN's CTC has other input rules; the reference avoids it too
        return F.ctc_loss(
            log_probs,
            labels.masked_select(real),  # the targets, concatenated
            logit_lengths,
            real.sum(-1),
            blank=blank_id,
            reduction=reduction,
            zero_infinity=zero_infinity,
        )


def weighted_layer_sum(hidden_states: tuple[torch.Tensor, ...], layer_weights: torch.Tensor) -> torch.Tensor:
    """A learned mix of a model's layers (SUPERB's recipe for speech classifiers): the hidden states (the input of
    the first layer and every layer's output, each (batch, seq, hidden)) summed with softmax(layer_weights)."""
    stacked = torch.stack(hidden_states, dim=1)  # (batch, layers + 1, seq, hidden)
    mix = F.softmax(layer_weights, dim=-1)  # (layers + 1,)
    return (stacked * mix.view(-1, 1, 1)).sum(dim=1)  # (batch, seq, hidden)
