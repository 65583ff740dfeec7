"""Task heads' arithmetic: which positions the LM head reads, pooling, span and choice reshapes, and the losses
(causal LM, seq2seq, classification, tokens, spans, image-text pairs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------
# Task heads: logits and losses
# ------------------------------------------------------------------------------------------------


def keep_logits(hidden: torch.Tensor, logits_to_keep: int | torch.Tensor) -> torch.Tensor:
    """The positions an LM head runs on: all (0), the last N (int N), or given indices."""
    if isinstance(logits_to_keep, int):
        return hidden if logits_to_keep == 0 else hidden[:, -logits_to_keep:]
    return hidden[:, logits_to_keep]


def pool_last_token(
    hidden: torch.Tensor,
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    pad_token_id: int | None,
    model_name: str,
) -> torch.Tensor:
    """A decoder's sequence classification reads each row at its last token: (batch, seq, width) -> (batch, width).

    As the reference: the rightmost token that is not ``pad_token_id`` (so left and right padding alike). With
    ``inputs_embeds`` instead of ids, the rightmost token of ``attention_mask`` (the reference reads the last
    position there, padding or not), else the last position.
    """
    batch, seq = hidden.shape[:2]
    if pad_token_id is None:
        if batch != 1:
            raise ValueError(
                f"{model_name} classifies each row at its last non-padding token, found with config.pad_token_id, "
                "which is not set; so it takes one sequence at a time. Set model.config.pad_token_id (e.g. to "
                "tokenizer.pad_token_id) to classify a batch."
            )
        return hidden[:, -1]
    if input_ids is not None:
        real = input_ids != pad_token_id
    elif attention_mask is not None:
        real = attention_mask.bool()
    else:
        return hidden[:, -1]
    index = torch.arange(seq, device=hidden.device)
    last = (index * real.to(hidden.device)).argmax(-1)  # (batch,): rightmost real token (0 for an all-padding row)
    return hidden[torch.arange(batch, device=hidden.device), last]


def span_logits(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Question answering: (batch, seq, 2) -> start (batch, seq), end (batch, seq)"""
    start, end = logits.split(1, dim=-1)
    return start.squeeze(-1).contiguous(), end.squeeze(-1).contiguous()


def flatten_choices(*tensors):
    """Multiple choice: (batch, num_choices, seq[, hidden]) -> (batch * num_choices, seq[, hidden]); None stays None."""
    return [t.reshape(-1, *t.shape[2:]) if t is not None else None for t in tensors]


def classifier_dropout(config) -> nn.Dropout:
    """The dropout before a classifier: ``config.classifier_dropout``, else the hidden layers' dropout."""
    p = getattr(config, "classifier_dropout", None)
    return nn.Dropout(config.hidden_dropout_prob if p is None else p)


def causal_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy: position t predicts labels[t + 1]; label -100 is ignored."""
    vocab = logits.shape[-1]
    shifted = F.pad(labels, (0, 1), value=-100)[:, 1:].to(logits.device)
    return F.cross_entropy(logits.float().reshape(-1, vocab), shifted.reshape(-1), ignore_index=-100)


def seq2seq_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the decoder's logits (batch, tgt, vocab) against labels (batch, tgt); -100 ignored.
    Unlike a causal LM there is no shift here: the decoder's inputs were already shifted right."""
    vocab = logits.shape[-1]
    return F.cross_entropy(logits.float().reshape(-1, vocab), labels.to(logits.device).reshape(-1), ignore_index=-100)


def sequence_classification_loss(logits: torch.Tensor, labels: torch.Tensor, config) -> torch.Tensor:
    """Regression (MSE), single-label (cross-entropy) or multi-label (BCE), chosen as the reference does
    (and written to ``config.problem_type`` the first time, as the reference does)."""
    num_labels = logits.shape[-1]
    if config.problem_type is None:
        if num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type == "regression":
        if num_labels == 1:
            return F.mse_loss(logits.squeeze(), labels.squeeze().to(logits.dtype))
        return F.mse_loss(logits, labels.to(logits.dtype))
    if config.problem_type == "single_label_classification":
        return F.cross_entropy(logits.view(-1, num_labels), labels.view(-1))
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def token_classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over tokens; label -100 marks tokens to ignore (padding, sub-words)."""
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1), ignore_index=-100)


def span_loss(start_logits, end_logits, start_positions, end_positions) -> torch.Tensor:
    """Mean of the start and end cross-entropies; positions outside the sequence are ignored."""
    seq_len = start_logits.shape[1]
    start_positions = start_positions.view(-1).clamp(0, seq_len)
    end_positions = end_positions.view(-1).clamp(0, seq_len)
    start = F.cross_entropy(start_logits, start_positions, ignore_index=seq_len)
    end = F.cross_entropy(end_logits, end_positions, ignore_index=seq_len)
    return (start + end) / 2


def shift_tokens_right(
    labels: torch.Tensor, pad_token_id: int | None, decoder_start_token_id: int | None
) -> torch.Tensor:
    """Teacher forcing for encoder-decoders: the decoder reads the target shifted one step right.

    labels (batch, tgt) -> decoder_input_ids (batch, tgt): [start, y0, y1, ..., y_{n-2}], with the
    loss's ignore value -100 replaced by the pad id (the decoder cannot embed -100).
    """
    if decoder_start_token_id is None:
        raise ValueError(
            "The config has no decoder_start_token_id, which the decoder needs to read the labels "
            "(set config.decoder_start_token_id, usually the pad or eos id)."
        )
    if pad_token_id is None:
        raise ValueError("The config has no pad_token_id, needed to replace -100 in the labels.")
    shifted = labels.new_full(labels.shape, decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, pad_token_id)


def image_text_contrastive_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """CLIP's loss (Radford et al. 2021): (texts, images) similarities of matching pairs, text i with image i. Each
    text picks its image among all images (cross-entropy over a row) and each image its text (over a column);
    the mean of the two."""
    targets = torch.arange(len(logits_per_text), device=logits_per_text.device)  # the diagonal
    text_loss = F.cross_entropy(logits_per_text, targets)
    image_loss = F.cross_entropy(logits_per_text.t(), targets)
    return (text_loss + image_loss) / 2.0


def sigmoid_pair_loss(logits_per_text: torch.Tensor) -> torch.Tensor:
    """SigLIP's loss (Zhai et al. 2023): every (text, image) pair is its own yes/no question, yes on the diagonal;
    binary log-likelihood summed over a text's images, averaged over texts. No softmax over the batch."""
    signs = 2 * torch.eye(len(logits_per_text), device=logits_per_text.device) - 1  # +1 on the diagonal, else -1
    return -F.logsigmoid(signs * logits_per_text).sum(dim=-1).mean()
