"""ONNX export: every task's graph(s) agree with PyTorch in ONNX Runtime (batch and sequence one larger than at
export, padded rows, a zero-length past), decoders' greedy tokens over the graphs equal generate()'s, the names
are optimum's, and unsupported tasks or families get an error listing what is supported."""

from __future__ import annotations

import onnx
import pytest
import torch

from workbench.export import OnnxValidationError, supported_tasks, to_onnx, validate_onnx
from workbench.models import auto

pytest.importorskip("onnxruntime")

HEADS = {
    "feature-extraction": "AutoModel",
    "fill-mask": "AutoModelForMaskedLM",
    "text-classification": "AutoModelForSequenceClassification",
    "token-classification": "AutoModelForTokenClassification",
    "question-answering": "AutoModelForQuestionAnswering",
    "text-generation": "AutoModelForCausalLM",
    "text-generation-with-past": "AutoModelForCausalLM",
    "text2text-generation": "AutoModelForSeq2SeqLM",
    "text2text-generation-with-past": "AutoModelForSeq2SeqLM",
}


def tiny(preset: str, task: str, seed: int = 0):
    torch.manual_seed(seed)
    return getattr(auto, HEADS[task]).from_config(auto.tiny_config(preset))


def graph_names(path) -> tuple[list[str], list[str]]:
    graph = onnx.load(str(path), load_external_data=False).graph
    return [i.name for i in graph.input], [o.name for o in graph.output]


def dims(path, name: str) -> list:
    graph = onnx.load(str(path), load_external_data=False).graph
    value = next(v for v in [*graph.input, *graph.output] if v.name == name)
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


@pytest.mark.parametrize(
    "preset, task",
    [
        ("bert-tiny-random", "feature-extraction"),
        ("bert-tiny-random", "fill-mask"),
        ("roberta-tiny-random", "text-classification"),
        ("distilbert-tiny-random", "token-classification"),
        ("bert-tiny-random", "question-answering"),
        ("albert-tiny-random", "fill-mask"),
        ("electra-tiny-random", "token-classification"),
    ],
)
def test_encoder_tasks_agree_in_onnxruntime(preset, task, tmp_path):
    report = to_onnx(tiny(preset, task), tmp_path, task, verbose=False)
    assert report.ok and report.rows and all(diff <= report.atol for *_, diff in report.rows)
    assert report.atol == 1e-4  # optimum's tolerance for the BERT family
    inputs, outputs = graph_names(tmp_path / "model.onnx")
    segment_ids = ["token_type_ids"] if preset.startswith(("bert", "albert", "electra")) else []
    assert inputs == ["input_ids", "attention_mask", *segment_ids]  # RoBERTa and DistilBERT read no segment ids
    assert outputs == {"question-answering": ["start_logits", "end_logits"]}.get(
        task, ["last_hidden_state"] if task == "feature-extraction" else ["logits"]
    )
    assert dims(tmp_path / "model.onnx", "input_ids") == ["batch_size", "sequence_length"]
    assert (tmp_path / "config.json").is_file()


@pytest.mark.slow  # 22M parameters: about 10 s
def test_packaged_minilm_exports_from_its_hub_id(tmp_path, capsys):
    """The real MiniLM, by Hub id (offline, packaged), through the command line."""
    from workbench.cli import main

    assert (
        main(
            ["export", "onnx", "sentence-transformers/all-MiniLM-L6-v2", str(tmp_path), "--task", "feature-extraction"]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "all checks passed" in printed and "last_hidden_state" in printed and "(3, 8, 384)" in printed
    assert graph_names(tmp_path / "model.onnx")[0] == ["input_ids", "attention_mask", "token_type_ids"]
    assert (tmp_path / "tokenizer_config.json").is_file()  # the folder is all a runtime needs, as optimum writes it


@pytest.mark.parametrize(
    "preset, task",
    [
        ("gpt2-tiny-random", "text-generation"),
        ("gpt2-tiny-random", "text-generation-with-past"),
        ("llama-tiny-random", "text-generation-with-past"),
        ("gpt-neox-tiny-random", "text-generation-with-past"),
    ],
)
def test_decoders_agree_and_decode_the_tokens_of_generate(preset, task, tmp_path):
    report = to_onnx(tiny(preset, task), tmp_path, task, verbose=False)
    assert report.ok and report.greedy_ok and "same as generate()" in report.greedy
    assert all(diff <= 1e-5 for *_, diff in report.rows)
    inputs, outputs = graph_names(tmp_path / "model.onnx")
    assert inputs[:3] == ["input_ids", "attention_mask", "position_ids"] and outputs[0] == "logits"
    if task.endswith("with-past"):
        assert inputs[3:5] == ["past_key_values.0.key", "past_key_values.0.value"]
        assert outputs[1:3] == ["present.0.key", "present.0.value"]
        assert len(inputs) - 3 == len(outputs) - 1 == 4  # two layers
        assert dims(tmp_path / "model.onnx", "past_key_values.0.key")[::2] == ["batch_size", "past_sequence_length"]
        assert dims(tmp_path / "model.onnx", "present.1.value")[2] == "past_sequence_length + sequence_length"
    else:
        assert len(inputs) == 3 and outputs == ["logits"]


@pytest.mark.slow  # torch.export takes ~40 s where tracing takes ~3 s
def test_the_dynamo_exporter_gives_the_same_graph_interface(tmp_path):
    pytest.importorskip("onnxscript")
    task = "text-generation-with-past"
    report = to_onnx(tiny("gpt2-tiny-random", task), tmp_path, task, exporter="dynamo", verbose=False)
    assert report.ok and report.greedy_ok
    assert dims(tmp_path / "model.onnx", "past_key_values.0.key")[::2] == ["batch_size", "past_sequence_length"]
    assert dims(tmp_path / "model.onnx", "present.1.value")[2] == "past_sequence_length + sequence_length"


@pytest.mark.parametrize(
    "preset, task", [("bart-tiny-random", "text2text-generation"), ("t5-tiny-random", "text2text-generation-with-past")]
)
def test_encoder_decoders_write_optimums_graphs(preset, task, tmp_path):
    report = to_onnx(tiny(preset, task), tmp_path, task, verbose=False)
    assert report.ok and report.greedy_ok
    assert graph_names(tmp_path / "encoder_model.onnx") == (["input_ids", "attention_mask"], ["last_hidden_state"])
    inputs, outputs = graph_names(tmp_path / "decoder_model.onnx")
    assert inputs == ["input_ids", "encoder_attention_mask", "encoder_hidden_states"]
    if task.endswith("with-past"):
        assert outputs[:5] == [
            "logits",
            "present.0.decoder.key",
            "present.0.decoder.value",
            "present.0.encoder.key",
            "present.0.encoder.value",
        ]
        inputs, outputs = graph_names(tmp_path / "decoder_with_past_model.onnx")
        assert inputs[:4] == [
            "input_ids",
            "encoder_attention_mask",
            "past_key_values.0.decoder.key",
            "past_key_values.0.decoder.value",
        ]
        assert outputs == ["logits"] + [f"present.{i}.decoder.{kv}" for i in range(2) for kv in ("key", "value")]
    else:
        assert outputs == ["logits"] and not (tmp_path / "decoder_with_past_model.onnx").exists()


def test_a_graph_that_computes_something_else_fails_loudly(tmp_path):
    task = "fill-mask"
    to_onnx(tiny("bert-tiny-random", task), tmp_path, task, verbose=False)
    other = tiny("bert-tiny-random", task, seed=1)  # other weights: the graph no longer matches
    with pytest.raises(OnnxValidationError, match="(?s)MISMATCH.*over atol"):
        validate_onnx(other, tmp_path, task)


def test_unsupported_tasks_and_families_list_what_is_supported(tmp_path):
    bert = tiny("bert-tiny-random", "fill-mask")
    with pytest.raises(ValueError, match="its export tasks are: feature-extraction, fill-mask"):
        to_onnx(bert, tmp_path, "text-generation")
    with pytest.raises(ValueError, match="Unknown export task 'translation'. The tasks are: feature-extraction"):
        to_onnx(bert, tmp_path, "translation")
    with pytest.raises(
        ValueError, match="exports a BertForSequenceClassification, and this model is a BertForMaskedLM"
    ):
        to_onnx(bert, tmp_path, "text-classification")
    whisper = auto.AutoModelForSpeechSeq2Seq.from_config(auto.tiny_config("whisper-tiny-random"))
    with pytest.raises(
        ValueError, match="does not support model_type 'whisper' yet. Supported model types: encoders: bert"
    ):
        to_onnx(whisper, tmp_path, "text2text-generation")
    mistral = tiny("mistral-tiny-random", "text-generation")  # a sliding window: refused, the trace would freeze it
    with pytest.raises(ValueError, match="sliding attention window"):
        to_onnx(mistral, tmp_path, "text-generation-with-past")
    with pytest.raises(ValueError, match=r"in float32, and this one is torch.float16 on cpu: export model.float\(\)"):
        to_onnx(tiny("bert-tiny-random", "fill-mask").half(), tmp_path, "fill-mask")
    assert supported_tasks("gpt2") == ["text-generation", "text-generation-with-past"]
    assert supported_tasks("vit") == []
