"""Contrastive search (``generate(penalty_alpha=0.6, top_k=4)``): greedy decoding that avoids repeating itself.

Su et al., "A Contrastive Framework for Neural Text Generation" (2022). Greedy search takes the most likely
token; contrastive search takes, among the ``top_k`` most likely, the one that scores best on

    (1 - penalty_alpha) * probability  -  penalty_alpha * degeneration penalty

where the degeneration penalty of a candidate is the highest cosine similarity between its hidden state (the
last layer's, at its position) and the hidden states of the tokens so far: a token that would take the text
back to something it already said is penalised. To know a candidate's hidden state, the model must run on it,
so every step runs the model on all ``top_k`` candidates at once:

    each input has top_k rows (its KV cache copied top_k times)
    scores of the next token (batch, vocab) -> processors -> softmax -> top_k candidates (batch, top_k)
      -> one model step on the candidates: ids (batch * top_k, 1), each row extends its own copy of the cache
      -> hidden state of each candidate (batch, top_k, hidden) -> degeneration penalty (batch, top_k)
      -> choose; every copy of the cache takes the chosen candidate's row (it holds the new token already)
      -> the chosen candidate's logits score the next step's candidates

So each new token costs one model call on ``top_k`` times as many rows, and the call that scores the
candidates also advances the cache: nothing is run twice.

Token for token transformers v4.37.2's ``contrastive_search`` (v5 moved it to a Hub repository), with one
difference: left padding is not part of the context whose similarity is penalised (as in later versions), so a
prompt gives the same tokens alone and in a left-padded batch.
"""

from __future__ import annotations

import torch

from .beam_search import take_rows


def contrastive_search(input_ids, mask, positions, cache, step, config, processors, criteria, eos, streamer, recorder):
    """Contrastive search, one token per input and step.

    ``input_ids`` (batch * top_k, prompt) and ``mask`` (batch * top_k, max_length) or None come expanded to
    ``top_k`` identical rows per input (the rows the candidates will take); ``positions`` are the prompt's
    position ids; ``step`` is the model call of one step; ``processors`` see one row per input.
    """
    top_k, alpha = config.top_k, config.penalty_alpha
    batch, prompt_len = input_ids.shape[0] // top_k, input_ids.shape[1]
    device, max_length, pad = input_ids.device, config.max_length, config.pad_token_id
    inputs = torch.arange(batch, device=device)
    first_rows = inputs * top_k  # one row of each input's top_k copies
    extra = dict(output_hidden_states=True)  # the candidates' hidden states are what the penalty compares
    if config.output_attentions:
        extra["output_attentions"] = True

    sequences = torch.full((batch, max_length), pad if pad is not None else 0, dtype=input_ids.dtype, device=device)
    sequences[:, :prompt_len] = input_ids[first_rows]
    real = mask[first_rows] if mask is not None else None  # (batch, max_length): 0 at left padding
    eos_tensor = torch.tensor(eos, device=device) if eos else None
    unfinished = torch.ones(batch, dtype=torch.bool, device=device)
    if streamer is not None:
        streamer.put(sequences[:, :prompt_len].cpu())

    out = step(input_ids, mask[:, :prompt_len] if mask is not None else None, positions, cache, **extra)
    prompt_hidden = _last_hidden_states(out)[first_rows]  # (batch, prompt, hidden)
    context = prompt_hidden.new_zeros(batch, max_length, prompt_hidden.shape[-1])  # every token's hidden state
    context[:, :prompt_len] = prompt_hidden
    logits = out.logits[first_rows, -1, :].float()  # (batch, vocab)
    chosen_output = _rows_of(out, first_rows)
    next_position = positions[:, -1:] + 1  # (batch * top_k, 1), or (1, 1) without padding
    cur = prompt_len
    while True:
        scores = processors(sequences[:, :cur], logits) if processors else logits
        recorder.add_step(scores, logits, chosen_output)
        top_probs, top_ids = torch.topk(torch.softmax(scores, dim=-1), k=top_k, dim=-1)  # (batch, top_k)

        # one step on every candidate: row (input i, candidate j) extends input i's j-th copy of the cache
        candidates = step(
            top_ids.reshape(-1, 1), mask[:, : cur + 1] if mask is not None else None, next_position, cache, **extra
        )
        candidate_hidden = _last_hidden_states(candidates)[:, -1, :].view(batch, top_k, -1)  # (batch, top_k, hidden)
        penalty = _degeneration_penalty(candidate_hidden, context[:, :cur], real[:, :cur] if real is not None else None)
        chosen = ((1.0 - alpha) * top_probs - alpha * penalty).argmax(dim=-1)  # (batch,)
        chosen_rows = first_rows + chosen
        next_tokens = top_ids[inputs, chosen]
        context[:, cur] = candidate_hidden[inputs, chosen]
        logits = candidates.logits[chosen_rows, -1, :].float()
        chosen_output = _rows_of(candidates, chosen_rows)
        cache.reorder(chosen_rows.repeat_interleave(top_k))  # every copy continues from the chosen candidate

        if eos_tensor is not None:
            next_tokens = torch.where(unfinished, next_tokens, pad)
        sequences[:, cur] = next_tokens
        cur += 1
        if streamer is not None:
            streamer.put(next_tokens.cpu())
        if eos_tensor is not None:
            unfinished &= ~torch.isin(next_tokens, eos_tensor)
        if criteria:
            unfinished &= ~criteria(sequences[:, :cur], recorder.scores)
        if cur >= max_length or ((eos_tensor is not None or criteria) and not bool(unfinished.any())):
            break
        next_position = next_position + 1
    if streamer is not None:
        streamer.end()
    # as the other loops return it: one row per input, without the last token (which was never fed back)
    take_rows(cache, first_rows)
    cache.crop(cur - 1)
    return recorder.output(sequences[:, :cur], cache)


def _degeneration_penalty(candidates: torch.Tensor, context: torch.Tensor, real: torch.Tensor | None):
    """The highest cosine similarity of each candidate's hidden state (batch, top_k, hidden) with the context's
    (batch, seq, hidden), leaving out positions where ``real`` (batch, seq) is 0: (batch, top_k)."""
    candidates = candidates / candidates.norm(dim=-1, keepdim=True)
    context = context / context.norm(dim=-1, keepdim=True)
    cosine = torch.matmul(candidates, context.transpose(1, 2))  # (batch, top_k, seq)
    if real is not None:
        cosine = cosine.masked_fill(real[:, None, :] == 0, -float("inf"))
    return cosine.max(dim=-1).values


def _last_hidden_states(output) -> torch.Tensor:
    """The last layer's hidden states, (rows, seq, hidden), of a decoder-only or an encoder-decoder output."""
    return output["decoder_hidden_states" if "decoder_hidden_states" in output else "hidden_states"][-1]


def _rows_of(output, rows: torch.Tensor) -> dict:
    """The per-layer attentions and hidden states of ``output`` at ``rows`` only (what ``add_step`` records)."""
    keys = ("attentions", "decoder_attentions", "cross_attentions", "hidden_states", "decoder_hidden_states")
    return {key: tuple(t[rows] for t in output[key]) for key in keys if output.get(key) is not None}
