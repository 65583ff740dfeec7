"""BERT: a stack of bidirectional self-attention layers, and its task heads.

Covers checkpoints whose ``model_type`` is ``bert``: BERT, BertJapanese, BORT, HerBERT, MiniLM
(e.g. sentence-transformers/all-MiniLM-L6-v2) and others. Module names follow the Hub's state-dict
keys exactly (``encoder.layer.0.attention.self.query.weight``), so checkpoints load with no key map.

RoBERTa and ELECTRA reuse the encoder defined here and change only the embeddings and heads.

    input_ids (batch, seq)
      -> BertEmbeddings: word + position + token type, LayerNorm      (batch, seq, hidden)
      -> BertEncoder: num_hidden_layers x BertLayer                   (batch, seq, hidden)
           BertLayer = self-attention + residual + LayerNorm, then feed-forward + residual + LayerNorm
      -> BertPooler: tanh(dense(hidden state of [CLS]))               (batch, hidden)
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs
from ..outputs import (
    BaseModelOutputWithPooling,
    MaskedLMOutput,
    MultipleChoiceModelOutput,
    QuestionAnsweringModelOutput,
    SequenceClassifierOutput,
    TokenClassifierOutput,
)


class BertConfig(PretrainedConfig):
    model_type = "bert"

    def __init__(
        self,
        vocab_size: int = 30522,
        hidden_size: int = 768,  # width of every token's vector
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,  # hidden_size is split evenly across heads
        intermediate_size: int = 3072,  # width of the feed-forward layer inside each block
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,  # longest input the position table covers
        type_vocab_size: int = 2,  # segment ids: sentence A = 0, sentence B = 1
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int = 0,
        classifier_dropout: float | None = None,  # None: use hidden_dropout_prob
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout = classifier_dropout
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "bert-tiny-random": dict(
        model_type="bert",
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class BertEmbeddings(nn.Module):
    def __init__(self, config: BertConfig, embedding_size: int | None = None):
        super().__init__()
        size = embedding_size or config.hidden_size  # ELECTRA and ALBERT embed narrower, then project
        self.word_embeddings = nn.Embedding(config.vocab_size, size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, size)
        self.LayerNorm = nn.LayerNorm(size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def position_ids(self, input_ids: torch.Tensor | None, seq_len: int, device: torch.device) -> torch.Tensor:
        """(1, seq): positions 0, 1, 2, ... for every row (RoBERTa overrides this)."""
        return torch.arange(seq_len, device=device)[None, :]

    def forward(self, input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None) -> torch.Tensor:
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)  # (batch, seq, size)
        batch, seq_len = inputs_embeds.shape[:2]
        if position_ids is None:
            position_ids = self.position_ids(input_ids, seq_len, inputs_embeds.device)
        if token_type_ids is None:
            token_type_ids = torch.zeros((1, seq_len), dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids) + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden: torch.Tensor, additive_mask, output_attentions: bool, layout: layers.TokenLayout):
        q = layers.split_heads(layout.unpack(self.query(hidden)), self.num_heads)  # (batch, heads, seq, head_dim)
        k = layers.split_heads(layout.unpack(self.key(hidden)), self.num_heads)
        v = layers.split_heads(layout.unpack(self.value(hidden)), self.num_heads)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return layout.pack(layers.merge_heads(context)), weights  # like hidden, (batch, heads, seq, seq)


class BertResidualOutput(nn.Module):
    """dense -> dropout -> LayerNorm(x + residual): closes both the attention and feed-forward sub-blocks."""

    def __init__(self, in_size: int, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(in_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertResidualOutput(config.hidden_size, config)

    def forward(self, hidden, additive_mask, output_attentions, layout):
        context, weights = self.self(hidden, additive_mask, output_attentions, layout)
        return self.output(context, hidden), weights


class BertIntermediate(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(hidden))  # (batch, seq, intermediate)


class BertLayer(GradientCheckpointingLayer):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertResidualOutput(config.intermediate_size, config)

    def forward(self, hidden, additive_mask, output_attentions, layout):
        """hidden: (batch, seq, hidden), or (tokens, hidden) when ``layout`` packs the real tokens."""
        attended, weights = self.attention(hidden, additive_mask, output_attentions, layout)
        return self.output(self.intermediate(attended), attended), weights


class BertEncoder(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(BertLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, hidden, additive_mask, output_attentions, output_hidden_states, layout: layers.TokenLayout):
        """hidden: (batch, seq, hidden). The layers run on ``layout.pack(hidden)``; the results are unpacked."""
        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        hidden = layout.pack(hidden)  # (tokens, hidden) when packing, else unchanged
        for block in self.layer:
            hidden, weights = block(hidden, additive_mask, output_attentions, layout)
            if output_hidden_states:
                all_hidden += (layout.unpack(hidden),)
            if output_attentions:
                all_attentions += (weights,)
        return layout.unpack(hidden), all_hidden, all_attentions


class BertPooler(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))  # first token ([CLS]): (batch, hidden)


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class BertPreTrainedModel(PreTrainedModel):
    config_class = BertConfig
    base_model_prefix = "bert"


class BertModel(BertPreTrainedModel):
    """Embeddings + encoder (+ pooler). Returns ``last_hidden_state`` (batch, seq, hidden)."""

    embeddings_class = BertEmbeddings
    # While training, the per-token layers skip padding positions (layers.training_layout). Heads
    # whose loss reads those positions (question answering) turn this off.
    skip_padding_in_training = True

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
            raise NotImplementedError(
                f"This {config.model_type} config has is_decoder/add_cross_attention set (a causal LM or a "
                "seq2seq decoder); workbench implements the bidirectional encoder only. Set is_decoder=False."
            )
        super().__init__(config)
        self.embeddings = self.embeddings_class(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def embed(self, input_ids, token_type_ids, position_ids, inputs_embeds) -> torch.Tensor:
        return self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds)

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        check_inputs(input_ids, inputs_embeds, self.config.max_position_embeddings, type(self).__name__)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        hidden = self.embed(input_ids, token_type_ids, position_ids, inputs_embeds)  # (batch, seq, hidden)
        additive_mask = layers.padding_mask(attention_mask, hidden.dtype)  # (batch, 1, 1, seq) or None
        packing = self.training and self.skip_padding_in_training
        layout = layers.training_layout(attention_mask, additive_mask, packing)  # see layers.TokenLayout
        hidden, all_hidden, all_attentions = self.encoder(
            hidden, additive_mask, output_attentions, output_hidden_states, layout
        )
        pooled = self.pooler(hidden) if self.pooler is not None else None
        out = BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class BertPredictionHeadTransform(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = layers.activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden)))


class BertLMPredictionHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # weight tied to the word embeddings
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # tied to decoder.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden))  # (batch, seq, vocab)


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden)


class BertForMaskedLM(BertPreTrainedModel):
    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.cls = BertOnlyMLMHead(config)
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
        logits = self.cls(base.last_hidden_state)  # (batch, seq, vocab)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


class BertForSequenceClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = layers.classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        logits = self.classifier(self.dropout(base.pooler_output))  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish(SequenceClassifierOutput, base, return_dict, loss=loss, logits=logits)


class BertForTokenClassification(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.dropout = layers.classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
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
        logits = self.classifier(self.dropout(base.last_hidden_state))  # (batch, seq, num_labels)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(TokenClassifierOutput, base, return_dict, loss=loss, logits=logits)


class BertForQuestionAnswering(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config, add_pooling_layer=False)
        self.bert.skip_padding_in_training = False  # the span loss softmaxes over padding positions too
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # start and end scores (num_labels = 2)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        start_positions=None,
        end_positions=None,
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
        start_logits, end_logits = layers.span_logits(self.qa_outputs(base.last_hidden_state))
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = layers.span_loss(start_logits, end_logits, start_positions, end_positions)
        return self.finish(
            QuestionAnsweringModelOutput, base, return_dict, loss=loss, start_logits=start_logits, end_logits=end_logits
        )


class BertForMultipleChoice(BertPreTrainedModel):
    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)
        self.dropout = layers.classifier_dropout(config)
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
        logits = self.classifier(self.dropout(base.pooler_output)).view(-1, num_choices)  # (batch, num_choices)
        loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return self.finish(MultipleChoiceModelOutput, base, return_dict, loss=loss, logits=logits)
