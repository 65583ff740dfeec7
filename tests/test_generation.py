"""generate(): token-identical parity with the reference's generate (greedy, beam search, seeded sampling,
batched left-padded and not), logits processors, streaming, stop strings, generation_config.json,
chat templates, and the errors for bad input."""

import os
import threading

import pytest
import torch
import transformers
from parity import assert_close, assert_generate_matches, left_padded_batch, load_ours_from_reference, reference_model
from tiny_configs import GPT2, LLAMA, VOCAB

import workbench
from workbench.generation import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    MinPLogitsWarper,
    NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    StoppingCriteria,
    StoppingCriteriaList,
    TemperatureLogitsWarper,
    TextIteratorStreamer,
    TextStreamer,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

GPT2_TOKENIZER = os.path.join(os.environ["WORKBENCH_DATA_DIR"], "tokenizers", "gpt2")


def _pair(tmp_path_factory, config_name, class_name, **values):
    ref = reference_model(class_name, getattr(transformers, config_name)(**values), seed=0)
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForCausalLM, tmp_path_factory.mktemp(class_name))
    return ref, ours


MODELS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", GPT2),
    "llama": ("LlamaConfig", "LlamaForCausalLM", LLAMA),
    "mistral": ("MistralConfig", "MistralForCausalLM", {**LLAMA, "sliding_window": 5}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", LLAMA),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {**LLAMA, "num_local_experts": 4}),
}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            config_name, class_name, values = MODELS[name]
            cache[name] = _pair(tmp_path_factory, config_name, class_name, **values)
        return cache[name]

    return get


def prompts(batched: bool):
    """Left-padded prompts of 7 tokens: row 0 full, row 1 two pads, row 2 four pads; or row 0 alone."""
    batch = left_padded_batch(VOCAB, left_pads=(0, 2, 4) if batched else (0,), seq=7, seed=3)
    return batch["input_ids"], batch["attention_mask"]


def frequent_token(ref, ids, mask) -> int:
    """A token greedy decoding produces early, used as eos so that rows finish at different steps."""
    out = ref.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=None)
    return int(out[0, -2])


# ------------------------------------------------------------------------------------------------
# Parity of whole generations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batched", [False, True])
def test_greedy_parity(pairs, name, batched):
    ref, ours = pairs(name)
    ids, mask = prompts(batched)
    eos = frequent_token(ref, ids, mask)
    assert_generate_matches(
        ref, ours, ids, attention_mask=mask, pad_token_id=0, max_new_tokens=10, do_sample=False, eos_token_id=eos
    )


@pytest.mark.parametrize(
    "settings",
    [
        dict(num_beams=3, num_return_sequences=2),
        dict(num_beams=4, length_penalty=0.5, early_stopping=True),
        dict(num_beams=3, length_penalty=2.0, early_stopping="never", num_return_sequences=3),
        dict(num_beams=2, repetition_penalty=1.3, no_repeat_ngram_size=2, bad_words_ids=[[5], [9, 10]]),
    ],
)
@pytest.mark.parametrize("name", ["gpt2", "llama", "mistral"])
@pytest.mark.parametrize("batched", [False, True])
def test_beam_search_parity(pairs, name, settings, batched):
    ref, ours = pairs(name)
    ids, mask = prompts(batched)
    eos = frequent_token(ref, ids, mask)
    expected, got = assert_generate_matches(
        ref,
        ours,
        ids,
        attention_mask=mask,
        pad_token_id=0,
        max_new_tokens=8,
        do_sample=False,
        eos_token_id=eos,
        return_dict_in_generate=True,
        output_scores=True,
        **settings,
    )
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores, atol=1e-4, rtol=1e-4)
    assert torch.equal(got.beam_indices, expected.beam_indices.to(got.beam_indices.dtype))


@pytest.mark.parametrize(
    "settings",
    [
        dict(top_k=10, temperature=0.7),
        dict(top_k=0, top_p=0.8),
        dict(top_k=0, min_p=0.1, temperature=1.5),
        dict(top_k=20, typical_p=0.9),
        dict(repetition_penalty=1.3, no_repeat_ngram_size=2, bad_words_ids=[[5], [7, 8]]),
        dict(num_return_sequences=3, top_p=0.9),
        dict(num_return_sequences=2, repetition_penalty=1.3, min_new_tokens=4),
    ],
)
@pytest.mark.parametrize("batched", [False, True])
def test_seeded_sampling_parity(pairs, settings, batched):
    ref, ours = pairs("llama")
    ids, mask = prompts(batched)
    assert_generate_matches(
        ref, ours, ids, attention_mask=mask, pad_token_id=0, max_new_tokens=10, do_sample=True, seed=123, **settings
    )


def test_beam_sampling_parity(pairs):
    ref, ours = pairs("gpt2")
    ids, mask = prompts(True)
    assert_generate_matches(
        ref,
        ours,
        ids,
        attention_mask=mask,
        pad_token_id=0,
        max_new_tokens=6,
        num_beams=3,
        do_sample=True,
        top_k=20,
        seed=5,
    )


def test_scores_logits_and_lengths_match(pairs):
    ref, ours = pairs("gpt2")
    ids, mask = prompts(True)
    eos = frequent_token(ref, ids, mask)
    kwargs = dict(
        max_new_tokens=9,
        min_new_tokens=3,
        eos_token_id=[eos, 4],
        repetition_penalty=1.2,
        return_dict_in_generate=True,
        output_scores=True,
        output_logits=True,
    )
    expected, got = assert_generate_matches(ref, ours, ids, attention_mask=mask, pad_token_id=0, **kwargs)
    assert len(got.scores) == len(expected.scores) and len(got.logits) == len(expected.logits)
    assert_close(got.scores, expected.scores, "scores")
    assert_close(got.logits, expected.logits, "logits")
    # max_length counts the prompt
    _, got = assert_generate_matches(
        ref, ours, ids, attention_mask=mask, pad_token_id=0, max_length=12, eos_token_id=None
    )
    assert got.shape == (3, 12)


@pytest.mark.parametrize(
    "settings",
    [dict(normalize_logits=True), dict(num_beams=3, num_return_sequences=2, length_penalty=0.0)],
    ids=["greedy", "beam-search"],
)
def test_transition_scores_match_the_reference(pairs, settings):
    ref, ours = pairs("gpt2")
    ids, mask = prompts(True)
    eos = frequent_token(ref, ids, mask)
    normalize = settings.pop("normalize_logits", False)
    kwargs = dict(attention_mask=mask, pad_token_id=0, max_new_tokens=8, eos_token_id=eos, do_sample=False)
    kwargs.update(settings, return_dict_in_generate=True, output_scores=True)
    expected, got = assert_generate_matches(ref, ours, ids, **kwargs)
    # beam_indices as the third positional argument, as in the generation docs (None without beam search)
    expected_scores = ref.compute_transition_scores(
        expected.sequences, expected.scores, expected.get("beam_indices"), normalize_logits=normalize
    )
    got_scores = ours.compute_transition_scores(
        got.sequences, got.scores, got.get("beam_indices"), normalize_logits=normalize
    )
    assert_close(got_scores, expected_scores, "transition scores")
    if "num_beams" in settings:  # with length_penalty=0, a beam's score is the sum of its transition scores
        torch.testing.assert_close(got_scores.sum(dim=-1), got.sequences_scores, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    "settings",
    [
        dict(do_sample=False),
        dict(do_sample=True, top_k=10, seed=11),
        dict(do_sample=False, num_beams=3, num_return_sequences=2),
    ],
    ids=["greedy", "sampling", "beam-search"],
)
@pytest.mark.parametrize("name", ["gpt2", "llama"])
def test_batch_without_pad_token_id_pads_with_eos(pairs, name, settings):
    """The LLM tutorial's left-padding example: a batch, and no pad_token_id in the generation config. As the
    reference, rows that finish early are padded with eos_token_id (the first one of a list), with a warning."""
    ref, ours = pairs(name)
    ids, mask = prompts(True)
    eos = frequent_token(ref, ids, mask)
    assert ref.generation_config.pad_token_id is None and ours.generation_config.pad_token_id is None
    with pytest.warns(UserWarning, match=f"3 inputs and no pad_token_id: using eos_token_id={eos} as the pad token"):
        _, got = assert_generate_matches(
            ref, ours, ids, attention_mask=mask, max_new_tokens=10, eos_token_id=[eos, 4], **settings
        )
    if not settings["do_sample"] and "num_beams" not in settings:
        assert got[0, -1] == eos and got.shape[1] == ids.shape[1] + 10  # row 0 stopped early, padded with eos


@pytest.mark.parametrize("name", ["gpt2", "llama", "mistral"])
def test_batched_rows_equal_unbatched(pairs, name):
    _, ours = pairs(name)
    ids, mask = prompts(True)
    batched = ours.generate(ids, attention_mask=mask, max_new_tokens=8, pad_token_id=0, eos_token_id=None)
    for row in range(3):
        start = int((mask[row] == 0).sum())
        alone = ours.generate(ids[row : row + 1, start:], max_new_tokens=8, eos_token_id=None)
        assert torch.equal(batched[row, start:], alone[0])


def test_seeded_sampling_is_reproducible(pairs):
    _, ours = pairs("gpt2")
    ids, mask = prompts(True)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(
            ours.generate(ids, attention_mask=mask, pad_token_id=0, do_sample=True, max_new_tokens=12, top_p=0.95)
        )
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(
        runs[0], ours.generate(ids, attention_mask=mask, pad_token_id=0, do_sample=True, max_new_tokens=12)
    )


def test_without_cache_gives_the_same_tokens(pairs):
    _, ours = pairs("gpt2")
    ids, mask = prompts(True)
    with_cache = ours.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, eos_token_id=None)
    without = ours.generate(
        ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, eos_token_id=None, use_cache=False
    )
    assert torch.equal(with_cache, without)


# ------------------------------------------------------------------------------------------------
# Logits processors and stopping criteria as objects
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ours_factory, ref_factory",
    [
        (lambda: TemperatureLogitsWarper(0.5), lambda: transformers.TemperatureLogitsWarper(0.5)),
        (lambda: TopKLogitsWarper(5), lambda: transformers.TopKLogitsWarper(5)),
        (lambda: TopPLogitsWarper(0.7), lambda: transformers.TopPLogitsWarper(0.7)),
        (lambda: MinPLogitsWarper(0.2), lambda: transformers.MinPLogitsWarper(0.2)),
        (lambda: TypicalLogitsWarper(0.8), lambda: transformers.TypicalLogitsWarper(0.8)),
        (lambda: RepetitionPenaltyLogitsProcessor(1.5), lambda: transformers.RepetitionPenaltyLogitsProcessor(1.5)),
        (lambda: NoRepeatNGramLogitsProcessor(2), lambda: transformers.NoRepeatNGramLogitsProcessor(2)),
        (
            lambda: NoBadWordsLogitsProcessor([[3], [4, 6], [9, 9, 1]], eos_token_id=3),
            lambda: transformers.NoBadWordsLogitsProcessor([[3], [4, 6], [9, 9, 1]], eos_token_id=3),
        ),
    ],
)
def test_processors_match_reference(ours_factory, ref_factory):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 12, (4, 10), generator=g)
    ids[0, -1] = 4
    scores = torch.randn(4, 12, generator=g) * 3
    torch.testing.assert_close(ours_factory()(ids, scores.clone()), ref_factory()(ids, scores.clone()))


def test_custom_processor_and_criteria(pairs):
    _, ours = pairs("gpt2")
    ids, mask = prompts(False)

    class OnlyEven(LogitsProcessor):
        def __call__(self, input_ids, scores):
            scores = scores.clone()
            scores[:, 1::2] = -float("inf")
            return scores

    class StopAfterFour(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            return torch.full((input_ids.shape[0],), input_ids.shape[1] >= ids.shape[1] + 4)

    out = ours.generate(
        ids,
        max_new_tokens=10,
        eos_token_id=None,
        logits_processor=LogitsProcessorList([OnlyEven()]),
        stopping_criteria=StoppingCriteriaList([StopAfterFour()]),
    )
    assert out.shape[1] == ids.shape[1] + 4
    assert (out[0, ids.shape[1] :] % 2 == 0).all()


# ------------------------------------------------------------------------------------------------
# Tokenizer-facing features: streaming, stop strings, chat templates
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A tiny random GPT-2 with the real GPT-2 vocabulary, and the GPT-2 tokenizer (both implementations)."""
    ref, ours = _pair(
        tmp_path_factory,
        "GPT2Config",
        "GPT2LMHeadModel",
        vocab_size=50257,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
    )
    tokenizer = workbench.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    from tokenizers import Tokenizer

    # the reference's tokenizer over the same tokenizers backend (it cannot convert vocab.json + merges.txt offline)
    ref_tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(tokenizer._tokenizer.to_str())
    )
    return ref, ours, tokenizer, ref_tokenizer


def test_text_streamer_prints_exactly_the_generated_text(text_model, capsys):
    _, ours, tokenizer, _ = text_model
    inputs = tokenizer("The weather today is", return_tensors="pt")
    out = ours.generate(
        **inputs, max_new_tokens=20, eos_token_id=None, streamer=TextStreamer(tokenizer, skip_prompt=True)
    )
    printed = capsys.readouterr().out
    assert printed == tokenizer.decode(out[0, inputs["input_ids"].shape[1] :]) + "\n"


def test_text_iterator_streamer_from_a_thread(text_model):
    _, ours, tokenizer, _ = text_model
    inputs = tokenizer("Once upon a time", return_tensors="pt")
    torch.manual_seed(0)
    expected = ours.generate(**inputs, max_new_tokens=25, do_sample=True, eos_token_id=None)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=60)
    results = {}

    def work():
        torch.manual_seed(0)
        results["ids"] = ours.generate(
            **inputs, max_new_tokens=25, do_sample=True, eos_token_id=None, streamer=streamer
        )

    thread = threading.Thread(target=work)
    thread.start()
    pieces = list(streamer)
    thread.join()
    assert torch.equal(results["ids"], expected)
    assert "".join(pieces) == tokenizer.decode(expected[0, inputs["input_ids"].shape[1] :])


def test_stop_strings_stop_like_the_reference(text_model):
    ref, ours, tokenizer, ref_tokenizer = text_model
    inputs = tokenizer("Hello there", return_tensors="pt")
    free = ours.generate(**inputs, max_new_tokens=20, eos_token_id=None)
    new_text = tokenizer.decode(free[0, inputs["input_ids"].shape[1] :])
    stop = new_text[len(new_text) // 2 : len(new_text) // 2 + 3]  # a piece of the text generation will reach
    got = ours.generate(**inputs, max_new_tokens=20, eos_token_id=None, stop_strings=stop, tokenizer=tokenizer)
    assert got.shape[1] < free.shape[1]
    assert stop in tokenizer.decode(got[0, inputs["input_ids"].shape[1] :])
    assert stop not in tokenizer.decode(got[0, inputs["input_ids"].shape[1] : -1])
    expected = ref.generate(
        **inputs, max_new_tokens=20, eos_token_id=None, pad_token_id=0, stop_strings=stop, tokenizer=ref_tokenizer
    )
    assert torch.equal(got, expected)
    with pytest.raises(ValueError, match="needs the tokenizer"):
        ours.generate(**inputs, max_new_tokens=5, stop_strings=stop)


def test_chat_template_prompt_generates(text_model):
    _, ours, tokenizer, _ = text_model
    tokenizer.chat_template = (
        "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    messages = [{"role": "user", "content": "Hi, who are you?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>Hi, who are you?\n<|assistant|>"
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    out = ours.generate(ids, max_new_tokens=5, eos_token_id=None)
    assert out.shape == (1, ids.shape[1] + 5) and torch.equal(out[:, : ids.shape[1]], ids)
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="chat.template"):
        tokenizer.apply_chat_template(messages, tokenize=False)


# ------------------------------------------------------------------------------------------------
# GenerationConfig and generation_config.json
# ------------------------------------------------------------------------------------------------


def test_generation_config_file_round_trips_with_the_reference(pairs, tmp_path):
    ref, ours = pairs("gpt2")
    ours.generation_config = GenerationConfig(
        do_sample=True, top_p=0.9, max_new_tokens=7, eos_token_id=[2, 3], pad_token_id=0, bos_token_id=1
    )
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.GenerationConfig.from_pretrained(tmp_path / "ours")
    assert (theirs.do_sample, theirs.top_p, theirs.max_new_tokens, theirs.eos_token_id) == (True, 0.9, 7, [2, 3])
    reloaded = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "ours")
    assert reloaded.generation_config == ours.generation_config
    assert reloaded.generate(torch.tensor([[5, 6]])).shape[1] == 2 + 7  # max_new_tokens from the file
    # a file the reference wrote
    transformers.GenerationConfig(num_beams=3, length_penalty=0.6, eos_token_id=2).save_pretrained(tmp_path / "ref")
    config = GenerationConfig.from_pretrained(tmp_path / "ref")
    assert (config.num_beams, config.length_penalty, config.eos_token_id) == (3, 0.6, 2)
    ours.generation_config = GenerationConfig.from_model_config(ours.config)


def test_default_generation_config_comes_from_the_model_config(pairs):
    _, ours = pairs("llama")
    assert (ours.generation_config.bos_token_id, ours.generation_config.eos_token_id) == (1, 2)
    explicit = GenerationConfig(max_new_tokens=3, eos_token_id=None)
    assert ours.generate(torch.tensor([[5, 6]]), generation_config=explicit).shape == (1, 5)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(max_new_tokens=0), "max_new_tokens=0"),
        (dict(max_new_tokens=-3), "max_new_tokens=-3"),
        (dict(do_sample=True, temperature=0.0), "temperature=0.0"),
        (dict(do_sample=True, top_p=1.5), "top_p=1.5"),
        (dict(do_sample=True, top_k=-1), "top_k=-1"),
        (dict(do_sample=True, min_p=2.0), "min_p=2.0"),
        (dict(do_sample=True, typical_p=0.0), "typical_p=0.0"),
        (dict(repetition_penalty=0.0), "repetition_penalty=0.0"),
        (dict(num_beams=0), "num_beams=0"),
        (dict(num_beams=2, num_return_sequences=3), "num_return_sequences=3 is more than num_beams=2"),
        (dict(num_return_sequences=2), "greedy search would return copies"),
        (dict(no_repeat_ngram_size=-1), "no_repeat_ngram_size=-1"),
        (dict(bad_words_ids=[5]), "bad_words_ids"),
        (dict(max_length=3), "max_length=3 leaves no room"),
        (dict(max_new_tokens=5, frobnicate=True), "unknown arguments"),
        (
            dict(num_beams=4, num_beam_groups=3, diversity_penalty=1.0),
            "num_beams=4 is not divisible by num_beam_groups=3",
        ),
        (dict(num_beam_groups=2, diversity_penalty=1.0), "num_beams=1 is not divisible by num_beam_groups=2"),
        (dict(num_beams=4, num_beam_groups=2), "diversity_penalty=0.0 gives groups that are copies"),
        (dict(num_beams=4, diversity_penalty=1.0), "acts between groups of beams; set num_beam_groups > 1"),
        (dict(num_beams=4, num_beam_groups=2, diversity_penalty=-1.0), "diversity_penalty=-1.0"),
        (dict(num_beams=4, num_beam_groups=2, diversity_penalty=1.0, do_sample=True), "does not sample"),
        (dict(num_beam_groups=0), "num_beam_groups=0"),
        (dict(penalty_alpha=0.6, top_k=None), r"penalty_alpha=0.6 without top_k > 1 \(top_k=None\)"),
        (dict(penalty_alpha=0.6, top_k=1), "set top_k too"),
        (dict(penalty_alpha=1.5, top_k=4), r"penalty_alpha=1.5; it must be in \[0, 1\]"),
        (dict(penalty_alpha=0.6, top_k=4, do_sample=True), "cannot be combined with do_sample=True or num_beams"),
        (dict(penalty_alpha=0.6, top_k=4, num_beams=2), "cannot be combined with do_sample=True or num_beams"),
        (dict(penalty_alpha=0.6, top_k=4, num_return_sequences=2), "would return copies"),
    ],
)
def test_bad_generation_settings(pairs, kwargs, message):
    _, ours = pairs("gpt2")
    with pytest.raises((ValueError, TypeError), match=message):
        ours.generate(torch.tensor([[5, 6, 7]]), **kwargs)


def test_bad_prompts(pairs):
    _, ours = pairs("gpt2")  # 64 positions
    with pytest.raises(ValueError, match="empty prompt"):
        ours.generate(torch.zeros((1, 0), dtype=torch.long), max_new_tokens=3)
    with pytest.raises(ValueError, match="needs a prompt"):
        ours.generate(max_new_tokens=3)
    with pytest.raises(TypeError, match="torch.Tensor"):
        ours.generate([[1, 2, 3]], max_new_tokens=3)
    with pytest.raises(ValueError, match="prompt has 70 tokens but GPT2LMHeadModel has a context window of 64"):
        ours.generate(torch.ones((1, 70), dtype=torch.long), max_new_tokens=3)
    with pytest.raises(ValueError, match="64 positions.*at most max_new_tokens=4"):
        ours.generate(torch.ones((1, 60), dtype=torch.long), max_new_tokens=10)
    ids, mask = prompts(True)
    with pytest.raises(ValueError, match="right-padded.*padding_side = 'left'"):
        ours.generate(ids, attention_mask=mask.flip(-1), max_new_tokens=3, pad_token_id=0)
    with pytest.raises(ValueError, match="all padding"):
        ours.generate(ids[:1], attention_mask=torch.zeros_like(ids[:1]), max_new_tokens=3, pad_token_id=0)
    with pytest.raises(ValueError, match="not beam search"):
        ours.generate(ids[:1], max_new_tokens=3, num_beams=2, streamer=TextStreamer(None))


def test_llama_prompt_longer_than_context(pairs):
    _, ours = pairs("llama")  # max_position_embeddings=64
    with pytest.raises(ValueError, match="context window of 64"):
        ours.generate(torch.ones((1, 65), dtype=torch.long), max_new_tokens=1)


def test_processor_objects_reject_bad_values():
    with pytest.raises(ValueError, match="temperature"):
        TemperatureLogitsWarper(-1.0)
    with pytest.raises(ValueError, match="top_p"):
        TopPLogitsWarper(2.0)
    with pytest.raises(ValueError, match="top_k"):
        TopKLogitsWarper(0)
    with pytest.raises(ValueError, match="typical_p"):
        TypicalLogitsWarper(1.5)


def test_generated_ids_can_be_trained_on(pairs):
    _, ours = pairs("gpt2")
    out = ours.generate(torch.tensor([[5, 6, 7]]), max_new_tokens=4, eos_token_id=None)
    assert not out.is_inference()
    ours.train()
    try:
        loss = ours(out, labels=out).loss
        loss.backward()
    finally:
        ours.zero_grad(set_to_none=True)
        ours.eval()
    assert torch.isfinite(loss)
