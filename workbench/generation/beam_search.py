"""Beam search (``generate(num_beams=N)``): keep the N best partial sequences by accumulated log-probability.

``GenerationMixin.generate`` (utils.py) prepares the inputs, buffers, processors and criteria, and calls
``beam_search``; this module is the loop, vectorised over the batch and the beams.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..cache import EncoderDecoderCache
from .stopping_criteria import EosTokenCriteria, MaxLengthCriteria, StoppingCriteriaList


def beam_search(input_ids, mask, positions, cache, step, config, processors, criteria, eos, recorder):
    """Vectorised beam search, step for step the reference's algorithm (same candidates, same ties).

    ``input_ids`` (batch * beams, prompt) and ``mask`` (batch * beams, max_length) or None come expanded to
    one row per beam; ``positions`` are the prompt's position ids; ``step`` is the model call of one step
    and ``recorder`` the ``GenerationRecorder`` that builds the output.

    Every step each of the ``num_beams`` running beams proposes its continuations; the best
    ``beams_to_keep`` = num_beams * (1 + number of eos ids, at least 2) by accumulated log-probability
    are kept: those that hit a stopping criterion become finished hypotheses (scored with the length
    penalty), the best ``num_beams`` others keep running.
    """
    num_beams, prompt_len = config.num_beams, input_ids.shape[1]
    batch = input_ids.shape[0] // num_beams  # inputs, each expanded to num_beams rows
    device, max_length = input_ids.device, config.max_length
    length_penalty, early_stopping = config.length_penalty, config.early_stopping
    pad = config.pad_token_id
    criteria = StoppingCriteriaList(criteria)
    criteria.append(MaxLengthCriteria(max_length))
    if eos:
        criteria.append(EosTokenCriteria(eos))
    beams_to_keep = max(2, 1 + len(eos)) * num_beams
    top_num_beam_mask = torch.cat(
        (torch.ones(num_beams, dtype=torch.bool), torch.zeros(beams_to_keep - num_beams, dtype=torch.bool))
    ).to(device)

    fill = (pad if pad else eos[0]) if eos else -1  # the reference's filler for unwritten positions
    running_sequences = torch.full((batch, num_beams, max_length), fill, dtype=torch.int64, device=device)
    running_sequences[:, :, :prompt_len] = input_ids.view(batch, num_beams, prompt_len)
    sequences = running_sequences.clone()
    running_scores = torch.zeros((batch, num_beams), dtype=torch.float, device=device)
    running_scores[:, 1:] = -1e9  # at first all beams are the same prompt: expand only the first
    beam_scores = torch.full((batch, num_beams), -1e9, dtype=torch.float, device=device)
    is_sent_finished = torch.zeros((batch, num_beams), dtype=torch.bool, device=device)
    improvement_possible = torch.ones((batch, 1), dtype=torch.bool, device=device)
    running_beam_indices = torch.full((batch, num_beams, max_length - prompt_len), -1, dtype=torch.int32, device=device)
    beam_indices = running_beam_indices.clone()

    next_position = positions[:, -1:] + 1  # (batch * beams, 1), or (1, 1) without padding
    out = step(input_ids, mask[:, :prompt_len] if mask is not None else None, positions, cache)
    cur = prompt_len
    flat_running = input_ids
    while True:
        logits = out.logits[:, -1, :].float()
        log_probs = F.log_softmax(logits, dim=-1)
        log_probs = processors(flat_running, log_probs) if processors else log_probs
        recorder.add_step(log_probs, logits, out)
        vocab = log_probs.shape[-1]
        accumulated = (log_probs.view(batch, num_beams, vocab) + running_scores[:, :, None]).reshape(batch, -1)

        # the best continuations over all beams x vocabulary
        if config.do_sample:
            topk_indices = torch.multinomial(F.softmax(accumulated, dim=-1), num_samples=beams_to_keep)
            topk_log_probs = torch.gather(accumulated, 1, topk_indices)
            topk_log_probs, order = topk_log_probs.sort(dim=-1, descending=True)
            topk_indices = topk_indices.gather(-1, order)
        else:
            topk_log_probs, topk_indices = torch.topk(accumulated, k=beams_to_keep)
        source_beam = topk_indices // vocab  # (batch, beams_to_keep)
        topk_beam_indices = _gather_beams(running_beam_indices, source_beam)
        topk_sequences = _gather_beams(running_sequences, source_beam)
        topk_sequences[:, :, cur] = topk_indices % vocab
        offset = torch.arange(batch, device=device).view(-1, 1) * num_beams
        topk_beam_indices[:, :, cur - prompt_len] = (source_beam + offset).to(torch.int32)

        hits = criteria(topk_sequences[:, :, : cur + 1].reshape(batch * beams_to_keep, cur + 1), recorder.scores)
        hits = hits.view(batch, beams_to_keep)

        # running beams for the next step: the best that did not stop
        running_log_probs = topk_log_probs + hits.to(torch.float32) * -1.0e9
        next_topk = torch.topk(running_log_probs, k=num_beams)[1]
        running_sequences = _gather_beams(topk_sequences, next_topk)
        running_scores = _gather_beams(running_log_probs, next_topk)
        running_beam_indices = _gather_beams(topk_beam_indices, next_topk)

        # finished hypotheses: merge the new ones into the best num_beams so far
        just_finished = hits & top_num_beam_mask[None, :]
        candidate_scores = topk_log_probs / ((cur + 1 - prompt_len) ** length_penalty)
        batch_full = torch.all(is_sent_finished, dim=-1, keepdim=True) & (early_stopping is True)
        candidate_scores = candidate_scores + batch_full.to(torch.float32) * -1.0e9
        candidate_scores = candidate_scores + (~improvement_possible).to(torch.float32) * -1.0e9
        candidate_scores = candidate_scores + (~just_finished) * -1.0e9
        merged_scores = torch.cat((beam_scores, candidate_scores), dim=1)
        best = torch.topk(merged_scores, k=num_beams)[1]
        sequences = _gather_beams(torch.cat((sequences, topk_sequences), dim=1), best)
        beam_scores = _gather_beams(merged_scores, best)
        beam_indices = _gather_beams(torch.cat((beam_indices, topk_beam_indices), dim=1), best)
        is_sent_finished = _gather_beams(torch.cat((is_sent_finished, just_finished), dim=1), best)

        reorder = running_beam_indices[..., cur - prompt_len].reshape(-1).long()
        cur += 1

        # can a running beam still beat the worst finished one?
        if early_stopping == "never" and length_penalty > 0.0:
            best_length = max_length - prompt_len
        else:
            best_length = cur - prompt_len
        best_running = running_scores[:, :1] / (best_length**length_penalty)
        worst_finished = torch.where(is_sent_finished, torch.min(beam_scores, dim=1, keepdim=True)[0], -1.0e9)
        improvement_possible = improvement_possible & torch.any(best_running > worst_finished, dim=-1, keepdim=True)
        open_beams = ~(torch.all(is_sent_finished) & (early_stopping is True))
        if not bool(torch.any(improvement_possible) & open_beams & ~torch.all(hits)):
            break

        cache.reorder(reorder)
        flat_running = running_sequences[:, :, :cur].reshape(batch * num_beams, cur)
        out = step(flat_running[:, -1:], mask[:, :cur] if mask is not None else None, next_position, cache)
        next_position = next_position + 1

    sequences = sequences[:, : config.num_return_sequences].reshape(batch * config.num_return_sequences, -1)
    beam_scores = beam_scores[:, : config.num_return_sequences].reshape(-1)
    beam_indices = beam_indices[:, : config.num_return_sequences].reshape(batch * config.num_return_sequences, -1)
    generated = int((beam_indices + 1).bool().sum(dim=1).max())
    sequences = sequences[:, : prompt_len + generated]
    beam_indices = beam_indices[:, :generated]
    return recorder.output(sequences, cache, sequences_scores=beam_scores, beam_indices=beam_indices)


def take_rows(cache, rows: torch.Tensor) -> None:
    """Row i of the cache becomes old row ``rows[i]``, in both halves of an encoder-decoder cache.

    ``cache.reorder`` (what beam search uses) leaves the cross-attention keys/values in place, as beam search
    only moves rows among the beams of one input; contrastive and diverse beam search may take rows of another
    input, or fewer rows."""
    if isinstance(cache, EncoderDecoderCache):
        cache.cross_attention_cache.reorder(rows)
        cache = cache.self_attention_cache
    cache.reorder(rows)


def _gather_beams(tensor: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Select beams: tensor (batch, beams, ...) at indices (batch, k) -> (batch, k, ...)."""
    while indices.dim() < tensor.dim():
        indices = indices.unsqueeze(-1)
    return torch.take_along_dim(tensor, indices, dim=1)
