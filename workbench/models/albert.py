"""ALBERT: BERT with factorised embeddings and layers that share their weights, and its task heads.

Covers checkpoints whose ``model_type`` is ``albert`` (albert-base-v2, albert-large-v2, ...).
Module names follow the Hub's state-dict keys exactly
(``encoder.albert_layer_groups.0.albert_layers.0.attention.query.weight``), so checkpoints load
with no key map. Two ideas make ALBERT small:

* Factorised embeddings: tokens are embedded at ``embedding_size`` (128) and projected up to
  ``hidden_size`` by ``encoder.embedding_hidden_mapping_in``; the MLM head projects back down.
* Cross-layer sharing: there are only ``num_hidden_groups`` groups of ``inner_group_num`` layers
  each. The encoder runs ``num_hidden_layers`` steps; step ``i`` applies group
  ``int(i / (num_hidden_layers / num_hidden_groups))``, i.e. consecutive steps reuse one group.
  albert-base-v2 has 1 group of 1 layer, applied 12 times.

    input_ids (batch, seq)
      -> embeddings: word + position + token type, LayerNorm                   (batch, seq, embedding_size)
      -> encoder.embedding_hidden_mapping_in                                   (batch, seq, hidden)
      -> num_hidden_layers x (a group of inner_group_num AlbertLayers)          (batch, seq, hidden)
           AlbertLayer = self-attention + residual + LayerNorm, then ffn -> ffn_output + residual + LayerNorm
      -> pooler: tanh(pooler(hidden state of [CLS]))                           (batch, hidden)

``hidden_states`` and ``attentions`` have one entry per layer *application*, as in the reference:
``num_hidden_layers * inner_group_num`` attention maps (12 for albert-base-v2, although it stores
one layer), and hidden states start with the projected embeddings.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs
from ..outputs import BaseModelOutputWithPooling, MaskedLMOutput, ModelOutput
from .bert import (
    BertEmbeddings,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)


class AlbertConfig(PretrainedConfig):
    model_type = "albert"

    def __init__(
        self,
        vocab_size: int = 30000,
        embedding_size: int = 128,  # width of the token embeddings, projected up to hidden_size
        hidden_size: int = 4096,  # width of every token's vector inside the encoder
        num_hidden_layers: int = 12,  # how many layer applications the encoder runs
        num_hidden_groups: int = 1,  # how many distinct (weight-holding) groups those applications share
        num_attention_heads: int = 64,
        intermediate_size: int = 16384,  # width of the feed-forward layer inside each layer
        inner_group_num: int = 1,  # layers inside one group, applied one after the other
        hidden_act: str = "gelu_new",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        classifier_dropout_prob: float | None = 0.1,  # None: use hidden_dropout_prob (token classification)
        pad_token_id: int = 0,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        **kwargs,
    ):
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.inner_group_num = inner_group_num
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout_prob = classifier_dropout_prob
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )
        if not 1 <= num_hidden_groups <= num_hidden_layers:
            raise ValueError(
                f"num_hidden_groups={num_hidden_groups} must be between 1 and num_hidden_layers={num_hidden_layers}: "
                "each group is applied to at least one layer step."
            )


# Tiny presets for tests and teaching: seconds to build and run on a CPU. Shapes scaled down from
# albert-base-v2 (embedding 128, hidden 768, 12 layers sharing 1 group, 12 heads, intermediate 3072).
TINY_PRESETS = {
    "albert-tiny-random": dict(
        model_type="albert",
        vocab_size=1000,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    ),
    # 4 layer steps over 2 groups of 2 layers: steps 0-1 use group 0, steps 2-3 use group 1.
    "albert-tiny-groups": dict(
        model_type="albert",
        vocab_size=1000,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=4,
        num_hidden_groups=2,
        inner_group_num=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    ),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class AlbertAttention(nn.Module):
    """Self-attention with its output projection, residual and LayerNorm in one module (as the Hub names it)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.output_dropout = nn.Dropout(config.hidden_dropout_prob)
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
        projected = self.output_dropout(self.dense(layout.pack(layers.merge_heads(context))))  # like hidden
        return self.LayerNorm(hidden + projected), weights


class AlbertLayer(GradientCheckpointingLayer):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.attention = AlbertAttention(config)
        self.ffn = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation = layers.activation(config.hidden_act)
        self.ffn_output = nn.Linear(config.intermediate_size, config.hidden_size)
        self.full_layer_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden, additive_mask, output_attentions, layout):
        """hidden: (batch, seq, hidden), or (tokens, hidden) when ``layout`` packs the real tokens."""
        attended, weights = self.attention(hidden, additive_mask, output_attentions, layout)
        ffn_out = self.ffn_output(self.activation(self.ffn(attended)))  # like hidden
        return self.full_layer_layer_norm(ffn_out + attended), weights


class AlbertLayerGroup(nn.Module):
    """``inner_group_num`` layers applied in order; the unit whose weights are shared across steps."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.albert_layers = nn.ModuleList(AlbertLayer(config) for _ in range(config.inner_group_num))

    def forward(self, hidden, additive_mask, output_attentions, layout):
        """Returns the final hidden state, and every layer's output (unpacked) and attention weights (tuples)."""
        outputs, attentions = (), ()
        for albert_layer in self.albert_layers:
            hidden, weights = albert_layer(hidden, additive_mask, output_attentions, layout)
            outputs += (layout.unpack(hidden),)
            attentions += (weights,)
        return hidden, outputs, attentions


class AlbertTransformer(nn.Module):
    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.num_hidden_layers = config.num_hidden_layers
        self.num_hidden_groups = config.num_hidden_groups
        self.embedding_hidden_mapping_in = nn.Linear(config.embedding_size, config.hidden_size)
        self.albert_layer_groups = nn.ModuleList(AlbertLayerGroup(config) for _ in range(config.num_hidden_groups))

    def group_of_step(self, step: int) -> int:
        """Which group layer step ``step`` applies: consecutive steps share a group."""
        return int(step / (self.num_hidden_layers / self.num_hidden_groups))

    def forward(self, embeddings, additive_mask, output_attentions, output_hidden_states, layout: layers.TokenLayout):
        """embeddings: (batch, seq, embedding_size). The layers run on ``layout.pack(...)``; the results are
        unpacked."""
        hidden = self.embedding_hidden_mapping_in(embeddings)  # (batch, seq, embedding_size) -> (batch, seq, hidden)
        all_hidden = (hidden,) if output_hidden_states else None  # projected embeddings first
        all_attentions = () if output_attentions else None
        hidden = layout.pack(hidden)  # (tokens, hidden) when packing, else unchanged
        for step in range(self.num_hidden_layers):
            group = self.albert_layer_groups[self.group_of_step(step)]
            hidden, layer_outputs, layer_attentions = group(hidden, additive_mask, output_attentions, layout)
            if output_hidden_states:
                all_hidden += layer_outputs  # one entry per layer application, shared weights or not
            if output_attentions:
                all_attentions += layer_attentions
        return layout.unpack(hidden), all_hidden, all_attentions


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class AlbertPreTrainedModel(PreTrainedModel):
    config_class = AlbertConfig
    base_model_prefix = "albert"

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)
        if isinstance(module, AlbertMLMHead):
            with torch.no_grad():
                module.bias.zero_()


class AlbertModel(AlbertPreTrainedModel):
    """Embeddings + shared-weight encoder (+ pooler). Returns ``last_hidden_state`` (batch, seq, hidden)."""

    # While training, the per-token layers skip padding positions (layers.training_layout). Heads
    # whose loss reads those positions (question answering) turn this off.
    skip_padding_in_training = True

    def __init__(self, config: AlbertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(
            config, embedding_size=config.embedding_size
        )  # same layout as BERT's, narrower
        self.encoder = AlbertTransformer(config)
        if add_pooling_layer:
            self.pooler = nn.Linear(config.hidden_size, config.hidden_size)
            self.pooler_activation = nn.Tanh()
        else:
            self.pooler = None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

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

        embedded = self.embeddings(
            input_ids, token_type_ids, position_ids, inputs_embeds
        )  # (batch, seq, embedding_size)
        additive_mask = layers.padding_mask(attention_mask, embedded.dtype)  # (batch, 1, 1, seq) or None
        packing = self.training and self.skip_padding_in_training
        layout = layers.training_layout(attention_mask, additive_mask, packing)  # see layers.TokenLayout
        hidden, all_hidden, all_attentions = self.encoder(
            embedded, additive_mask, output_attentions, output_hidden_states, layout
        )
        pooled = (
            self.pooler_activation(self.pooler(hidden[:, 0])) if self.pooler is not None else None
        )  # (batch, hidden)
        out = BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class AlbertMLMHead(nn.Module):
    """hidden -> embedding_size (dense, activation, LayerNorm) -> vocabulary scores (decoder, tied to the
    embeddings)."""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.embedding_size)
        self.activation = layers.activation(config.hidden_act)
        self.LayerNorm = nn.LayerNorm(config.embedding_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.embedding_size, config.vocab_size)  # weight tied to the word embeddings
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # tied to decoder.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        narrowed = self.LayerNorm(self.activation(self.dense(hidden)))  # (batch, seq, embedding_size)
        return self.decoder(narrowed)  # (batch, seq, vocab)


class AlbertSOPHead(nn.Module):
    """Sentence-order prediction: were the two segments in their original order (0) or swapped (1)?"""

    def __init__(self, config: AlbertConfig):
        super().__init__()
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(pooled))  # (batch, num_labels)


class AlbertForPreTrainingOutput(ModelOutput):
    fields = ("loss", "prediction_logits", "sop_logits", "hidden_states", "attentions")


_MLM_TIES = {
    "predictions.decoder.weight": "albert.embeddings.word_embeddings.weight",
    "predictions.decoder.bias": "predictions.bias",
}


class AlbertForPreTraining(AlbertPreTrainedModel):
    """The pre-training model: masked-LM head + sentence-order head. Loss = MLM loss + SOP loss."""

    _tied_weights_keys = _MLM_TIES

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.predictions = AlbertMLMHead(config)
        self.sop_classifier = AlbertSOPHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.predictions.decoder

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        labels=None,
        sentence_order_label=None,
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
        prediction_logits = self.predictions(base.last_hidden_state)  # (batch, seq, vocab)
        sop_logits = self.sop_classifier(base.pooler_output)  # (batch, num_labels)
        loss = None
        if labels is not None and sentence_order_label is not None:
            mlm_loss = layers.token_classification_loss(prediction_logits, labels)
            sop_loss = nn.functional.cross_entropy(sop_logits.view(-1, 2), sentence_order_label.view(-1))
            loss = mlm_loss + sop_loss
        return self.finish(
            AlbertForPreTrainingOutput,
            base,
            return_dict,
            loss=loss,
            prediction_logits=prediction_logits,
            sop_logits=sop_logits,
        )


class AlbertForMaskedLM(AlbertPreTrainedModel):
    _tied_weights_keys = _MLM_TIES

    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.predictions = AlbertMLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.predictions.decoder

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
        logits = self.predictions(base.last_hidden_state)  # (batch, seq, vocab)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


class AlbertForSequenceClassification(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    forward = BertForSequenceClassification.forward  # dropout -> classifier on the pooled first token


class AlbertForTokenClassification(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        p = config.classifier_dropout_prob
        self.dropout = nn.Dropout(config.hidden_dropout_prob if p is None else p)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    forward = BertForTokenClassification.forward  # dropout -> classifier on every token


class AlbertForQuestionAnswering(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config, add_pooling_layer=False)
        self.albert.skip_padding_in_training = False  # the span loss softmaxes over padding positions too
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # start and end scores (num_labels = 2)
        self.post_init()

    forward = BertForQuestionAnswering.forward  # qa_outputs -> start_logits, end_logits (batch, seq)


class AlbertForMultipleChoice(AlbertPreTrainedModel):
    def __init__(self, config: AlbertConfig):
        super().__init__(config)
        self.albert = AlbertModel(config)
        self.dropout = nn.Dropout(config.classifier_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 1)  # one score per (question, choice) pair
        self.post_init()

    forward = BertForMultipleChoice.forward  # flatten the choices -> pooler -> classifier: (batch, num_choices)
