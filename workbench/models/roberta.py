"""RoBERTa: BERT's encoder with different embeddings and heads, and its variants.

One architecture, several Hub names; the variants are config switches (their own ``model_type`` and
defaults) and share every model class below:

    model_type      config class         checkpoints (for example)                                prefix
    roberta         RobertaConfig        FacebookAI/roberta-base, distilbert/distilroberta-base   roberta.
    xlm-roberta     XLMRobertaConfig     FacebookAI/xlm-roberta-base, facebook/xlm-v-base         roberta.
    camembert       CamembertConfig      almanach/camembert-base                                  roberta.
    data2vec-text   Data2VecTextConfig   facebook/data2vec-text-base                              data2vec_text.

``XLMRobertaModel``, ``CamembertForMaskedLM``, ``Data2VecTextForSequenceClassification``, ... are
plain aliases of the Roberta classes. Only data2vec-text names its bare model differently, so the
attribute holding it (and thus the checkpoint prefix) is chosen per instance from ``config.model_type``.

What differs from BERT (everything else is bert.py's encoder, layer and pooler):

    input_ids (batch, seq)
      -> RobertaEmbeddings: word + position + token type, LayerNorm             (batch, seq, hidden)
           positions count real tokens only and start at pad_token_id + 1:
           ids  [<s>  a  b  </s> <pad> <pad>]  ->  positions [2 3 4 5 1 1]   (pad_token_id = 1)
      -> BertEncoder                                                            (batch, seq, hidden)
      -> heads: lm_head (dense, GELU, layer_norm, decoder tied to the word embeddings),
                classifier (dense, tanh, out_proj on the first token <s>), or BERT's heads
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..modeling import check_inputs
from ..outputs import MaskedLMOutput, SequenceClassifierOutput
from .bert import (
    BertConfig,
    BertEmbeddings,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForTokenClassification,
    BertModel,
    BertPreTrainedModel,
)


class RobertaConfig(BertConfig):
    """BERT's fields; the defaults are those of FacebookAI/roberta-base's config.json."""

    model_type = "roberta"

    def __init__(
        self,
        vocab_size: int = 50265,  # byte-level BPE
        max_position_embeddings: int = 514,  # 512 tokens + the pad_token_id + 1 offset of the positions
        type_vocab_size: int = 1,  # RoBERTa has no sentence B: every token_type_id is 0
        layer_norm_eps: float = 1e-5,
        pad_token_id: int = 1,  # <pad>; also the offset of the position ids
        bos_token_id: int = 0,  # <s>, read by the classification head
        eos_token_id: int = 2,  # </s>
        **kwargs,
    ):
        super().__init__(
            vocab_size=vocab_size,
            max_position_embeddings=max_position_embeddings,
            type_vocab_size=type_vocab_size,
            layer_norm_eps=layer_norm_eps,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )


class XLMRobertaConfig(RobertaConfig):
    """XLM-RoBERTa (100 languages, SentencePiece) and XLM-V, which is the same with a 901k vocabulary."""

    model_type = "xlm-roberta"

    def __init__(self, vocab_size: int = 250002, **kwargs):  # FacebookAI/xlm-roberta-base
        super().__init__(vocab_size=vocab_size, **kwargs)


class CamembertConfig(RobertaConfig):
    """CamemBERT: RoBERTa trained on French text (SentencePiece)."""

    model_type = "camembert"

    def __init__(self, vocab_size: int = 32005, **kwargs):  # almanach/camembert-base
        super().__init__(vocab_size=vocab_size, **kwargs)


class Data2VecTextConfig(RobertaConfig):
    """data2vec-text: RoBERTa's architecture trained by self-distillation; its bare model is ``data2vec_text``."""

    model_type = "data2vec-text"


# Tiny presets for tests and teaching: seconds to build and run on a CPU.
TINY_PRESETS = {
    "roberta-tiny-random": dict(
        model_type="roberta",
        vocab_size=1000,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=130,
    )
}


def base_model_prefix_for(config: RobertaConfig) -> str:
    """Attribute name of the bare model inside task models, which prefixes its checkpoint keys."""
    return "data2vec_text" if config.model_type == "data2vec-text" else "roberta"


# ------------------------------------------------------------------------------------------------
# Embeddings and the bare model
# ------------------------------------------------------------------------------------------------


class RobertaEmbeddings(BertEmbeddings):
    """BERT's embeddings with fairseq's positions: they skip padding and start at pad_token_id + 1."""

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.padding_idx = config.pad_token_id
        # The padding row (position pad_token_id) is what padding tokens look up: zero and never trained.
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, config.hidden_size, padding_idx=self.padding_idx
        )

    def position_ids(self, input_ids: torch.Tensor | None, seq_len: int, device: torch.device) -> torch.Tensor:
        if input_ids is None:
            # From inputs_embeds padding cannot be seen: number every token. (1, seq)
            return torch.arange(self.padding_idx + 1, seq_len + self.padding_idx + 1, device=device)[None, :]
        is_token = input_ids.ne(self.padding_idx).long()  # (batch, seq)
        return torch.cumsum(is_token, dim=1) * is_token + self.padding_idx  # (batch, seq); padding -> padding_idx


class RobertaModel(BertModel):
    """Embeddings + BERT's encoder (+ BERT's pooler). Returns ``last_hidden_state`` (batch, seq, hidden)."""

    config_class = RobertaConfig
    base_model_prefix = "roberta"
    embeddings_class = RobertaEmbeddings

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = True):
        super().__init__(config, add_pooling_layer)
        self.base_model_prefix = base_model_prefix_for(config)  # for loading a task checkpoint into the bare model

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        token_type_ids=None,
        position_ids=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        if position_ids is None:
            # Positions run from pad_token_id + 1, so the table holds that many fewer tokens (512 of 514).
            longest = self.config.max_position_embeddings - self.config.pad_token_id - 1
            check_inputs(input_ids, inputs_embeds, longest, type(self).__name__)
        return super().forward(
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            return_dict,
        )


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class RobertaTaskModel(BertPreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.roberta`` (``self.data2vec_text`` for data2vec-text)."""

    config_class = RobertaConfig
    base_model_prefix = "roberta"

    def __init__(self, config: RobertaConfig, add_pooling_layer: bool = False):
        super().__init__(config)
        self.base_model_prefix = base_model_prefix_for(config)
        self.add_module(self.base_model_prefix, RobertaModel(config, add_pooling_layer=add_pooling_layer))


class RobertaLMHead(nn.Module):
    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size)  # weight tied to the word embeddings
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # tied to decoder.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.layer_norm(nn.functional.gelu(self.dense(hidden)))  # always exact GELU, whatever hidden_act says
        return self.decoder(x)  # (batch, seq, vocab)


class RobertaForMaskedLM(RobertaTaskModel):
    _tied_weights_keys = {
        "lm_head.decoder.weight": "roberta.embeddings.word_embeddings.weight",
        "lm_head.decoder.bias": "lm_head.bias",
    }

    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.lm_head = RobertaLMHead(config)
        # The tie names the bare model by its attribute, which data2vec-text calls data2vec_text.
        self._tied_weights_keys = {
            "lm_head.decoder.weight": f"{self.base_model_prefix}.embeddings.word_embeddings.weight",
            "lm_head.decoder.bias": "lm_head.bias",
        }
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
        logits = self.lm_head(base.last_hidden_state)  # (batch, seq, vocab)
        loss = layers.token_classification_loss(logits, labels) if labels is not None else None
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


class RobertaClassificationHead(nn.Module):
    """dense -> tanh -> out_proj on the first token (<s>), with dropout before each linear layer."""

    def __init__(self, config: RobertaConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = layers.classifier_dropout(config)
        self.out_proj = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])  # <s>: (batch, hidden)
        x = self.dropout(torch.tanh(self.dense(x)))
        return self.out_proj(x)  # (batch, num_labels)


class RobertaForSequenceClassification(RobertaTaskModel):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.classifier = RobertaClassificationHead(config)
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


class RobertaForTokenClassification(RobertaTaskModel):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.dropout = layers.classifier_dropout(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    forward = BertForTokenClassification.forward  # dropout -> classifier on every token: (batch, seq, num_labels)


class RobertaForQuestionAnswering(RobertaTaskModel):
    def __init__(self, config: RobertaConfig):
        super().__init__(config)
        self.base_model.skip_padding_in_training = False  # the span loss softmaxes over padding positions too
        self.qa_outputs = nn.Linear(config.hidden_size, config.num_labels)  # start and end scores (num_labels = 2)
        self.post_init()

    forward = BertForQuestionAnswering.forward  # qa_outputs -> start_logits, end_logits (batch, seq)


class RobertaForMultipleChoice(RobertaTaskModel):
    def __init__(self, config: RobertaConfig):
        super().__init__(config, add_pooling_layer=True)  # scores the pooled <s> of each (question, choice) pair
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.classifier = nn.Linear(config.hidden_size, 1)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        token_type_ids=None,
        attention_mask=None,
        labels=None,
        position_ids=None,
        inputs_embeds=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        # BERT's computation (flatten choices -> pooler -> classifier: (batch, num_choices)); only the
        # order of the arguments differs, as it does in the reference.
        return BertForMultipleChoice.forward(
            self,
            input_ids,
            attention_mask,
            token_type_ids,
            position_ids,
            inputs_embeds,
            labels,
            output_attentions,
            output_hidden_states,
            return_dict,
        )


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes
# ------------------------------------------------------------------------------------------------

XLMRobertaModel = CamembertModel = Data2VecTextModel = RobertaModel
XLMRobertaForMaskedLM = CamembertForMaskedLM = Data2VecTextForMaskedLM = RobertaForMaskedLM
XLMRobertaForSequenceClassification = CamembertForSequenceClassification = Data2VecTextForSequenceClassification = (
    RobertaForSequenceClassification
)
XLMRobertaForTokenClassification = CamembertForTokenClassification = Data2VecTextForTokenClassification = (
    RobertaForTokenClassification
)
XLMRobertaForQuestionAnswering = CamembertForQuestionAnswering = Data2VecTextForQuestionAnswering = (
    RobertaForQuestionAnswering
)
XLMRobertaForMultipleChoice = CamembertForMultipleChoice = Data2VecTextForMultipleChoice = RobertaForMultipleChoice
