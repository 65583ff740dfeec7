"""pipeline(): behaviour, errors, batching, and parity with the reference v4 pipelines.

Parity: every case in CASES runs through ``transformers==4.37`` pipelines (in their own venv, see
tests/reference_v4.py) and through ours on the same local folders: tiny random BERT heads saved with the
real bert-base-uncased / MiniLM tokenizer files, and the real MiniLM for feature-extraction. Labels,
spans and strings must be identical and scores within 1e-4. Ours runs each case twice: one input at a
time, and all inputs of a case in one length-sorted batch.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from tiny_checkpoints import NER_LABELS, minilm_dir, tiny_bart, tiny_bert, tiny_gpt2, tiny_t5, tokenizer_files

from tests.reference_v4 import run_v4, v4_unavailable
from workbench.pipelines import PipelineModelError, UnknownTaskError, check_task, pipeline

REPO = Path(__file__).resolve().parents[1]
TOL = 1e-4

TEXTS = [
    "the rock is destined to be the 21st century's new \" conan \" and that he's going to make a splash .",
    "My name is Wolfgang and I live in Berlin.",
    "Hugging Face Inc. is a company based in New York City; its headquarters are in DUMBO.",
    "an unbelievably tedious, overlong film",
    "ok",
]
CONTEXT = (
    "The Amazon rainforest covers much of the Amazon basin of South America. This basin encompasses "
    "seven million square kilometres, of which five and a half million are covered by the rainforest. "
    "The region includes territory belonging to nine nations and 3,344 formally acknowledged "
    "indigenous territories. The majority of the forest is contained within Brazil, with 60% of the "
    "rainforest, followed by Peru with 13%, Colombia with 10%, and with minor amounts in Bolivia, "
    "Ecuador, French Guiana, Guyana, Suriname, and Venezuela."
)


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pipeline-models")
    folders = {
        "cls": tiny_bert(root / "cls", "ForSequenceClassification", ["NEGATIVE", "POSITIVE"]),
        "cls3": tiny_bert(
            root / "cls3", "ForSequenceClassification", ["sad", "neutral", "happy"], seed=1, tokenizer="minilm"
        ),
        "multilabel": tiny_bert(
            root / "multilabel",
            "ForSequenceClassification",
            ["a", "b", "c"],
            seed=2,
            problem_type="multi_label_classification",
        ),
        "ner": tiny_bert(root / "ner", "ForTokenClassification", NER_LABELS, seed=3),
        "ner-minilm": tiny_bert(root / "ner-minilm", "ForTokenClassification", NER_LABELS, seed=4, tokenizer="minilm"),
        "qa": tiny_bert(root / "qa", "ForQuestionAnswering", seed=5),
        "mlm": tiny_bert(root / "mlm", "ForMaskedLM", seed=6),
        "nli": tiny_bert(root / "nli", "ForSequenceClassification", ["contradiction", "neutral", "entailment"], seed=7),
        "minilm": minilm_dir(),
    }
    folders["gpt2"] = tiny_gpt2(root / "gpt2")
    folders["t5"] = tiny_t5(root / "t5")
    folders["bart"] = tiny_bart(root / "bart", "ForConditionalGeneration")
    folders["bart-nli"] = tiny_bart(
        root / "bart-nli", "ForSequenceClassification", ["contradiction", "neutral", "entailment"], seed=11
    )
    short = root / "short-tokenizer"  # model_max_length 24: long texts need windows (stride)
    short.mkdir()
    tokenizer_files(short, "bert-base-uncased", model_max_length=24)
    folders["short-tokenizer"] = short
    return folders


# ------------------------------------------------------------------------------------------------
# Parity cases: (id, model, task, init kwargs, inputs, call kwargs)
# ------------------------------------------------------------------------------------------------

QA_QUESTIONS = ["Which country has most of the rainforest?", "How many nations?"]

CASES = [
    ("tc-default", "cls", "text-classification", {}, TEXTS, {}),
    ("tc-single", "cls", "sentiment-analysis", {}, TEXTS[1], {}),
    ("tc-topk-none", "cls3", "text-classification", {}, TEXTS, {"top_k": None}),
    ("tc-topk2-single", "cls3", "text-classification", {}, TEXTS[0], {"top_k": 2}),
    ("tc-sigmoid", "cls3", "text-classification", {}, TEXTS, {"function_to_apply": "sigmoid", "top_k": 3}),
    ("tc-none", "cls", "text-classification", {}, TEXTS, {"function_to_apply": "none"}),
    ("tc-multilabel", "multilabel", "text-classification", {}, TEXTS, {"top_k": None}),
    ("tc-pair", "cls", "text-classification", {}, {"text": TEXTS[1], "text_pair": TEXTS[2]}, {}),
    ("ner-none", "ner", "ner", {}, TEXTS, {}),
    ("ner-none-all-labels", "ner", "token-classification", {}, TEXTS[:3], {"ignore_labels": []}),
    ("ner-simple", "ner", "token-classification", {"aggregation_strategy": "simple"}, TEXTS, {}),
    ("ner-first", "ner", "token-classification", {"aggregation_strategy": "first"}, TEXTS, {}),
    ("ner-average", "ner", "token-classification", {"aggregation_strategy": "average"}, TEXTS, {}),
    ("ner-max", "ner", "token-classification", {"aggregation_strategy": "max"}, TEXTS, {}),
    ("ner-minilm-simple", "ner-minilm", "token-classification", {"aggregation_strategy": "simple"}, TEXTS, {}),
    (
        "ner-stride",
        "ner",
        "token-classification",
        {"aggregation_strategy": "first", "stride": 8, "tokenizer": "short-tokenizer"},
        [CONTEXT, TEXTS[2]],
        {},
    ),
    ("qa-default", "qa", "question-answering", {}, None, {"question": QA_QUESTIONS[0], "context": CONTEXT}),
    ("qa-list", "qa", "question-answering", {}, [{"question": q, "context": CONTEXT} for q in QA_QUESTIONS], {}),
    (
        "qa-stride",
        "qa",
        "question-answering",
        {},
        None,
        {"question": QA_QUESTIONS, "context": CONTEXT, "max_seq_len": 48, "doc_stride": 16, "top_k": 3},
    ),
    (
        "qa-impossible",
        "qa",
        "question-answering",
        {},
        None,
        {"question": QA_QUESTIONS[1], "context": CONTEXT, "handle_impossible_answer": True, "top_k": 2},
    ),
    (
        "qa-maxlen",
        "qa",
        "question-answering",
        {},
        None,
        {"question": QA_QUESTIONS[0], "context": CONTEXT, "max_answer_len": 3, "top_k": 4},
    ),
    ("fm-default", "mlm", "fill-mask", {}, "paris is the [MASK] of france.", {}),
    ("fm-list", "mlm", "fill-mask", {}, ["the [MASK] is blue.", "a [MASK] film, really [MASK]."], {"top_k": 3}),
    ("fm-targets", "mlm", "fill-mask", {}, "paris is the [MASK] of france.", {"targets": ["capital", "city", "heart"]}),
    ("fe-minilm", "minilm", "feature-extraction", {}, TEXTS[:3], {}),
    ("fe-single", "minilm", "feature-extraction", {}, TEXTS[1], {}),
    ("zs-default", "nli", "zero-shot-classification", {}, TEXTS[0], {"candidate_labels": ["film", "politics", "food"]}),
    (
        "zs-multi",
        "nli",
        "zero-shot-classification",
        {},
        TEXTS[:2],
        {"candidate_labels": "film, politics", "multi_label": True, "hypothesis_template": "This text is about {}."},
    ),
    ("zs-single-label", "nli", "zero-shot-classification", {}, TEXTS[3], {"candidate_labels": ["film"]}),
    ("tg-greedy", "gpt2", "text-generation", {}, "Once upon a time", {"max_new_tokens": 8, "do_sample": False}),
    (
        "tg-new-text",
        "gpt2",
        "text-generation",
        {},
        ["Hello", "The quick brown fox jumps over"],
        {"max_new_tokens": 6, "do_sample": False, "return_full_text": False},
    ),
    (
        "tg-tensors",
        "gpt2",
        "text-generation",
        {},
        "Hello there",
        {"max_new_tokens": 4, "do_sample": False, "return_tensors": True},
    ),
    (
        "tg-beams",
        "gpt2",
        "text-generation",
        {},
        "It was a dark and stormy night",
        {"max_new_tokens": 5, "num_beams": 3, "num_return_sequences": 2, "do_sample": False},
    ),
    (
        "tg-prefix-stop",
        "gpt2",
        "text-generation",
        {},
        "Hello",
        {"max_new_tokens": 6, "do_sample": False, "prefix": "Say: ", "stop_sequence": "."},
    ),
    (
        "t2t-greedy",
        "t5",
        "text2text-generation",
        {},
        ["question: what is the capital of France?", TEXTS[1]],
        {"max_new_tokens": 8},
    ),
    ("t2t-tensors", "t5", "text2text-generation", {}, TEXTS[3], {"max_new_tokens": 5, "return_tensors": True}),
    ("sum-t5", "t5", "summarization", {}, [CONTEXT, TEXTS[2]], {"max_length": 12, "min_length": 4}),
    (
        "sum-bart-beams",
        "bart",
        "summarization",
        {},
        CONTEXT,
        {"max_length": 10, "num_beams": 3, "num_return_sequences": 2, "no_repeat_ngram_size": 2},
    ),
    ("tr-t5", "t5", "translation_en_to_de", {}, ["The house is wonderful.", TEXTS[0]], {"max_new_tokens": 8}),
    ("tr-t5-beams", "t5", "translation_en_to_de", {}, "I like tea.", {"max_new_tokens": 6, "num_beams": 4}),
    (
        "zs-bart",
        "bart-nli",
        "zero-shot-classification",
        {},
        TEXTS[:2],
        {"candidate_labels": ["film", "politics", "food"]},
    ),
    (
        "zs-bart-multi",
        "bart-nli",
        "zero-shot-classification",
        {},
        TEXTS[2],
        {"candidate_labels": ["company", "city"], "multi_label": True},
    ),
]


def _v4_call(case, models) -> dict:
    _, key, task, init_kwargs, inputs, call_kwargs = case
    init_kwargs = dict(init_kwargs)
    tokenizer = models[init_kwargs.pop("tokenizer")] if "tokenizer" in init_kwargs else None
    return {
        "task": task,
        "model": str(models[key]),
        "tokenizer": str(tokenizer) if tokenizer else None,
        "init_kwargs": init_kwargs,
        "inputs": inputs,
        "call_kwargs": call_kwargs,
    }


@pytest.fixture(scope="session")
def v4_outputs(models) -> dict:
    reason = v4_unavailable()
    if reason:
        pytest.skip(f"reference v4 pipelines unavailable: {reason}")
    cases = [case for case in CASES if case[1] in models]
    outputs = run_v4([_v4_call(case, models) for case in cases])
    return {case[0]: out for case, out in zip(cases, outputs)}


def assert_same(ours, ref, where="output"):
    """Equal structure, keys, strings and ints; floats within TOL."""
    if isinstance(ref, dict):
        assert isinstance(ours, dict), f"{where}: expected a dict, got {type(ours).__name__}"
        assert list(ours) == list(ref), f"{where}: keys {list(ours)} != {list(ref)}"
        for key in ref:
            assert_same(ours[key], ref[key], f"{where}[{key!r}]")
    elif isinstance(ref, list):
        assert isinstance(ours, list), f"{where}: expected a list, got {type(ours).__name__}"
        assert len(ours) == len(ref), f"{where}: {len(ours)} items != {len(ref)}"
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(ref, float) and not isinstance(ours, bool):
        assert isinstance(ours, (int, float)), f"{where}: {ours!r} is not a number"
        assert math.isclose(ours, ref, abs_tol=TOL), f"{where}: {ours} != {ref}"
    else:
        assert ours == ref and type(ours) is type(ref), f"{where}: {ours!r} != {ref!r}"


def _ours(case, models, **extra):
    _, key, task, init_kwargs, inputs, call_kwargs = case
    init_kwargs = dict(init_kwargs)
    if "tokenizer" in init_kwargs:
        init_kwargs["tokenizer"] = models[init_kwargs["tokenizer"]]
    pipe = pipeline(task, model=models[key], **init_kwargs)
    args = [] if inputs is None else [inputs]
    return pipe(*args, **call_kwargs, **extra)


def _plain(x):
    return json.loads(json.dumps(x))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_parity_with_reference_v4(case, models, v4_outputs):
    if case[1] not in models:
        pytest.skip(f"no {case[1]} model family yet")
    ref = v4_outputs[case[0]]
    assert not (isinstance(ref, dict) and "__error__" in ref), ref
    assert_same(_plain(_ours(case, models, batch_size=1)), ref)
    assert_same(_plain(_ours(case, models, batch_size=8)), ref)  # length-sorted, dynamically padded batches


# ------------------------------------------------------------------------------------------------
# Behaviour without the reference
# ------------------------------------------------------------------------------------------------


def test_task_names_and_aliases():
    assert check_task("sentiment-analysis") == ("text-classification", {})
    assert check_task("ner") == ("token-classification", {})
    assert check_task("translation_en_to_fr") == ("translation", {"src_lang": "en", "tgt_lang": "fr"})
    with pytest.raises(UnknownTaskError, match="Did you mean 'text-classification'"):
        pipeline("text-clasification")
    with pytest.raises(UnknownTaskError, match="Supported tasks"):
        pipeline("make-coffee")


def test_default_model_offline_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # an empty cache
    with pytest.raises(PipelineModelError) as e:
        pipeline("sentiment-analysis")
    message = str(e.value)
    assert "distilbert-base-uncased-finetuned-sst-2-english" in message
    assert "model='path/to/checkpoint'" in message


def test_generator_list_and_dataset_column(models):
    pipe = pipeline("text-classification", model=models["cls"])
    expected = pipe(TEXTS, batch_size=1)
    generated = pipe(t for t in TEXTS)
    assert not isinstance(generated, list)
    assert_same(list(generated), expected)
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": TEXTS})
    assert_same(pipe(ds["text"], batch_size=2), expected)
    with pytest.raises(TypeError, match="one column"):
        pipe(ds)


def test_batching_is_order_preserving_and_unpadded(models):
    pipe = pipeline("feature-extraction", model=models["minilm"])
    one_by_one = [pipe(t, return_tensors=True) for t in TEXTS]
    batched = pipe(TEXTS, batch_size=4, return_tensors=True)
    for a, b in zip(one_by_one, batched):
        assert a.shape == b.shape  # no padding left in a row
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_progress_bar_on_request(models, capsys):
    pipe = pipeline("text-classification", model=models["cls"])
    pipe(TEXTS * 3, progress_bar=True, batch_size=4)
    assert "text-classification" in capsys.readouterr().err


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (123, TypeError, "takes a string"),
        ("", ValueError, "empty string"),
        ([], ValueError, "empty list"),
        (["fine", None], TypeError, "NoneType"),
    ],
)
def test_bad_inputs(models, bad, error, match):
    pipe = pipeline("text-classification", model=models["cls"])
    with pytest.raises(error, match=match):
        pipe(bad)


def test_task_specific_errors(models):
    fill = pipeline("fill-mask", model=models["mlm"])
    with pytest.raises(ValueError, match=r"No mask token \(\[MASK\]\)"):
        fill("no mask here")
    qa = pipeline("question-answering", model=models["qa"])
    with pytest.raises(ValueError, match="`context` cannot be empty"):
        qa(question="Who?", context="")
    with pytest.raises(TypeError, match="question= and context="):
        qa("just a string")
    zs = pipeline("zero-shot-classification", model=models["nli"])
    with pytest.raises(ValueError, match="candidate_labels"):
        zs("a text")
    with pytest.raises(ValueError, match="no \\{\\}"):
        zs("a text", candidate_labels=["a"], hypothesis_template="no slot")
    ner = pipeline("ner", model=models["ner"])
    with pytest.raises(ValueError, match="aggregation_strategy"):
        ner("a text", aggregation_strategy="best")
    with pytest.raises(TypeError, match="unexpected argument"):
        ner("a text", topk=3)


def test_head_that_does_not_fit(models):
    import workbench

    with pytest.raises(PipelineModelError, match="has no question-answering head"):
        pipeline("question-answering", model=models["cls"])
    with pytest.raises(ValueError, match="entailment"):
        pipeline("zero-shot-classification", model=models["cls"])
    mlm = workbench.AutoModelForMaskedLM.from_pretrained(models["mlm"])
    with pytest.raises(ValueError, match="sequence-classification head"):
        pipeline("text-classification", model=mlm, tokenizer=models["mlm"])
    # A head loaded on purpose (random, untrained) is accepted as an object.
    head = workbench.AutoModelForSequenceClassification.from_pretrained(models["minilm"], num_labels=2)
    assert len(pipeline("text-classification", model=head)(TEXTS)) == len(TEXTS)


def test_task_inferred_from_the_checkpoint(models):
    assert pipeline(model=models["ner"]).task == "token-classification"
    assert pipeline(model=models["minilm"]).task == "feature-extraction"
    if "gpt2" in models:
        assert pipeline(model=models["gpt2"]).task == "text-generation"


# ------------------------------------------------------------------------------------------------
# Generation: chat input and streaming (the v4.37 reference has neither; checked against generate())
# ------------------------------------------------------------------------------------------------


@pytest.fixture
def gpt2_pipe(models):
    if "gpt2" not in models:
        pytest.skip("no GPT-2 family yet")
    return pipeline("text-generation", model=models["gpt2"])


def test_chat_messages(gpt2_pipe):
    chat = [{"role": "user", "content": "Hi there"}]
    out = gpt2_pipe(chat, max_new_tokens=5, do_sample=False)
    tok, model = gpt2_pipe.tokenizer, gpt2_pipe.model
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt")
    new = model.generate(ids, max_new_tokens=5, do_sample=False)[0, ids.shape[1] :]
    reply = tok.decode(new, skip_special_tokens=True)
    assert out == [{"generated_text": chat + [{"role": "assistant", "content": reply}]}]
    # a batch of chats, new text only
    two = gpt2_pipe(
        [chat, chat + [{"role": "user", "content": "Again"}]], max_new_tokens=5, do_sample=False, return_full_text=False
    )
    assert two[0] == [{"generated_text": reply}] and len(two) == 2


def test_streaming_gives_the_same_text(gpt2_pipe):
    full = gpt2_pipe("Once upon a time", max_new_tokens=8, do_sample=False, return_full_text=False)
    pieces = list(gpt2_pipe.stream("Once upon a time", max_new_tokens=8, do_sample=False))
    assert len(pieces) >= 1 and "".join(pieces) == full[0]["generated_text"]


def test_seq2seq_tasks_need_a_generating_model(models):
    # an encoder with a classification head cannot summarize: the error says what is missing
    with pytest.raises(PipelineModelError):
        pipeline("summarization", model=models["cls"])
    with pytest.raises(ValueError, match="generate"):
        import workbench

        model = workbench.AutoModelForSequenceClassification.from_pretrained(models["cls"])
        pipeline("translation_en_to_fr", model=model, tokenizer=models["cls"])


def test_torch_dtype_and_device(models):
    pipe = pipeline("feature-extraction", model=models["minilm"], torch_dtype="bfloat16", device="cpu")
    assert pipe.model.dtype == torch.bfloat16
    out = pipe(TEXTS[1], return_tensors=True)
    assert out.dtype == torch.float32  # answers are float32 whatever the compute dtype
    reference = pipeline("feature-extraction", model=models["minilm"])(TEXTS[1], return_tensors=True)
    assert (out - reference).abs().max() < 0.1


def test_pipeline_options_given_once(models):
    pipe = pipeline("ner", model=models["ner"], aggregation_strategy="simple", batch_size=2)
    assert all("entity_group" in e for e in pipe(TEXTS[1]))
    assert pipe.batch_size == 2


def test_no_transformers_import():
    import subprocess
    import sys

    code = "import sys, workbench.pipelines as p; p.pipeline; assert 'transformers' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_seq2seq_pipelines_shapes(models):
    """What the parity cases do not show: several sequences per input for a list, the length limit reaching
    generate, the task prefix of translation_xx_to_yy."""
    t2t = pipeline("text2text-generation", model=models["t5"])
    two = t2t(["one", "two"], num_return_sequences=2, num_beams=2, max_new_tokens=4)
    assert [len(rows) for rows in two] == [2, 2]
    assert all(set(row) == {"generated_text"} for rows in two for row in rows)
    summarizer = pipeline("summarization", model=models["t5"])
    ids = summarizer(CONTEXT, max_length=5, min_length=2, return_tensors=True)[0]["summary_token_ids"]
    assert 2 <= len(ids) <= 5  # decoder start token included, as in the reference
    translator = pipeline("translation_en_to_de", model=models["t5"])
    assert translator._prefix() == "translate English to German: "
    assert translator._language_code_id("de") is None  # T5's piece "de" is a word piece, not a language code
