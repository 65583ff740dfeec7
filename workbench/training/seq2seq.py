"""Seq2SeqTrainer: the Trainer, with evaluation and prediction by ``generate()``.

Training is the Trainer's, unchanged. With ``Seq2SeqTrainingArguments(predict_with_generate=True)``,
``evaluate()`` and ``predict()`` run ``model.generate()`` on each batch's inputs and hand the generated
token ids (not logits) to ``compute_metrics``, so metrics such as BLEU or ROUGE can decode them:

    args = Seq2SeqTrainingArguments("out", predict_with_generate=True, generation_max_length=64)
    trainer = Seq2SeqTrainer(model, args, train_dataset=..., eval_dataset=..., data_collator=...,
                             processing_class=tokenizer, compute_metrics=bleu)
    trainer.evaluate(num_beams=4)                 # generation settings for this call

As in the reference, generated ids and labels are right-padded with the pad token to the model's
``generation_config.max_length`` (20 unless the checkpoint says otherwise), and batches that come out
wider are joined with -100, the value labels already use for padding: replace -100 by the pad token
before decoding.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from ..generation import GenerationConfig
from .arguments import TrainingArguments
from .trainer import Trainer


@dataclasses.dataclass
class Seq2SeqTrainingArguments(TrainingArguments):
    predict_with_generate: bool = False  # evaluate/predict with generate(): token ids for compute_metrics
    generation_max_length: int | None = None  # max_length of those generate() calls (default: the model's)
    generation_num_beams: int | None = None  # num_beams of those calls (default: the model's)
    generation_config: Any = None  # a GenerationConfig, or a folder/Hub id holding generation_config.json
    sortish_sampler: bool = False  # accepted for compatibility; workbench offers train_sampling_strategy

    def to_dict(self) -> dict[str, Any]:
        values = super().to_dict()
        if isinstance(values["generation_config"], GenerationConfig):
            values["generation_config"] = values["generation_config"].to_dict()
        return values


class Seq2SeqTrainer(Trainer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        source = getattr(self.args, "generation_config", None)
        if source is not None:  # replaces the model's generation settings, as in the reference
            self.model.generation_config = (
                source if isinstance(source, GenerationConfig) else GenerationConfig.from_pretrained(source)
            )
        self._gen_kwargs: dict[str, Any] = {}

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval", **gen_kwargs):
        """The Trainer's evaluate; ``gen_kwargs`` (max_new_tokens, num_beams, ...) go to generate()."""
        self._gen_kwargs = self._generation_kwargs(gen_kwargs)
        return super().evaluate(eval_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def predict(self, test_dataset, ignore_keys=None, metric_key_prefix: str = "test", **gen_kwargs):
        """The Trainer's predict; with predict_with_generate, ``predictions`` are generated token ids."""
        self._gen_kwargs = self._generation_kwargs(gen_kwargs)
        return super().predict(test_dataset, ignore_keys=ignore_keys, metric_key_prefix=metric_key_prefix)

    def _generation_kwargs(self, gen_kwargs: dict[str, Any]) -> dict[str, Any]:
        gen_kwargs = dict(gen_kwargs)
        if gen_kwargs.get("max_length") is None and gen_kwargs.get("max_new_tokens") is None:
            gen_kwargs.pop("max_length", None)
            if self.args.generation_max_length is not None:
                gen_kwargs["max_length"] = self.args.generation_max_length
        if gen_kwargs.get("num_beams") is None:
            gen_kwargs.pop("num_beams", None)
            if self.args.generation_num_beams is not None:
                gen_kwargs["num_beams"] = self.args.generation_num_beams
        return gen_kwargs

    def prediction_step(self, model, inputs, prediction_loss_only: bool, ignore_keys: list[str] | None = None):
        """(loss, generated token ids, labels) for one batch when predict_with_generate; else the Trainer's."""
        if not self.args.predict_with_generate or prediction_loss_only:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        inputs = self._prepare_inputs(inputs)
        generation_inputs = dict(inputs)
        labels = inputs.get("labels")
        decoder_inputs = inputs.get("decoder_input_ids")
        if labels is not None and decoder_inputs is not None and decoder_inputs.shape == labels.shape:
            # made from the labels by the collator: let generate() start from decoder_start_token_id instead
            generation_inputs = {
                key: value
                for key, value in inputs.items()
                if key not in ("decoder_input_ids", "decoder_attention_mask")
            }
        generation_inputs.pop("labels", None)
        with self._autocast():
            generated = model.generate(**generation_inputs, **self._gen_kwargs)  # (batch, generated)
        generated = self._pad_to_model_length(generated)

        loss = None
        if labels is not None:
            with torch.no_grad():
                loss = self.compute_loss(model, inputs).detach().float().mean()
            labels = self._pad_to_model_length(labels)
        return loss, generated, labels

    def _pad_to_model_length(self, tokens: torch.Tensor) -> torch.Tensor:
        """Right-pad (batch, n) token ids to the model's ``generation_config.max_length`` (or max_new_tokens + 1)
        with the pad token, as the reference does, so that most batches already share one width."""
        settings = self.model.generation_config
        width = settings.max_length or 0
        if tokens.shape[-1] >= width and settings.max_new_tokens is not None:
            width = settings.max_new_tokens + 1
        if tokens.shape[-1] >= width:
            return tokens
        pad_id = getattr(self.processing_class, "pad_token_id", None)
        if pad_id is None:
            pad_id = getattr(self.processing_class, "eos_token_id", None)
        if pad_id is None:
            pad_id = getattr(self.model.config, "pad_token_id", None)
        if pad_id is None:
            raise ValueError(
                "predict_with_generate pads generated sequences to one length and needs a pad token: "
                "pass processing_class=tokenizer or set model.config.pad_token_id."
            )
        padded = tokens.new_full((tokens.shape[0], width), pad_id)
        padded[:, : tokens.shape[-1]] = tokens
        return padded
