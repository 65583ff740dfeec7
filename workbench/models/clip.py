"""CLIP and SigLIP: an image tower and a text tower trained so that a photo and its caption land close together.

Two transformer encoders, one for pixels and one for tokens, each summed up in one vector; both vectors are
normalised and their dot product, times a learned temperature, says how well a text describes an image. Zero-shot
classification is that score for "a photo of a {label}" against every label. Module names follow the Hub's
state-dict keys (``text_model.encoder.layers.0.self_attn.q_proj.weight``), so checkpoints load with no key map.

    input_ids (texts, seq)                              pixel_values (images, channels, height, width)
      -> token + position embeddings                      -> patch conv (kernel = stride = patch_size)
                                                             CLIP: [CLS] in front; + position table
                                                             CLIP: pre_layrnorm (sic: the Hub's spelling)
      -> encoder: num_hidden_layers x pre-norm block      -> encoder: the same blocks, no mask
           x = x + attention(layer_norm1(x))                   (texts: CLIP masks causally, SigLIP does not)
           x = x + mlp(layer_norm2(x))       quick_gelu (CLIP), tanh-GELU (SigLIP)
      -> final_layer_norm                                 -> CLIP: post_layernorm([CLS])
      -> pooled: CLIP the first EOS token                    SigLIP: post_layernorm(all), then a learned
                 SigLIP the last position, then `head`      probe attends over the patches (attention pooling)
      -> CLIP: text_projection (no bias)                  -> CLIP: visual_projection (no bias)
                   \\                                          /
                    text_embeds / |text_embeds|,   image_embeds / |image_embeds|
                    logits_per_text = exp(logit_scale) * text_embeds @ image_embeds.T  (+ logit_bias: SigLIP)
                    logits_per_image = logits_per_text.T
                    CLIP: softmax over the labels of an image; SigLIP: sigmoid of each pair on its own

The variants (their config classes set the switches; the model classes are shared, SigLIP's Hub names are
aliases):

    model_type   checkpoints (for example)          what changes
    clip         openai/clip-vit-base-patch32       -
    siglip       google/siglip-base-patch16-224     no causal mask; pooled text = the last position through a
                                                    linear `head`; patch conv with a bias, no [CLS], no
                                                    pre-norm; the image's vector = attention pooling
                                                    (nn.MultiheadAttention's weights); no projections; a
                                                    sigmoid loss with a learned logit_bias

``logit_scale`` is stored as a log: the similarities are multiplied by exp(logit_scale), one over the softmax's
temperature (CLIP starts at log(1 / 0.07) = 2.6592; its training caps the factor at 100).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs
from ..outputs import BaseModelOutputWithPooling, CLIPOutput, ImageClassifierOutput, ModelOutput

# ------------------------------------------------------------------------------------------------
# Configs: one per tower, and one holding both
# ------------------------------------------------------------------------------------------------


class _TowerConfig(PretrainedConfig):
    """What both towers' config.json hold: the transformer's sizes."""

    def __init__(
        self,
        hidden_size: int,
        intermediate_size: int,  # width of the MLP inside each block
        num_hidden_layers: int,
        num_attention_heads: int,  # hidden_size is split evenly across heads
        hidden_act: str,
        layer_norm_eps: float,
        attention_dropout: float = 0.0,
        initializer_range: float = 0.02,
        initializer_factor: float = 1.0,  # scales every initial std (the reference's testing knob)
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.layer_norm_eps = layer_norm_eps
        self.attention_dropout = attention_dropout
        self.initializer_range = initializer_range
        self.initializer_factor = initializer_factor
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )

    @classmethod
    def from_dict(cls, config_dict: dict, **overrides):
        """A tower's config, also from the config.json of a whole CLIP/SigLIP checkpoint (its text_config or
        vision_config), so that ``CLIPVisionModel.from_pretrained("openai/clip-vit-base-patch32")`` works. The
        whole config's model_type picks the tower's class (SigLIP's towers run on CLIP's model classes)."""
        if cls.tower_key in config_dict:
            from .auto import MODEL_TYPES, config_class_for

            model_type = config_dict.get("model_type")
            if model_type in MODEL_TYPES:
                cls = getattr(config_class_for(model_type), f"{cls.tower_key}_class", cls)
            config_dict = config_dict[cls.tower_key]
        return super(_TowerConfig, cls).from_dict(config_dict, **overrides)


class CLIPTextConfig(_TowerConfig):
    """CLIP's text tower. Defaults: openai/clip-vit-base-patch32's text_config."""

    model_type = "clip_text_model"
    tower_key = "text_config"
    causal_mask = True  # each token sees only the tokens before it (CLIP); SigLIP's text tower sees all
    pooling = "eos"  # the text's vector: the first EOS token's ("eos", CLIP) or the last position's ("last")
    text_head = False  # SigLIP: a linear `head` (with bias) on the pooled vector

    def __init__(
        self,
        vocab_size: int = 49408,
        hidden_size: int = 512,
        intermediate_size: int = 2048,
        projection_dim: int = 512,  # CLIPTextModelWithProjection's output width
        num_hidden_layers: int = 12,
        num_attention_heads: int = 8,
        max_position_embeddings: int = 77,  # CLIP's context: 77 tokens, start and end included
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        pad_token_id: int | None = 1,
        bos_token_id: int | None = 49406,
        eos_token_id: int | None = 49407,
        **kwargs,
    ):
        super().__init__(
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps,
            pad_token_id=pad_token_id,
            bos_token_id=bos_token_id,
            eos_token_id=eos_token_id,
            **kwargs,
        )
        self.vocab_size = vocab_size
        self.projection_dim = projection_dim
        self.max_position_embeddings = max_position_embeddings


class CLIPVisionConfig(_TowerConfig):
    """CLIP's image tower, a ViT. Defaults: openai/clip-vit-base-patch32's vision_config."""

    model_type = "clip_vision_model"
    tower_key = "vision_config"
    class_token = True  # a learned [CLS] vector in front of the patches, pooled (CLIP); SigLIP has none
    pre_layernorm = True  # a LayerNorm on the embeddings before the first block (CLIP)
    patch_bias = False  # the patch convolution's bias (SigLIP has one)

    def __init__(
        self,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        projection_dim: int = 512,  # CLIPVisionModelWithProjection's output width
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        num_channels: int = 3,
        image_size: int = 224,  # the size the position table was trained for (square)
        patch_size: int = 32,  # each token is a patch_size x patch_size square of pixels
        hidden_act: str = "quick_gelu",
        layer_norm_eps: float = 1e-5,
        **kwargs,
    ):
        super().__init__(
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps,
            **kwargs,
        )
        self.projection_dim = projection_dim
        self.num_channels = num_channels
        self.image_size = image_size
        self.patch_size = patch_size

    @property
    def attention_pooling(self) -> bool:
        """SigLIP's image vector: a learned probe attending over the patches (CLIP: the [CLS] token)."""
        return getattr(self, "vision_use_head", False)


class CLIPConfig(PretrainedConfig):
    """Both towers (``text_config``, ``vision_config``: dicts in config.json) and how their vectors meet.
    Defaults: openai/clip-vit-base-patch32's config.json."""

    model_type = "clip"
    text_config_class = CLIPTextConfig
    vision_config_class = CLIPVisionConfig
    projections = True  # bias-free linear maps of both towers' vectors into one space (CLIP)
    sigmoid_logits = False  # SigLIP: each (text, image) pair scored by a sigmoid, with a learned logit_bias

    def __init__(
        self,
        text_config: dict | CLIPTextConfig | None = None,
        vision_config: dict | CLIPVisionConfig | None = None,
        projection_dim: int = 512,  # the shared space's width
        logit_scale_init_value: float = 2.6592,  # log(1 / 0.07): the temperature CLIP starts from
        initializer_factor: float = 1.0,
        **kwargs,
    ):
        # the first CLIP configs on the Hub named them text_config_dict and vision_config_dict
        text_config = text_config or kwargs.pop("text_config_dict", None)
        vision_config = vision_config or kwargs.pop("vision_config_dict", None)
        super().__init__(**kwargs)
        self.text_config = self._tower(self.text_config_class, text_config)
        self.vision_config = self._tower(self.vision_config_class, vision_config)
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value
        self.initializer_factor = initializer_factor

    @staticmethod
    def _tower(config_class: type[_TowerConfig], config: dict | _TowerConfig | None) -> _TowerConfig:
        if isinstance(config, PretrainedConfig):
            return config
        return config_class(**(config or {}))

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["text_config"] = self.text_config.to_dict()
        out["vision_config"] = self.vision_config.to_dict()
        return out


class SiglipTextConfig(CLIPTextConfig):
    """SigLIP's text tower (Zhai et al. 2023). Defaults: google/siglip-base-patch16-224's text_config."""

    model_type = "siglip_text_model"
    causal_mask = False
    pooling = "last"  # SigLIP pads every text to max_length, so the last position is always padding's
    text_head = True

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 768,
        intermediate_size: int = 3072,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        max_position_embeddings: int = 64,
        hidden_act: str = "gelu_pytorch_tanh",
        layer_norm_eps: float = 1e-6,
        projection_size: int | None = None,  # the head's output width (None: hidden_size)
        **kwargs,
    ):
        kwargs.pop("projection_dim", None)  # SigLIP's text tower has no separate projection
        super().__init__(
            vocab_size=vocab_size,
            hidden_size=hidden_size,
            intermediate_size=intermediate_size,
            num_hidden_layers=num_hidden_layers,
            num_attention_heads=num_attention_heads,
            max_position_embeddings=max_position_embeddings,
            hidden_act=hidden_act,
            layer_norm_eps=layer_norm_eps,
            **kwargs,
        )
        del self.projection_dim
        self.projection_size = projection_size or hidden_size


class SiglipVisionConfig(CLIPVisionConfig):
    """SigLIP's image tower. Defaults: google/siglip-base-patch16-224's vision_config."""

    model_type = "siglip_vision_model"
    class_token = False
    pre_layernorm = False
    patch_bias = True

    def __init__(
        self,
        patch_size: int = 16,
        hidden_act: str = "gelu_pytorch_tanh",
        layer_norm_eps: float = 1e-6,
        vision_use_head: bool = True,  # attention pooling; False: no pooled output (SigLIP 2's backbones)
        **kwargs,
    ):
        kwargs.pop("projection_dim", None)
        super().__init__(patch_size=patch_size, hidden_act=hidden_act, layer_norm_eps=layer_norm_eps, **kwargs)
        del self.projection_dim
        self.vision_use_head = vision_use_head


class SiglipConfig(CLIPConfig):
    """SigLIP: both towers, no projections, a sigmoid on each pair. Defaults: google/siglip-base-patch16-224."""

    model_type = "siglip"
    text_config_class = SiglipTextConfig
    vision_config_class = SiglipVisionConfig
    projections = False
    sigmoid_logits = True

    def __init__(self, text_config=None, vision_config=None, initializer_factor: float = 1.0, **kwargs):
        PretrainedConfig.__init__(self, **kwargs)
        self.text_config = self._tower(self.text_config_class, text_config)
        self.vision_config = self._tower(self.vision_config_class, vision_config)
        self.initializer_factor = initializer_factor


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
# 32x32 images in 8x8 patches; texts of up to 16 tokens from a 99-token vocabulary (98 is the end of text).
_TINY_TOWER = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
_TINY_TEXT = dict(**_TINY_TOWER, vocab_size=99, max_position_embeddings=16, bos_token_id=97, eos_token_id=98)
_TINY_VISION = dict(**_TINY_TOWER, image_size=32, patch_size=8)
TINY_PRESETS = {
    "clip-tiny-random": dict(model_type="clip", text_config=_TINY_TEXT, vision_config=_TINY_VISION, projection_dim=16),
    "siglip-tiny-random": dict(model_type="siglip", text_config=_TINY_TEXT, vision_config=_TINY_VISION),
}


# ------------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------------


class CLIPTextModelOutput(ModelOutput):
    fields = ("text_embeds", "last_hidden_state", "hidden_states", "attentions")


class CLIPVisionModelOutput(ModelOutput):
    fields = ("image_embeds", "last_hidden_state", "hidden_states", "attentions")


# ------------------------------------------------------------------------------------------------
# Embeddings
# ------------------------------------------------------------------------------------------------


class CLIPTextEmbeddings(nn.Module):
    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.max_position_embeddings, config.hidden_size)

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor | None) -> torch.Tensor:
        if position_ids is None:
            position_ids = torch.arange(input_ids.shape[1], device=input_ids.device)[None]  # (1, seq)
        return self.token_embedding(input_ids) + self.position_embedding(position_ids)  # (batch, seq, hidden)


class CLIPVisionEmbeddings(nn.Module):
    """Patches (a Conv2d with kernel = stride = patch_size, bias-free in CLIP), [CLS] in front (CLIP), plus a
    learned position table (resized bicubically for other image sizes with interpolate_pos_encoding)."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        hidden = config.hidden_size
        self.patch_size = layers.as_pair(config.patch_size)
        self.image_size = layers.as_pair(config.image_size)
        self.patch_embedding = nn.Conv2d(
            config.num_channels, hidden, self.patch_size, stride=self.patch_size, bias=config.patch_bias
        )
        self.class_embedding = nn.Parameter(torch.zeros(hidden)) if config.class_token else None
        self.num_special_tokens = 1 if config.class_token else 0
        self.table_grid = (self.image_size[0] // self.patch_size[0], self.image_size[1] // self.patch_size[1])
        positions = self.num_special_tokens + self.table_grid[0] * self.table_grid[1]
        self.position_embedding = nn.Embedding(positions, hidden)

    def forward(self, pixel_values: torch.Tensor, interpolate_pos_encoding: bool) -> torch.Tensor:
        height, width = pixel_values.shape[-2:]
        if not interpolate_pos_encoding and (height, width) != self.image_size:
            raise ValueError(
                f"Input image size ({height}*{width}) doesn't match the model ({self.image_size[0]}*"
                f"{self.image_size[1]}, config.image_size). Resize the images to it (the image processor does), or "
                "pass interpolate_pos_encoding=True to resize the position table."
            )
        patches = self.patch_embedding(pixel_values)  # (batch, hidden, grid_h, grid_w)
        grid = tuple(patches.shape[-2:])
        embeddings = patches.flatten(2).transpose(1, 2)  # (batch, patches, hidden)
        if self.class_embedding is not None:
            cls = self.class_embedding.expand(len(embeddings), 1, -1)  # (batch, 1, hidden)
            embeddings = torch.cat([cls, embeddings], dim=1)  # (batch, 1 + patches, hidden)
        table = self.position_embedding.weight[None]  # (1, special + table patches, hidden)
        special, patch_table = table[:, : self.num_special_tokens], table[:, self.num_special_tokens :]
        patch_table = layers.resize_position_table(patch_table, self.table_grid, grid)
        return embeddings + torch.cat([special, patch_table], dim=1)


# ------------------------------------------------------------------------------------------------
# The transformer blocks, shared by both towers
# ------------------------------------------------------------------------------------------------


class CLIPAttention(nn.Module):
    def __init__(self, config: _TowerConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.q_proj = nn.Linear(hidden, hidden)
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)
        self.dropout = config.attention_dropout
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(self, hidden, additive_mask, output_attentions: bool):
        q = layers.split_heads(self.q_proj(hidden), self.num_heads)  # (batch, heads, seq, head_dim)
        k = layers.split_heads(self.k_proj(hidden), self.num_heads)
        v = layers.split_heads(self.v_proj(hidden), self.num_heads)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, seq, hidden), (batch, heads, q, k)


class CLIPMLP(nn.Module):
    def __init__(self, config: _TowerConfig):
        super().__init__()
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.activation_fn = layers.activation(config.hidden_act)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.activation_fn(self.fc1(hidden)))


class CLIPEncoderLayer(GradientCheckpointingLayer):
    """Pre-norm block: x + attention(layer_norm1(x)), then x + mlp(layer_norm2(x))."""

    def __init__(self, config: _TowerConfig):
        super().__init__()
        self.self_attn = CLIPAttention(config)
        self.layer_norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)
        self.layer_norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden, additive_mask, output_attentions: bool):
        attended, weights = self.self_attn(self.layer_norm1(hidden), additive_mask, output_attentions)
        hidden = hidden + attended
        return hidden + self.mlp(self.layer_norm2(hidden)), weights


class CLIPEncoder(nn.Module):
    def __init__(self, config: _TowerConfig):
        super().__init__()
        self.layers = nn.ModuleList(CLIPEncoderLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, hidden, additive_mask, output_attentions: bool, output_hidden_states: bool):
        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.layers:
            hidden, weights = block(hidden, additive_mask, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attentions += (weights,)
        return hidden, all_hidden, all_attentions


class SiglipMultiheadAttentionPoolingHead(nn.Module):
    """SigLIP's image vector: one learned query (the probe) attends over all patch tokens (``nn.MultiheadAttention``,
    whose fused ``in_proj_weight`` the checkpoints hold), then a residual MLP block."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        self.probe = nn.Parameter(torch.zeros(1, 1, config.hidden_size))
        self.attention = nn.MultiheadAttention(config.hidden_size, config.num_attention_heads, batch_first=True)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = CLIPMLP(config)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        probe = self.probe.expand(len(hidden), -1, -1)  # (batch, 1, hidden)
        pooled = self.attention(probe, hidden, hidden, need_weights=False)[0]  # (batch, 1, hidden)
        pooled = pooled + self.mlp(self.layernorm(pooled))
        return pooled[:, 0]  # (batch, hidden)


# ------------------------------------------------------------------------------------------------
# The towers
# ------------------------------------------------------------------------------------------------


class CLIPTextTransformer(nn.Module):
    """Tokens -> (batch, seq, hidden) states and one pooled vector per text (``text_model`` in checkpoints)."""

    def __init__(self, config: CLIPTextConfig):
        super().__init__()
        self.config = config
        self.embeddings = CLIPTextEmbeddings(config)
        self.encoder = CLIPEncoder(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.head = nn.Linear(config.hidden_size, config.projection_size) if config.text_head else None

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.token_embedding

    def forward(self, input_ids, attention_mask, position_ids, output_attentions, output_hidden_states):
        config = self.config
        check_inputs(input_ids, None, config.max_position_embeddings, type(self).__name__)
        hidden = self.embeddings(input_ids, position_ids)  # (batch, seq, hidden)
        seq = input_ids.shape[1]
        if config.causal_mask:  # (batch or 1, 1, seq, seq): causal, and no padding keys
            mask = layers.decoder_attention_mask(attention_mask, 0, seq, hidden.dtype, hidden.device)
        else:  # (batch, 1, 1, seq): no padding keys
            mask = layers.padding_mask(attention_mask, hidden.dtype)
        hidden, all_hidden, all_attentions = self.encoder(hidden, mask, output_attentions, output_hidden_states)
        hidden = self.final_layer_norm(hidden)
        rows = torch.arange(len(hidden), device=hidden.device)
        pooled = hidden[rows, self.pooled_positions(input_ids)]  # (batch, hidden)
        if self.head is not None:
            pooled = self.head(pooled)
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )

    def pooled_positions(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(batch,) the position whose state sums up each text: SigLIP's last; CLIP's first end-of-text token
        (the largest id, argmax, for old configs whose eos_token_id is still the placeholder 2, as the reference)."""
        if self.config.pooling == "last":
            return torch.full((len(input_ids),), input_ids.shape[1] - 1, device=input_ids.device)
        eos = self.config.eos_token_id
        if eos == 2:
            return input_ids.argmax(dim=-1)
        is_eos = input_ids == eos  # (batch, seq)
        if not bool(is_eos.any(dim=-1).all()):
            raise ValueError(
                f"CLIP's text vector is read at the end-of-text token (id {eos}), and some rows of input_ids have "
                "none. Encode the texts with the model's tokenizer, which ends every text with it (also when it "
                "truncates)."
            )
        return is_eos.int().argmax(dim=-1)


class CLIPVisionTransformer(nn.Module):
    """Pixels -> (batch, tokens, hidden) states and one pooled vector per image (``vision_model`` in checkpoints)."""

    def __init__(self, config: CLIPVisionConfig):
        super().__init__()
        self.config = config
        self.embeddings = CLIPVisionEmbeddings(config)
        hidden, eps = config.hidden_size, config.layer_norm_eps
        self.pre_layrnorm = nn.LayerNorm(hidden, eps=eps) if config.pre_layernorm else None  # the Hub's spelling
        self.encoder = CLIPEncoder(config)
        self.post_layernorm = nn.LayerNorm(hidden, eps=eps)
        self.head = SiglipMultiheadAttentionPoolingHead(config) if config.attention_pooling else None

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embedding

    def forward(self, pixel_values, interpolate_pos_encoding, output_attentions, output_hidden_states):
        config = self.config
        layers.check_pixel_values(pixel_values, config.num_channels, type(self).__name__)
        pixel_values = pixel_values.to(self.embeddings.patch_embedding.weight.dtype)
        hidden = self.embeddings(pixel_values, bool(interpolate_pos_encoding))  # (batch, tokens, hidden)
        if self.pre_layrnorm is not None:
            hidden = self.pre_layrnorm(hidden)
        hidden, all_hidden, all_attentions = self.encoder(hidden, None, output_attentions, output_hidden_states)
        if config.class_token:  # CLIP: the states stay as the encoder left them; [CLS], normalised, is the vector
            pooled = self.post_layernorm(hidden[:, 0])  # (batch, hidden)
        else:  # SigLIP: every state normalised; the probe pools them (or no vector without the head)
            hidden = self.post_layernorm(hidden)
            pooled = self.head(hidden) if self.head is not None else None
        return BaseModelOutputWithPooling(
            last_hidden_state=hidden, pooler_output=pooled, hidden_states=all_hidden, attentions=all_attentions
        )


# ------------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------------


class CLIPPreTrainedModel(PreTrainedModel):
    config_class = CLIPConfig
    base_model_prefix = "clip"

    def _init_weights(self, module: nn.Module) -> None:
        """Normal(0, initializer_range * initializer_factor) weights, zero biases, LayerNorms at identity; [CLS]
        and SigLIP's probe normal(0, hidden^-0.5); the temperature at logit_scale_init_value (SigLIP: the paper's
        log(10), with logit_bias -10)."""
        config = self.config
        tower = getattr(config, "text_config", config)
        std = tower.initializer_range * config.initializer_factor
        if isinstance(module, CLIPVisionEmbeddings):
            if module.class_embedding is not None:
                nn.init.normal_(module.class_embedding, std=module.class_embedding.shape[0] ** -0.5)
            if module.patch_embedding.bias is not None:
                nn.init.zeros_(module.patch_embedding.bias)
            nn.init.normal_(module.patch_embedding.weight, std=std)
        elif isinstance(module, SiglipMultiheadAttentionPoolingHead):
            nn.init.normal_(module.probe, std=module.probe.shape[-1] ** -0.5)
            nn.init.xavier_uniform_(module.attention.in_proj_weight)
            nn.init.zeros_(module.attention.in_proj_bias)
        elif isinstance(module, CLIPModel):
            if config.sigmoid_logits:
                nn.init.constant_(module.logit_scale, math.log(10.0))
                nn.init.constant_(module.logit_bias, -10.0)
            else:
                nn.init.constant_(module.logit_scale, config.logit_scale_init_value)
        else:
            layers.init_weights(module, std)


def _flags(model: PreTrainedModel, output_attentions, output_hidden_states) -> tuple[bool, bool]:
    """The output switches a call leaves None, from the config."""
    config = model.config
    return (
        config.output_attentions if output_attentions is None else output_attentions,
        config.output_hidden_states if output_hidden_states is None else output_hidden_states,
    )


class CLIPTextModel(CLIPPreTrainedModel):
    """The text tower alone: ``last_hidden_state`` (batch, seq, hidden) and ``pooler_output`` (batch, hidden), the
    state at the end-of-text token (SigLIP: the last position's, through its head)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        out = self.text_model(
            input_ids, attention_mask, position_ids, *_flags(self, output_attentions, output_hidden_states)
        )
        return self.format_output(out, return_dict)


class CLIPTextModelWithProjection(CLIPPreTrainedModel):
    """The text tower and its projection into the shared space: ``text_embeds`` (batch, projection_dim), not
    normalised (sentence embeddings, Stable Diffusion XL's second text encoder)."""

    config_class = CLIPTextConfig
    base_model_prefix = "text_model"

    def __init__(self, config: CLIPTextConfig):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config)
        self.text_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        position_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        text = self.text_model(
            input_ids, attention_mask, position_ids, *_flags(self, output_attentions, output_hidden_states)
        )
        out = CLIPTextModelOutput(
            text_embeds=self.text_projection(text.pooler_output),
            last_hidden_state=text.last_hidden_state,
            hidden_states=text.hidden_states,
            attentions=text.attentions,
        )
        return self.format_output(out, return_dict)


class CLIPVisionModel(CLIPPreTrainedModel):
    """The image tower alone: ``last_hidden_state`` (batch, tokens, hidden) and ``pooler_output`` (batch, hidden),
    the normalised [CLS] state (SigLIP: the attention-pooled one). LLaVA's image encoder."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.vision_model = CLIPVisionTransformer(config)
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        out = self.vision_model(
            pixel_values, interpolate_pos_encoding, *_flags(self, output_attentions, output_hidden_states)
        )
        return self.format_output(out, return_dict)


class CLIPVisionModelWithProjection(CLIPPreTrainedModel):
    """The image tower and its projection into the shared space: ``image_embeds`` (batch, projection_dim)."""

    config_class = CLIPVisionConfig
    base_model_prefix = "vision_model"
    main_input_name = "pixel_values"

    def __init__(self, config: CLIPVisionConfig):
        super().__init__(config)
        self.vision_model = CLIPVisionTransformer(config)
        self.visual_projection = nn.Linear(config.hidden_size, config.projection_dim, bias=False)
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        image = self.vision_model(
            pixel_values, interpolate_pos_encoding, *_flags(self, output_attentions, output_hidden_states)
        )
        out = CLIPVisionModelOutput(
            image_embeds=self.visual_projection(image.pooler_output),
            last_hidden_state=image.last_hidden_state,
            hidden_states=image.hidden_states,
            attentions=image.attentions,
        )
        return self.format_output(out, return_dict)


class CLIPModel(CLIPPreTrainedModel):
    """Both towers and the score of every (text, image) pair: ``logits_per_image`` (images, texts). With
    ``return_loss``, texts[i] describes images[i]: CLIP's contrastive loss (SigLIP: its sigmoid loss)."""

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        self.text_model = CLIPTextTransformer(config.text_config)
        self.vision_model = CLIPVisionTransformer(config.vision_config)
        if config.projections:
            text_width, image_width = config.text_config.hidden_size, config.vision_config.hidden_size
            self.visual_projection = nn.Linear(image_width, config.projection_dim, bias=False)
            self.text_projection = nn.Linear(text_width, config.projection_dim, bias=False)
        if config.sigmoid_logits:  # SigLIP stores both as (1,) tensors
            self.logit_scale = nn.Parameter(torch.zeros(1))
            self.logit_bias = nn.Parameter(torch.zeros(1))
        else:
            self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
            self.logit_bias = None
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None) -> torch.Tensor:
        """(texts, projection_dim): each text's vector in the shared space, not normalised (v4.37's return value:
        a tensor)."""
        pooled = self.text_model(input_ids, attention_mask, position_ids, False, False).pooler_output
        return self.text_projection(pooled) if self.config.projections else pooled

    def get_image_features(self, pixel_values=None, interpolate_pos_encoding=None) -> torch.Tensor:
        """(images, projection_dim): each image's vector in the shared space, not normalised."""
        pooled = self.vision_model(pixel_values, interpolate_pos_encoding, False, False).pooler_output
        return self.visual_projection(pooled) if self.config.projections else pooled

    def forward(
        self,
        input_ids=None,
        pixel_values=None,
        attention_mask=None,
        position_ids=None,
        return_loss=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        flags = _flags(self, output_attentions, output_hidden_states)
        image = self.vision_model(pixel_values, interpolate_pos_encoding, *flags)
        text = self.text_model(input_ids, attention_mask, position_ids, *flags)
        image_embeds, text_embeds = image.pooler_output, text.pooler_output
        if self.config.projections:
            image_embeds = self.visual_projection(image_embeds)  # (images, projection_dim)
            text_embeds = self.text_projection(text_embeds)  # (texts, projection_dim)
        image_embeds = image_embeds / image_embeds.norm(p=2, dim=-1, keepdim=True)
        text_embeds = text_embeds / text_embeds.norm(p=2, dim=-1, keepdim=True)
        logits_per_text = text_embeds @ image_embeds.t() * self.logit_scale.exp()  # (texts, images)
        if self.logit_bias is not None:
            logits_per_text = logits_per_text + self.logit_bias
        loss = None
        if return_loss:
            if len(text_embeds) != len(image_embeds):
                raise ValueError(
                    f"return_loss pairs text i with image i, but there are {len(text_embeds)} texts and "
                    f"{len(image_embeds)} images; pass one caption per image."
                )
            loss_fn = layers.sigmoid_pair_loss if self.config.sigmoid_logits else layers.image_text_contrastive_loss
            loss = loss_fn(logits_per_text)
        out = CLIPOutput(
            loss=loss,
            logits_per_image=logits_per_text.t(),
            logits_per_text=logits_per_text,
            text_embeds=text_embeds,
            image_embeds=image_embeds,
            text_model_output=text,
            vision_model_output=image,
        )
        return self.format_output(out, return_dict)


class CLIPForImageClassification(CLIPPreTrainedModel):
    """The image tower with a linear classifier on the mean of its tokens (CLIP: the patches, [CLS] left out), for
    fine-tuning on a fixed set of labels. The text tower is not used (nor built)."""

    main_input_name = "pixel_values"

    def __init__(self, config: CLIPConfig):
        super().__init__(config)
        self.vision_model = CLIPVisionTransformer(config.vision_config)
        width, num_labels = config.vision_config.hidden_size, config.num_labels
        self.classifier = nn.Linear(width, num_labels) if num_labels > 0 else nn.Identity()
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.vision_model.get_input_embeddings()

    def forward(
        self,
        pixel_values=None,
        labels=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        flags = _flags(self, output_attentions, output_hidden_states)
        image = self.vision_model(pixel_values, interpolate_pos_encoding, *flags)
        special = 1 if self.config.vision_config.class_token else 0
        features = image.last_hidden_state[:, special:].mean(dim=1)  # (batch, hidden)
        logits = self.classifier(features)  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish(ImageClassifierOutput, image, return_dict, loss=loss, logits=logits)


# ------------------------------------------------------------------------------------------------
# SigLIP's Hub names: the same classes
# ------------------------------------------------------------------------------------------------

SiglipModel = CLIPModel
SiglipTextModel = CLIPTextModel
SiglipVisionModel = CLIPVisionModel
SiglipForImageClassification = CLIPForImageClassification
