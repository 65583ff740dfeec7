"""DistilBERT: BERT distilled to half the layers, without token types or a pooler, and its task heads.

Covers checkpoints whose ``model_type`` is ``distilbert`` (distilbert-base-uncased,
distilbert-base-cased-distilled-squad, distilbert-base-uncased-finetuned-sst-2-english, ...).
Module names follow the Hub's state-dict keys exactly (``transformer.layer.0.attention.q_lin.weight``),
so checkpoints load with no key map. The config keeps DistilBERT's own key names (``dim``,
``n_layers``, ``n_heads``, ``hidden_dim``) and answers to BERT's names through ``attribute_map``.

    input_ids (batch, seq)
      -> Embeddings: word + position (learned, or a fixed sinusoid table), LayerNorm  (batch, seq, dim)
      -> Transformer: n_layers x TransformerBlock                                     (batch, seq, dim)
           TransformerBlock = self-attention + residual + LayerNorm (sa_layer_norm),
                              then feed-forward + residual + LayerNorm (output_layer_norm)

There are no segment (token type) embeddings. ``token_type_ids`` is accepted and ignored, as the
reference does: a BERT-style tokenizer that emits them (e.g. for question/context pairs) gives the
same numbers as DistilBERT's own tokenizer, which does not.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs
from ..outputs import (
    BaseModelOutput,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)

LAYER_NORM_EPS = 1e-12  # fixed in DistilBERT (not a config key)


class DistilBertConfig(PretrainedConfig):
    model_type = "distilbert"
    # DistilBERT's config.json uses its own names; these aliases let shared code ask for BERT's.
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}

    def __init__(
        self,
        vocab_size: int = 30522,
        max_position_embeddings: int = 512,  # longest input the position table covers
        sinusoidal_pos_embds: bool = False,  # True: positions are a fixed sin/cos table, not learned
        n_layers: int = 6,
        n_heads: int = 12,  # dim is split evenly across heads
        dim: int = 768,  # width of every token's vector (hidden_size)
        hidden_dim: int = 4 * 768,  # width of the feed-forward layer inside each block
        dropout: float = 0.1,  # embeddings, feed-forward output, token classification
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        initializer_range: float = 0.02,
        qa_dropout: float = 0.1,  # before the question-answering head
        seq_classif_dropout: float = 0.2,  # before the sequence-classification and multiple-choice heads
        pad_token_id: int = 0,
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.sinusoidal_pos_embds = sinusoidal_pos_embds
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.initializer_range = initializer_range
        self.qa_dropout = qa_dropout
        self.seq_classif_dropout = seq_classif_dropout
        if dim % n_heads:
            raise ValueError(f"dim={dim} is not a multiple of n_heads={n_heads}.")


# Tiny presets for tests and teaching: seconds to build and run on a CPU. Shapes scaled down from
# distilbert-base-uncased (dim 768, 6 layers, 12 heads, hidden_dim 3072).
TINY_PRESETS = {
    "distilbert-tiny-random": dict(
        model_type="distilbert",
        vocab_size=1000,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=128,
    ),
    "distilbert-tiny-sinusoidal": dict(
        model_type="distilbert",
        vocab_size=1000,
        dim=32,
        n_layers=2,
        n_heads=4,
        hidden_dim=64,
        max_position_embeddings=128,
        sinusoidal_pos_embds=True,
    ),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class Embeddings(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.dim, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.dim)
        # With sinusoidal_pos_embds the table is still a parameter saved in checkpoints (as in the
        # reference); it is only *initialised* differently (see DistilBertPreTrainedModel._init_weights).
        self.position_embeddings.sinusoidal = config.sinusoidal_pos_embds
        self.LayerNorm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, input_ids=None, inputs_embeds=None, position_ids=None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (batch, seq, dim)
        seq_len = inputs_embeds.shape[1]
        if position_ids is None:
            position_ids = torch.arange(seq_len, device=inputs_embeds.device)[None, :]  # (1, seq)
        embeddings = inputs_embeds + self.position_embeddings(position_ids)  # (batch, seq, dim)
        return self.dropout(self.LayerNorm(embeddings))


class DistilBertSelfAttention(nn.Module):
    """Multi-head self-attention with its output projection (``out_lin``); no residual inside."""

    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.n_heads = config.n_heads
        self.q_lin = nn.Linear(config.dim, config.dim)
        self.k_lin = nn.Linear(config.dim, config.dim)
        self.v_lin = nn.Linear(config.dim, config.dim)
        self.out_lin = nn.Linear(config.dim, config.dim)
        self.dropout_prob = config.attention_dropout
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden: torch.Tensor, additive_mask, output_attentions: bool, layout: layers.TokenLayout):
        q = layers.split_heads(layout.unpack(self.q_lin(hidden)), self.n_heads)  # (batch, heads, seq, head_dim)
        k = layers.split_heads(layout.unpack(self.k_lin(hidden)), self.n_heads)
        v = layers.split_heads(layout.unpack(self.v_lin(hidden)), self.n_heads)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_lin(layout.pack(layers.merge_heads(context))), weights  # like hidden, (batch, heads, seq, seq)


class FFN(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.lin1 = nn.Linear(config.dim, config.hidden_dim)
        self.lin2 = nn.Linear(config.hidden_dim, config.dim)
        self.activation = layers.activation(config.activation)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lin2(self.activation(self.lin1(hidden))))  # (batch, seq, dim)


class TransformerBlock(GradientCheckpointingLayer):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.attention = DistilBertSelfAttention(config)
        self.sa_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.ffn = FFN(config)
        self.output_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)

    def forward(self, hidden, additive_mask, output_attentions, layout):
        """hidden: (batch, seq, dim), or (tokens, dim) when ``layout`` packs the real tokens."""
        attended, weights = self.attention(hidden, additive_mask, output_attentions, layout)
        attended = self.sa_layer_norm(attended + hidden)  # post-norm residual, as in BERT
        return self.output_layer_norm(self.ffn(attended) + attended), weights


class Transformer(nn.Module):
    def __init__(self, config: DistilBertConfig):
        super().__init__()
        self.layer = nn.ModuleList(TransformerBlock(config) for _ in range(config.n_layers))

    def forward(self, hidden, additive_mask, output_attentions, output_hidden_states, layout: layers.TokenLayout):
        """hidden: (batch, seq, dim). The blocks run on ``layout.pack(hidden)``; the results are unpacked."""
        all_hidden = (hidden,) if output_hidden_states else None  # embeddings first, then each block's output
        all_attentions = () if output_attentions else None
        hidden = layout.pack(hidden)  # (tokens, dim) when packing, else unchanged
        for block in self.layer:
            hidden, weights = block(hidden, additive_mask, output_attentions, layout)
            if output_hidden_states:
                all_hidden += (layout.unpack(hidden),)
            if output_attentions:
                all_attentions += (weights,)
        return layout.unpack(hidden), all_hidden, all_attentions


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class DistilBertPreTrainedModel(PreTrainedModel):
    config_class = DistilBertConfig
    base_model_prefix = "distilbert"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if getattr(module, "sinusoidal", False):
            with torch.no_grad():
                module.weight.copy_(layers.sinusoidal_table_interleaved(*module.weight.shape))


class DistilBertModel(DistilBertPreTrainedModel):
    """Embeddings + transformer. Returns ``last_hidden_state`` (batch, seq, dim); no pooler."""

    # While training, the per-token layers skip padding positions (layers.training_layout). Heads
    # whose loss reads those positions (question answering) turn this off.
    skip_padding_in_training = True

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.embeddings = Embeddings(config)
        self.transformer = Transformer(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def get_position_embeddings(self) -> nn.Embedding:
        return self.embeddings.position_embeddings

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        token_type_ids: torch.Tensor | None = None,  # ignored: DistilBERT has no segment embeddings
    ):
        check_inputs(input_ids, inputs_embeds, self.config.max_position_embeddings, type(self).__name__)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        hidden = self.embeddings(input_ids, inputs_embeds, position_ids)  # (batch, seq, dim)
        additive_mask = layers.padding_mask(attention_mask, hidden.dtype)  # (batch, 1, 1, seq) or None
        packing = self.training and self.skip_padding_in_training
        layout = layers.training_layout(attention_mask, additive_mask, packing)  # see layers.TokenLayout
        hidden, all_hidden, all_attentions = self.transformer(
            hidden, additive_mask, output_attentions, output_hidden_states, layout
        )
        out = BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class DistilBertForMaskedLM(DistilBertPreTrainedModel):
    _tied_weights_keys = {"vocab_projector.weight": "distilbert.embeddings.word_embeddings.weight"}

    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.activation = layers.activation(config.activation)
        self.vocab_transform = nn.Linear(config.dim, config.dim)
        self.vocab_layer_norm = nn.LayerNorm(config.dim, eps=LAYER_NORM_EPS)
        self.vocab_projector = nn.Linear(config.dim, config.vocab_size)  # weight tied to the word embeddings
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.vocab_projector

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        labels=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        hidden = self.activation(self.vocab_transform(base.last_hidden_state))  # (batch, seq, dim)
        logits = self.vocab_projector(self.vocab_layer_norm(hidden))  # (batch, seq, vocab)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


class DistilBertForSequenceClassification(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        labels=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        pooled = torch.relu(self.pre_classifier(base.last_hidden_state[:, 0]))  # first token: (batch, dim)
        logits = self.classifier(self.dropout(pooled))  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish(SequenceClassifierOutput, base, return_dict, loss=loss, logits=logits)


class DistilBertForTokenClassification(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.dim, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        labels=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.classifier(self.dropout(base.last_hidden_state))  # (batch, seq, num_labels)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(TokenClassifierOutput, base, return_dict, loss=loss, logits=logits)


class DistilBertForQuestionAnswering(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        if config.num_labels != 2:
            raise ValueError(
                f"DistilBertForQuestionAnswering predicts a start and an end score, so num_labels must be 2 "
                f"(got {config.num_labels}); leave num_labels unset for question answering."
            )
        self.distilbert = DistilBertModel(config)
        self.distilbert.skip_padding_in_training = False  # the span loss softmaxes over padding positions too
        self.qa_outputs = nn.Linear(config.dim, config.num_labels)  # start and end scores
        self.dropout = nn.Dropout(config.qa_dropout)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        start_positions=None,
        end_positions=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
    ):
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        start_logits, end_logits = layers.span_logits(
            self.qa_outputs(self.dropout(base.last_hidden_state))
        )  # (batch, seq) each
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = layers.span_loss(start_logits, end_logits, start_positions, end_positions)
        return self.finish(
            QuestionAnsweringModelOutput, base, return_dict, loss=loss, start_logits=start_logits, end_logits=end_logits
        )


class DistilBertForMultipleChoice(DistilBertPreTrainedModel):
    def __init__(self, config: DistilBertConfig):
        super().__init__(config)
        self.distilbert = DistilBertModel(config)
        self.pre_classifier = nn.Linear(config.dim, config.dim)
        self.classifier = nn.Linear(config.dim, 1)  # one score per (question, choice) pair
        self.dropout = nn.Dropout(config.seq_classif_dropout)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        inputs_embeds=None,
        labels=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
        token_type_ids=None,
    ):
        num_choices = (input_ids if input_ids is not None else inputs_embeds).shape[1]
        # (batch, num_choices, seq[, dim]) -> (batch * num_choices, seq[, dim])
        input_ids, attention_mask, inputs_embeds, position_ids = layers.flatten_choices(
            input_ids, attention_mask, inputs_embeds, position_ids
        )  # (batch * num_choices, seq[, hidden])
        base = self.run_base(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            position_ids=position_ids,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        pooled = torch.relu(self.pre_classifier(base.last_hidden_state[:, 0]))  # (batch * num_choices, dim)
        logits = self.classifier(self.dropout(pooled)).view(-1, num_choices)  # (batch, num_choices)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return self.finish(MultipleChoiceModelOutput, base, return_dict, loss=loss, logits=logits)
