"""ELECTRA: BERT's encoder behind narrow embeddings, trained as a replaced-token detector.

Covers checkpoints whose ``model_type`` is ``electra`` (google/electra-{small,base,large}-
{generator,discriminator} and their fine-tuned descendants). Pre-training runs two of these
models: a small *generator* (``ElectraForMaskedLM``) fills in masked tokens, and the *discriminator*
(``ElectraForPreTraining``) says for every token whether the generator replaced it. The discriminator
is the one fine-tuned for downstream tasks.

What differs from BERT (the encoder and its layers are bert.py's):

    input_ids (batch, seq)
      -> ElectraEmbeddings: BERT's embeddings, embedding_size wide        (batch, seq, embedding_size)
      -> embeddings_project (only when embedding_size != hidden_size)    (batch, seq, hidden)
      -> BertEncoder                                                      (batch, seq, hidden)
      -> no pooler; heads read the hidden states directly:
           generator_predictions + generator_lm_head (tied to the word embeddings)   masked LM
           discriminator_predictions                                                  replaced-token detection
           classifier: dense -> GELU -> out_proj on the first token                   sequence classification
           sequence_summary + classifier                                              multiple choice
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..outputs import MaskedLMOutput, MultipleChoiceModelOutput, SequenceClassifierOutput
from .bert import (
    BertConfig,
    BertEmbeddings,
    BertForQuestionAnswering,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)


class ElectraConfig(BertConfig):
    """BERT's fields plus the embedding width and the multiple-choice summary; defaults of
    google/electra-small-discriminator."""

    model_type = "electra"

    def __init__(
        self,
        embedding_size: int = 128,  # width of the token vectors before embeddings_project
        hidden_size: int = 256,
        num_attention_heads: int = 4,
        intermediate_size: int = 1024,
        summary_type: str = "first",  # multiple choice pools the "first" token ("last", "mean", "cls_index" work too)
        summary_use_proj: bool = True,  # a linear layer after pooling (sequence_summary.summary)
        summary_activation: str | None = "gelu",  # activation after it (None: none)
        summary_last_dropout: float = 0.1,
        **kwargs,
    ):
        super().__init__(
            hidden_size=hidden_size,
            num_attention_heads=num_attention_heads,
            intermediate_size=intermediate_size,
            **kwargs,
        )
        self.embedding_size = embedding_size
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_last_dropout = summary_last_dropout


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "electra-tiny-random": dict(
        model_type="electra",
        vocab_size=1000,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
}


# ------------------------------------------------------------------------------------------------
# Embeddings and the bare model
# ------------------------------------------------------------------------------------------------


class ElectraEmbeddings(BertEmbeddings):
    """BERT's word + position + token type embeddings and LayerNorm, ``embedding_size`` wide."""

    def __init__(self, config: ElectraConfig):
        super().__init__(config, embedding_size=config.embedding_size)


class ElectraModel(BertModel):
    """Embeddings (+ projection) + BERT's encoder, no pooler. Returns ``last_hidden_state`` (batch, seq, hidden)."""

    config_class = ElectraConfig
    base_model_prefix = "electra"
    embeddings_class = ElectraEmbeddings

    def __init__(self, config: ElectraConfig):
        super().__init__(config, add_pooling_layer=False)
        if config.embedding_size != config.hidden_size:
            self.embeddings_project = nn.Linear(config.embedding_size, config.hidden_size)
            self.post_init()  # once more, so that the projection gets the family's initialisation too

    def embed(self, input_ids, token_type_ids, position_ids, inputs_embeds) -> torch.Tensor:
        hidden = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)  # (batch, seq, embedding_size)
        if hasattr(self, "embeddings_project"):
            hidden = self.embeddings_project(hidden)  # (batch, seq, hidden)
        return hidden


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class ElectraTaskModel(BertPreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.electra``."""

    config_class = ElectraConfig
    base_model_prefix = "electra"

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra = ElectraModel(config)


class ElectraGeneratorPredictions(nn.Module):
    """hidden -> embedding_size: dense -> GELU -> LayerNorm, ready for the tied output embedding."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(nn.functional.gelu(self.dense(hidden)))  # (batch, seq, embedding_size)


class ElectraForMaskedLM(ElectraTaskModel):
    """The generator: predicts masked tokens."""

    _tied_weights_keys = {"generator_lm_head.weight": "electra.embeddings.word_embeddings.weight"}

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.generator_predictions = ElectraGeneratorPredictions(config)
        self.generator_lm_head = nn.Linear(config.embedding_size, config.vocab_size)  # weight tied; own bias
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.generator_lm_head(self.generator_predictions(base.last_hidden_state))  # (batch, seq, vocab)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


class ElectraDiscriminatorPredictions(nn.Module):
    """One score per token: was it replaced by the generator? dense -> hidden_act -> dense_prediction."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = layers.activation(config.hidden_act)
        self.dense_prediction = nn.Linear(config.hidden_size, 1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dense_prediction(self.activation(self.dense(hidden))).squeeze(-1)  # (batch, seq)


class ElectraForPreTrainingOutput(MaskedLMOutput):
    """``logits`` (batch, seq): replaced-token scores, > 0 meaning "replaced"."""


class ElectraForPreTraining(ElectraTaskModel):
    """The discriminator: scores every token as original (< 0) or replaced (> 0)."""

    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.discriminator_predictions(base.last_hidden_state)  # (batch, seq)
        loss = None
        if labels is not None:  # labels (batch, seq): 1 = replaced, 0 = original; padding does not count
            real = attention_mask.bool() if attention_mask is not None else torch.ones_like(logits, dtype=torch.bool)
            loss = nn.functional.binary_cross_entropy_with_logits(logits[real], labels[real].to(logits.dtype))
        return self.finish(ElectraForPreTrainingOutput, base, return_dict, loss=loss, logits=logits)


class ElectraClassificationHead(nn.Module):
    """dense -> GELU -> out_proj on the first token ([CLS]), with dropout before each linear layer."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = layers.classifier_dropout(config)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])  # [CLS]: (batch, hidden)
        x = self.dropout(nn.functional.gelu(self.dense(x)))  # GELU where BERT's pooler has tanh
        return self.out_proj(x)  # (batch, num_labels)


class ElectraForSequenceClassification(ElectraTaskModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.classifier = ElectraClassificationHead(config)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(base.last_hidden_state)  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish(SequenceClassifierOutput, base, return_dict, loss=loss, logits=logits)


class ElectraForTokenClassification(ElectraTaskModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.dropout = layers.classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    forward = BertForTokenClassification.forward  # dropout -> classifier on every token: (batch, seq, num_labels)


class ElectraForQuestionAnswering(ElectraTaskModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.electra.skip_padding_in_training = False  # the span loss softmaxes over padding positions too
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # start and end scores (num_labels = 2)
        self.post_init()

    forward = BertForQuestionAnswering.forward  # qa_outputs -> start_logits, end_logits (batch, seq)


class ElectraSequenceSummary(nn.Module):
    """(batch, seq, hidden) -> (batch, hidden): pick or average tokens, then ``summary`` linear + activation."""

    def __init__(self, config: ElectraConfig):
        super().__init__()
        self.summary_type = config.summary_type
        if self.summary_type not in ("first", "last", "mean", "cls_index"):
            raise NotImplementedError(
                f"summary_type={self.summary_type!r}: use 'first', 'last', 'mean' or 'cls_index'."
            )
        self.summary = nn.Identity()
        if config.summary_use_proj:
            to_labels = getattr(config, "summary_proj_to_labels", False) and config.num_labels > 0
            self.summary = nn.Linear(config.hidden_size, config.num_labels if to_labels else config.hidden_size)
        self.activation = layers.activation(config.summary_activation) if config.summary_activation else nn.Identity()
        self.first_dropout = nn.Dropout(getattr(config, "summary_first_dropout", 0.0))
        self.last_dropout = nn.Dropout(config.summary_last_dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.summary_type == "first":
            pooled = hidden[:, 0]
        elif self.summary_type == "mean":
            pooled = hidden.mean(dim=1)
        else:  # "last", and "cls_index" without an index, which means the last token
            pooled = hidden[:, -1]
        return self.last_dropout(self.activation(self.summary(self.first_dropout(pooled))))  # (batch, hidden)


class ElectraForMultipleChoice(ElectraTaskModel):
    def __init__(self, config: ElectraConfig):
        super().__init__(config)
        self.sequence_summary = ElectraSequenceSummary(config)
        if self.sequence_summary.summary_type != "first":
            self.electra.skip_padding_in_training = False  # "mean" and "last" read padding positions too
        self.classifier = nn.Linear(config.hidden_size, 1)  # one score per (question, choice) pair
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        num_choices = (input_ids if input_ids is not None else inputs_embeds).shape[1]
        input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds = layers.flatten_choices(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds
        )  # (batch * num_choices, seq[, hidden])
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        pooled = self.sequence_summary(base.last_hidden_state)  # (batch * choices, hidden)
        logits = self.classifier(pooled).view(-1, num_choices)  # (batch, num_choices)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return self.finish(MultipleChoiceModelOutput, base, return_dict, loss=loss, logits=logits)
