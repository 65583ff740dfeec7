"""Contrastive search and diverse (group) beam search against transformers v4.37.2.

The installed reference (v5) moved both modes to Hub repositories (``custom_generate``), which it cannot load
offline, so these tests run v4.37.2 in its own environment (tests/reference_v4.py builds it): every case below
is generated there in one subprocess, from the same checkpoint folder our model loads, and compared token for
token, with the scores (and, where asked for, the attentions and hidden states of each step).

Models: tiny random GPT-2 and LLaMA (decoder-only, prompts unpadded, alone or batched, and left-padded) and
T5 and BART (encoder-decoders, padded sources), with weights varied so that the candidates differ.
"""

from __future__ import annotations

import json
import subprocess
import tempfile

import pytest
import torch
import transformers
from parity import (
    assert_close,
    left_padded_batch,
    load_ours_from_reference,
    reference_model,
    seq2seq_batch,
    varied_weights,
)
from reference_v4 import VENV, _env, v4_unavailable
from tiny_configs import GPT2, LLAMA, T5_BATCH, T5_VARIANTS, VOCAB, t5_config

import workbench
from workbench.models.bart import TINY_PRESETS

BART = {key: value for key, value in TINY_PRESETS["bart-tiny-random"].items() if key != "model_type"}
BART_VOCAB, BART_PAD = BART["vocab_size"], transformers.BartConfig().pad_token_id


def _reference(name: str):
    """The reference (v5) model ``name``: tiny, random, with varied weights. Tied input and output embeddings:
    v4.37 reads v5's checkpoints of untied T5 (v1.1) and BART differently (logits scaled, embeddings not shared)."""
    configs = {
        "gpt2": ("GPT2LMHeadModel", transformers.GPT2Config(**GPT2)),
        "llama": ("LlamaForCausalLM", transformers.LlamaConfig(**LLAMA)),
        "t5": (T5_VARIANTS["t5"][2], t5_config("t5")),
        "bart": ("BartForConditionalGeneration", transformers.BartConfig(**BART)),
    }
    class_name, config = configs[name]
    return varied_weights(reference_model(class_name, config, seed=0))


SEQ2SEQ = ("t5", "bart")
STOP = "stop"  # in a case's settings: eos_token_id is a token the model produces early (see `models`)

# id -> (model, inputs, settings). Inputs: "alone" (one prompt), "batch" (three unpadded prompts), "left-padded"
# (three prompts, padded on the left; for contrastive search v4.37 generates each alone, see LEFT_PADDED),
# "source" (encoder-decoders: three padded sources).
CONTRASTIVE = {
    "gpt2-alone": ("gpt2", "alone", dict(penalty_alpha=0.6, top_k=4, max_new_tokens=12)),
    "gpt2-batch-outputs": (
        "gpt2",
        "batch",
        dict(
            penalty_alpha=0.5,
            top_k=3,
            max_new_tokens=8,
            eos_token_id=STOP,
            output_attentions=True,
            output_hidden_states=True,
        ),
    ),
    "llama-processors": (
        "llama",
        "batch",
        dict(penalty_alpha=0.4, top_k=5, max_new_tokens=10, repetition_penalty=1.3, no_repeat_ngram_size=2),
    ),
    "llama-eos": ("llama", "batch", dict(penalty_alpha=0.8, top_k=4, max_new_tokens=10, eos_token_id=STOP)),
    "t5": ("t5", "source", dict(penalty_alpha=0.6, top_k=4, max_new_tokens=8, eos_token_id=STOP)),
    "bart": ("bart", "source", dict(penalty_alpha=0.5, top_k=3, max_new_tokens=8)),
}
LEFT_PADDED = {
    "gpt2-left-padded": ("gpt2", "left-padded", dict(penalty_alpha=0.6, top_k=4, max_new_tokens=10)),
    "llama-left-padded": ("llama", "left-padded", dict(penalty_alpha=0.6, top_k=3, max_new_tokens=10)),
}
GROUP_BEAM = {
    "gpt2-two-groups": (
        "gpt2",
        "left-padded",
        dict(
            max_new_tokens=8,
            num_beams=4,
            num_beam_groups=2,
            diversity_penalty=1.0,
            num_return_sequences=2,
            eos_token_id=STOP,
        ),
    ),
    "llama-three-groups": (
        "llama",
        "alone",
        dict(
            max_new_tokens=8,
            num_beams=6,
            num_beam_groups=3,
            diversity_penalty=0.5,
            num_return_sequences=3,
            length_penalty=0.7,
            early_stopping=True,
            eos_token_id=STOP,
        ),
    ),
    "gpt2-groups-of-one": (
        "gpt2",
        "batch",
        dict(
            max_new_tokens=8,
            num_beams=3,
            num_beam_groups=3,
            diversity_penalty=2.0,
            length_penalty=1.5,
            early_stopping="never",
            no_repeat_ngram_size=2,
        ),
    ),
    "llama-batch": (
        "llama",
        "left-padded",
        dict(
            max_new_tokens=8,
            num_beams=4,
            num_beam_groups=2,
            diversity_penalty=0.3,
            eos_token_id=STOP,
            num_return_sequences=4,
        ),
    ),
    "t5": (
        "t5",
        "source",
        dict(
            max_new_tokens=8,
            num_beams=4,
            num_beam_groups=2,
            diversity_penalty=1.0,
            num_return_sequences=2,
            eos_token_id=STOP,
        ),
    ),
    "bart": (
        "bart",
        "source",
        dict(max_new_tokens=8, num_beams=6, num_beam_groups=2, diversity_penalty=0.8, num_return_sequences=2),
    ),
}


def _inputs(name: str, kind: str) -> dict:
    if name == "t5":
        batch = seq2seq_batch(VOCAB, seed=3, **T5_BATCH)
    elif name == "bart":
        batch = seq2seq_batch(BART_VOCAB, seed=3, high=BART_VOCAB - 2, pad_token_id=BART_PAD)
    else:
        batch = left_padded_batch(VOCAB, left_pads=(0, 2, 4) if kind == "left-padded" else (0, 0, 0), seq=7, seed=3)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    if kind == "alone":
        inputs = {"input_ids": inputs["input_ids"][:1]}
    return inputs


def _rows_alone(inputs: dict) -> list[dict]:
    """Each row of a left-padded batch alone, without its padding."""
    return [
        {"input_ids": ids[mask.bool()][None, :]} for ids, mask in zip(inputs["input_ids"], inputs["attention_mask"])
    ]


# ------------------------------------------------------------------------------------------------
# The models, and every case generated once by v4.37.2
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """name -> (our model, the checkpoint folder it was loaded from, its stop token).

    The stop token is one the model produces early in row 1 (greedy search), used as eos so that rows
    finish at different steps."""
    loaded = {}
    for name in ("gpt2", "llama", "t5", "bart"):
        auto = workbench.AutoModelForSeq2SeqLM if name in SEQ2SEQ else workbench.AutoModelForCausalLM
        ours, folder = load_ours_from_reference(_reference(name), auto, tmp_path_factory.mktemp(name))
        free = ours.generate(
            **_inputs(name, "batch"), **_settings(name, dict(max_new_tokens=4, eos_token_id=None), None)
        )
        loaded[name] = (ours, folder, int(free[1, -2]))  # row 1's third new token
    return loaded


def _settings(name: str, settings: dict, stop: int | None) -> dict:
    """A case's settings with the model's stop token; the decoder-only models get pad id 0 (they have none)."""
    settings = dict(settings, eos_token_id=stop) if settings.get("eos_token_id") == STOP else settings
    return settings if name in SEQ2SEQ else {"pad_token_id": 0, **settings}


_V4_GENERATE = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import torch, transformers
transformers.logging.set_verbosity_error()
torch.set_num_threads(1)

def plain(x):
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, (tuple, list)):
        return [plain(v) for v in x]
    return x

models, results = {}, []
for call in json.load(sys.stdin):
    if call["model"] not in models:
        auto = transformers.AutoModelForSeq2SeqLM if call["seq2seq"] else transformers.AutoModelForCausalLM
        models[call["model"]] = auto.from_pretrained(call["model"]).eval()
    inputs = {key: torch.tensor(value) for key, value in call["inputs"].items()}
    with torch.no_grad():
        settings = dict(call["settings"], return_dict_in_generate=True, output_scores=True)
        out = models[call["model"]].generate(**inputs, **settings)
    results.append({key: plain(value) for key, value in out.items() if key != "past_key_values" and value is not None})
json.dump(results, sys.stdout)
"""


@pytest.fixture(scope="module")
def v4(models):
    """case id -> what v4.37.2's generate returned for it (rows of LEFT_PADDED cases: "id/row")."""
    reason = v4_unavailable()
    if reason:
        pytest.skip(reason)
    calls = {}
    for prefix, cases in (("contrastive", CONTRASTIVE), ("left-padded", LEFT_PADDED), ("group", GROUP_BEAM)):
        for case, (name, kind, settings) in cases.items():
            _, folder, stop = models[name]
            call = dict(model=str(folder), seq2seq=name in SEQ2SEQ, settings=_settings(name, settings, stop))
            inputs = _inputs(name, kind)
            if cases is LEFT_PADDED:
                for row, alone in enumerate(_rows_alone(inputs)):
                    calls[f"{prefix}/{case}/{row}"] = dict(call, inputs=alone)
            else:
                calls[f"{prefix}/{case}"] = dict(call, inputs=inputs)
    payload = [{**call, "inputs": {k: v.tolist() for k, v in call["inputs"].items()}} for call in calls.values()]
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _V4_GENERATE],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=900,
        env=_env(),
        cwd=tempfile.gettempdir(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"v4.37.2's generate failed: {result.stderr.strip()[-2000:]}")
    return dict(zip(calls, json.loads(result.stdout)))


def _generate(models, name, kind, settings, **outputs):
    ours, _, stop = models[name]
    return ours.generate(
        **_inputs(name, kind), **_settings(name, settings, stop), return_dict_in_generate=True, **outputs
    )


def _steps(value) -> tuple:
    """v4's scores (a list per step) as ours: a tuple of tensors."""
    return tuple(torch.tensor(step) for step in value)


def _layers_per_step(value) -> tuple:
    """v4's attentions or hidden states (per step, per layer) as ours: a tuple of tuples of tensors."""
    return tuple(tuple(torch.tensor(layer) for layer in step) for step in value)


# ------------------------------------------------------------------------------------------------
# Contrastive search
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CONTRASTIVE)
def test_contrastive_search_matches_v4(models, v4, case):
    name, kind, settings = CONTRASTIVE[case]
    got = _generate(models, name, kind, settings, output_scores=True)
    expected = v4[f"contrastive/{case}"]
    assert got.sequences.tolist() == expected["sequences"]
    assert_close(got.scores, _steps(expected["scores"]), "scores")
    layer_outputs = [key for key in ("attentions", "hidden_states") if settings.get(f"output_{key}")]
    prefix = "decoder_" if name in SEQ2SEQ else ""
    for key in layer_outputs:  # per step: the prompt's at the first, then the chosen candidate's
        assert_close(got[prefix + key], _layers_per_step(expected[prefix + key]), key)


def test_contrastive_cases_finish_rows_early(models, v4):
    """The eos settings do stop some rows before the others (so padding of finished rows is exercised)."""
    stopped = [
        case
        for case, (name, _, settings) in CONTRASTIVE.items()
        if settings.get("eos_token_id") == STOP
        and any(models[name][2] in row[:-1] for row in v4[f"contrastive/{case}"]["sequences"])
    ]
    assert stopped, "no contrastive case stopped a row early"


@pytest.mark.parametrize("case", LEFT_PADDED)
def test_contrastive_search_left_padded_matches_v4_alone(models, v4, case):
    """Each prompt alone gives v4.37's tokens; a left-padded batch gives the same (next test), where v4.37's
    differ: it lets the padding's hidden states into the degeneration penalty."""
    name, kind, settings = LEFT_PADDED[case]
    ours, _, stop = models[name]
    for row, alone in enumerate(_rows_alone(_inputs(name, kind))):
        got = ours.generate(**alone, **_settings(name, settings, stop))
        assert got.tolist() == v4[f"left-padded/{case}/{row}"]["sequences"]


@pytest.mark.parametrize("case", LEFT_PADDED)
def test_contrastive_search_left_padded_rows_equal_rows_alone(models, case):
    name, kind, settings = LEFT_PADDED[case]
    ours, _, stop = models[name]
    inputs = _inputs(name, kind)
    batched = ours.generate(**inputs, **_settings(name, settings, stop))
    for row, alone in enumerate(_rows_alone(inputs)):
        pads = int((inputs["attention_mask"][row] == 0).sum())
        assert torch.equal(batched[row, pads:], ours.generate(**alone, **_settings(name, settings, stop))[0])


def test_contrastive_search_without_penalty_is_greedy_search(models):
    """With a negligible penalty_alpha, the most likely candidate wins: greedy search's tokens."""
    ours, _, stop = models["llama"]
    inputs = _inputs("llama", "left-padded")
    settings = dict(max_new_tokens=10, eos_token_id=stop, pad_token_id=0)
    greedy = ours.generate(**inputs, **settings)
    assert torch.equal(ours.generate(**inputs, **settings, penalty_alpha=1e-9, top_k=4), greedy)


def test_contrastive_search_streams_and_returns_the_cache(models):
    ours, _, _ = models["gpt2"]
    ids = _inputs("gpt2", "alone")["input_ids"]
    settings = dict(penalty_alpha=0.6, top_k=4, max_new_tokens=6, eos_token_id=None)

    class Collect(workbench.generation.BaseStreamer):
        def __init__(self):
            self.pieces = []

        def put(self, value):
            self.pieces.append(value)

        def end(self):
            self.pieces.append("end")

    streamer = Collect()
    out = ours.generate(ids, **settings, streamer=streamer, return_dict_in_generate=True)
    assert torch.equal(torch.cat([p.view(1, -1) for p in streamer.pieces[:-1]], dim=1), out.sequences)
    assert streamer.pieces[-1] == "end"
    # the cache: one row, every token but the last (as greedy search returns it)
    keys, _ = out.past_key_values[0]
    assert keys.shape[0] == 1 and keys.shape[2] == out.sequences.shape[1] - 1
    with torch.no_grad():
        full = ours(out.sequences[:, :-1]).past_key_values[0][0]
    torch.testing.assert_close(keys, full, atol=1e-5, rtol=1e-4)


# ------------------------------------------------------------------------------------------------
# Diverse (group) beam search
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", GROUP_BEAM)
def test_group_beam_search_matches_v4(models, v4, case):
    name, kind, settings = GROUP_BEAM[case]
    got = _generate(models, name, kind, settings, output_scores=True)
    expected = v4[f"group/{case}"]
    assert got.sequences.tolist() == expected["sequences"]
    torch.testing.assert_close(got.sequences_scores, torch.tensor(expected["sequences_scores"]), atol=1e-4, rtol=1e-4)
    assert_close(got.scores, _steps(expected["scores"]), "scores")
    # beam_indices number the rows of the whole batch (v4.37 numbered a group's rows), so that the scores each
    # token was chosen with add up to its sequence's score
    ours = models[name][0]
    transition = ours.compute_transition_scores(got.sequences, got.scores, got.beam_indices)
    new_tokens = (got.beam_indices >= 0).sum(dim=-1)
    scores = transition.sum(dim=-1) / new_tokens ** settings.get("length_penalty", 1.0)
    torch.testing.assert_close(scores, got.sequences_scores, atol=1e-4, rtol=1e-4)


def test_hamming_diversity_on_a_hand_made_case():
    """Two inputs, four beams in two groups: group 1's scores lose diversity_penalty for each beam of group 0 (of
    the same input) that chose the token this step."""
    processor = workbench.generation.HammingDiversityLogitsProcessor(0.5, num_beams=4, num_beam_groups=2)
    current_tokens = torch.tensor([3, 3, 0, 0, 1, 2, 0, 0])  # input 0's group 0 chose 3 twice; input 1's: 1 and 2
    scores = torch.zeros(4, 5)  # group 1's rows: (inputs x 2 beams, vocab)
    expected = torch.zeros(4, 5)
    expected[:2, 3] = -1.0
    expected[2:, 1] = expected[2:, 2] = -0.5
    assert torch.equal(processor(None, scores, current_tokens, beam_group_idx=1), expected)
    assert torch.equal(processor(None, scores, current_tokens, beam_group_idx=0), scores)  # the first group: as is


def test_group_beam_search_without_diversity_is_beam_search(models):
    """With a negligible penalty, every group is the same beam search of group_size beams. (Pad id 1: with pad id
    0, beam search pads with eos, as v5 does.)"""
    ours, _, stop = models["gpt2"]
    inputs = _inputs("gpt2", "left-padded")
    settings = dict(
        max_new_tokens=8, eos_token_id=stop, pad_token_id=1, return_dict_in_generate=True, output_scores=True
    )
    beams = ours.generate(**inputs, **settings, num_beams=2)
    groups = ours.generate(**inputs, **settings, num_beams=4, num_beam_groups=2, diversity_penalty=1e-9)
    assert torch.equal(groups.sequences, beams.sequences)
    torch.testing.assert_close(groups.sequences_scores, beams.sequences_scores)


def test_group_beam_search_groups_differ(models):
    """What the diversity penalty is for: beam search's four best continuations start with the same token; with
    four groups of one beam and a strong penalty, each group starts with another."""
    ours, _, _ = models["llama"]
    ids = _inputs("llama", "alone")["input_ids"]
    common = dict(num_beams=4, num_return_sequences=4, max_new_tokens=6, eos_token_id=None)
    first_tokens = ours.generate(ids, **common)[:, ids.shape[1]]
    assert len(set(first_tokens.tolist())) == 1
    first_tokens = ours.generate(ids, **common, num_beam_groups=4, diversity_penalty=5.0)[:, ids.shape[1]]
    assert len(set(first_tokens.tolist())) == 4
