"""Wav2Vec2, HuBERT and data2vec-audio: speech encoders that read the raw waveform, one architecture with switches.

A stack of 1-D convolutions turns 16 kHz samples into frames (one every 20 ms with the usual strides, 320
samples), a wide convolution over the frames gives them their positions, and a transformer encoder mixes them.
A CTC head reads one letter distribution per frame (decoded by ``processing.ctc_tokenizer``); a classification
head pools the frames. Module names follow the Hub's state-dict keys (``wav2vec2.encoder.layers.0.attention.
q_proj.weight``), so checkpoints load with no key map but one: the weight norm's ``weight_g`` / ``weight_v`` of
older checkpoints (see ``Wav2Vec2PreTrainedModel``).

    input_values (batch, samples)          raw audio, zero mean and unit variance (the feature extractor's)
      -> feature_extractor: conv_layers, each Conv1d then activation           (batch, conv_dim[-1], frames)
           feat_extract_norm "group": GroupNorm (one group per channel) on the first conv only;
                             "layer": LayerNorm over the channels after every conv (data2vec-audio always)
      -> feature_projection: LayerNorm (-> extract_features), Linear to hidden_size      (batch, frames, hidden)
      -> training: SpecAugment replaces random spans of frames by masked_spec_embed, zeroes feature channels
      -> encoder: padding frames zeroed, x = x + pos_conv_embed(x), then the layers     (batch, frames, hidden)
           post-LN (do_stable_layer_norm False): LayerNorm(x) first, and in each layer
                x = LayerNorm(x + attention(x)); x = LayerNorm(x + feed_forward(x))
           pre-LN  (do_stable_layer_norm True, the large models):
                x = x + attention(LayerNorm(x)); x = x + feed_forward(LayerNorm(x)); LayerNorm(x) at the end
      -> adapter (add_adapter): strided convolutions with GLU that shorten the output      (batch, frames', out)
    heads: ForCTC: dropout, lm_head                                   (batch, frames, vocab): a letter per frame
           ForSequenceClassification: (softmax-weighted sum of all layers,) projector, mean over the real
           frames, classifier                                         (batch, num_labels)

The variants (their config classes set the switches; the model classes are shared, their Hub names are
aliases, and the bare model's attribute, which prefixes checkpoint keys, is the model_type's):

    model_type      checkpoints (for example)                  what changes
    wav2vec2        facebook/wav2vec2-base-960h (group norm),  -
                    facebook/wav2vec2-large-960h-lv60-self (layer norm, pre-LN)
    hubert          facebook/hubert-large-ls960-ft             no extract_features output; the projection's
                                                               LayerNorm optional (feat_proj_layer_norm); a
                                                               BatchNorm instead of the weight norm in the
                                                               position conv (conv_pos_batch_norm); no adapter
    data2vec-audio  facebook/data2vec-audio-base-960h          LayerNorm in every feature conv; positions from
                                                               num_conv_pos_embeddings (5) stacked convs of
                                                               conv_pos_kernel_size (19), each with a LayerNorm
                                                               without parameters; post-LN only

Attention masks: the feature extractors of group-norm checkpoints return none, and those models should get
zero-padded input without one (they were trained so); layer-norm checkpoints take one for padded batches. The
models themselves, as the reference's, use a mask whenever one is given (right padding: ones, then zeros).
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel
from ..outputs import BaseModelOutput, CausalLMOutput, SequenceClassifierOutput, Wav2Vec2BaseModelOutput

# ------------------------------------------------------------------------------------------------
# Configs
# ------------------------------------------------------------------------------------------------


class SpeechEncoderConfig(PretrainedConfig):
    """What every variant's config.json holds: the feature encoder's convolutions, the transformer's sizes, the
    dropouts, SpecAugment's settings and the heads'. The variants' configs subclass it; every model class below
    takes any of them. Defaults: the base models' (facebook/wav2vec2-base-960h and its siblings)."""

    model_type = "wav2vec2"  # the family's key in the registry (models/auto.py); each variant's config has its own

    # The variants' switches, at Wav2Vec2's values. Class attributes, so a config.json does not carry them unless
    # the variant has them as fields (then they become instance attributes).
    feat_extract_norm = "group"  # "group": GroupNorm on the first conv; "layer": LayerNorm on every conv
    do_stable_layer_norm = False  # pre-LN encoder layers and a final LayerNorm (else post-LN)
    apply_spec_augment = True  # training: SpecAugment on the projected frames (with mask_time_prob etc. > 0)
    feat_proj_layer_norm = True  # HuBERT can leave out the LayerNorm before the feature projection
    conv_pos_batch_norm = False  # HuBERT option: BatchNorm before the position conv, no weight norm
    stacked_conv_positions = False  # data2vec-audio: num_conv_pos_embeddings convs of conv_pos_kernel_size
    returns_extract_features = True  # HuBERT's bare model returns no extract_features
    spec_augment_sees_padding = False  # HuBERT draws SpecAugment's time spans over the padded length
    add_adapter = False
    adapter_attn_dim = None

    def __init__(
        self,
        vocab_size: int | None = 32,  # the CTC head's letters (with the blank, which is pad_token_id)
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,  # width of the feed-forward layer inside each block
        hidden_act: str = "gelu",
        hidden_dropout: float = 0.1,
        activation_dropout: float = 0.1,  # inside the feed-forward layer
        attention_dropout: float = 0.1,
        feat_proj_dropout: float = 0.0,  # after the feature projection
        final_dropout: float = 0.1,  # before the CTC head
        layerdrop: float = 0.1,  # training: each encoder layer is skipped with this probability
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-5,
        feat_extract_activation: str = "gelu",
        conv_dim: tuple[int, ...] = (512, 512, 512, 512, 512, 512, 512),  # channels of each feature conv
        conv_stride: tuple[int, ...] = (5, 2, 2, 2, 2, 2, 2),  # their product: samples per frame (320: 20 ms)
        conv_kernel: tuple[int, ...] = (10, 3, 3, 3, 3, 2, 2),
        conv_bias: bool = False,
        num_conv_pos_embeddings: int = 128,  # the position conv's kernel (data2vec-audio: how many convs)
        num_conv_pos_embedding_groups: int = 16,
        mask_time_prob: float = 0.05,  # SpecAugment: about this fraction of the frames is masked in spans of
        mask_time_length: int = 10,  # mask_time_length frames,
        mask_time_min_masks: int = 2,  # at least this many spans
        mask_feature_prob: float = 0.0,  # the same over the hidden channels (zeroed)
        mask_feature_length: int = 10,
        mask_feature_min_masks: int = 0,
        ctc_loss_reduction: str = "sum",  # "sum" or "mean" (each row's loss divided by its target length)
        ctc_zero_infinity: bool = False,  # zero the loss of targets too long for their frames
        use_weighted_layer_sum: bool = False,  # sequence classification: a learned mix of all the layers
        classifier_proj_size: int = 256,
        pad_token_id: int | None = 0,  # also the CTC blank
        bos_token_id: int | None = 1,
        eos_token_id: int | None = 2,
        **kwargs,
    ):
        kwargs.pop("num_feat_extract_layers", None)  # written by the reference; always len(conv_dim)
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.hidden_act = hidden_act
        self.hidden_dropout = hidden_dropout
        self.activation_dropout = activation_dropout
        self.attention_dropout = attention_dropout
        self.feat_proj_dropout = feat_proj_dropout
        self.final_dropout = final_dropout
        self.layerdrop = layerdrop
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.feat_extract_activation = feat_extract_activation
        self.conv_dim, self.conv_stride, self.conv_kernel = list(conv_dim), list(conv_stride), list(conv_kernel)
        self.num_feat_extract_layers = len(self.conv_dim)
        self.conv_bias = conv_bias
        self.num_conv_pos_embeddings = num_conv_pos_embeddings
        self.num_conv_pos_embedding_groups = num_conv_pos_embedding_groups
        self.mask_time_prob = mask_time_prob
        self.mask_time_length = mask_time_length
        self.mask_time_min_masks = mask_time_min_masks
        self.mask_feature_prob = mask_feature_prob
        self.mask_feature_length = mask_feature_length
        self.mask_feature_min_masks = mask_feature_min_masks
        self.ctc_loss_reduction = ctc_loss_reduction
        self.ctc_zero_infinity = ctc_zero_infinity
        self.use_weighted_layer_sum = use_weighted_layer_sum
        self.classifier_proj_size = classifier_proj_size
        if not len(self.conv_dim) == len(self.conv_stride) == len(self.conv_kernel):
            raise ValueError(
                f"conv_dim, conv_stride and conv_kernel describe one conv each and must have the same length; got "
                f"{len(self.conv_dim)}, {len(self.conv_stride)} and {len(self.conv_kernel)}."
            )
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )

    @property
    def inputs_to_logits_ratio(self) -> int:
        """Samples per frame: the product of the convolutions' strides (320 for the base models)."""
        return math.prod(self.conv_stride)


class Wav2Vec2Config(SpeechEncoderConfig):
    """wav2vec 2.0 (Baevski et al. 2020) and the checkpoints trained with it (XLS-R, MMS, ...)."""

    model_type = "wav2vec2"

    def __init__(
        self,
        feat_extract_norm: str = "group",
        do_stable_layer_norm: bool = False,
        apply_spec_augment: bool = True,
        add_adapter: bool = False,  # strided convs after the encoder (to feed a text decoder)
        adapter_kernel_size: int = 3,
        adapter_stride: int = 2,
        num_adapter_layers: int = 3,
        output_hidden_size: int | None = None,  # the adapter's width (None: hidden_size)
        adapter_attn_dim: int | None = None,  # MMS's per-language attention adapters (not implemented here)
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.feat_extract_norm = feat_extract_norm
        self.do_stable_layer_norm = do_stable_layer_norm
        self.apply_spec_augment = apply_spec_augment
        self.add_adapter = add_adapter
        self.adapter_kernel_size = adapter_kernel_size
        self.adapter_stride = adapter_stride
        self.num_adapter_layers = num_adapter_layers
        self.output_hidden_size = output_hidden_size or self.hidden_size
        self.adapter_attn_dim = adapter_attn_dim


class HubertConfig(SpeechEncoderConfig):
    """HuBERT (Hsu et al. 2021): wav2vec 2.0's architecture, pre-trained to predict clustered units."""

    model_type = "hubert"
    returns_extract_features = False
    spec_augment_sees_padding = True

    def __init__(
        self,
        feat_extract_norm: str = "group",
        do_stable_layer_norm: bool = False,
        apply_spec_augment: bool = True,
        feat_proj_layer_norm: bool = True,
        conv_pos_batch_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.feat_extract_norm = feat_extract_norm
        self.do_stable_layer_norm = do_stable_layer_norm
        self.apply_spec_augment = apply_spec_augment
        self.feat_proj_layer_norm = feat_proj_layer_norm
        self.conv_pos_batch_norm = conv_pos_batch_norm


class Data2VecAudioConfig(SpeechEncoderConfig):
    """data2vec-audio (Baevski et al. 2022): trained by self-distillation; layer-norm feature convs, stacked
    position convs, post-LN."""

    model_type = "data2vec-audio"
    feat_extract_norm = "layer"
    stacked_conv_positions = True

    def __init__(
        self,
        num_conv_pos_embeddings: int = 5,  # how many position convs
        conv_pos_kernel_size: int = 19,
        add_adapter: bool = False,
        adapter_kernel_size: int = 3,
        adapter_stride: int = 2,
        num_adapter_layers: int = 3,
        output_hidden_size: int | None = None,
        **kwargs,
    ):
        super().__init__(num_conv_pos_embeddings=num_conv_pos_embeddings, **kwargs)
        self.conv_pos_kernel_size = conv_pos_kernel_size
        self.add_adapter = add_adapter
        self.adapter_kernel_size = adapter_kernel_size
        self.adapter_stride = adapter_stride
        self.num_adapter_layers = num_adapter_layers
        self.output_hidden_size = output_hidden_size or self.hidden_size


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
# Three convs of stride 4: one frame per 64 samples, so one second of 16 kHz audio gives 248 frames.
_TINY = dict(
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    conv_dim=(32, 32, 32),
    conv_stride=(4, 4, 4),
    conv_kernel=(8, 8, 8),
    num_conv_pos_embeddings=16,
    num_conv_pos_embedding_groups=2,
    mask_time_length=2,
)
TINY_PRESETS = {
    "wav2vec2-tiny-random": dict(model_type="wav2vec2", **_TINY),
    "wav2vec2-stable-tiny-random": dict(
        model_type="wav2vec2", **_TINY, feat_extract_norm="layer", do_stable_layer_norm=True
    ),
    "hubert-tiny-random": dict(model_type="hubert", **_TINY),
    "data2vec-audio-tiny-random": dict(
        model_type="data2vec-audio", **{**_TINY, "num_conv_pos_embeddings": 2}, conv_pos_kernel_size=5
    ),
}


# ------------------------------------------------------------------------------------------------
# The feature encoder: raw samples -> frames
# ------------------------------------------------------------------------------------------------


class Wav2Vec2ConvLayer(GradientCheckpointingLayer):
    """One convolution of the feature encoder, then its norm (if any) and the activation.

    norm "group": GroupNorm with one group per channel (each channel normalised over time, over the whole padded
    input: why group-norm models want no padding); "layer": LayerNorm over the channels of each frame; None."""

    def __init__(self, config: SpeechEncoderConfig, index: int, norm: str | None):
        super().__init__()
        in_channels = config.conv_dim[index - 1] if index > 0 else 1
        channels = config.conv_dim[index]
        self.conv = nn.Conv1d(
            in_channels,
            channels,
            kernel_size=config.conv_kernel[index],
            stride=config.conv_stride[index],
            bias=config.conv_bias,
        )
        self.norm = norm
        if norm == "group":
            self.layer_norm = nn.GroupNorm(num_groups=channels, num_channels=channels, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(channels, elementwise_affine=True)
        self.activation = layers.activation(config.feat_extract_activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(hidden)  # (batch, channels, time / stride)
        if self.norm == "group":
            hidden = self.layer_norm(hidden)
        elif self.norm == "layer":
            hidden = self.layer_norm(hidden.transpose(1, 2)).transpose(1, 2)  # normalised over the channels
        return self.activation(hidden)


class Wav2Vec2FeatureEncoder(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        norm = config.feat_extract_norm
        if norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm is {norm!r}; it must be 'group' or 'layer'.")
        self.conv_layers = nn.ModuleList(
            Wav2Vec2ConvLayer(config, i, norm if norm == "layer" or i == 0 else None)
            for i in range(len(config.conv_dim))
        )

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        hidden = input_values[:, None]  # (batch, 1, samples): one input channel
        for conv in self.conv_layers:
            hidden = conv(hidden)
        return hidden  # (batch, conv_dim[-1], frames)


class Wav2Vec2FeatureProjection(nn.Module):
    """LayerNorm over the convs' channels, then a Linear to hidden_size. Returns the projection and the normalised
    frames (``extract_features``, which wav2vec 2.0's pre-training quantizes)."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        width = config.conv_dim[-1]
        self.layer_norm = nn.LayerNorm(width, eps=config.layer_norm_eps) if config.feat_proj_layer_norm else None
        self.projection = nn.Linear(width, config.hidden_size)
        self.dropout = nn.Dropout(config.feat_proj_dropout)

    def forward(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        normed = self.layer_norm(frames) if self.layer_norm is not None else frames
        return self.dropout(self.projection(normed)), normed  # (batch, frames, hidden), (batch, frames, conv_dim)


# ------------------------------------------------------------------------------------------------
# Positions: convolutions over the frames
# ------------------------------------------------------------------------------------------------


class Wav2Vec2PositionalConvEmbedding(nn.Module):
    """Relative positions: a grouped convolution over num_conv_pos_embeddings (128) frames, added to the frames.

    Its kernel is weight-normalised (Salimans & Kingma 2016): weight = g * v / ||v||, with one g per kernel
    position (the norm over the other two dims), as torch.nn.utils.parametrizations.weight_norm(dim=2) computes
    it; its parameters are ``conv.parametrizations.weight.original0`` (g) and ``original1`` (v). HuBERT's
    conv_pos_batch_norm puts a BatchNorm before a plain conv instead."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        kernel = config.num_conv_pos_embeddings
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size=kernel,
            padding=kernel // 2,
            groups=config.num_conv_pos_embedding_groups,
        )
        self.batch_norm = nn.BatchNorm1d(config.hidden_size) if config.conv_pos_batch_norm else None
        if self.batch_norm is None:
            self.conv = nn.utils.parametrizations.weight_norm(self.conv, name="weight", dim=2)
        self.drop_last = kernel % 2 == 0  # an even kernel padded by kernel // 2 on each side gives one frame more
        self.activation = layers.activation(config.feat_extract_activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.transpose(1, 2)  # (batch, hidden, frames)
        if self.batch_norm is not None:
            hidden = self.batch_norm(hidden)
        hidden = self.conv(hidden)
        if self.drop_last:
            hidden = hidden[:, :, :-1]
        return self.activation(hidden).transpose(1, 2)  # (batch, frames, hidden)


class Data2VecAudioPositionalConvLayer(nn.Module):
    """data2vec-audio: a grouped conv over conv_pos_kernel_size frames, a LayerNorm over the channels (without
    parameters) and the activation."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        kernel = config.conv_pos_kernel_size
        self.conv = nn.Conv1d(
            config.hidden_size,
            config.hidden_size,
            kernel_size=kernel,
            padding=kernel // 2,
            groups=config.num_conv_pos_embedding_groups,
        )
        self.drop_last = kernel % 2 == 0
        self.layer_norm = nn.LayerNorm(config.hidden_size, elementwise_affine=False)
        self.activation = layers.activation(config.feat_extract_activation)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.conv(hidden)  # (batch, hidden, frames (+ 1))
        if self.drop_last:
            hidden = hidden[:, :, :-1]
        hidden = self.layer_norm(hidden.transpose(1, 2)).transpose(1, 2)
        return self.activation(hidden)  # (batch, hidden, frames)


class Data2VecAudioPositionalConvEmbedding(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        self.layers = nn.ModuleList(
            Data2VecAudioPositionalConvLayer(config) for _ in range(config.num_conv_pos_embeddings)
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = hidden.transpose(1, 2)  # (batch, hidden, frames)
        for layer in self.layers:
            hidden = layer(hidden)
        return hidden.transpose(1, 2)  # (batch, frames, hidden)


# ------------------------------------------------------------------------------------------------
# The transformer encoder
# ------------------------------------------------------------------------------------------------


class Wav2Vec2Attention(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.dropout_prob = config.attention_dropout
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, frames, frames) probabilities on the eager path

    def forward(self, hidden: torch.Tensor, additive_mask, output_attentions: bool):
        q = layers.split_heads(self.q_proj(hidden), self.num_heads)  # (batch, heads, frames, head_dim)
        k = layers.split_heads(self.k_proj(hidden), self.num_heads)
        v = layers.split_heads(self.v_proj(hidden), self.num_heads)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, frames, hidden), (b, h, frames, frames)


class Wav2Vec2FeedForward(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = layers.activation(config.hidden_act)
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        hidden = self.intermediate_dropout(self.intermediate_act_fn(self.intermediate_dense(hidden)))
        return self.output_dropout(self.output_dense(hidden))


class Wav2Vec2EncoderLayer(GradientCheckpointingLayer):
    """Attention and feed-forward, each with a residual; post-LN (the base models) or pre-LN ("stable layer
    norm": the large models, whose deep stacks train more stably with it)."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        self.attention = Wav2Vec2Attention(config)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = Wav2Vec2FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.pre_norm = config.do_stable_layer_norm

    def forward(self, hidden, additive_mask, output_attentions: bool):
        """hidden: (batch, frames, hidden); additive_mask: (batch, 1, 1, frames) or None."""
        if self.pre_norm:
            attended, weights = self.attention(self.layer_norm(hidden), additive_mask, output_attentions)
            hidden = hidden + self.dropout(attended)
            return hidden + self.feed_forward(self.final_layer_norm(hidden)), weights
        attended, weights = self.attention(hidden, additive_mask, output_attentions)
        hidden = self.layer_norm(hidden + self.dropout(attended))
        return self.final_layer_norm(hidden + self.feed_forward(hidden)), weights


class Wav2Vec2Encoder(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        if config.stacked_conv_positions:
            self.pos_conv_embed = Data2VecAudioPositionalConvEmbedding(config)
        else:
            self.pos_conv_embed = Wav2Vec2PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList(Wav2Vec2EncoderLayer(config) for _ in range(config.num_hidden_layers))
        self.pre_norm = config.do_stable_layer_norm
        self.layerdrop = config.layerdrop

    def forward(self, hidden, frame_mask, output_attentions: bool, output_hidden_states: bool):
        """hidden: (batch, frames, hidden); frame_mask: (batch, frames) bool, True at real frames, or None.

        ``hidden_states`` holds the first layer's input and every layer's output; with pre-LN the last of them
        is before the final LayerNorm, which only ``last_hidden_state`` has (as in the current reference)."""
        if frame_mask is not None:
            hidden = hidden.masked_fill(~frame_mask[..., None], 0.0)  # the position conv reads padding as silence
        additive_mask = layers.padding_mask(frame_mask, hidden.dtype)  # (batch, 1, 1, frames) or None
        hidden = hidden + self.pos_conv_embed(hidden)
        if not self.pre_norm:
            hidden = self.layer_norm(hidden)
        hidden = self.dropout(hidden)
        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if self.training and self.layerdrop > 0 and torch.rand([]) < self.layerdrop:
                continue  # LayerDrop (Fan et al. 2019): skip the whole layer
            hidden, weights = layer(hidden, additive_mask, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attentions += (weights,)
        if self.pre_norm:
            hidden = self.layer_norm(hidden)
        return hidden, all_hidden, all_attentions


class Wav2Vec2AdapterLayer(nn.Module):
    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        width = config.output_hidden_size
        self.conv = nn.Conv1d(width, 2 * width, config.adapter_kernel_size, stride=config.adapter_stride, padding=1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.glu(self.conv(hidden), dim=1)  # (batch, width, frames / stride): half the channels gate the other


class Wav2Vec2Adapter(nn.Module):
    """add_adapter: (a projection to output_hidden_size, then) num_adapter_layers strided convolutions that shorten
    the encoder's output, for a text decoder to read (SpeechEncoderDecoder checkpoints)."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__()
        projects = config.output_hidden_size != config.hidden_size
        self.proj = nn.Linear(config.hidden_size, config.output_hidden_size) if projects else None
        self.proj_layer_norm = nn.LayerNorm(config.output_hidden_size) if projects else None
        self.layers = nn.ModuleList(Wav2Vec2AdapterLayer(config) for _ in range(config.num_adapter_layers))
        self.layerdrop = config.layerdrop

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.proj is not None:
            hidden = self.proj_layer_norm(self.proj(hidden))
        hidden = hidden.transpose(1, 2)  # (batch, width, frames)
        for layer in self.layers:
            if not self.training or torch.rand([]) > self.layerdrop:
                hidden = layer(hidden)
        return hidden.transpose(1, 2)  # (batch, fewer frames, width)


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


def check_input_values(input_values, model_name: str) -> None:
    """A speech encoder's input: a floating point (batch, samples) tensor, as the feature extractor makes it."""
    if input_values is None:
        raise ValueError(f"{model_name} needs input_values: run the audio through the model's feature extractor.")
    if not isinstance(input_values, torch.Tensor):
        raise TypeError(
            f"{model_name} takes input_values as a torch.Tensor, got {type(input_values).__name__}; "
            "call the feature extractor with return_tensors='pt'."
        )
    if input_values.dim() != 2:
        hint = " A single clip needs a batch dimension: input_values[None]." if input_values.dim() == 1 else ""
        raise ValueError(f"input_values must be (batch, samples), got shape {tuple(input_values.shape)}.{hint}")
    if not input_values.is_floating_point():
        raise TypeError(
            f"input_values must be floating point samples, got {input_values.dtype}; run the audio through the "
            "feature extractor (it normalises to zero mean and unit variance)."
        )
    if input_values.numel() == 0:
        raise ValueError(f"{model_name} got empty input_values (shape {tuple(input_values.shape)}).")


class Wav2Vec2PreTrainedModel(PreTrainedModel):
    config_class = SpeechEncoderConfig
    base_model_prefix = "wav2vec2"
    main_input_name = "input_values"
    # Checkpoint names -> ours. Most checkpoints on the Hub were saved before PyTorch's parametrizations and name
    # the position conv's weight norm weight_g and weight_v; the current reference, like this module, names them
    # as torch.nn.utils.parametrizations does (and writes them so).
    legacy_keys = {
        r"\.conv\.weight_g$": ".conv.parametrizations.weight.original0",
        r"\.conv\.weight_v$": ".conv.parametrizations.weight.original1",
    }

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__(config)
        self.base_model_prefix = config.model_type.replace("-", "_")  # wav2vec2, hubert, data2vec_audio

    def _checkpoint_to_model_key(self, key: str, model_keys) -> str:
        for old, new in self.legacy_keys.items():
            key = re.sub(old, new, key)
        return super()._checkpoint_to_model_key(key, model_keys)

    def _init_weights(self, module: nn.Module) -> None:
        """The reference's scheme: Kaiming-normal convs, the position conv normal with std 2 / sqrt(kernel *
        channels) (set through its weight norm), the feature projection uniform in +-1 / sqrt(fan_in),
        SpecAugment's mask vector uniform in [0, 1), the layer mix even; BERT's elsewhere."""
        if isinstance(module, Wav2Vec2PositionalConvEmbedding) and module.batch_norm is None:
            conv = module.conv
            std = 2 * math.sqrt(1 / (conv.kernel_size[0] * conv.in_channels))
            conv.weight = torch.randn_like(conv.parametrizations.weight.original1) * std  # sets g and v
            nn.init.zeros_(conv.bias)
        elif isinstance(module, Wav2Vec2FeatureProjection):
            bound = 1 / math.sqrt(module.projection.in_features)
            nn.init.uniform_(module.projection.weight, -bound, bound)
            nn.init.uniform_(module.projection.bias, -bound, bound)
        elif isinstance(module, nn.Conv1d) and not nn.utils.parametrize.is_parametrized(module):
            nn.init.kaiming_normal_(module.weight)
            if module.bias is not None:
                bound = math.sqrt(module.groups / (module.in_channels * module.kernel_size[0]))
                nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, (nn.GroupNorm, nn.BatchNorm1d)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, Wav2Vec2Model) and module.masked_spec_embed is not None:
            nn.init.uniform_(module.masked_spec_embed)
        elif isinstance(module, Wav2Vec2ForSequenceClassification) and module.layer_weights is not None:
            nn.init.constant_(module.layer_weights, 1 / module.layer_weights.numel())
        else:
            layers.init_weights(module, self.config.initializer_range)

    def _get_feat_extract_output_lengths(self, input_lengths, add_adapter: bool | None = None):
        """Samples -> frames (an int or a tensor of lengths): floor((length - kernel) / stride) + 1 per conv; with
        the adapter (``add_adapter``, default: the config's), floor((length - 1) / adapter_stride) + 1 per layer."""
        config = self.config
        for kernel, stride in zip(config.conv_kernel, config.conv_stride):
            input_lengths = torch.div(input_lengths - kernel, stride, rounding_mode="floor") + 1
        if config.add_adapter if add_adapter is None else add_adapter:
            for _ in range(config.num_adapter_layers):
                input_lengths = torch.div(input_lengths - 1, config.adapter_stride, rounding_mode="floor") + 1
        return input_lengths

    def _get_feature_vector_attention_mask(self, feature_vector_length: int, attention_mask, add_adapter=None):
        """A right-padded mask over samples (batch, samples) -> one over frames (batch, frames) bool: True at the
        first n frames of each row, n the convs' output length of its real length."""
        lengths = self._get_feat_extract_output_lengths(attention_mask.sum(-1), add_adapter).to(torch.long)
        frames = torch.arange(feature_vector_length, device=attention_mask.device)
        return frames[None, :] < lengths[:, None]  # (batch, frames)

    def minimum_samples(self) -> int:
        """The fewest samples the feature encoder turns into one frame (its receptive field: 400, 25 ms at 16 kHz,
        for the base models)."""
        samples, step = 1, 1
        for kernel, stride in zip(self.config.conv_kernel, self.config.conv_stride):
            samples += (kernel - 1) * step
            step *= stride
        return samples

    def check_lengths(self, input_values: torch.Tensor, attention_mask: torch.Tensor | None) -> None:
        """Every clip (its real part, under attention_mask) must be long enough for one frame."""
        needed = self.minimum_samples()
        lengths = attention_mask.sum(-1).tolist() if attention_mask is not None else [input_values.shape[-1]]
        for row, length in enumerate(lengths):
            if length < needed:
                where = f"row {row} of the batch has" if attention_mask is not None else "the input has"
                raise ValueError(
                    f"{type(self).__name__}: {where} {length} samples, fewer than the {needed} its feature encoder "
                    f"needs for one frame (at 16 kHz, {1000 * needed / 16000:g} ms). Pass longer audio, or pad it "
                    "with zeros (silence)."
                )

    def freeze_feature_encoder(self) -> None:
        """Stop training the convolutional feature encoder (the usual recipe for CTC fine-tuning)."""
        self.base_model.feature_extractor.requires_grad_(False)

    def freeze_base_model(self) -> None:
        """Train the head only."""
        self.base_model.requires_grad_(False)


class Wav2Vec2Model(Wav2Vec2PreTrainedModel):
    """Feature encoder + projection + transformer encoder (+ adapter). Returns ``last_hidden_state`` (batch,
    frames, hidden) and (but HuBERT) ``extract_features`` (batch, frames, conv_dim[-1])."""

    def __init__(self, config: SpeechEncoderConfig):
        if config.adapter_attn_dim is not None:
            raise NotImplementedError(
                f"This {config.model_type} config has adapter_attn_dim={config.adapter_attn_dim}: per-language "
                "attention adapters (MMS, e.g. facebook/mms-1b-all), which workbench does not implement."
            )
        super().__init__(config)
        self.feature_extractor = Wav2Vec2FeatureEncoder(config)
        self.feature_projection = Wav2Vec2FeatureProjection(config)
        self.masked_spec_embed = None  # SpecAugment's replacement for masked frames, when the config masks any
        if config.mask_time_prob > 0.0 or config.mask_feature_prob > 0.0:
            self.masked_spec_embed = nn.Parameter(torch.rand(config.hidden_size))
        self.encoder = Wav2Vec2Encoder(config)
        self.adapter = Wav2Vec2Adapter(config) if config.add_adapter else None
        self.post_init()

    def spec_augment(self, hidden, mask_time_indices, frame_mask) -> torch.Tensor:
        """SpecAugment (Park et al. 2019) on the projected frames (batch, frames, hidden): while training, random
        spans of frames become ``masked_spec_embed`` and random spans of channels zeros; ``mask_time_indices``
        (batch, frames) chooses the frames itself, in any mode (wav2vec 2.0's pre-training)."""
        if not self.config.apply_spec_augment:
            return hidden
        batch, frames, width = hidden.shape
        config = self.config
        if mask_time_indices is None and config.mask_time_prob > 0 and self.training:
            mask_time_indices = layers.random_span_mask(
                (batch, frames),
                config.mask_time_prob,
                config.mask_time_length,
                None if config.spec_augment_sees_padding else frame_mask,
                config.mask_time_min_masks,
            )
        if mask_time_indices is not None:
            if self.masked_spec_embed is None:
                raise ValueError(
                    "mask_time_indices needs masked_spec_embed, which this model has not: its config has "
                    "mask_time_prob=0 and mask_feature_prob=0. Set mask_time_prob > 0 when building it."
                )
            masked = mask_time_indices.to(device=hidden.device, dtype=torch.bool)[..., None]  # (batch, frames, 1)
            hidden = torch.where(masked, self.masked_spec_embed.to(hidden.dtype), hidden)
        if config.mask_feature_prob > 0 and self.training:
            channels = layers.random_span_mask(
                (batch, width),
                config.mask_feature_prob,
                config.mask_feature_length,
                None,
                config.mask_feature_min_masks,
            )  # (batch, hidden): the same channels in every frame
            hidden = hidden.masked_fill(channels.to(hidden.device)[:, None, :], 0.0)
        return hidden

    def forward(
        self,
        input_values: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        mask_time_indices: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        """input_values: (batch, samples), the feature extractor's. attention_mask: (batch, samples), 1 at real
        samples then 0 (right padding; see the module docstring for which models want one)."""
        check_input_values(input_values, type(self).__name__)
        self.check_lengths(input_values, attention_mask)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        input_values = input_values.to(self.dtype)  # float64 from numpy, say: the weights' dtype
        frames = self.feature_extractor(input_values).transpose(1, 2)  # (batch, frames, conv_dim[-1])
        frame_mask = None
        if attention_mask is not None:
            frame_mask = self._get_feature_vector_attention_mask(frames.shape[1], attention_mask, add_adapter=False)
        hidden, extract_features = self.feature_projection(frames)  # (batch, frames, hidden)
        hidden = self.spec_augment(hidden, mask_time_indices, frame_mask)
        hidden, all_hidden, all_attentions = self.encoder(hidden, frame_mask, output_attentions, output_hidden_states)
        if self.adapter is not None:
            hidden = self.adapter(hidden)
        if self.config.returns_extract_features:
            out = Wav2Vec2BaseModelOutput(
                last_hidden_state=hidden,
                extract_features=extract_features,
                hidden_states=all_hidden,
                attentions=all_attentions,
            )
        else:
            out = BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class Wav2Vec2TaskModel(Wav2Vec2PreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.wav2vec2`` (``self.hubert``, ``self.data2vec_audio``)."""

    def __init__(self, config: SpeechEncoderConfig):
        super().__init__(config)
        self.add_module(self.base_model_prefix, Wav2Vec2Model(config))


class Wav2Vec2ForCTC(Wav2Vec2TaskModel):
    """Connectionist temporal classification (Graves et al. 2006): a letter distribution per frame, blank
    (pad_token_id) included. Decoding takes the best letter of each frame, merges repeats and drops blanks
    (``tokenizer.decode``); ``labels`` (batch, letters, padded with -100) give the CTC loss."""

    def __init__(self, config: SpeechEncoderConfig, target_lang: str | None = None):
        if target_lang is not None:
            raise NotImplementedError(
                f"target_lang={target_lang!r} loads an MMS language adapter, which workbench does not implement."
            )
        if config.vocab_size is None:
            raise ValueError(
                "The config has no vocab_size, the number of letters of the CTC head: pass "
                "Wav2Vec2ForCTC.from_pretrained(..., vocab_size=len(tokenizer))."
            )
        super().__init__(config)
        self.dropout = nn.Dropout(config.final_dropout)
        width = config.output_hidden_size if config.add_adapter else config.hidden_size
        self.lm_head = nn.Linear(width, config.vocab_size)
        self.post_init()

    def forward(
        self,
        input_values=None,
        attention_mask=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        config = self.config
        if labels is not None and labels.max() >= config.vocab_size:
            raise ValueError(
                f"labels hold the id {int(labels.max())}, but the CTC head has vocab_size={config.vocab_size} "
                "letters; tokenize the transcripts with the model's tokenizer."
            )
        base = self.run_base(
            input_values=input_values,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.lm_head(self.dropout(base.last_hidden_state))  # (batch, frames, vocab)
        loss = None
        if labels is not None:
            if config.pad_token_id is None:
                raise ValueError("The CTC loss needs the blank's id, config.pad_token_id, which is not set.")
            if attention_mask is not None:
                samples = attention_mask.sum(-1)  # (batch,) real samples
            else:
                samples = torch.full((len(logits),), input_values.shape[-1], device=logits.device)
            frame_lengths = self._get_feat_extract_output_lengths(samples).to(torch.long)  # (batch,)
            loss = layers.ctc_loss(
                logits,
                labels,
                frame_lengths,
                config.pad_token_id,
                reduction=config.ctc_loss_reduction,
                zero_infinity=config.ctc_zero_infinity,
            )
        return self.finish(CausalLMOutput, base, return_dict, loss=loss, logits=logits)


class Wav2Vec2ForSequenceClassification(Wav2Vec2TaskModel):
    """One label per clip (keyword spotting, speaker or emotion recognition): the frames (or, with
    use_weighted_layer_sum, a learned mix of every layer's frames) are projected to classifier_proj_size,
    averaged over the real frames, and classified. The loss is cross-entropy, as in the reference."""

    def __init__(self, config: SpeechEncoderConfig):
        if config.add_adapter:
            raise ValueError("Sequence classification does not take an adapter: build it with add_adapter=False.")
        super().__init__(config)
        self.layer_weights = None
        if config.use_weighted_layer_sum:
            states = config.num_hidden_layers + 1  # the first layer's input and every layer's output
            self.layer_weights = nn.Parameter(torch.full((states,), 1 / states))
        self.projector = nn.Linear(config.hidden_size, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_values=None,
        attention_mask=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        wants_hidden = self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        weighted = self.layer_weights is not None
        base = self.run_base(
            input_values=input_values,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=wants_hidden or weighted,
        )
        if weighted:
            hidden = layers.weighted_layer_sum(base.hidden_states, self.layer_weights)  # (batch, frames, hidden)
        else:
            hidden = base.last_hidden_state
        hidden = self.projector(hidden)  # (batch, frames, classifier_proj_size)
        if attention_mask is None:
            pooled = hidden.mean(dim=1)
        else:
            real = self._get_feature_vector_attention_mask(hidden.shape[1], attention_mask)[..., None]  # (b, frames, 1)
            pooled = hidden.masked_fill(~real, 0.0).sum(dim=1) / real.sum(dim=1)  # mean over the real frames
        logits = self.classifier(pooled)  # (batch, num_labels)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.view(-1, self.config.num_labels), labels.view(-1))
        out = SequenceClassifierOutput(
            loss=loss,
            logits=logits,
            hidden_states=base.hidden_states if wants_hidden else None,
            attentions=base.attentions,
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes
# ------------------------------------------------------------------------------------------------

HubertModel = Data2VecAudioModel = Wav2Vec2Model
HubertForCTC = Data2VecAudioForCTC = Wav2Vec2ForCTC
HubertForSequenceClassification = Data2VecAudioForSequenceClassification = Wav2Vec2ForSequenceClassification
