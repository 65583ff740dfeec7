"""Diverse beam search (``generate(num_beams=6, num_beam_groups=3, diversity_penalty=1.0)``): beams that differ.

Vijayakumar et al., "Diverse Beam Search" (2016). Plain beam search tends to return N variations of one
sentence. Here the ``num_beams`` beams of each input are split into ``num_beam_groups`` groups of
``group_size = num_beams // num_beam_groups``. Each group is a beam search of its own, but within a step the
groups choose one after the other, and a token that earlier groups chose at this step costs
``diversity_penalty`` for each time it was chosen (Hamming diversity), so the groups take different paths:

    one model call on all beams: log-probabilities (batch * num_beams, vocab)
    for each group g, in order:
        its beams' log-probabilities - diversity_penalty * (times groups 0..g-1 chose the token this step)
          -> processors -> + each beam's running score
          -> the best 2 * group_size continuations of each input (more with several eos ids)
          -> an eos among the best group_size finishes a hypothesis of (input, g);
             the best group_size others are the group's beams for the next step
    reorder the cache: each row continues from the beam it extends

Each (input, group) keeps its ``group_size`` best finished hypotheses, scored by log-probability / new tokens **
length_penalty, and is done when no running beam can beat them any more (``early_stopping`` as in beam search).
At the end the beams of groups that are not done count as hypotheses too, and each input returns the best
``num_return_sequences`` of all its groups' hypotheses.

Step for step transformers v4.37.2's ``group_beam_search`` with its ``BeamSearchScorer`` (v5 moved diverse beam
search to a Hub repository), with these differences: ``beam_indices`` number the rows of the whole batch (v4.37
numbered the rows of one group), a hypothesis ends with the eos id that finished it (v4.37 wrote the first eos
id), and, as in every mode here, the repetition penalty leaves left padding out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .beam_search import take_rows
from .logits_process import HammingDiversityLogitsProcessor


class BeamHypotheses:
    """The ``size`` best finished sequences of one input's group: (score, token ids, beam indices) each, the score
    being the sequence's log-probability / new tokens ** length_penalty."""

    def __init__(self, size: int, length_penalty: float, early_stopping, max_new_tokens: int):
        self.size, self.length_penalty, self.early_stopping = size, length_penalty, early_stopping
        self.max_new_tokens = max_new_tokens
        self.hypotheses: list[tuple[float, torch.Tensor, torch.Tensor]] = []
        self.worst_score = 1e9

    def add(self, tokens: torch.Tensor, beam_indices: torch.Tensor, log_prob: float, new_tokens: int) -> None:
        score = log_prob / new_tokens**self.length_penalty
        if len(self.hypotheses) < self.size or score > self.worst_score:
            self.hypotheses.append((score, tokens, beam_indices))
            if len(self.hypotheses) > self.size:  # drop the worst
                ranked = sorted((s, i) for i, (s, _, _) in enumerate(self.hypotheses))
                del self.hypotheses[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_log_prob: float, new_tokens: int) -> bool:
        """Full, and no running beam (the best has ``best_log_prob`` after ``new_tokens``) can do better."""
        if len(self.hypotheses) < self.size:
            return False
        if self.early_stopping is True:
            return True
        if self.early_stopping == "never" and self.length_penalty > 0.0:
            new_tokens = self.max_new_tokens  # a positive length penalty favours the longest a beam can get
        return self.worst_score >= best_log_prob / new_tokens**self.length_penalty


def group_beam_search(input_ids, mask, positions, cache, step, config, processors, criteria, eos, recorder):
    """Diverse beam search. ``input_ids`` (batch * num_beams, prompt) and ``mask`` (batch * num_beams,
    max_length) or None come expanded to one row per beam; ``processors`` see one group's rows at a time."""
    num_beams, num_groups = config.num_beams, config.num_beam_groups
    group_size = num_beams // num_groups
    rows, prompt_len = input_ids.shape
    batch = rows // num_beams
    device, max_length, pad = input_ids.device, config.max_length, config.pad_token_id
    diversity = HammingDiversityLogitsProcessor(float(config.diversity_penalty), num_beams, num_groups)
    candidates_per_input = max(2, 1 + len(eos)) * group_size
    # the rows of each group, input by input: (batch * group_size,) per group
    first_beams = torch.arange(batch, device=device)[:, None] * num_beams
    group_rows = [
        (first_beams + torch.arange(g * group_size, (g + 1) * group_size, device=device)).view(-1)
        for g in range(num_groups)
    ]
    hypotheses = [
        [
            BeamHypotheses(group_size, config.length_penalty, config.early_stopping, max_length - prompt_len)
            for _ in range(num_groups)
        ]
        for _ in range(batch)
    ]
    done = [[False] * num_groups for _ in range(batch)]

    sequences = torch.full((rows, max_length), pad if pad is not None else 0, dtype=input_ids.dtype, device=device)
    sequences[:, :prompt_len] = input_ids
    beam_indices = torch.full((rows, max_length - prompt_len), -1, dtype=torch.long, device=device)
    beam_scores = torch.full((batch, num_beams), -1e9, dtype=torch.float, device=device)
    beam_scores[:, ::group_size] = 0  # at first a group's beams are the same prompt: expand only its first
    beam_scores = beam_scores.view(-1)  # (batch * num_beams,)

    next_position = positions[:, -1:] + 1  # (batch * beams, 1), or (1, 1) without padding
    out = step(input_ids, mask[:, :prompt_len] if mask is not None else None, positions, cache)
    cur = prompt_len
    while True:
        logits = out.logits[:, -1, :].float()
        log_probs = F.log_softmax(logits, dim=-1)  # (batch * num_beams, vocab)
        vocab = log_probs.shape[-1]
        processed = torch.empty_like(log_probs)  # what each beam's continuations were ranked by
        current_tokens = torch.zeros(rows, dtype=torch.long, device=device)  # the token each beam takes now
        source_rows = torch.zeros(rows, dtype=torch.long, device=device)  # the beam each row continues
        for group, these_rows in enumerate(group_rows):
            group_ids = sequences[these_rows, :cur]
            scores = diversity(group_ids, log_probs[these_rows], current_tokens, group)
            scores = processors(group_ids, scores) if processors else scores
            processed[these_rows] = scores
            totals = (scores + beam_scores[these_rows, None]).view(batch, group_size * vocab)
            top_scores, top_indices = torch.topk(totals, candidates_per_input, dim=1)  # best first
            chosen = []  # (score, token, source row) of each of the group's beams, input after input
            for i, candidates in enumerate(zip(top_scores.tolist(), top_indices.tolist())):
                if done[i][group]:  # its hypotheses are final: its beams mark time with pad tokens, copying
                    chosen += [(0.0, pad, int(these_rows[0]))] * group_size  # (as the reference) the first row
                    continue
                own_rows = these_rows[i * group_size : (i + 1) * group_size].tolist()
                new_hypotheses, beams = _best_continuations(candidates, own_rows, vocab, eos, group_size)
                for score, token, source in new_hypotheses:
                    tokens = torch.cat((sequences[source, :cur], sequences.new_tensor([token])))
                    indices = torch.cat((beam_indices[source, : cur - prompt_len], beam_indices.new_tensor([source])))
                    hypotheses[i][group].add(tokens, indices, score, cur + 1 - prompt_len)
                chosen += beams
                done[i][group] = hypotheses[i][group].is_done(candidates[0][0], cur + 1 - prompt_len)
            scores, tokens, sources = zip(*chosen)
            beam_scores[these_rows] = torch.tensor(scores, dtype=beam_scores.dtype, device=device)
            current_tokens[these_rows] = torch.tensor(tokens, device=device)
            source_rows[these_rows] = torch.tensor(sources, device=device)
        recorder.add_step(processed, logits, out)

        sequences[:, :cur] = sequences[source_rows, :cur]
        sequences[:, cur] = current_tokens
        beam_indices[:, : cur - prompt_len] = beam_indices[source_rows, : cur - prompt_len]
        beam_indices[:, cur - prompt_len] = source_rows
        take_rows(cache, source_rows)  # a finished group's rows may copy another input's row
        cur += 1
        if cur >= max_length or all(all(groups) for groups in done):
            break
        if criteria and bool(criteria(sequences[:, :cur], recorder.scores).all()):
            break
        out = step(sequences[:, cur - 1 : cur], mask[:, :cur] if mask is not None else None, next_position, cache)
        next_position = next_position + 1

    # the beams of groups that are not done are hypotheses too
    for i in range(batch):
        for group, these_rows in enumerate(group_rows):
            if not done[i][group]:
                for row in these_rows[i * group_size : (i + 1) * group_size].tolist():
                    score, new_tokens = beam_scores[row].item(), cur - prompt_len
                    hypotheses[i][group].add(sequences[row, :cur], beam_indices[row, :new_tokens], score, new_tokens)
    # each input: the best num_return_sequences of all its groups' hypotheses (ties: the later one first)
    best = []
    for groups in hypotheses:
        pool = sorted((h for group in groups for h in group.hypotheses), key=lambda h: h[0])
        best += pool[::-1][: config.num_return_sequences]
    width = max(len(tokens) for _, tokens, _ in best)
    out_sequences = torch.full((len(best), width), pad if pad is not None else 0, dtype=sequences.dtype, device=device)
    out_indices = torch.full((len(best), width - prompt_len), -1, dtype=torch.long, device=device)
    for row, (_, tokens, indices) in enumerate(best):
        out_sequences[row, : len(tokens)] = tokens
        out_indices[row, : len(indices)] = indices
    sequences_scores = torch.tensor([score for score, _, _ in best], device=device)
    return recorder.output(out_sequences, cache, sequences_scores=sequences_scores, beam_indices=out_indices)


def _best_continuations(candidates, own_rows: list[int], vocab: int, eos: list[int], group_size: int):
    """One input's group at one step. ``candidates``: its best continuations, (scores, indices into its beams x
    vocabulary), best first. Returns the new finished hypotheses (an eos among the best ``group_size``) and the
    ``group_size`` best other continuations, each as (score, token, source row)."""
    finished, running = [], []
    for rank, (score, index) in enumerate(zip(*candidates)):
        source, token = own_rows[index // vocab], index % vocab
        if token not in eos:
            running.append((score, token, source))
            if len(running) == group_size:
                break
        elif rank < group_size:
            finished.append((score, token, source))
    return finished, running
