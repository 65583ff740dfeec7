"""generate() on encoder-decoders, beyond greedy/beam token parity (tests/test_t5.py, tests/test_bart.py):
dict outputs with the three attention kinds and the scores, a forced decoder prefix, seeded sampling,
streaming, passing encoder_outputs, and the errors."""

from __future__ import annotations

import pytest
import torch
from parity import (
    assert_close,
    assert_generate_matches,
    load_ours_from_reference,
    reference_model,
    seq2seq_batch,
    varied_weights,
)
from tiny_configs import T5_BATCH, T5_VARIANTS, VOCAB, t5_config

import workbench
from workbench.generation import TextIteratorStreamer


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """(reference T5 v1.1 with varied weights, ours loaded from its save): tiny, vocab 99."""
    ref = varied_weights(reference_model(T5_VARIANTS["t5-v1_1"][2], t5_config("t5-v1_1"), seed=0))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path_factory.mktemp("t5-generate"))
    return ref, ours


def _source():
    """Padded source ids and their mask (the T5 tests' layout)."""
    batch = seq2seq_batch(VOCAB, seed=3, **T5_BATCH)
    return batch["input_ids"], batch["attention_mask"]


def test_dict_output_has_encoder_decoder_and_cross_attentions(pair):
    ref, ours = pair
    ids, mask = _source()
    kwargs = dict(
        attention_mask=mask,
        max_new_tokens=5,
        do_sample=False,
        return_dict_in_generate=True,
        output_scores=True,
        output_attentions=True,
        output_hidden_states=True,
        eos_token_id=None,
    )
    expected, got = assert_generate_matches(ref, ours, ids, **kwargs)
    assert len(got.scores) == len(expected.scores) == 5
    assert_close(got.scores, expected.scores, "scores")
    for kind in ("encoder_attentions", "encoder_hidden_states"):  # once, for the source
        assert_close(got[kind], expected[kind], kind)
    for kind in ("decoder_attentions", "cross_attentions", "decoder_hidden_states"):  # one entry per step
        assert len(got[kind]) == len(expected[kind]) == 5, kind
        assert_close(got[kind], expected[kind], kind)
    assert got.cross_attentions[-1][0].shape == (3, 4, 1, ids.shape[1])  # (batch, heads, new token, source)


def test_forced_decoder_prefix_and_encoder_outputs(pair):
    ref, ours = pair
    ids, mask = _source()
    prefix = torch.tensor([[0, 17, 23]] * 3)  # starts with the decoder start token (0)
    kwargs = dict(attention_mask=mask, max_new_tokens=6, do_sample=False)
    expected, _ = assert_generate_matches(ref, ours, ids, decoder_input_ids=prefix, **kwargs)
    assert torch.equal(ours.generate(ids, decoder_input_ids=prefix[:, 1:], **kwargs), expected)  # start added
    encoded = ours.get_encoder()(input_ids=ids, attention_mask=mask, return_dict=True)
    plain = ours.generate(ids, **kwargs)
    assert torch.equal(ours.generate(ids, encoder_outputs=encoded, **kwargs), plain)  # the encoder is not rerun


def test_seeded_sampling_matches_the_reference(pair):
    ref, ours = pair
    ids, mask = _source()
    kwargs = dict(
        attention_mask=mask,
        max_new_tokens=8,
        do_sample=True,
        top_k=20,
        top_p=0.9,
        temperature=0.8,
        num_return_sequences=2,
    )
    _, got = assert_generate_matches(ref, ours, ids, seed=7, **kwargs)
    assert got.shape[0] == 6


def test_batch_without_pad_token_id_pads_with_eos(pair):
    """As for decoder-only models (tests/test_generation.py): with no pad_token_id in the generation config, rows
    that finish early are padded with eos_token_id, with a warning, as the reference does."""
    ref, ours = pair
    ids, mask = _source()
    free = ours.generate(ids, attention_mask=mask, max_new_tokens=6, eos_token_id=None)
    stop = int(free[1, 2])  # a token row 1 produces early: as eos, row 1 stops before the others
    saved = ref.generation_config.pad_token_id, ours.generation_config.pad_token_id
    ref.generation_config.pad_token_id = ours.generation_config.pad_token_id = None
    try:
        with pytest.warns(UserWarning, match=f"no pad_token_id: using eos_token_id={stop}"):
            _, got = assert_generate_matches(ref, ours, ids, attention_mask=mask, max_new_tokens=6, eos_token_id=stop)
    finally:
        ref.generation_config.pad_token_id, ours.generation_config.pad_token_id = saved
    assert got[1, -1] == stop and got.shape[1] == 7


def test_streaming_gives_the_same_text(data_dir, tmp_path):
    from workbench.models.auto import tiny_config
    from workbench.models.t5 import T5ForConditionalGeneration

    tokenizer = workbench.AutoTokenizer.from_pretrained(data_dir / "tokenizers" / "t5-small")
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(tiny_config("t5-tiny-random", vocab_size=32128, initializer_factor=8.0)).eval()
    enc = tokenizer("translate English to German: The house is wonderful.", return_tensors="pt")
    full = model.generate(**enc, max_new_tokens=12)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    model.generate(**enc, max_new_tokens=12, streamer=streamer)  # the queue holds everything once generate returns
    assert "".join(streamer) == tokenizer.decode(full[0], skip_special_tokens=True)


def test_encoder_decoder_generate_errors(pair):
    _, ours = pair
    ids, mask = _source()
    with pytest.raises(ValueError, match="source text's ids"):
        ours.generate(attention_mask=mask, max_new_tokens=3)
    empty = mask.clone()
    empty[1] = 0
    with pytest.raises(ValueError, match="all padding"):
        ours.generate(ids, attention_mask=empty, max_new_tokens=3)
    with pytest.raises(TypeError, match="unknown arguments"):
        ours.generate(ids, attention_mask=mask, max_new_tokens=3, decoder_mask=mask)
    no_start = workbench.GenerationConfig(max_new_tokens=3)  # no decoder_start_token_id, no bos
    ours.config.decoder_start_token_id, saved = None, ours.config.decoder_start_token_id
    try:
        with pytest.raises(ValueError, match="decoder_start_token_id"):
            ours.generate(ids, attention_mask=mask, generation_config=no_start)
    finally:
        ours.config.decoder_start_token_id = saved
