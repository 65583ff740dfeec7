"""Int8 quantization (workbench/quantization.py): the per-channel rounding, both quant types against float on
tiny random models (logits, greedy tokens, embeddings), from_pretrained(quantization_config=...), save and
reload staying quantized, and the errors for bad input."""

import csv
import json
import re

import pytest
import torch
from torch import nn

import workbench
from workbench.quantization import Int8Linear, TorchAoConfig, quantize_, quantize_dynamic, quantize_per_channel

WEIGHT_ONLY = "int8_weight_only"
DYNAMIC = "int8_dynamic_activation_int8_weight"


def tiny_gpt2(seed: int = 0) -> workbench.GPT2LMHeadModel:
    torch.manual_seed(seed)
    config = workbench.GPT2Config(vocab_size=99, n_embd=64, n_layer=2, n_head=4, n_positions=64)
    return workbench.GPT2LMHeadModel(config).eval()


def tiny_bert(seed: int = 0) -> workbench.BertModel:
    torch.manual_seed(seed)
    config = workbench.BertConfig(
        vocab_size=99, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
    )
    return workbench.BertModel(config).eval()


def cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.flatten(1), b.flatten(1), dim=-1)


def test_per_channel_rounding_error_is_at_most_half_a_step():
    weight = torch.randn(16, 40) * torch.logspace(-3, 1, 16)[:, None]  # rows of very different sizes
    weight_int8, scale = quantize_per_channel(weight)
    assert weight_int8.dtype == torch.int8 and scale.shape == (16,)
    error = (weight_int8.float() * scale[:, None] - weight).abs()
    assert (error <= scale[:, None] / 2 + 1e-7).all()


@pytest.mark.parametrize("quant_type", [WEIGHT_ONLY, DYNAMIC])
def test_int8_linear_close_to_float(quant_type):
    torch.manual_seed(0)
    linear = nn.Linear(48, 24)
    layer = Int8Linear.from_float(linear.weight, linear.bias, dynamic=quant_type == DYNAMIC)
    x = torch.randn(3, 5, 48)
    with torch.no_grad():
        expected, got = linear(x), layer(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert ((got - expected).norm() / expected.norm()) < 0.02


@pytest.mark.parametrize("quant_type", [WEIGHT_ONLY, DYNAMIC])
def test_decoder_logits_and_greedy_tokens_close_to_float(quant_type):
    model = tiny_gpt2()
    quantized = quantize_(tiny_gpt2(), TorchAoConfig(quant_type))
    assert isinstance(quantized.transformer.h[0].attn.c_attn, Int8Linear)
    assert not isinstance(quantized.lm_head, Int8Linear)  # the tied output embedding stays float by default
    ids = torch.randint(0, 99, (2, 12), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert cosine(quantized(ids).logits, model(ids).logits).min() > 0.999
    expected = model.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=0)
    got = quantized.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=0)
    assert (got == expected).float().mean() >= 0.9


def test_dynamic_int8_encoder_embeddings_close_to_float():
    model = tiny_bert()
    quantized = quantize_dynamic(tiny_bert())
    ids = torch.randint(0, 99, (4, 16), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model(ids).last_hidden_state.mean(1)
        got = quantized(ids).last_hidden_state.mean(1)
    assert cosine(got, expected).min() > 0.99


@pytest.mark.parametrize("include_embeddings", [False, True])
def test_from_pretrained_quantizes_and_save_reload_stays_quantized(tmp_path, include_embeddings):
    tiny_gpt2().save_pretrained(tmp_path / "float")
    config = TorchAoConfig(WEIGHT_ONLY, include_input_output_embeddings=include_embeddings)
    model = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "float", quantization_config=config)
    assert isinstance(model.transformer.h[1].mlp.c_fc, Int8Linear)
    assert isinstance(model.lm_head, Int8Linear) == include_embeddings
    model.save_pretrained(tmp_path / "int8")

    saved = json.loads((tmp_path / "int8" / "config.json").read_text())
    assert saved["quantization_config"]["quant_type"] == WEIGHT_ONLY
    float_size = (tmp_path / "float" / "model.safetensors").stat().st_size
    assert (tmp_path / "int8" / "model.safetensors").stat().st_size < 0.5 * float_size

    reloaded, info = workbench.AutoModelForCausalLM.from_pretrained(tmp_path / "int8", output_loading_info=True)
    assert info["missing_keys"] == [] and info["unexpected_keys"] == []
    assert isinstance(reloaded.transformer.h[1].mlp.c_fc, Int8Linear)
    assert reloaded.transformer.h[1].mlp.c_fc.weight.dtype == torch.int8
    ids = torch.randint(0, 99, (1, 10))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(ids).logits, model(ids).logits, atol=0, rtol=0)


def test_quantized_checkpoint_into_a_plain_model_is_a_clear_error(tmp_path):
    model = tiny_gpt2()
    plain_config = workbench.GPT2Config.from_dict(model.config.to_dict())
    quantize_(model, TorchAoConfig(WEIGHT_ONLY)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="int8-quantized weights.*quantization_config"):
        workbench.GPT2LMHeadModel.from_pretrained(tmp_path, config=plain_config)
    # the fix the message names works
    fixed = workbench.GPT2LMHeadModel.from_pretrained(
        tmp_path, config=plain_config, quantization_config=TorchAoConfig(WEIGHT_ONLY)
    )
    assert isinstance(fixed.transformer.h[0].attn.c_proj, Int8Linear)
    with pytest.raises(ValueError, match="already quantized"):
        workbench.GPT2LMHeadModel.from_pretrained(tmp_path, quantization_config=TorchAoConfig(DYNAMIC))


def test_bad_input_errors():
    with pytest.raises(ValueError, match="no linear layers"):
        quantize_(nn.Sequential(nn.Embedding(10, 4), nn.LayerNorm(4)), TorchAoConfig(WEIGHT_ONLY))
    with pytest.raises(ValueError, match="no linear layers"):
        quantize_(nn.Sequential(nn.Linear(4, 4)), TorchAoConfig(WEIGHT_ONLY, modules_to_not_convert=["0"]))
    with pytest.raises(ValueError, match="int4_weight_only.*not supported"):
        TorchAoConfig("int4_weight_only")
    with pytest.raises(TypeError, match="TorchAoConfig"):
        quantize_(tiny_gpt2(), {"quant_type": WEIGHT_ONLY})


# ------------------------------------------------------------------------------------------------
# Real weights
# ------------------------------------------------------------------------------------------------


def rotten_tomatoes_sentences(n: int) -> list[str]:
    from workbench import data

    with open(data.path("rotten_tomatoes", "train.tsv"), encoding="utf-8", newline="") as f:
        rows = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["sentence"] for row, _ in zip(rows, range(n))]


def test_minilm_dynamic_int8_embeddings_keep_their_direction():
    """The packaged all-MiniLM-L6-v2, 64 rotten_tomatoes sentences: dynamic int8 vs float32 embeddings."""
    from workbench.hub import DEFAULT_MODEL
    from workbench.sentence_embeddings import SentenceEncoder

    model = workbench.AutoModel.from_pretrained(DEFAULT_MODEL).eval()
    encoder = SentenceEncoder(model, workbench.AutoTokenizer.from_pretrained(DEFAULT_MODEL))
    sentences = rotten_tomatoes_sentences(64)
    expected = encoder.encode(sentences)
    quantize_dynamic(model)
    cos = (encoder.encode(sentences) * expected).sum(-1)  # both normalised
    print(f"MiniLM dynamic int8 vs fp32 cosine: min {cos.min():.4f}, mean {cos.mean():.4f}")
    assert cos.min() >= 0.99 and cos.mean() >= 0.995


@pytest.mark.slow
def test_whisper_tiny_en_int8_transcripts_of_spoken_digits():
    """openai/whisper-tiny.en (packaged), 20 recordings of data/fsdd (two speakers' first takes of each digit):
    weight-only int8 transcribes them like float32 (digit errors no worse by more than one, most texts equal)."""
    from workbench import data, hub
    from workbench.processing import AutoFeatureExtractor
    from workbench.processing.audio_utils import load_audio

    repo_id = "openai/whisper-tiny.en"
    if hub.packaged_source(repo_id) is None or hub._missing_parts(repo_id):
        pytest.skip(f"{repo_id} is not installed: {hub.install_command(repo_id)}")
    with open(data.path("fsdd", "metadata.csv"), encoding="utf-8", newline="") as f:
        takes = [r for r in csv.DictReader(f) if r["speaker"] in ("jackson", "george") and int(r["index"]) == 0]
    waveforms = [load_audio(str(data.path("fsdd", r["file"])), sampling_rate=16000) for r in takes]
    features = AutoFeatureExtractor.from_pretrained(repo_id)(waveforms, sampling_rate=16000, return_tensors="pt")
    tokenizer = workbench.AutoTokenizer.from_pretrained(repo_id)
    digit_words = "zero one two three four five six seven eight nine".split()

    def transcripts(model) -> list[str]:
        with torch.no_grad():
            ids = model.generate(features["input_features"], max_new_tokens=8)
        return [
            re.sub(r"[^\w\s]", " ", t.lower()).split() for t in tokenizer.batch_decode(ids, skip_special_tokens=True)
        ]

    def digit_errors(texts) -> int:
        spoken = [[digit_words[int(r["digit"])]] for r in takes]
        return sum(t != s and t != [r["digit"]] for t, s, r in zip(texts, spoken, takes))

    model = workbench.AutoModelForSpeechSeq2Seq.from_pretrained(repo_id).eval()
    expected = transcripts(model)
    got = transcripts(quantize_(model, TorchAoConfig(WEIGHT_ONLY)))
    same = sum(g == e for g, e in zip(got, expected))
    print(
        f"whisper-tiny.en on {len(takes)} digits: fp32 {digit_errors(expected)} errors, int8 {digit_errors(got)}; "
        f"{same} transcripts identical"
    )
    assert digit_errors(got) <= digit_errors(expected) + 1
    assert same >= 0.8 * len(takes)
