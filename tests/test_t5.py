"""T5 family parity with the reference on tiny random configs: T5 (relu, tied head), T5 v1.1 / FLAN-T5
(gated-gelu, separate head), UL2 (gated-silu), mT5, UMT5 (a position table per layer) and a decoder deeper
than the encoder. Padded encoder and decoder inputs; logits, hidden states, all three kinds of attention;
loss; the cache; the SDPA path; checkpoints in both directions; the tokenizer; generation."""

import json
import shutil

import pytest
import torch
import transformers
from parity import (
    ATOL,
    RTOL,
    assert_close,
    assert_fast_path_matches,
    assert_generate_matches,
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    reference_model,
    seq2seq_batch,
    varied_weights,
)
from safetensors.torch import save_file
from tiny_configs import T5, T5_BATCH, T5_VARIANTS, VOCAB, t5_config

import workbench
from workbench.cache import EncoderDecoderCache
from workbench.models import t5
from workbench.models.auto import tiny_config


def tiny_reference(variant: str, **overrides):
    return reference_model(T5_VARIANTS[variant][2], t5_config(variant, **overrides), seed=0)


# ------------------------------------------------------------------------------------------------
# Forward parity, loss, SDPA path and checkpoints in both directions, for every variant
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(T5_VARIANTS))
def test_variant_parity_and_checkpoints(variant, tmp_path):
    ref = tiny_reference(variant)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    assert isinstance(ours, workbench.T5ForConditionalGeneration)
    assert type(ours.config).model_type == ref.config.model_type
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    for inputs in (dict(batch, decoder_attention_mask=None), batch):
        _, got = assert_outputs_close(ref, ours, inputs)
        assert len(got.decoder_attentions) == ref.config.num_decoder_layers
        assert_fast_path_matches(ours, inputs)  # SDPA path: no attentions asked for
    decoder_ids, decoder_mask = batch["decoder_input_ids"], batch["decoder_attention_mask"]
    labels = torch.cat([decoder_ids[:, 1:], torch.ones(3, 1, dtype=torch.long)], dim=1)
    labels = labels.masked_fill(decoder_mask == 0, -100)
    source = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    with torch.no_grad():
        expected = ref(**source, labels=labels)  # decoder inputs made from the labels
        got = ours(**source, labels=labels)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_close(got.logits, expected.logits, "logits from labels")
    assert "past_key_values" not in got  # training: no cache

    # saved here -> the reference's Auto class builds the variant's class and gets every tensor back
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForSeq2SeqLM)


def test_feed_forward_and_head_switches_follow_the_reference():
    """Each variant builds the feed-forward and head the reference builds, and reads its config.json the same."""
    for variant in T5_VARIANTS:
        ref_config = t5_config(variant)
        ours = getattr(t5, type(ref_config).__name__).from_dict(ref_config.to_dict())  # as read from its config.json
        assert (ours.dense_act_fn, ours.is_gated_act) == (ref_config.dense_act_fn, ref_config.is_gated_act), variant
        assert ours.num_decoder_layers == ref_config.num_decoder_layers
        assert ours.hidden_size == ours.d_model and ours.num_hidden_layers == ours.num_layers
    assert t5.T5Config(feed_forward_proj="gated-gelu").dense_act_fn == "gelu_new"  # tanh GELU, as T5 v1.1 trained
    assert t5.T5Config(feed_forward_proj="gelu").dense_act_fn == "gelu"
    assert t5.T5Config(num_layers=3).num_decoder_layers == 3
    # the original T5 rescales before its tied head; a separate head (v1.1 and later) is not rescaled
    assert t5.T5Config().scale_decoder_outputs and not t5.T5Config(tie_word_embeddings=False).scale_decoder_outputs
    model = t5.T5ForConditionalGeneration(tiny_config("t5-v1_1-tiny-random"))
    assert model.lm_head.weight is not model.shared.weight
    assert model.encoder.embed_tokens is model.shared and model.decoder.embed_tokens is model.shared


def test_relative_position_buckets_match_the_reference():
    distance = torch.arange(-300, 301)[None, :]
    for bidirectional in (True, False):
        for buckets, max_distance in ((32, 128), (8, 16)):
            expected = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
                distance, bidirectional=bidirectional, num_buckets=buckets, max_distance=max_distance
            )
            got = t5.relative_position_bucket(distance, bidirectional, buckets, max_distance)
            assert torch.equal(got, expected), (bidirectional, buckets)


# ------------------------------------------------------------------------------------------------
# The cache
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["t5", "umt5", "deeper-decoder"])
def test_step_by_step_decoding_with_the_cache_equals_the_full_forward(variant, tmp_path):
    ref = tiny_reference(variant)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    ids, mask, decoder_ids = batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"]
    with torch.no_grad():
        full = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
        out = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids[:, :2], use_cache=True)
        encoder_outputs = (out.encoder_last_hidden_state,)  # a tuple is accepted too
        steps = [out.logits]
        cache = out.past_key_values
        assert isinstance(cache, EncoderDecoderCache) and cache.get_seq_length() == 2
        for t in range(2, decoder_ids.shape[1]):
            if t == 4:
                cache = cache.to_legacy_cache()  # legacy tuples: (self k, self v, cross k, cross v) per layer
                assert len(cache) == ref.config.num_decoder_layers and len(cache[0]) == 4
            out = ours(
                encoder_outputs=encoder_outputs,
                attention_mask=mask,
                decoder_input_ids=decoder_ids[:, t : t + 1],
                past_key_values=cache,
                use_cache=True,
            )
            steps.append(out.logits)
            cache = out.past_key_values
    assert cache.get_seq_length() == decoder_ids.shape[1]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=RTOL)


def test_cached_decoding_with_a_padded_decoder_mask(tmp_path):
    ref = tiny_reference("t5-v1_1")
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    decoder_ids, decoder_mask = batch["decoder_input_ids"], batch["decoder_attention_mask"]
    with torch.no_grad():
        full = ref(**batch)
        first = ours(
            input_ids=ids,
            attention_mask=mask,
            decoder_input_ids=decoder_ids[:, :3],
            decoder_attention_mask=decoder_mask[:, :3],
            use_cache=True,
        )
        rest = ours(
            encoder_outputs=(first.encoder_last_hidden_state,),
            attention_mask=mask,
            decoder_input_ids=decoder_ids[:, 3:],
            decoder_attention_mask=decoder_mask,
            past_key_values=first.past_key_values,
        )
    torch.testing.assert_close(torch.cat([first.logits, rest.logits], dim=1), full.logits, atol=ATOL, rtol=RTOL)


# ------------------------------------------------------------------------------------------------
# Checkpoints: separate heads, old key layouts, the encoder alone, the bare model
# ------------------------------------------------------------------------------------------------


def test_separate_head_round_trips_both_ways(tmp_path):
    """A FLAN-T5-like checkpoint (tie_word_embeddings=false, its own lm_head.weight) from here loads in the
    reference; the reference writes it back with tie_word_embeddings=true but keeps the head, which must stay
    separate here too (tying it would silently change every logit)."""
    torch.manual_seed(0)
    ours = t5.T5ForConditionalGeneration(
        t5.T5Config(**{**T5, "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False})
    ).eval()
    ours.save_pretrained(tmp_path / "ours")
    ref = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "ours", attn_implementation="eager").eval()
    assert ref.lm_head.weight.data_ptr() != ref.shared.weight.data_ptr()
    inputs = seq2seq_batch(VOCAB, **{**T5_BATCH, "target_right_pads": None})  # no decoder mask
    with torch.no_grad():
        expected = ref(**inputs).logits
        torch.testing.assert_close(ours(**inputs).logits, expected, atol=ATOL, rtol=RTOL)
        ref.save_pretrained(tmp_path / "resaved")
        assert json.loads((tmp_path / "resaved" / "config.json").read_text())["tie_word_embeddings"] is True
        back = workbench.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "resaved")
        assert back.lm_head.weight is not back.shared.weight
        torch.testing.assert_close(back(**inputs).logits, expected, atol=ATOL, rtol=RTOL)


def test_checkpoint_with_embed_tokens_copies_and_the_old_cross_attention_table_loads(tmp_path):
    """Older Hub checkpoints store the embedding three times (shared, encoder.embed_tokens,
    decoder.embed_tokens) and a relative table on the first cross-attention that was never used."""
    ref = tiny_reference("t5")
    state = {k: v.clone().contiguous() for k, v in ref.state_dict().items()}  # includes both embed_tokens copies
    assert "encoder.embed_tokens.weight" in state and "decoder.embed_tokens.weight" in state
    state["decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight"] = torch.randn(8, 4)
    tmp_path.mkdir(exist_ok=True)
    save_file(state, tmp_path / "model.safetensors", metadata={"format": "pt"})
    ref.config.save_pretrained(tmp_path)
    ours, info = workbench.T5ForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    assert ours.encoder.embed_tokens.weight is ours.shared.weight is ours.decoder.embed_tokens.weight
    assert ours.lm_head.weight is ours.shared.weight  # T5 ties its head
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    ids, mask, decoder_ids = batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(
            ours(ids, mask, decoder_ids).logits, ref(ids, mask, decoder_ids).logits, atol=ATOL, rtol=RTOL
        )


@pytest.mark.parametrize("variant", ["t5", "umt5"])
def test_encoder_model_parity(variant, tmp_path):
    full = tiny_reference(variant)
    full.save_pretrained(tmp_path / "full")
    encoder_class = getattr(transformers, T5_VARIANTS[variant][2].replace("ForConditionalGeneration", "EncoderModel"))
    ref = encoder_class.from_pretrained(tmp_path / "full", attn_implementation="eager").eval()
    # the decoder's weights are skipped
    ours, info = workbench.T5EncoderModel.from_pretrained(tmp_path / "full", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    source = dict(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert_outputs_close(ref, ours, source)  # last_hidden_state, hidden_states, attentions
    assert_fast_path_matches(ours, source)
    assert_reference_loads_ours(ours, ref, tmp_path)


def test_bare_model_parity(tmp_path):
    ref = reference_model("MT5Model", t5_config("mt5"), seed=0)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert isinstance(ours, workbench.MT5Model) and ours.architecture_name() == "MT5Model"
    assert_outputs_close(ref, ours, seq2seq_batch(VOCAB, **T5_BATCH))  # last_hidden_state, then as the LM's


def test_fresh_initialisation_follows_the_reference():
    """A model built from a config (no checkpoint) draws each tensor with the reference's std."""
    config = dict(
        T5,
        d_model=64,
        d_ff=128,
        relative_attention_num_buckets=64,
        feed_forward_proj="gated-silu",
        tie_word_embeddings=False,
    )
    ref = transformers.T5ForConditionalGeneration(transformers.T5Config(**config))
    ours = t5.T5ForConditionalGeneration(t5.T5Config(**config))
    ours_state = ours.state_dict()
    for key, tensor in ref.state_dict().items():
        if "layer_norm" in key:
            assert torch.equal(ours_state[key], tensor), key  # all ones
        else:
            torch.testing.assert_close(ours_state[key].std(), tensor.std(), rtol=0.15, atol=0, msg=key)


def test_pattern_hook_collator_hook_and_bfloat16(tmp_path):
    ref = tiny_reference("t5")
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    batch = seq2seq_batch(VOCAB, **T5_BATCH)
    ids, mask, decoder_ids = batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"]
    seen = []
    hook = (
        ours.decoder.block[1]
        .layer[1]
        .EncDecAttention.pattern_hook.register_forward_hook(lambda module, args, out: seen.append(out))
    )
    with torch.no_grad():
        out = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, output_attentions=True)
    hook.remove()
    assert len(seen) == 1 and torch.equal(seen[0], out.cross_attentions[1])  # (batch, heads, tgt, src)
    labels = torch.tensor([[5, 6, -100], [7, -100, -100]])
    assert torch.equal(
        ours.prepare_decoder_input_ids_from_labels(labels), ref.prepare_decoder_input_ids_from_labels(labels)
    )
    half = ours.to(torch.bfloat16)
    with torch.no_grad():
        logits = half(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    assert logits.dtype == torch.bfloat16 and bool(torch.isfinite(logits).all())


# ------------------------------------------------------------------------------------------------
# Clear errors
# ------------------------------------------------------------------------------------------------


def test_clear_errors():
    model = t5.T5ForConditionalGeneration(tiny_config("t5-tiny-random")).eval()
    ids = torch.randint(2, 100, (2, 5))
    with pytest.raises(ValueError, match="decoder_input_ids.*labels"):
        model(input_ids=ids)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        t5.T5Model(tiny_config("t5-tiny-random"))(input_ids=ids)
    with pytest.raises(ValueError, match="attention_mask has shape"):
        model(input_ids=ids, attention_mask=torch.ones(2, 4), decoder_input_ids=ids[:, :1])
    with pytest.raises(ValueError, match="exactly one of input_ids or inputs_embeds"):
        model(decoder_input_ids=ids)
    with pytest.raises(TypeError, match="past_key_values"):
        model(input_ids=ids, decoder_input_ids=ids[:, :1], past_key_values="cache")
    with pytest.raises(ValueError, match="gated-ACT"):
        t5.T5Config(feed_forward_proj="gelu-gated")
    with pytest.raises(ValueError, match="Unknown activation"):
        t5.T5Config(feed_forward_proj="gated-magic")
    with pytest.raises(ValueError, match="decoder_start_token_id"):
        t5.T5ForConditionalGeneration(tiny_config("t5-tiny-random", decoder_start_token_id=None))(
            input_ids=ids, labels=ids
        )


# ------------------------------------------------------------------------------------------------
# The tokenizer
# ------------------------------------------------------------------------------------------------


def test_t5_tokenizer_matches_the_reference(data_dir, tmp_path):
    folder = data_dir / "tokenizers" / "t5-small"  # spiece.model alone
    ours = workbench.AutoTokenizer.from_pretrained(folder)
    # the reference needs to be told the tokenizer class next to the raw SentencePiece model
    for_reference = shutil.copytree(folder, tmp_path / "t5-small")
    (for_reference / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "T5Tokenizer"}))
    ref = transformers.AutoTokenizer.from_pretrained(for_reference)
    texts = [
        "translate English to German: The house is wonderful.",
        "summarize: Café crème, naïve façade — Ünïcödé résumé!",
        "Unknown characters: 你好 🤗 ∮ and  double  spaces",
        "The <extra_id_0> walks in <extra_id_1> park",
    ]
    for text in texts:
        want = ref(text)["input_ids"]
        assert ours(text)["input_ids"] == want, text
        assert ours.decode(want) == ref.decode(want), text
        assert ours.decode(want, skip_special_tokens=True) == ref.decode(want, skip_special_tokens=True), text
    batch_ours = ours(texts[:2], padding=True, return_tensors="pt")
    batch_ref = ref(texts[:2], padding=True, return_tensors="pt")
    assert torch.equal(batch_ours["input_ids"], batch_ref["input_ids"])
    assert torch.equal(batch_ours["attention_mask"], batch_ref["attention_mask"])


# ------------------------------------------------------------------------------------------------
# Generation
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["t5", "t5-v1_1"])
def test_generate_matches_the_reference(variant, tmp_path):
    # with the default initialisation a tiny random T5 repeats one token forever
    ref = varied_weights(tiny_reference(variant))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    batch = seq2seq_batch(VOCAB, seed=1, **T5_BATCH)
    settings = [
        dict(max_new_tokens=8),  # greedy
        dict(max_new_tokens=7, num_beams=3, num_return_sequences=2, length_penalty=0.6),
    ]
    for kwargs in settings:
        expected, _ = assert_generate_matches(
            ref, ours, batch["input_ids"], attention_mask=batch["attention_mask"], **kwargs
        )
        assert len(set(expected[:, 1:].flatten().tolist())) > 3  # not one token repeated


def greedy_without_cache(model, ids, mask, steps: int) -> torch.Tensor:
    """The plainest decoder: run the whole model on everything so far, append the argmax, repeat."""
    decoder_ids = torch.full((ids.shape[0], 1), model.config.decoder_start_token_id)
    with torch.no_grad():
        for _ in range(steps):
            logits = model(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, use_cache=False).logits
            decoder_ids = torch.cat([decoder_ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return decoder_ids


def test_generate_with_a_decoder_deeper_than_the_encoder(tmp_path):
    """num_decoder_layers != num_layers: the cache must be sized by the decoder (the reference 5.x fails here)."""
    ref = varied_weights(tiny_reference("deeper-decoder"))
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    assert len(ours.decoder.block) == 3 and len(ours.encoder.block) == 2
    batch = seq2seq_batch(VOCAB, seed=2, **T5_BATCH)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    ours.generation_config.eos_token_id = None  # decode every step, so that the whole loop is compared
    cached = ours.generate(ids, attention_mask=mask, max_new_tokens=8)
    assert cached.shape == (3, 9) and len(set(cached[:, 1:].flatten().tolist())) > 3
    assert torch.equal(cached, greedy_without_cache(ours, ids, mask, steps=8))
    assert torch.equal(ours.generate(ids, attention_mask=mask, max_new_tokens=8, use_cache=False), cached)
    beams = ours.generate(ids, attention_mask=mask, max_new_tokens=6, num_beams=3, num_return_sequences=2)
    assert beams.shape == (6, 7)
