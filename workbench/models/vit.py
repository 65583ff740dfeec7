"""Vision transformers: ViT, DeiT, DINOv2, BEiT and data2vec-vision, one architecture with config switches.

An image is cut into patches, each patch becomes a token, and a stack of pre-norm transformer blocks mixes
them; a [CLS] token (or the mean of the patch tokens) sums the image up. Module names follow the Hub's
state-dict keys (``vit.encoder.layer.0.attention.attention.query.weight``), so checkpoints load with no key map.

    pixel_values (batch, channels, height, width)
      -> ViTEmbeddings                                                     (batch, tokens, hidden)
           patch_embeddings: a Conv2d with kernel = stride = patch_size, one vector per patch, row by row
           [CLS] (and DeiT's distillation token) in front, then + the learned position table
           (resized bicubically to the input's patch grid when asked; always for DINOv2 and BEiT)
      -> ViTEncoder: num_hidden_layers x pre-norm block                    (batch, tokens, hidden)
           x = x + attention(LayerNorm(x))     BEiT: + a learned relative position bias in the scores
           x = x + mlp(LayerNorm(x))           BEiT, DINOv2: each branch scaled per channel (layer scale)
      -> layernorm                                                         (batch, tokens, hidden)
      -> pooler: tanh(dense([CLS])) (ViT, DeiT), [CLS] (DINOv2), LayerNorm(mean of the patches) (BEiT)

The variants (their config classes below set the switches; the model classes are shared, their Hub names
are aliases):

    model_type       checkpoints (for example)                  what changes
    vit              google/vit-base-patch16-224                -
    deit             facebook/deit-base-distilled-patch16-224   a distillation token after [CLS], read by a second
                                                                head (DeiTForImageClassificationWithTeacher)
    dinov2           facebook/dinov2-small                      layer scale, SwiGLU option, a mask token, its own
                                                                module names (norm1, mlp, layer_scale1); the
                                                                classifier reads [CLS] and the mean patch
    beit             microsoft/beit-base-patch16-224            relative position bias (per layer or shared), layer
                                                                scale, no key bias, mean pooling; masked image
                                                                modeling predicts visual tokens
    data2vec-vision  facebook/data2vec-vision-base-ft1k         BEiT's architecture
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel
from ..outputs import (
    BaseModelOutputWithPooling,
    DeiTForImageClassificationWithTeacherOutput,
    ImageClassifierOutput,
    MaskedImageModelingOutput,
    MaskedLMOutput,
)

# ------------------------------------------------------------------------------------------------
# Configs
# ------------------------------------------------------------------------------------------------


class VisionTransformerConfig(PretrainedConfig):
    """What every variant's config.json holds: the transformer's and the image's sizes. The variants' configs
    subclass it, and every model class below takes any of them."""

    model_type = "vit"  # the family's key in the registry (models/auto.py); each variant's config has its own

    # The variants' switches, at ViT's values. Class attributes, so a config.json does not carry them: a variant
    # overrides them below, either fixed (DeiT's distillation token) or as its own config.json field (BEiT's
    # use_mean_pooling), which then becomes an instance attribute.
    distillation_token = False  # DeiT: a second learned token after [CLS]
    dinov2_layout = False  # DINOv2's names and shapes: norm1/norm2, mlp, layer_scale1/2, a (1, hidden) mask token
    always_resize_positions = False  # DINOv2, BEiT: the position table follows any input size, unasked
    key_bias = True  # BEiT: the key projection has no bias (query and value have one)
    dense_pooler = True  # ViT, DeiT: pooler_output = tanh(dense([CLS])); the others: [CLS] itself
    classifier_reads = "cls"  # the image classifier's input: "cls", "cls+mean" (DINOv2), "pooler" (BEiT)
    qkv_bias = True
    use_mask_token = False
    use_absolute_position_embeddings = True
    use_relative_position_bias = False
    use_shared_relative_position_bias = False
    layer_scale_init_value = 0.0  # BEiT's layer scale (0: none)
    drop_path_rate = 0.0
    use_mean_pooling = False

    def __init__(
        self,
        hidden_size: int = 768,  # width of every token's vector
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,  # hidden_size is split evenly across heads
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        image_size: int | tuple[int, int] = 224,  # the size the position table was trained for
        patch_size: int | tuple[int, int] = 16,  # each token is a patch_size x patch_size square of pixels
        num_channels: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        if hidden_size % num_attention_heads:
            raise ValueError(
                f"hidden_size={hidden_size} is not a multiple of num_attention_heads={num_attention_heads}."
            )


class ViTConfig(VisionTransformerConfig):
    """ViT (Dosovitskiy et al. 2020). Defaults: google/vit-base-patch16-224's config.json."""

    model_type = "vit"

    def __init__(
        self,
        intermediate_size: int = 3072,  # width of the MLP inside each block
        qkv_bias: bool = True,
        encoder_stride: int = 16,  # masked image modeling: the decoder's upsampling factor (= patch_size)
        pooler_output_size: int | None = None,  # None: hidden_size
        pooler_act: str = "tanh",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.intermediate_size = intermediate_size
        self.qkv_bias = qkv_bias
        self.encoder_stride = encoder_stride
        self.pooler_output_size = pooler_output_size or self.hidden_size
        self.pooler_act = pooler_act


class DeiTConfig(ViTConfig):
    """DeiT (Touvron et al. 2021): ViT's fields; a distillation token learns from a teacher network."""

    model_type = "deit"
    distillation_token = True


class Dinov2Config(VisionTransformerConfig):
    """DINOv2 (Oquab et al. 2023): self-supervised features. Defaults: facebook/dinov2-base's config.json."""

    model_type = "dinov2"
    dinov2_layout = True
    always_resize_positions = True
    dense_pooler = False
    classifier_reads = "cls+mean"

    def __init__(
        self,
        mlp_ratio: float = 4,  # the MLP is mlp_ratio times wider than hidden_size
        layer_norm_eps: float = 1e-6,
        patch_size: int | tuple[int, int] = 14,
        qkv_bias: bool = True,
        layerscale_value: float = 1.0,  # initial value of the layer scales
        drop_path_rate: float = 0.0,  # stochastic depth, the same in every block
        use_swiglu_ffn: bool = False,  # the MLP: SwiGLU (the giant model) instead of fc1-GELU-fc2
        use_mask_token: bool = True,
        **kwargs,
    ):
        super().__init__(layer_norm_eps=layer_norm_eps, patch_size=patch_size, **kwargs)
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.layerscale_value = layerscale_value
        self.drop_path_rate = drop_path_rate
        self.use_swiglu_ffn = use_swiglu_ffn
        self.use_mask_token = use_mask_token


class BeitConfig(VisionTransformerConfig):
    """BEiT (Bao et al. 2021): pre-trained by predicting the visual tokens of masked patches. Defaults:
    microsoft/beit-base-patch16-224-pt22k's config.json. The semantic segmentation keys of some checkpoints
    (pool_scales, auxiliary_*) are kept in the config but not used: workbench has no segmentation head."""

    model_type = "beit"
    always_resize_positions = True
    key_bias = False
    dense_pooler = False
    classifier_reads = "pooler"

    def __init__(
        self,
        vocab_size: int = 8192,  # masked image modeling: the visual tokens (a dVAE's codebook) it predicts
        intermediate_size: int = 3072,
        use_mask_token: bool = False,
        use_absolute_position_embeddings: bool = False,
        use_relative_position_bias: bool = False,  # a relative position bias table in every layer
        use_shared_relative_position_bias: bool = False,  # one table for all layers
        layer_scale_init_value: float = 0.1,  # 0: no layer scale
        drop_path_rate: float = 0.1,  # stochastic depth of the last block; it grows linearly from 0 in the first
        use_mean_pooling: bool = True,  # pooler_output: LayerNorm(mean of the patch tokens), else [CLS]
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = vocab_size
        self.intermediate_size = intermediate_size
        self.use_mask_token = use_mask_token
        self.use_absolute_position_embeddings = use_absolute_position_embeddings
        self.use_relative_position_bias = use_relative_position_bias
        self.use_shared_relative_position_bias = use_shared_relative_position_bias
        self.layer_scale_init_value = layer_scale_init_value
        self.drop_path_rate = drop_path_rate
        self.use_mean_pooling = use_mean_pooling


class Data2VecVisionConfig(BeitConfig):
    """data2vec-vision (Baevski et al. 2022): BEiT's architecture, trained by self-distillation."""

    model_type = "data2vec-vision"


# Tiny presets for tests and teaching: seconds to build and run on a CPU (``auto.tiny_config(name)`` builds one).
# 32x32 images in 8x8 patches: 16 patch tokens and [CLS].
_TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
TINY_PRESETS = {
    "vit-tiny-random": dict(model_type="vit", **_TINY, intermediate_size=64, encoder_stride=8),
    "deit-tiny-random": dict(model_type="deit", **_TINY, intermediate_size=64, encoder_stride=8),
    "dinov2-tiny-random": dict(model_type="dinov2", **_TINY, mlp_ratio=2),
    "beit-tiny-random": dict(
        model_type="beit", **_TINY, intermediate_size=64, vocab_size=64, use_relative_position_bias=True
    ),
    "data2vec-vision-tiny-random": dict(
        model_type="data2vec-vision", **_TINY, intermediate_size=64, use_shared_relative_position_bias=True
    ),
}


def base_model_prefix_for(config: VisionTransformerConfig) -> str:
    """Attribute name of the bare model inside task models, which prefixes its checkpoint keys: vit, deit,
    dinov2, beit, data2vec_vision."""
    return config.model_type.replace("-", "_")


# ------------------------------------------------------------------------------------------------
# Embeddings: patches, special tokens, positions
# ------------------------------------------------------------------------------------------------


class ViTEmbeddings(nn.Module):
    def __init__(self, config: VisionTransformerConfig, use_mask_token: bool):
        super().__init__()
        hidden = config.hidden_size
        self.patch_embeddings = layers.PatchEmbeddings(config.num_channels, hidden, config.patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hidden))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, hidden)) if config.distillation_token else None
        self.num_special_tokens = 2 if config.distillation_token else 1  # in front of the patches
        mask_shape = (1, hidden) if config.dinov2_layout else (1, 1, hidden)
        self.mask_token = nn.Parameter(torch.zeros(mask_shape)) if use_mask_token else None
        self.image_size = layers.as_pair(config.image_size)
        self.table_grid = self.patch_embeddings.grid(*self.image_size)  # the patch grid the table was trained for
        self.position_embeddings = None
        if config.use_absolute_position_embeddings:
            positions = self.num_special_tokens + self.table_grid[0] * self.table_grid[1]
            self.position_embeddings = nn.Parameter(torch.zeros(1, positions, hidden))
        self.always_resize_positions = config.always_resize_positions
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, pixel_values, bool_masked_pos=None, interpolate_pos_encoding: bool = False) -> torch.Tensor:
        batch = pixel_values.shape[0]
        patches = self.patch_embeddings(pixel_values)  # (batch, patches, hidden)
        if bool_masked_pos is not None:
            patches = self.mask(patches, bool_masked_pos)
        special = [self.cls_token.expand(batch, -1, -1)]
        if self.distillation_token is not None:
            special.append(self.distillation_token.expand(batch, -1, -1))
        embeddings = torch.cat([*special, patches], dim=1)  # (batch, special + patches, hidden)
        if self.position_embeddings is not None:
            embeddings = embeddings + self.positions(*pixel_values.shape[-2:], interpolate_pos_encoding)
        return self.dropout(embeddings)

    def mask(self, patches: torch.Tensor, bool_masked_pos: torch.Tensor) -> torch.Tensor:
        """Replace the patches flagged in bool_masked_pos (batch, patches) by the learned mask token."""
        if self.mask_token is None:
            raise ValueError(
                "bool_masked_pos needs a mask token, which this model has not: use the masked-image-modeling model "
                "(ViTForMaskedImageModeling, BeitForMaskedImageModeling), a config with use_mask_token=True (DINOv2, "
                "BEiT), or ViTModel(config, use_mask_token=True)."
            )
        if bool_masked_pos.dim() != 2 or bool_masked_pos.shape[-1] != patches.shape[1]:
            raise ValueError(
                f"bool_masked_pos has shape {tuple(bool_masked_pos.shape)}, but these images have "
                f"{patches.shape[1]} patches: pass (batch, {patches.shape[1]}), one flag per patch."
            )
        masked = bool_masked_pos[..., None].type_as(patches)  # (batch, patches, 1): 1 = replace by the mask token
        return patches * (1.0 - masked) + self.mask_token * masked

    def positions(self, height: int, width: int, interpolate: bool) -> torch.Tensor:
        """The position table for a height x width image: (1, special + patches, hidden)."""
        grid = self.patch_embeddings.grid(height, width)
        if not (interpolate or self.always_resize_positions) and (height, width) != self.image_size:
            raise ValueError(
                f"Input image size ({height}*{width}) doesn't match the model ({self.image_size[0]}*"
                f"{self.image_size[1]}, config.image_size). Resize the images to it (the image processor does), or "
                f"pass interpolate_pos_encoding=True to resize the position table to {grid[0]}x{grid[1]} patches."
            )
        special = self.position_embeddings[:, : self.num_special_tokens]  # (1, special, hidden)
        table = self.position_embeddings[:, self.num_special_tokens :]  # (1, table patches, hidden)
        return torch.cat([special, layers.resize_position_table(table, self.table_grid, grid)], dim=1)


# ------------------------------------------------------------------------------------------------
# Attention, with BEiT's relative position bias
# ------------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def beit_relative_position_index(grid: tuple[int, int]) -> torch.Tensor:
    """(tokens, tokens) rows of BEiT's bias table, tokens = [CLS] + grid patches: patch pairs read the row of their
    offset (layers.relative_position_index); the last three rows hold [CLS]->patch, patch->[CLS], [CLS]->[CLS]."""
    offsets = (2 * grid[0] - 1) * (2 * grid[1] - 1)  # rows for patch-to-patch offsets
    index = torch.zeros(grid[0] * grid[1] + 1, grid[0] * grid[1] + 1, dtype=torch.long)
    index[1:, 1:] = layers.relative_position_index(*grid)
    index[0, :] = offsets  # [CLS] looking at a patch
    index[:, 0] = offsets + 1  # a patch looking at [CLS]
    index[0, 0] = offsets + 2  # [CLS] looking at itself
    return index


class BeitRelativePositionBias(nn.Module):
    """A learned bias per head for each (query, key) offset, added to the attention scores (BEiT)."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        grid = layers.as_pair(config.image_size)
        patch = layers.as_pair(config.patch_size)
        self.grid = (grid[0] // patch[0], grid[1] // patch[1])  # the patch grid the table was trained for
        rows = (2 * self.grid[0] - 1) * (2 * self.grid[1] - 1) + 3
        self.relative_position_bias_table = nn.Parameter(torch.zeros(rows, config.num_attention_heads))

    def table_for(self, grid: tuple[int, int]) -> torch.Tensor:
        """The table for another patch grid: the offset rows, seen as a (2h - 1) x (2w - 1) image per head, are
        resized bilinearly (align_corners=False); the three [CLS] rows stay. (The reference lays a non-square
        table out as (2w - 1) x (2h - 1) here; every BEiT checkpoint is square, where the two agree.)"""
        table = self.relative_position_bias_table
        if grid == self.grid:
            return table
        old = (2 * self.grid[0] - 1, 2 * self.grid[1] - 1)
        new = (2 * grid[0] - 1, 2 * grid[1] - 1)
        offsets = table[:-3].reshape(1, *old, -1).permute(0, 3, 1, 2)  # (1, heads, old_h, old_w)
        offsets = F.interpolate(offsets, size=new, mode="bilinear", align_corners=False)  # (1, heads, new_h, new_w)
        return torch.cat([offsets.permute(0, 2, 3, 1).reshape(new[0] * new[1], -1), table[-3:]])

    def forward(self, grid: tuple[int, int]) -> torch.Tensor:
        """The bias of a grid[0] x grid[1] patch image: (1, heads, tokens, tokens), tokens = [CLS] + patches."""
        index = beit_relative_position_index(grid).to(self.relative_position_bias_table.device)
        tokens = index.shape[0]
        bias = self.table_for(grid)[index.reshape(-1)].view(tokens, tokens, -1)  # (tokens, tokens, heads)
        return bias.permute(2, 0, 1).unsqueeze(0)  # (1, heads, tokens, tokens)


class ViTSelfAttention(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        hidden = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.query = nn.Linear(hidden, hidden, bias=config.qkv_bias)
        self.key = nn.Linear(hidden, hidden, bias=config.qkv_bias and config.key_bias)
        self.value = nn.Linear(hidden, hidden, bias=config.qkv_bias)
        self.relative_position_bias = BeitRelativePositionBias(config) if config.use_relative_position_bias else None
        self.dropout_prob = config.attention_probs_dropout_prob
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, tokens, tokens) probabilities on the eager path

    def forward(self, hidden, grid, shared_bias, output_attentions: bool):
        q = layers.split_heads(self.query(hidden), self.num_heads)  # (batch, heads, tokens, head_dim)
        k = layers.split_heads(self.key(hidden), self.num_heads)
        v = layers.split_heads(self.value(hidden), self.num_heads)
        bias = shared_bias  # (1, heads, tokens, tokens) or None, added to the scores
        if self.relative_position_bias is not None:
            own = self.relative_position_bias(grid)
            bias = own if bias is None else own + bias
        context, weights = layers.attention(
            q,
            k,
            v,
            bias,
            dropout=self.dropout_prob if self.training else 0.0,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return layers.merge_heads(context), weights  # (batch, tokens, hidden), (batch, heads, tokens, tokens)


class ViTSelfOutput(nn.Module):
    """The attention's output projection; the residual is added by the block."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden))


class ViTAttention(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.attention = ViTSelfAttention(config)
        self.output = ViTSelfOutput(config)

    def forward(self, hidden, grid, shared_bias, output_attentions):
        context, weights = self.attention(hidden, grid, shared_bias, output_attentions)
        return self.output(context), weights


# ------------------------------------------------------------------------------------------------
# Blocks: ViT's (also DeiT's and BEiT's) and DINOv2's
# ------------------------------------------------------------------------------------------------


class ViTIntermediate(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(hidden))  # (batch, tokens, intermediate)


class ViTOutput(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden))


class ViTLayer(GradientCheckpointingLayer):
    """Pre-norm block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)). BEiT scales each branch by a
    learned per-channel lambda and drops whole branches at random while training (stochastic depth)."""

    def __init__(self, config: VisionTransformerConfig, drop_path_rate: float = 0.0):
        super().__init__()
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = ViTAttention(config)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = ViTIntermediate(config)
        self.output = ViTOutput(config)
        self.drop_path = layers.DropPath(drop_path_rate)
        self.lambda_1 = self.lambda_2 = None
        if config.layer_scale_init_value > 0:
            self.lambda_1 = nn.Parameter(config.layer_scale_init_value * torch.ones(config.hidden_size))
            self.lambda_2 = nn.Parameter(config.layer_scale_init_value * torch.ones(config.hidden_size))

    def forward(self, hidden, grid, shared_bias, output_attentions):
        """hidden: (batch, tokens, hidden); grid: the image's patch grid (for BEiT's relative position bias)."""
        attended, weights = self.attention(self.layernorm_before(hidden), grid, shared_bias, output_attentions)
        if self.lambda_1 is not None:
            attended = self.lambda_1 * attended
        hidden = hidden + self.drop_path(attended)
        transformed = self.output(self.intermediate(self.layernorm_after(hidden)))
        if self.lambda_2 is not None:
            transformed = self.lambda_2 * transformed
        return hidden + self.drop_path(transformed), weights


class Dinov2MLP(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        width = int(config.hidden_size * config.mlp_ratio)
        self.fc1 = nn.Linear(config.hidden_size, width)
        self.act = layers.activation(config.hidden_act)
        self.fc2 = nn.Linear(width, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(hidden)))


class Dinov2SwiGLUFFN(nn.Module):
    """SwiGLU: silu(gate) * up, projected back. Gate and up are one fused projection (weights_in), as in DINOv2's
    code; the width is 2/3 of mlp_ratio * hidden_size, rounded up to a multiple of 8."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        width = (int(int(config.hidden_size * config.mlp_ratio) * 2 / 3) + 7) // 8 * 8
        self.weights_in = nn.Linear(config.hidden_size, 2 * width)
        self.weights_out = nn.Linear(width, config.hidden_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        gate, up = self.weights_in(hidden).chunk(2, dim=-1)  # (batch, tokens, width) each
        return self.weights_out(F.silu(gate) * up)


class Dinov2Layer(GradientCheckpointingLayer):
    """ViT's pre-norm block under DINOv2's names, each branch scaled by a layer scale."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = ViTAttention(config)
        self.layer_scale1 = layers.LayerScale(config.hidden_size, config.layerscale_value)
        self.norm2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = Dinov2SwiGLUFFN(config) if config.use_swiglu_ffn else Dinov2MLP(config)
        self.layer_scale2 = layers.LayerScale(config.hidden_size, config.layerscale_value)
        self.drop_path = layers.DropPath(config.drop_path_rate)

    def forward(self, hidden, grid, shared_bias, output_attentions):
        attended, weights = self.attention(self.norm1(hidden), grid, shared_bias, output_attentions)
        hidden = hidden + self.drop_path(self.layer_scale1(attended))
        return hidden + self.drop_path(self.layer_scale2(self.mlp(self.norm2(hidden)))), weights


class ViTEncoder(nn.Module):
    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.relative_position_bias = None  # BEiT's table shared by all layers
        if config.use_shared_relative_position_bias:
            self.relative_position_bias = BeitRelativePositionBias(config)
        if config.dinov2_layout:
            self.layer = nn.ModuleList(Dinov2Layer(config) for _ in range(config.num_hidden_layers))
        else:  # BEiT's stochastic depth grows linearly from 0 (first block) to drop_path_rate (last)
            rates = [
                config.drop_path_rate * i / max(config.num_hidden_layers - 1, 1)
                for i in range(config.num_hidden_layers)
            ]
            self.layer = nn.ModuleList(ViTLayer(config, rate) for rate in rates)

    def forward(self, hidden, grid: tuple[int, int], output_attentions: bool, output_hidden_states: bool):
        shared_bias = self.relative_position_bias(grid) if self.relative_position_bias is not None else None
        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block in self.layer:
            hidden, weights = block(hidden, grid, shared_bias, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attentions += (weights,)
        return hidden, all_hidden, all_attentions


# ------------------------------------------------------------------------------------------------
# Poolers and the bare model
# ------------------------------------------------------------------------------------------------


class ViTPooler(nn.Module):
    """ViT, DeiT: act(dense(hidden state of [CLS]))."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.pooler_output_size)
        self.activation = layers.activation(config.pooler_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden[:, 0]))  # (batch, pooler_output_size)


class BeitPooler(nn.Module):
    """BEiT: LayerNorm(mean of the patch tokens), or with use_mean_pooling=False the [CLS] token (as DINOv2)."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__()
        self.layernorm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.use_mean_pooling else None
        )

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.layernorm is None:
            return hidden[:, 0]  # (batch, hidden)
        return self.layernorm(hidden[:, 1:].mean(dim=1))  # (batch, hidden)


class ViTPreTrainedModel(PreTrainedModel):
    config_class = VisionTransformerConfig
    base_model_prefix = "vit"
    main_input_name = "pixel_values"
    # Old BEiT checkpoints saved the (fixed) index of their bias tables as persistent buffers.
    _ignored_checkpoint_keys = r"relative_position_index$"

    def __init__(self, config: VisionTransformerConfig):
        super().__init__(config)
        self.base_model_prefix = base_model_prefix_for(config)  # for loading a task checkpoint into the bare model

    def _init_weights(self, module: nn.Module) -> None:
        """Truncated normal weights, zero biases, LayerNorm at identity; special tokens and position table
        truncated normal, mask token and relative position bias at zero, layer scales at their initial value."""
        std = self.config.initializer_range
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, ViTEmbeddings):
            for token in (module.cls_token, module.distillation_token, module.position_embeddings):
                if token is not None:
                    nn.init.trunc_normal_(token, std=std)
            if module.mask_token is not None:
                nn.init.zeros_(module.mask_token)
        elif isinstance(module, BeitRelativePositionBias):
            nn.init.zeros_(module.relative_position_bias_table)
        elif isinstance(module, ViTLayer) and module.lambda_1 is not None:
            nn.init.constant_(module.lambda_1, self.config.layer_scale_init_value)
            nn.init.constant_(module.lambda_2, self.config.layer_scale_init_value)
        elif isinstance(module, layers.LayerScale):
            nn.init.constant_(module.lambda1, self.config.layerscale_value)
        else:
            layers.init_weights(module, std)


class ViTModel(ViTPreTrainedModel):
    """Embeddings + encoder + LayerNorm (+ pooler). Returns ``last_hidden_state`` (batch, tokens, hidden), tokens =
    [CLS] (+ distillation token) + patches; ``hidden_states`` holds the embeddings and every block's output (before
    the final LayerNorm)."""

    def __init__(self, config: VisionTransformerConfig, add_pooling_layer: bool = True, use_mask_token: bool = False):
        super().__init__(config)
        self.embeddings = ViTEmbeddings(config, use_mask_token=use_mask_token or config.use_mask_token)
        self.encoder = ViTEncoder(config)
        # BEiT's mean pooling normalises the pooled vector instead of every token
        hidden = config.hidden_size
        self.layernorm = nn.Identity() if config.use_mean_pooling else nn.LayerNorm(hidden, eps=config.layer_norm_eps)
        self.pooler = None
        if add_pooling_layer:
            self.pooler = ViTPooler(config) if config.dense_pooler else BeitPooler(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.Tensor | None = None,
        interpolate_pos_encoding: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        """pixel_values: (batch, channels, height, width), as the image processor makes them. bool_masked_pos:
        (batch, patches), True where a patch is replaced by the mask token. interpolate_pos_encoding: resize the
        position table to images of another size than config.image_size (DINOv2 and BEiT always do)."""
        layers.check_pixel_values(pixel_values, self.config.num_channels, type(self).__name__)
        pixel_values = pixel_values.to(self.dtype)  # float64 from numpy, say: the weights' dtype, as the reference
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        hidden = self.embeddings(
            pixel_values, bool_masked_pos, bool(interpolate_pos_encoding)
        )  # (batch, tokens, hidden)
        grid = self.embeddings.patch_embeddings.grid(*pixel_values.shape[-2:])  # (patches down, patches across)
        hidden, all_hidden, all_attentions = self.encoder(hidden, grid, output_attentions, output_hidden_states)
        hidden = self.layernorm(hidden)
        out = BaseModelOutputWithPooling(
            last_hidden_state=hidden,
            pooler_output=self.pooler(hidden) if self.pooler is not None else None,
            hidden_states=all_hidden,
            attentions=all_attentions,
        )
        return self.format_output(out, return_dict)


class Data2VecVisionModel(ViTModel):
    """data2vec-vision's bare model: BEiT's, without the pooler unless asked (the reference's default)."""

    def __init__(self, config: VisionTransformerConfig, add_pooling_layer: bool = False, use_mask_token: bool = False):
        super().__init__(config, add_pooling_layer=add_pooling_layer, use_mask_token=use_mask_token)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class ViTTaskModel(ViTPreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.vit`` (``self.deit``, ``self.dinov2``, ``self.beit``,
    ``self.data2vec_vision``)."""

    def __init__(self, config: VisionTransformerConfig, **base_options):
        super().__init__(config)
        self.add_module(self.base_model_prefix, ViTModel(config, **base_options))


class ViTForImageClassification(ViTTaskModel):
    """A linear classifier on the image's summary: [CLS] (ViT, DeiT), [CLS] and the mean patch token side by side
    (DINOv2), or the pooler's mean of the patches (BEiT)."""

    def __init__(self, config: VisionTransformerConfig):
        super().__init__(config, add_pooling_layer=config.classifier_reads == "pooler")
        width = 2 * config.hidden_size if config.classifier_reads == "cls+mean" else config.hidden_size
        self.classifier = nn.Linear(width, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        labels=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            pixel_values=pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        tokens = base.last_hidden_state  # (batch, tokens, hidden)
        if self.config.classifier_reads == "pooler":
            features = base.pooler_output  # (batch, hidden)
        elif self.config.classifier_reads == "cls+mean":
            features = torch.cat([tokens[:, 0], tokens[:, 1:].mean(dim=1)], dim=-1)  # (batch, 2 * hidden)
        else:
            features = tokens[:, 0]  # (batch, hidden)
        logits = self.classifier(features)  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish(ImageClassifierOutput, base, return_dict, loss=loss, logits=logits)


class DeiTForImageClassificationWithTeacher(ViTTaskModel):
    """DeiT's distilled classifier: one linear head on [CLS], one on the distillation token, logits averaged.
    Inference only, as in the reference (training it needs the teacher network's predictions)."""

    config_class = DeiTConfig

    def __init__(self, config: DeiTConfig):
        super().__init__(config, add_pooling_layer=False)
        hidden, num_labels = config.hidden_size, config.num_labels
        self.cls_classifier = nn.Linear(hidden, num_labels) if num_labels > 0 else nn.Identity()
        self.distillation_classifier = nn.Linear(hidden, num_labels) if num_labels > 0 else nn.Identity()
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            pixel_values=pixel_values,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        tokens = base.last_hidden_state  # (batch, tokens, hidden): [CLS], distillation token, patches
        cls_logits = self.cls_classifier(tokens[:, 0])
        distillation_logits = self.distillation_classifier(tokens[:, 1])
        return self.finish(
            DeiTForImageClassificationWithTeacherOutput,
            base,
            return_dict,
            logits=(cls_logits + distillation_logits) / 2,
            cls_logits=cls_logits,
            distillation_logits=distillation_logits,
        )


class ViTForMaskedImageModeling(ViTTaskModel):
    """SimMIM (Xie et al. 2021), for ViT and DeiT: masked patches are replaced by the mask token; a 1x1
    convolution and a pixel shuffle turn the patch tokens back into an image, and the loss is the L1 error on
    the masked pixels."""

    def __init__(self, config: ViTConfig):
        super().__init__(config, add_pooling_layer=False, use_mask_token=True)
        stride = config.encoder_stride
        self.decoder = nn.Sequential(
            nn.Conv2d(config.hidden_size, stride**2 * config.num_channels, kernel_size=1),
            nn.PixelShuffle(stride),  # (batch, stride^2 * channels, h, w) -> (batch, channels, h * stride, w * stride)
        )
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        bool_masked_pos=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        patch = layers.as_pair(self.config.patch_size)
        if bool_masked_pos is not None and patch != (self.config.encoder_stride,) * 2:
            raise ValueError(
                f"With bool_masked_pos the reconstruction must have the input's size, so patch_size "
                f"({self.config.patch_size}) must equal encoder_stride ({self.config.encoder_stride})."
            )
        base = self.run_base(
            pixel_values=pixel_values,
            bool_masked_pos=bool_masked_pos,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        embeddings = self.base_model.embeddings
        grid = embeddings.patch_embeddings.grid(*pixel_values.shape[-2:])
        patches = base.last_hidden_state[:, embeddings.num_special_tokens :]  # (batch, patches, hidden)
        feature_map = patches.transpose(1, 2).reshape(len(patches), -1, *grid)  # (batch, hidden, grid_h, grid_w)
        reconstruction = self.decoder(feature_map)  # (batch, channels, grid_h * stride, grid_w * stride)
        loss = None
        if bool_masked_pos is not None:
            if reconstruction.shape[-2:] != pixel_values.shape[-2:]:
                raise ValueError(
                    f"The masked-image-modeling loss needs images whose sides are multiples of the patch size "
                    f"{patch}; got {tuple(pixel_values.shape[-2:])}."
                )
            mask = bool_masked_pos.reshape(-1, *grid).repeat_interleave(patch[0], 1).repeat_interleave(patch[1], 2)
            mask = mask.unsqueeze(1)  # (batch, 1, height, width): 1 on the masked patches' pixels
            errors = F.l1_loss(pixel_values, reconstruction, reduction="none")  # (batch, channels, height, width)
            loss = (errors * mask).sum() / (mask.sum() + 1e-5) / self.config.num_channels
        return self.finish(MaskedImageModelingOutput, base, return_dict, loss=loss, reconstruction=reconstruction)


class BeitForMaskedImageModeling(ViTTaskModel):
    """BEiT's pre-training head: for every patch, logits over the vocab_size visual tokens (of a dVAE's codebook);
    ``labels`` are the visual tokens of the masked patches (bool_masked_pos), in order."""

    config_class = BeitConfig

    def __init__(self, config: BeitConfig):
        super().__init__(config, add_pooling_layer=False)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size)
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        bool_masked_pos=None,
        labels=None,
        interpolate_pos_encoding=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        base = self.run_base(
            pixel_values=pixel_values,
            bool_masked_pos=bool_masked_pos,
            interpolate_pos_encoding=interpolate_pos_encoding,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
        )
        logits = self.lm_head(self.layernorm(base.last_hidden_state)[:, 1:])  # (batch, patches, vocab_size)
        loss = None
        if labels is not None:
            if bool_masked_pos is None:
                raise ValueError("labels are the visual tokens of the masked patches: pass bool_masked_pos too.")
            loss = F.cross_entropy(logits[bool_masked_pos.bool()], labels)
        return self.finish(MaskedLMOutput, base, return_dict, loss=loss, logits=logits)


# ------------------------------------------------------------------------------------------------
# The variants' Hub names: the same classes
# ------------------------------------------------------------------------------------------------

DeiTModel = Dinov2Model = BeitModel = ViTModel
DeiTForImageClassification = Dinov2ForImageClassification = ViTForImageClassification
BeitForImageClassification = Data2VecVisionForImageClassification = ViTForImageClassification
DeiTForMaskedImageModeling = ViTForMaskedImageModeling
