"""T5 family parity with the reference on tiny random configs: T5 (relu, tied head), T5 v1.1 / FLAN-T5
(gated-gelu, separate head), UL2 (gated-silu), mT5, UMT5 (a position table per layer) and a decoder deeper
than the encoder. Padded encoder and decoder inputs; logits, hidden states, all three kinds of attention;
loss; the cache; the SDPA path; checkpoints in both directions; the tokenizer; generation."""

import json
import shutil

import pytest
import torch
import transformers
from safetensors.torch import save_file

import workbench
from workbench.cache import EncoderDecoderCache
from workbench.models import t5

VOCAB = 99
ATOL, RTOL = 1e-5, 1e-4
TINY = dict(vocab_size=VOCAB, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4, decoder_start_token_id=0,
            # few buckets and a short max distance, so that 9-token inputs reach the log-spaced buckets
            relative_attention_num_buckets=8, relative_attention_max_distance=16)

# variant -> (reference config class, overrides, the Hub class name we must write into config.json)
VARIANTS = {
    "t5": ("T5Config", {}, "T5ForConditionalGeneration"),
    "t5-v1_1": ("T5Config", dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False), "T5ForConditionalGeneration"),
    "ul2": ("T5Config", dict(feed_forward_proj="gated-silu", tie_word_embeddings=False), "T5ForConditionalGeneration"),
    "mt5": ("MT5Config", {}, "MT5ForConditionalGeneration"),
    "umt5": ("UMT5Config", {}, "UMT5ForConditionalGeneration"),
    "deeper-decoder": ("T5Config", dict(num_decoder_layers=3, feed_forward_proj="gated-gelu"), "T5ForConditionalGeneration"),
}


def reference_config(variant: str, **overrides):
    class_name, values, _ = VARIANTS[variant]
    return getattr(transformers, class_name)(**{**TINY, **values, **overrides})


def reference(variant: str, auto=transformers.AutoModelForSeq2SeqLM, **overrides):
    torch.manual_seed(0)
    return auto.from_config(reference_config(variant, **overrides), attn_implementation="eager").eval()


def load_ours(ref, folder, auto=workbench.AutoModelForSeq2SeqLM):
    ref.save_pretrained(folder)
    ours, info = auto.from_pretrained(folder, output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    return ours


def padded_batch(seed: int = 0, batch: int = 3, src: int = 9, tgt: int = 6):
    """Encoder ids with padding (row 1 right-padded by 2, row 2 left-padded by 3), decoder ids that start with
    decoder_start_token_id 0, and a decoder mask whose row 1 is right-padded by 2."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (batch, src), generator=g)
    mask = torch.ones(batch, src, dtype=torch.long)
    mask[1, src - 2:] = 0
    mask[2, :3] = 0
    ids = ids.masked_fill(mask == 0, 0)
    decoder_ids = torch.randint(2, VOCAB, (batch, tgt), generator=g)
    decoder_ids[:, 0] = 0
    decoder_mask = torch.ones(batch, tgt, dtype=torch.long)
    decoder_mask[1, tgt - 2:] = 0
    return ids, mask, decoder_ids, decoder_mask


def assert_close(expected, got, what):
    if isinstance(expected, (tuple, list)):
        assert len(got) == len(expected), f"{what}: {len(got)} items, the reference has {len(expected)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            assert_close(e, g, f"{what}[{i}]")
    else:
        torch.testing.assert_close(got, expected, atol=ATOL, rtol=RTOL, msg=lambda m: f"{what}: {m}")


SEQ2SEQ_FIELDS = ("logits", "decoder_hidden_states", "decoder_attentions", "cross_attentions",
                  "encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions")


def assert_seq2seq_close(expected, got):
    for field in SEQ2SEQ_FIELDS:
        if field in expected:
            assert field in got, f"{field} missing from our outputs"
            assert_close(expected[field], got[field], field)


# ------------------------------------------------------------------------------------------------
# Forward parity, loss, SDPA path and checkpoints in both directions, for every variant
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_parity_and_checkpoints(variant, tmp_path):
    ref = reference(variant)
    ours = load_ours(ref, tmp_path / "from_reference")
    assert isinstance(ours, workbench.T5ForConditionalGeneration)
    assert type(ours.config).model_type == ref.config.model_type
    ids, mask, decoder_ids, decoder_mask = padded_batch()
    labels = torch.cat([decoder_ids[:, 1:], torch.ones(3, 1, dtype=torch.long)], dim=1).masked_fill(decoder_mask == 0, -100)
    everything = dict(output_attentions=True, output_hidden_states=True)
    with torch.no_grad():
        for decoder_attention_mask in (None, decoder_mask):
            inputs = dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids,
                          decoder_attention_mask=decoder_attention_mask)
            expected = ref(**inputs, **everything)
            got = ours(**inputs, **everything)
            assert_seq2seq_close(expected, got)
            assert len(got.decoder_attentions) == ref.config.num_decoder_layers
            fast = ours(**inputs)  # SDPA path: no attentions asked for
            torch.testing.assert_close(fast.logits, got.logits, atol=ATOL, rtol=RTOL)
        expected = ref(input_ids=ids, attention_mask=mask, labels=labels)  # decoder inputs made from the labels
        got = ours(input_ids=ids, attention_mask=mask, labels=labels)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_close(expected.logits, got.logits, "logits from labels")
    assert "past_key_values" not in got  # training: no cache

    # saved here -> the reference's Auto class builds the variant's class and gets every tensor back
    folder = tmp_path / "from_workbench"
    ours.save_pretrained(folder)
    assert json.loads((folder / "config.json").read_text())["architectures"] == [VARIANTS[variant][2]]
    back = transformers.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    assert type(back) is type(ref)
    want, have = ref.state_dict(), back.state_dict()
    assert sorted(want) == sorted(have)
    for key in want:
        assert torch.equal(want[key], have[key]), key


def test_feed_forward_and_head_switches_follow_the_reference():
    """Each variant builds the feed-forward and head the reference builds, and reads its config.json the same."""
    for variant in VARIANTS:
        ref_config = reference_config(variant)
        ours = getattr(t5, type(ref_config).__name__).from_dict(ref_config.to_dict())  # as read from its config.json
        assert (ours.dense_act_fn, ours.is_gated_act) == (ref_config.dense_act_fn, ref_config.is_gated_act), variant
        assert ours.num_decoder_layers == ref_config.num_decoder_layers
        assert ours.hidden_size == ours.d_model and ours.num_hidden_layers == ours.num_layers
    assert t5.T5Config(feed_forward_proj="gated-gelu").dense_act_fn == "gelu_new"  # tanh GELU, as T5 v1.1 trained
    assert t5.T5Config(feed_forward_proj="gelu").dense_act_fn == "gelu"
    assert t5.T5Config(num_layers=3).num_decoder_layers == 3
    # the original T5 rescales before its tied head; a separate head (v1.1 and later) is not rescaled
    assert t5.T5Config().scale_decoder_outputs and not t5.T5Config(tie_word_embeddings=False).scale_decoder_outputs
    model = t5.T5ForConditionalGeneration(t5.tiny_config("t5-v1_1-tiny-random"))
    assert model.lm_head.weight is not model.shared.weight
    assert model.encoder.embed_tokens is model.shared and model.decoder.embed_tokens is model.shared


def test_relative_position_buckets_match_the_reference():
    distance = torch.arange(-300, 301)[None, :]
    for bidirectional in (True, False):
        for buckets, max_distance in ((32, 128), (8, 16)):
            expected = transformers.models.t5.modeling_t5.T5Attention._relative_position_bucket(
                distance, bidirectional=bidirectional, num_buckets=buckets, max_distance=max_distance)
            got = t5.relative_position_bucket(distance, bidirectional, buckets, max_distance)
            assert torch.equal(got, expected), (bidirectional, buckets)


# ------------------------------------------------------------------------------------------------
# The cache
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["t5", "umt5", "deeper-decoder"])
def test_step_by_step_decoding_with_the_cache_equals_the_full_forward(variant, tmp_path):
    ref = reference(variant)
    ours = load_ours(ref, tmp_path)
    ids, mask, decoder_ids, _ = padded_batch()
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
            out = ours(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=decoder_ids[:, t:t + 1],
                       past_key_values=cache, use_cache=True)
            steps.append(out.logits)
            cache = out.past_key_values
    assert cache.get_seq_length() == decoder_ids.shape[1]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=ATOL, rtol=RTOL)


def test_cached_decoding_with_a_padded_decoder_mask(tmp_path):
    ref = reference("t5-v1_1")
    ours = load_ours(ref, tmp_path)
    ids, mask, decoder_ids, decoder_mask = padded_batch()
    with torch.no_grad():
        full = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask)
        first = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids[:, :3],
                     decoder_attention_mask=decoder_mask[:, :3], use_cache=True)
        rest = ours(encoder_outputs=(first.encoder_last_hidden_state,), attention_mask=mask,
                    decoder_input_ids=decoder_ids[:, 3:], decoder_attention_mask=decoder_mask,
                    past_key_values=first.past_key_values)
    torch.testing.assert_close(torch.cat([first.logits, rest.logits], dim=1), full.logits, atol=ATOL, rtol=RTOL)


# ------------------------------------------------------------------------------------------------
# Checkpoints: separate heads, old key layouts, the encoder alone, the bare model
# ------------------------------------------------------------------------------------------------


def test_separate_head_round_trips_both_ways(tmp_path):
    """A FLAN-T5-like checkpoint (tie_word_embeddings=false, its own lm_head.weight) from here loads in the
    reference; the reference writes it back with tie_word_embeddings=true but keeps the head, which must stay
    separate here too (tying it would silently change every logit)."""
    torch.manual_seed(0)
    ours = t5.T5ForConditionalGeneration(t5.T5Config(**{**TINY, "feed_forward_proj": "gated-gelu",
                                                        "tie_word_embeddings": False})).eval()
    ours.save_pretrained(tmp_path / "ours")
    ref = transformers.AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "ours", attn_implementation="eager").eval()
    assert ref.lm_head.weight.data_ptr() != ref.shared.weight.data_ptr()
    ids, mask, decoder_ids, _ = padded_batch()
    inputs = dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids)
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
    ref = reference("t5")
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
    ids, mask, decoder_ids, _ = padded_batch()
    with torch.no_grad():
        torch.testing.assert_close(ours(ids, mask, decoder_ids).logits, ref(ids, mask, decoder_ids).logits,
                                   atol=ATOL, rtol=RTOL)


@pytest.mark.parametrize("variant", ["t5", "umt5"])
def test_encoder_model_parity(variant, tmp_path):
    full = reference(variant)
    full.save_pretrained(tmp_path / "full")
    encoder_class = getattr(transformers, VARIANTS[variant][2].replace("ForConditionalGeneration", "EncoderModel"))
    ref = encoder_class.from_pretrained(tmp_path / "full", attn_implementation="eager").eval()
    ours, info = workbench.T5EncoderModel.from_pretrained(tmp_path / "full", output_loading_info=True)  # decoder skipped
    assert info["missing_keys"] == [] and info["unexpected_keys"] == [], info
    ids, mask, _, _ = padded_batch()
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
        got = ours(input_ids=ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
        fast = ours(input_ids=ids, attention_mask=mask)
    for field in ("last_hidden_state", "hidden_states", "attentions"):
        assert_close(expected[field], got[field], field)
    torch.testing.assert_close(fast.last_hidden_state, got.last_hidden_state, atol=ATOL, rtol=RTOL)
    ours.save_pretrained(tmp_path / "encoder")
    assert json.loads((tmp_path / "encoder" / "config.json").read_text())["architectures"] == [type(ref).__name__]
    back = type(ref).from_pretrained(tmp_path / "encoder")
    for key, tensor in ref.state_dict().items():
        assert torch.equal(back.state_dict()[key], tensor), key


def test_bare_model_parity(tmp_path):
    ref = reference("mt5", auto=transformers.AutoModel)
    ours = load_ours(ref, tmp_path, auto=workbench.AutoModel)
    assert isinstance(ours, workbench.MT5Model) and ours.architecture_name() == "MT5Model"
    ids, mask, decoder_ids, decoder_mask = padded_batch()
    inputs = dict(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, decoder_attention_mask=decoder_mask,
                  output_attentions=True, output_hidden_states=True)
    with torch.no_grad():
        expected, got = ref(**inputs), ours(**inputs)
    assert_close(expected.last_hidden_state, got.last_hidden_state, "last_hidden_state")
    assert_seq2seq_close(expected, got)


def test_fresh_initialisation_follows_the_reference():
    """A model built from a config (no checkpoint) draws each tensor with the reference's std."""
    config = dict(TINY, d_model=64, d_ff=128, relative_attention_num_buckets=64, feed_forward_proj="gated-silu",
                  tie_word_embeddings=False)
    ref = transformers.T5ForConditionalGeneration(transformers.T5Config(**config))
    ours = t5.T5ForConditionalGeneration(t5.T5Config(**config))
    ours_state = ours.state_dict()
    for key, tensor in ref.state_dict().items():
        if "layer_norm" in key:
            assert torch.equal(ours_state[key], tensor), key  # all ones
        else:
            torch.testing.assert_close(ours_state[key].std(), tensor.std(), rtol=0.15, atol=0, msg=key)


def test_pattern_hook_collator_hook_and_bfloat16(tmp_path):
    ref = reference("t5")
    ours = load_ours(ref, tmp_path)
    ids, mask, decoder_ids, _ = padded_batch()
    seen = []
    hook = ours.decoder.block[1].layer[1].EncDecAttention.pattern_hook.register_forward_hook(
        lambda module, args, out: seen.append(out))
    with torch.no_grad():
        out = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids, output_attentions=True)
    hook.remove()
    assert len(seen) == 1 and torch.equal(seen[0], out.cross_attentions[1])  # (batch, heads, tgt, src)
    labels = torch.tensor([[5, 6, -100], [7, -100, -100]])
    assert torch.equal(ours.prepare_decoder_input_ids_from_labels(labels), ref.prepare_decoder_input_ids_from_labels(labels))
    half = ours.to(torch.bfloat16)
    with torch.no_grad():
        logits = half(input_ids=ids, attention_mask=mask, decoder_input_ids=decoder_ids).logits
    assert logits.dtype == torch.bfloat16 and bool(torch.isfinite(logits).all())


# ------------------------------------------------------------------------------------------------
# Clear errors
# ------------------------------------------------------------------------------------------------


def test_clear_errors():
    model = t5.T5ForConditionalGeneration(t5.tiny_config()).eval()
    ids = torch.randint(2, 100, (2, 5))
    with pytest.raises(ValueError, match="decoder_input_ids.*labels"):
        model(input_ids=ids)
    with pytest.raises(ValueError, match="decoder_input_ids"):
        t5.T5Model(t5.tiny_config())(input_ids=ids)
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
        t5.T5ForConditionalGeneration(t5.tiny_config(decoder_start_token_id=None))(input_ids=ids, labels=ids)


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


def varied(ref):
    """Re-draw every weight with std 0.5 (layer norms around 1). With the default initialisation a tiny
    random T5 repeats one token forever; these weights give varied tokens and some early eos, so that
    generation's bookkeeping (finished rows, padding, beam hypotheses) is actually exercised."""
    torch.manual_seed(1)
    with torch.no_grad():
        for name, param in ref.named_parameters():
            param.normal_(1.0 if "layer_norm" in name else 0.0, 0.5)
    return ref


@pytest.mark.parametrize("variant", ["t5", "t5-v1_1"])
def test_generate_matches_the_reference(variant, tmp_path):
    ref = varied(reference(variant))
    ours = load_ours(ref, tmp_path)
    ids, mask, _, _ = padded_batch(seed=1)
    settings = [dict(max_new_tokens=8),  # greedy
                dict(max_new_tokens=7, num_beams=3, num_return_sequences=2, length_penalty=0.6)]
    for kwargs in settings:
        expected = ref.generate(ids, attention_mask=mask, **kwargs)
        got = ours.generate(ids, attention_mask=mask, **kwargs)
        assert torch.equal(got, expected), (kwargs, got, expected)
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
    ours = load_ours(varied(reference("deeper-decoder")), tmp_path)
    assert len(ours.decoder.block) == 3 and len(ours.encoder.block) == 2
    ids, mask, _, _ = padded_batch(seed=2)
    ours.generation_config.eos_token_id = None  # decode every step, so that the whole loop is compared
    cached = ours.generate(ids, attention_mask=mask, max_new_tokens=8)
    assert cached.shape == (3, 9) and len(set(cached[:, 1:].flatten().tolist())) > 3
    assert torch.equal(cached, greedy_without_cache(ours, ids, mask, steps=8))
    assert torch.equal(ours.generate(ids, attention_mask=mask, max_new_tokens=8, use_cache=False), cached)
    beams = ours.generate(ids, attention_mask=mask, max_new_tokens=6, num_beams=3, num_return_sequences=2)
    assert beams.shape == (6, 7)
