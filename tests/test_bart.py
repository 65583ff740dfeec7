"""BART family parity with the reference on tiny random configs of every variant (bart, mbart, marian,
pegasus, m2m_100): logits, hidden states and attentions on padded batches, the loss, the cache, the SDPA
path, checkpoints in both directions, the sequence classifier, and clear errors for bad input."""

import json

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
)
from safetensors import safe_open
from safetensors.torch import save_file

import workbench
from workbench.models.bart import TINY_PRESETS, VARIANTS

VOCAB = 99
COMMON = dict(
    vocab_size=VOCAB,
    d_model=32,
    encoder_layers=2,
    decoder_layers=2,
    encoder_attention_heads=4,
    decoder_attention_heads=4,
    encoder_ffn_dim=48,
    decoder_ffn_dim=40,
    max_position_embeddings=40,
)
# model_type -> (reference config class, its LM class, its bare class, the special-token settings)
SPECS = {
    "bart": ("BartConfig", "BartForConditionalGeneration", "BartModel", {}),
    "mbart": ("MBartConfig", "MBartForConditionalGeneration", "MBartModel", dict(scale_embedding=True)),
    "marian": (
        "MarianConfig",
        "MarianMTModel",
        "MarianModel",
        dict(pad_token_id=98, decoder_start_token_id=98, eos_token_id=0, forced_eos_token_id=0, scale_embedding=True),
    ),
    "pegasus": (
        "PegasusConfig",
        "PegasusForConditionalGeneration",
        "PegasusModel",
        dict(scale_embedding=True, activation_function="relu"),
    ),
    "m2m_100": ("M2M100Config", "M2M100ForConditionalGeneration", "M2M100Model", {}),
}
ALL = list(SPECS)


def reference_config(model_type, **overrides):
    config_class, _, _, special = SPECS[model_type]
    return getattr(transformers, config_class)(**{**COMMON, **special, **overrides})


def perturbed_reference(model_type, class_name=None, seed=0, noise=0.05, **overrides):
    """A reference model in eval mode with every weight perturbed (LayerNorms not at identity, biases
    not zero, a non-zero final_logits_bias), so that a swapped or missing term shows in the numbers.
    Fixed sinusoidal tables are left alone: they are not weights."""
    model = reference_model(class_name or SPECS[model_type][1], reference_config(model_type, **overrides), seed=seed)
    learned_positions = VARIANTS[model_type].positions == "learned"
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "embed_positions" not in name or learned_positions:
                param.add_(torch.randn_like(param) * noise)
        if getattr(model, "final_logits_bias", None) is not None:
            model.final_logits_bias.normal_(std=0.1)
    return model


def bart_batch(config, **layout):
    """seq2seq_batch for a variant: its pad id, ids in [3, VOCAB - 2); by default the source right-padded
    (row 0 full, row 1 two pads, row 2 five) and the target unpadded."""
    return seq2seq_batch(VOCAB, high=VOCAB - 2, pad_token_id=config.pad_token_id, **layout)


_LOADED = {}


@pytest.fixture
def pair(request, tmp_path_factory):
    """(reference LM, our LM loaded from its save), built once per variant."""
    model_type = request.param
    if model_type not in _LOADED:
        ref = perturbed_reference(model_type)
        ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path_factory.mktemp(model_type))
        _LOADED[model_type] = (ref, ours)
    return _LOADED[model_type]


# ------------------------------------------------------------------------------------------------
# Forward parity
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ALL, indirect=True)
@pytest.mark.parametrize("padded_target", [False, True])
def test_forward_parity_on_padded_batches(pair, padded_target):
    ref, ours = pair
    batch = bart_batch(ref.config, target_right_pads=(0, 2, 4) if padded_target else None)
    _, got = assert_outputs_close(ref, ours, batch)  # logits, encoder and decoder states, the three attentions
    assert len(got.encoder_hidden_states) == ours.config.encoder_layers + 1
    _, fast = assert_fast_path_matches(ours, batch)
    assert set(fast.keys()) == {"logits", "past_key_values", "encoder_last_hidden_state"}


@pytest.mark.parametrize("pair", ALL, indirect=True)
def test_inputs_embeds_parity(pair):
    """Embeddings given directly: BART-style tables scale inside the embedding, Marian/Pegasus scale in
    the stacks (their decoder scales given embeddings too); M2M-100 numbers positions without padding."""
    ref, ours = pair
    batch = bart_batch(ref.config)
    ids = batch["input_ids"]
    with torch.no_grad():
        kwargs = dict(
            attention_mask=batch["attention_mask"],
            inputs_embeds=ref.get_input_embeddings()(ids),
            decoder_inputs_embeds=ref.get_input_embeddings()(batch["decoder_input_ids"]),
        )
        expected = ref(**kwargs)
        got = ours(**kwargs)
        assert_close(ours.get_input_embeddings()(ids), kwargs["inputs_embeds"], "get_input_embeddings")
    assert_close(got.logits, expected.logits, "logits from embeddings")
    assert_close(got.encoder_last_hidden_state, expected.encoder_last_hidden_state, "encoder states from embeddings")


@pytest.mark.parametrize("pair", ALL, indirect=True)
def test_loss_with_ignored_labels(pair):
    ref, ours = pair
    batch = bart_batch(ref.config)
    labels = batch.pop("decoder_input_ids")  # the decoder's inputs are made from the labels
    labels[1, 4:] = -100
    labels[2, 3:] = -100
    with torch.no_grad():
        expected = ref(**batch, labels=labels)
        got = ours(**batch, labels=labels)
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_close(got.logits, expected.logits, "logits with labels")
    assert "past_key_values" not in got  # labels: no cache, as the reference
    if hasattr(ref, "prepare_decoder_input_ids_from_labels"):  # (M2M-100's reference lacks it)
        assert torch.equal(
            ours.prepare_decoder_input_ids_from_labels(labels), ref.prepare_decoder_input_ids_from_labels(labels)
        )


def test_mbart_shift_wraps_the_language_code():
    config = workbench.MBartConfig(**COMMON)
    labels = torch.tensor([[5, 6, 2, 25], [7, 2, 26, -100]])  # ... </s> lang_code, then padding
    model = workbench.MBartForConditionalGeneration(config)
    assert model.prepare_decoder_input_ids_from_labels(labels).tolist() == [[25, 5, 6, 2], [26, 7, 2, 26]]


@pytest.mark.parametrize("pair", ALL, indirect=True)
def test_cache_step_by_step_equals_full_forward(pair):
    _, ours = pair
    batch = bart_batch(ours.config, target_length=7)
    ids, mask, dec = batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"]
    with torch.no_grad():
        full = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec).logits
        encoder_outputs = ours.get_encoder()(input_ids=ids, attention_mask=mask, return_dict=True)
        out = ours(encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=dec[:, :3], use_cache=True)
        steps = [out.logits]
        cache = out.past_key_values
        for t in range(3, dec.shape[1]):
            out = ours(
                encoder_outputs=encoder_outputs,
                attention_mask=mask,
                decoder_input_ids=dec[:, t : t + 1],
                past_key_values=cache,
            )
            steps.append(out.logits)
        legacy = ours(
            encoder_outputs=(encoder_outputs.last_hidden_state,),
            attention_mask=mask,
            decoder_input_ids=dec[:, -1:],
            past_key_values=ours(
                encoder_outputs=encoder_outputs, attention_mask=mask, decoder_input_ids=dec[:, :-1]
            ).past_key_values.to_legacy_cache(),
        )
    assert cache.get_seq_length() == dec.shape[1]
    assert_close(torch.cat(steps, dim=1), full, "cached steps vs full forward")
    assert_close(legacy.logits, full[:, -1:], "legacy tuple cache")


@pytest.mark.parametrize("model_type", ["bart", "mbart", "m2m_100"])
def test_bare_model_parity_and_denoising_default(model_type, tmp_path):
    """The bare model against the reference's; BART and mBART without decoder inputs read input_ids
    shifted right (each with its own shift), as the reference does."""
    ref = perturbed_reference(model_type, SPECS[model_type][2])
    ours, _ = load_ours_from_reference(ref, workbench.AutoModel, tmp_path)
    assert type(ours) is workbench.BartModel
    batch = bart_batch(ref.config, eos_token_id=ref.config.eos_token_id)
    decoder_ids = batch.pop("decoder_input_ids")
    if model_type == "m2m_100":  # (BART and mBART read input_ids shifted right instead)
        batch["decoder_input_ids"] = decoder_ids
    expected, got = assert_outputs_close(ref, ours, batch)  # last_hidden_state, then as the LM's outputs
    expected_cache = expected.past_key_values.self_attention_cache.layers[1]
    assert_close(got.past_key_values[1][0], expected_cache.keys, "cached keys")
    with torch.no_grad():  # the decoder alone (no encoder states: no cross-attention)
        assert_close(
            ours.get_decoder()(input_ids=decoder_ids).last_hidden_state,
            ref.get_decoder()(input_ids=decoder_ids).last_hidden_state,
            "decoder alone",
        )


def test_marian_with_its_own_decoder_vocabulary(tmp_path):
    ref = perturbed_reference(
        "marian",
        decoder_vocab_size=61,
        share_encoder_decoder_embeddings=False,
        pad_token_id=60,
        decoder_start_token_id=60,
    )
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    assert not hasattr(ours.model, "shared")
    assert ours.lm_head.weight is ours.model.decoder.embed_tokens.weight
    assert ours.model.encoder.embed_tokens.weight.shape == (VOCAB, 32)
    batch = bart_batch(ref.config)  # pad id 60
    ids, mask, dec = batch["input_ids"], batch["attention_mask"], batch["decoder_input_ids"] % 61
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, labels=dec)
        got = ours(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, labels=dec)
    assert got.logits.shape == (3, 6, 61)
    assert_close(got.logits, expected.logits, "logits")
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForSeq2SeqLM)


def test_untied_embeddings(tmp_path):
    ref = perturbed_reference("bart", tie_word_embeddings=False)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    assert ours.lm_head.weight is not ours.model.shared.weight
    assert ours.model.encoder.embed_tokens.weight is not ours.model.shared.weight
    batch = bart_batch(ref.config)  # pad id 1
    with torch.no_grad():
        assert_close(ours(**batch).logits, ref(**batch).logits, "logits")
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForSeq2SeqLM)


# ------------------------------------------------------------------------------------------------
# Checkpoints
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ALL, indirect=True)
def test_reference_loads_our_save(pair, tmp_path):
    ref, ours = pair
    assert type(ours) is workbench.BartForConditionalGeneration
    assert ours.architecture_name() == type(ref).__name__
    assert ours.lm_head.weight is ours.model.shared.weight is ours.model.decoder.embed_tokens.weight
    # the reference's Auto class loads it as the variant's class, tensor for tensor, from the file it writes
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForSeq2SeqLM)


def test_legacy_checkpoint_keys_load_cleanly(tmp_path):
    """Keys old checkpoints carry and the reference ignores: fairseq's version counters (BART), Marian's
    position tables (the bare model's save), M2M-100's table buffers."""
    for model_type, extra in [
        ("bart", ["model.encoder.version", "model.decoder.version"]),
        ("marian", ["model.encoder.embed_positions.weight", "model.decoder.embed_positions.weight"]),
        ("m2m_100", ["model.encoder.embed_positions.weights", "model.decoder.embed_positions._float_tensor"]),
    ]:
        ref = perturbed_reference(model_type)
        folder = tmp_path / model_type
        ref.save_pretrained(folder)
        with safe_open(folder / "model.safetensors", "pt") as saved:
            state = {key: saved.get_tensor(key) for key in saved.keys()}
        for key in extra:
            state.setdefault(key, torch.zeros(3))
        save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
        ours, info = workbench.AutoModelForSeq2SeqLM.from_pretrained(folder, output_loading_info=True)
        assert info["missing_keys"] == [] and info["unexpected_keys"] == [], (model_type, info)
        batch = bart_batch(ref.config)
        with torch.no_grad():
            assert_close(ours(**batch).logits, ref(**batch).logits, model_type)


def test_pegasus_keeps_its_position_table_in_the_state_dict():
    ours = workbench.PegasusForConditionalGeneration(workbench.PegasusConfig(**COMMON))
    marian = workbench.MarianMTModel(workbench.MarianConfig(**COMMON, pad_token_id=98, decoder_start_token_id=98))
    assert "model.encoder.embed_positions.weight" in ours.state_dict()
    assert "model.encoder.embed_positions.weight" not in marian.state_dict()
    reference_table = transformers.PegasusForConditionalGeneration(
        reference_config("pegasus")
    ).model.encoder.embed_positions.weight
    torch.testing.assert_close(ours.model.encoder.embed_positions.weight, reference_table, atol=0, rtol=0)


def test_configs_have_the_reference_keys_and_defaults():
    for model_type, (config_class, *_rest) in SPECS.items():
        expected = json.loads(getattr(transformers, config_class)().to_json_string())
        got = json.loads(getattr(workbench, config_class)().to_json_string())
        for key in ("transformers_version", "chunk_size_feed_forward", "dtype", "_name_or_path"):
            expected.pop(key, None)
            got.pop(key, None)
        for key, value in expected.items():
            assert got.get(key) == value, (model_type, key, got.get(key), value)
    config = workbench.BartConfig(**TINY_PRESETS["bart-tiny-random"])
    assert (config.hidden_size, config.num_attention_heads, config.num_hidden_layers, config.num_decoder_layers) == (
        32,
        4,
        2,
        2,
    )
    assert workbench.MarianConfig(vocab_size=10, pad_token_id=9).decoder_vocab_size == 10
    for name, preset in TINY_PRESETS.items():
        config_class = {
            "bart": "BartConfig",
            "mbart": "MBartConfig",
            "marian": "MarianConfig",
            "pegasus": "PegasusConfig",
            "m2m100": "M2M100Config",
        }[name.split("-")[0]]
        model = workbench.BartForConditionalGeneration(getattr(workbench, config_class)(**preset))
        out = model(input_ids=torch.tensor([[5, 6, 7]]), decoder_input_ids=torch.tensor([[2, 5]]))
        assert out.logits.shape == (1, 2, 128)


# ------------------------------------------------------------------------------------------------
# Sequence classification
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["bart", "mbart"])
def test_sequence_classification_parity(model_type, tmp_path):
    ref = perturbed_reference(
        model_type, SPECS[model_type][0].replace("Config", "ForSequenceClassification"), num_labels=3
    )
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSequenceClassification, tmp_path)
    assert type(ours) is workbench.BartForSequenceClassification
    batch = bart_batch(ref.config, eos_token_id=ref.config.eos_token_id)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    labels = torch.tensor([0, 2, 1])
    with torch.no_grad():
        expected = ref(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
        got = ours(input_ids=ids, attention_mask=mask, labels=labels, output_hidden_states=True)
    assert_close(got.logits, expected.logits, "logits")
    torch.testing.assert_close(got.loss, expected.loss, atol=ATOL, rtol=RTOL)
    assert_close(got.decoder_hidden_states, expected.decoder_hidden_states, "decoder hidden states")
    assert_reference_loads_ours(ours, ref, tmp_path, transformers.AutoModelForSequenceClassification)

    unequal = ids.clone()
    unequal[0, 3] = ref.config.eos_token_id  # row 0 now has two </s>, the others one
    with pytest.raises(ValueError, match="same number of <eos> tokens"):
        ours(input_ids=unequal, attention_mask=mask)
    with pytest.raises(ValueError, match="no <eos> token"):
        ours(input_ids=ids.masked_fill(ids == ref.config.eos_token_id, 5))


def test_classifier_only_for_variants_that_have_one():
    with pytest.raises(ValueError, match="no sequence-classification head"):
        workbench.BartForSequenceClassification(workbench.MarianConfig(**COMMON, pad_token_id=98))


# ------------------------------------------------------------------------------------------------
# Errors
# ------------------------------------------------------------------------------------------------


def test_clear_errors_for_bad_input():
    model = workbench.MarianMTModel(workbench.MarianConfig(**COMMON, pad_token_id=98, decoder_start_token_id=98)).eval()
    with pytest.raises(ValueError, match="at most 40"):
        model(input_ids=torch.ones(1, 41, dtype=torch.long), decoder_input_ids=torch.ones(1, 1, dtype=torch.long))
    with pytest.raises(ValueError, match="needs the decoder's input: pass decoder_input_ids"):
        model(input_ids=torch.ones(1, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="decoder has 40 positions"):
        model(input_ids=torch.ones(1, 5, dtype=torch.long), decoder_input_ids=torch.ones(1, 41, dtype=torch.long))
    bart = workbench.BartForConditionalGeneration(workbench.BartConfig(**COMMON)).eval()
    with pytest.raises(ValueError, match="without them BART denoises input_ids"):
        bart(inputs_embeds=torch.zeros(1, 3, 32))
    with pytest.raises(TypeError, match="return_tensors='pt'"):
        bart(input_ids=[[1, 2, 3]], decoder_input_ids=torch.ones(1, 1, dtype=torch.long))
    # M2M-100's positions are computed, not looked up: longer inputs run, as in the reference
    m2m = workbench.M2M100ForConditionalGeneration(workbench.M2M100Config(**COMMON)).eval()
    assert m2m.max_total_length() is None
    assert m2m(input_ids=torch.full((1, 50), 5), decoder_input_ids=torch.full((1, 45), 5)).logits.shape == (
        1,
        45,
        VOCAB,
    )


# ------------------------------------------------------------------------------------------------
# Generation
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_type", ["bart", "marian", "m2m_100"])
def test_generate_matches_reference(model_type, tmp_path):
    """Greedy and beam search, token for token, on padded sources; with a stop token the model emits
    early in some rows (so finished rows are padded), and with forced first/last tokens."""
    # Untied and strongly perturbed: tiny random models with tied embeddings repeat one token forever
    ref = perturbed_reference(model_type, tie_word_embeddings=False, noise=0.2)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSeq2SeqLM, tmp_path)
    batch = bart_batch(ref.config)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        free = ref.generate(input_ids=ids, attention_mask=mask, max_new_tokens=8, min_new_tokens=8, do_sample=False)
    stop = int(free[1, 2])  # a token row 1 produces early: used as eos, some rows finish before the others
    settings = [
        dict(max_new_tokens=8),
        dict(max_new_tokens=8, eos_token_id=stop),
        dict(max_new_tokens=8, num_beams=3, num_return_sequences=2, no_repeat_ngram_size=2, length_penalty=0.7),
        dict(max_new_tokens=8, num_beams=3, num_return_sequences=2, eos_token_id=stop, length_penalty=1.3),
        dict(max_new_tokens=6, forced_bos_token_id=9, forced_eos_token_id=stop, eos_token_id=stop),
        dict(
            max_new_tokens=6,
            num_beams=3,
            forced_bos_token_id=9,
            forced_eos_token_id=ref.config.eos_token_id,
            early_stopping=True,
        ),
    ]
    finished_early = False
    for kwargs in settings:
        _, got = assert_generate_matches(ref, ours, input_ids=ids, attention_mask=mask, do_sample=False, **kwargs)
        finished_early |= bool((got == ref.config.pad_token_id).any())
    assert finished_early  # the settings did exercise rows that stop before the others
