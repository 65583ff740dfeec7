"""Seq2SeqTrainer: predict/evaluate with generate() equal the reference Seq2SeqTrainer's, on a tiny T5.

The model is a tiny random T5 over the real t5-small SentencePiece vocabulary, saved once and loaded by
both libraries (identical weights); both tokenize the same pairs with ``text_target`` and collate with
their own DataCollatorForSeq2Seq. Evaluation batches are of equal size: with a smaller last batch the
reference weighs that batch's loss by the first batch's size, where workbench weighs it by its own.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_checkpoints import tiny_t5

import workbench

SOURCES = [
    "translate English to German: The house is wonderful.",
    "translate English to German: I like tea.",
    "translate English to German: Where is the station?",
    "translate English to German: Thank you very much.",
]
TARGETS = ["Das Haus ist wunderbar.", "Ich mag Tee.", "Wo ist der Bahnhof?", "Vielen Dank."]


@pytest.fixture(scope="module")
def t5_folder(tmp_path_factory):
    return tiny_t5(tmp_path_factory.mktemp("t5"))


def rows(tokenizer) -> list[dict]:
    encoded = tokenizer(SOURCES, text_target=TARGETS)
    return [{key: encoded[key][i] for key in ("input_ids", "attention_mask", "labels")} for i in range(len(SOURCES))]


def our_trainer(folder, tmp_path, compute_metrics=None, **arguments):
    tokenizer = workbench.AutoTokenizer.from_pretrained(folder)
    model = workbench.T5ForConditionalGeneration.from_pretrained(folder)
    args = workbench.Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "ours"),
        per_device_eval_batch_size=2,
        report_to="none",
        disable_tqdm=True,
        **arguments,
    )
    trainer = workbench.Seq2SeqTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        compute_metrics=compute_metrics,
        data_collator=workbench.DataCollatorForSeq2Seq(tokenizer, model=model),
    )
    return trainer, rows(tokenizer)


def reference_predict(folder, tmp_path, **arguments):
    transformers = pytest.importorskip("transformers")
    transformers.logging.set_verbosity_error()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.T5ForConditionalGeneration.from_pretrained(folder)
    args = transformers.Seq2SeqTrainingArguments(
        output_dir=str(tmp_path / "ref"),
        per_device_eval_batch_size=2,
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        **arguments,
    )
    trainer = transformers.Seq2SeqTrainer(
        model=model,
        args=args,
        processing_class=tokenizer,
        data_collator=transformers.DataCollatorForSeq2Seq(tokenizer, model=model),
    )
    return trainer.predict(rows(tokenizer))


@pytest.mark.parametrize(
    "arguments", [dict(generation_max_length=12), dict(generation_max_length=10, generation_num_beams=3)]
)
def test_predict_with_generate_matches_reference(t5_folder, tmp_path, arguments):
    expected = reference_predict(t5_folder, tmp_path, predict_with_generate=True, **arguments)
    trainer, data = our_trainer(t5_folder, tmp_path, predict_with_generate=True, **arguments)
    got = trainer.predict(data)
    assert got.predictions.shape == expected.predictions.shape
    np.testing.assert_array_equal(got.predictions, expected.predictions)
    np.testing.assert_array_equal(got.label_ids, expected.label_ids)
    assert got.metrics["test_loss"] == pytest.approx(expected.metrics["test_loss"], rel=1e-6)


def test_call_settings_override_the_arguments_and_reach_compute_metrics(t5_folder, tmp_path):
    seen = []

    def exact_match(prediction):
        tokenizer = trainer.processing_class
        predicted = np.where(prediction.predictions != -100, prediction.predictions, tokenizer.pad_token_id)
        labels = np.where(prediction.label_ids != -100, prediction.label_ids, tokenizer.pad_token_id)
        texts = tokenizer.batch_decode(predicted, skip_special_tokens=True)
        seen.append(texts)
        targets = tokenizer.batch_decode(labels, skip_special_tokens=True)
        return {"exact_match": float(np.mean([a == b for a, b in zip(texts, targets)]))}

    trainer, data = our_trainer(t5_folder, tmp_path, exact_match, predict_with_generate=True, generation_max_length=12)
    metrics = trainer.evaluate(data, max_new_tokens=4)
    assert set(metrics) >= {"eval_loss", "eval_exact_match"}
    assert len(seen[0]) == 4 and all(isinstance(text, str) for text in seen[0])
    prediction = trainer.predict(data, max_new_tokens=4, num_beams=2)
    assert prediction.predictions.shape == (4, 20)  # padded to generation_config.max_length, as the reference pads
    model = trainer.model
    direct = model.generate(torch.tensor([data[0]["input_ids"]]), max_new_tokens=4, num_beams=2)
    np.testing.assert_array_equal(prediction.predictions[0, : direct.shape[1]], direct[0].numpy())


def test_without_generate_predict_returns_logits(t5_folder, tmp_path):
    trainer, data = our_trainer(t5_folder, tmp_path)
    prediction = trainer.predict(data)
    logits = prediction.predictions[0] if isinstance(prediction.predictions, tuple) else prediction.predictions
    assert logits.ndim == 3 and logits.shape[0] == 4 and logits.shape[-1] == 32128


def test_trains_and_evaluates_with_generate_during_training(t5_folder, tmp_path):
    trainer, data = our_trainer(
        t5_folder,
        tmp_path,
        predict_with_generate=True,
        generation_max_length=8,
        max_steps=2,
        per_device_train_batch_size=2,
        eval_strategy="steps",
        eval_steps=1,
        save_strategy="steps",
        save_steps=2,
        logging_steps=1,
        learning_rate=1e-3,
    )
    trainer.train_dataset, trainer.eval_dataset = data, data
    trainer.train()
    evaluations = [entry for entry in trainer.state.log_history if "eval_loss" in entry]
    assert len(evaluations) == 2
    saved = json.loads((tmp_path / "ours" / "checkpoint-2" / "training_args.json").read_text())
    assert saved["predict_with_generate"] and saved["generation_max_length"] == 8
