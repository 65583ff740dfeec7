"""generate(): token-identical parity with the reference's generate (greedy, beam search, seeded sampling,
batched left-padded and not), logits processors, streaming, stop strings, generation_config.json,
chat templates, and the errors for bad input."""

import os
import threading

import pytest
import torch
import transformers

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

VOCAB = 99
GPT2_TOKENIZER = os.path.join(os.environ["WORKBENCH_DATA_DIR"], "tokenizers", "gpt2")


def _pair(tmp_path_factory, config_name, class_name, **values):
    config = getattr(transformers, config_name)(**values)
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)._from_config(config, attn_implementation="eager").eval()
    folder = tmp_path_factory.mktemp(class_name)
    ref.save_pretrained(folder)
    ours = workbench.AutoModelForCausalLM.from_pretrained(folder)
    return ref, ours


LLAMA_COMMON = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                    intermediate_size=48, max_position_embeddings=64, bos_token_id=1, eos_token_id=2)
MODELS = {
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                                   bos_token_id=1, eos_token_id=2)),
    "llama": ("LlamaConfig", "LlamaForCausalLM", LLAMA_COMMON),
    "mistral": ("MistralConfig", "MistralForCausalLM", {**LLAMA_COMMON, "sliding_window": 5}),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", LLAMA_COMMON),
    "mixtral": ("MixtralConfig", "MixtralForCausalLM", {**LLAMA_COMMON, "num_local_experts": 4}),
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
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(3, VOCAB, (3, 7), generator=g)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    mask[2, :4] = 0
    ids = ids.masked_fill(mask == 0, 0)
    if not batched:
        return ids[:1], mask[:1]
    return ids, mask


def frequent_token(ref, ids, mask) -> int:
    """A token greedy decoding produces early, used as eos so that rows finish at different steps."""
    out = ref.generate(ids, attention_mask=mask, max_new_tokens=4, do_sample=False, pad_token_id=0, eos_token_id=None)
    return int(out[0, -2])


def both(ref, ours, ids, mask, **kwargs):
    expected = ref.generate(ids, attention_mask=mask, pad_token_id=0, **kwargs)
    got = ours.generate(ids, attention_mask=mask, pad_token_id=0, **kwargs)
    return expected, got


def assert_same_sequences(expected, got):
    expected = expected.sequences if not isinstance(expected, torch.Tensor) else expected
    got = got.sequences if not isinstance(got, torch.Tensor) else got
    assert expected.shape == got.shape, (expected, got)
    assert torch.equal(expected, got), (expected, got)


# ------------------------------------------------------------------------------------------------
# Parity of whole generations
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("batched", [False, True])
def test_greedy_parity(pairs, name, batched):
    ref, ours = pairs(name)
    ids, mask = prompts(batched)
    eos = frequent_token(ref, ids, mask)
    expected, got = both(ref, ours, ids, mask, max_new_tokens=10, do_sample=False, eos_token_id=eos)
    assert_same_sequences(expected, got)


@pytest.mark.parametrize("settings", [
    dict(num_beams=3, num_return_sequences=2),
    dict(num_beams=4, length_penalty=0.5, early_stopping=True),
    dict(num_beams=3, length_penalty=2.0, early_stopping="never", num_return_sequences=3),
    dict(num_beams=2, repetition_penalty=1.3, no_repeat_ngram_size=2, bad_words_ids=[[5], [9, 10]]),
])
@pytest.mark.parametrize("name", ["gpt2", "llama", "mistral"])
@pytest.mark.parametrize("batched", [False, True])
def test_beam_search_parity(pairs, name, settings, batched):
    ref, ours = pairs(name)
    ids, mask = prompts(batched)
    eos = frequent_token(ref, ids, mask)
    expected, got = both(ref, ours, ids, mask, max_new_tokens=8, do_sample=False, eos_token_id=eos,
                         return_dict_in_generate=True, output_scores=True, **settings)
    assert_same_sequences(expected, got)
    torch.testing.assert_close(got.sequences_scores, expected.sequences_scores, atol=1e-4, rtol=1e-4)
    assert torch.equal(got.beam_indices, expected.beam_indices.to(got.beam_indices.dtype))


@pytest.mark.parametrize("settings", [
    dict(top_k=10, temperature=0.7),
    dict(top_k=0, top_p=0.8),
    dict(top_k=0, min_p=0.1, temperature=1.5),
    dict(top_k=20, typical_p=0.9),
    dict(repetition_penalty=1.3, no_repeat_ngram_size=2, bad_words_ids=[[5], [7, 8]]),
    dict(num_return_sequences=3, top_p=0.9),
    dict(num_return_sequences=2, repetition_penalty=1.3, min_new_tokens=4),
])
@pytest.mark.parametrize("batched", [False, True])
def test_seeded_sampling_parity(pairs, settings, batched):
    ref, ours = pairs("llama")
    ids, mask = prompts(batched)
    torch.manual_seed(123)
    expected = ref.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=10, do_sample=True, **settings)
    torch.manual_seed(123)
    got = ours.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=10, do_sample=True, **settings)
    assert_same_sequences(expected, got)


def test_beam_sampling_parity(pairs):
    ref, ours = pairs("gpt2")
    ids, mask = prompts(True)
    torch.manual_seed(5)
    expected = ref.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, num_beams=3, do_sample=True, top_k=20)
    torch.manual_seed(5)
    got = ours.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, num_beams=3, do_sample=True, top_k=20)
    assert_same_sequences(expected, got)


def test_scores_logits_and_lengths_match(pairs):
    ref, ours = pairs("gpt2")
    ids, mask = prompts(True)
    eos = frequent_token(ref, ids, mask)
    kwargs = dict(max_new_tokens=9, min_new_tokens=3, eos_token_id=[eos, 4], repetition_penalty=1.2,
                  return_dict_in_generate=True, output_scores=True, output_logits=True)
    expected, got = both(ref, ours, ids, mask, **kwargs)
    assert_same_sequences(expected, got)
    assert len(got.scores) == len(expected.scores) and len(got.logits) == len(expected.logits)
    for ours_step, ref_step in zip(got.scores, expected.scores):
        torch.testing.assert_close(ours_step, ref_step, atol=1e-5, rtol=1e-4)
    for ours_step, ref_step in zip(got.logits, expected.logits):
        torch.testing.assert_close(ours_step, ref_step, atol=1e-5, rtol=1e-4)
    # max_length counts the prompt
    expected, got = both(ref, ours, ids, mask, max_length=12, eos_token_id=None)
    assert got.shape == (3, 12)
    assert_same_sequences(expected, got)


@pytest.mark.parametrize("name", ["gpt2", "llama", "mistral"])
def test_batched_rows_equal_unbatched(pairs, name):
    _, ours = pairs(name)
    ids, mask = prompts(True)
    batched = ours.generate(ids, attention_mask=mask, max_new_tokens=8, pad_token_id=0, eos_token_id=None)
    for row in range(3):
        start = int((mask[row] == 0).sum())
        alone = ours.generate(ids[row:row + 1, start:], max_new_tokens=8, eos_token_id=None)
        assert torch.equal(batched[row, start:], alone[0])


def test_seeded_sampling_is_reproducible(pairs):
    _, ours = pairs("gpt2")
    ids, mask = prompts(True)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        runs.append(ours.generate(ids, attention_mask=mask, pad_token_id=0, do_sample=True, max_new_tokens=12, top_p=0.95))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], ours.generate(ids, attention_mask=mask, pad_token_id=0, do_sample=True, max_new_tokens=12))


def test_without_cache_gives_the_same_tokens(pairs):
    _, ours = pairs("gpt2")
    ids, mask = prompts(True)
    with_cache = ours.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, eos_token_id=None)
    without = ours.generate(ids, attention_mask=mask, pad_token_id=0, max_new_tokens=6, eos_token_id=None, use_cache=False)
    assert torch.equal(with_cache, without)


# ------------------------------------------------------------------------------------------------
# Logits processors and stopping criteria as objects
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ours_factory, ref_factory", [
    (lambda: TemperatureLogitsWarper(0.5), lambda: transformers.TemperatureLogitsWarper(0.5)),
    (lambda: TopKLogitsWarper(5), lambda: transformers.TopKLogitsWarper(5)),
    (lambda: TopPLogitsWarper(0.7), lambda: transformers.TopPLogitsWarper(0.7)),
    (lambda: MinPLogitsWarper(0.2), lambda: transformers.MinPLogitsWarper(0.2)),
    (lambda: TypicalLogitsWarper(0.8), lambda: transformers.TypicalLogitsWarper(0.8)),
    (lambda: RepetitionPenaltyLogitsProcessor(1.5), lambda: transformers.RepetitionPenaltyLogitsProcessor(1.5)),
    (lambda: NoRepeatNGramLogitsProcessor(2), lambda: transformers.NoRepeatNGramLogitsProcessor(2)),
    (lambda: NoBadWordsLogitsProcessor([[3], [4, 6], [9, 9, 1]], eos_token_id=3),
     lambda: transformers.NoBadWordsLogitsProcessor([[3], [4, 6], [9, 9, 1]], eos_token_id=3)),
])
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

    out = ours.generate(ids, max_new_tokens=10, eos_token_id=None, logits_processor=LogitsProcessorList([OnlyEven()]),
                        stopping_criteria=StoppingCriteriaList([StopAfterFour()]))
    assert out.shape[1] == ids.shape[1] + 4
    assert (out[0, ids.shape[1]:] % 2 == 0).all()


# ------------------------------------------------------------------------------------------------
# Tokenizer-facing features: streaming, stop strings, chat templates
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A tiny random GPT-2 with the real GPT-2 vocabulary, and the GPT-2 tokenizer (both implementations)."""
    ref, ours = _pair(tmp_path_factory, "GPT2Config", "GPT2LMHeadModel", vocab_size=50257, n_embd=32, n_layer=2,
                      n_head=4, n_positions=128)
    tokenizer = workbench.AutoTokenizer.from_pretrained(GPT2_TOKENIZER)
    from tokenizers import Tokenizer

    # the reference's tokenizer over the same tokenizers backend (it cannot convert vocab.json + merges.txt offline)
    ref_tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(tokenizer._tokenizer.to_str()))
    return ref, ours, tokenizer, ref_tokenizer


def test_text_streamer_prints_exactly_the_generated_text(text_model, capsys):
    _, ours, tokenizer, _ = text_model
    inputs = tokenizer("The weather today is", return_tensors="pt")
    out = ours.generate(**inputs, max_new_tokens=20, eos_token_id=None, streamer=TextStreamer(tokenizer, skip_prompt=True))
    printed = capsys.readouterr().out
    assert printed == tokenizer.decode(out[0, inputs["input_ids"].shape[1]:]) + "\n"


def test_text_iterator_streamer_from_a_thread(text_model):
    _, ours, tokenizer, _ = text_model
    inputs = tokenizer("Once upon a time", return_tensors="pt")
    torch.manual_seed(0)
    expected = ours.generate(**inputs, max_new_tokens=25, do_sample=True, eos_token_id=None)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, timeout=60)
    results = {}

    def work():
        torch.manual_seed(0)
        results["ids"] = ours.generate(**inputs, max_new_tokens=25, do_sample=True, eos_token_id=None, streamer=streamer)

    thread = threading.Thread(target=work)
    thread.start()
    pieces = list(streamer)
    thread.join()
    assert torch.equal(results["ids"], expected)
    assert "".join(pieces) == tokenizer.decode(expected[0, inputs["input_ids"].shape[1]:])


def test_stop_strings_stop_like_the_reference(text_model):
    ref, ours, tokenizer, ref_tokenizer = text_model
    inputs = tokenizer("Hello there", return_tensors="pt")
    free = ours.generate(**inputs, max_new_tokens=20, eos_token_id=None)
    new_text = tokenizer.decode(free[0, inputs["input_ids"].shape[1]:])
    stop = new_text[len(new_text) // 2: len(new_text) // 2 + 3]  # a piece of the text generation will reach
    got = ours.generate(**inputs, max_new_tokens=20, eos_token_id=None, stop_strings=stop, tokenizer=tokenizer)
    assert got.shape[1] < free.shape[1]
    assert stop in tokenizer.decode(got[0, inputs["input_ids"].shape[1]:])
    assert stop not in tokenizer.decode(got[0, inputs["input_ids"].shape[1]:-1])
    expected = ref.generate(**inputs, max_new_tokens=20, eos_token_id=None, pad_token_id=0, stop_strings=stop,
                            tokenizer=ref_tokenizer)
    assert torch.equal(got, expected)
    with pytest.raises(ValueError, match="needs the tokenizer"):
        ours.generate(**inputs, max_new_tokens=5, stop_strings=stop)


def test_chat_template_prompt_generates(text_model):
    _, ours, tokenizer, _ = text_model
    tokenizer.chat_template = ("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}"
                               "{% if add_generation_prompt %}<|assistant|>{% endif %}")
    messages = [{"role": "user", "content": "Hi, who are you?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>Hi, who are you?\n<|assistant|>"
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
    out = ours.generate(ids, max_new_tokens=5, eos_token_id=None)
    assert out.shape == (1, ids.shape[1] + 5) and torch.equal(out[:, :ids.shape[1]], ids)
    tokenizer.chat_template = None
    with pytest.raises(ValueError, match="chat.template"):
        tokenizer.apply_chat_template(messages, tokenize=False)


# ------------------------------------------------------------------------------------------------
# GenerationConfig and generation_config.json
# ------------------------------------------------------------------------------------------------


def test_generation_config_file_round_trips_with_the_reference(pairs, tmp_path):
    ref, ours = pairs("gpt2")
    ours.generation_config = GenerationConfig(do_sample=True, top_p=0.9, max_new_tokens=7, eos_token_id=[2, 3],
                                              pad_token_id=0, bos_token_id=1)
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


@pytest.mark.parametrize("kwargs, message", [
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
])
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
    with pytest.raises(ValueError, match="needs a pad token id"):
        ours.generate(ids, attention_mask=mask, max_new_tokens=3)
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
