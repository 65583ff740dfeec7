"""Swin Transformer (v1 and v2): attention inside local windows that shift from block to block, and a
pyramid of stages that halve the resolution and double the width, like a convolutional network.

Covers checkpoints whose ``model_type`` is ``swin`` (microsoft/swin-tiny-patch4-window7-224, the SimMIM
checkpoints) and ``swinv2`` (microsoft/swinv2-tiny-patch4-window8-256). Swin V2 is a config switch
(``Swinv2Config``; ``config.swin_v2``) that changes the inside of a block, not its layout:

                          Swin (v1)                                  Swinv2
    attention scores      q.k / sqrt(head_dim)                       cos(q, k) * exp(logit_scale) (per head)
    position bias         a learned table, (2w-1)^2 rows             an MLP on log-spaced (dy, dx) offsets
    norms in a block      before attention and MLP (pre-norm)        after them, inside the residual (post-norm)
    patch merging         LayerNorm, then Linear(4C -> 2C)           Linear(4C -> 2C), then LayerNorm

The Hub names the variants' classes ``Swinv2Model``, ``Swinv2ForImageClassification``, ...: aliases of the
classes below, whose bare model lives at ``self.swinv2`` (the checkpoints' prefix) instead of ``self.swin``.

    pixel_values (batch, channels, H, W)          padded on the right/bottom to a multiple of patch_size
      -> SwinEmbeddings: Conv2d patch_size x patch_size, stride patch_size, LayerNorm
                                                  (batch, h * w, C)   with h = H / patch, w = W / patch
      -> SwinEncoder: one SwinStage per entry of depths, stage i at width C * 2^i:
           SwinStage = depth x SwinLayer, then SwinPatchMerging (all stages but the last)
             SwinLayer: split the (h, w) map into windows of window_size x window_size patches,
                        self-attention inside each window (+ relative position bias),
                        every second layer with the map rolled by window_size // 2 first (shifted
                        windows, so information crosses window borders; a mask keeps patches that the
                        roll brought together from different image regions apart); then an MLP.
             SwinPatchMerging: each 2x2 group of patches -> one patch, (h, w, C) -> (h/2, w/2, 2C)
                                                  (batch, h/2^(n-1) * w/2^(n-1), C * 2^(n-1))
      -> LayerNorm -> pooler: mean over the patches          (batch, C * 2^(n-1))
      -> heads: classifier (Linear), or SimMIM's decoder (1x1 conv + pixel shuffle back to an image)

Window attention on one window of w x w patches (L = w * w tokens), where row/column offsets between
two patches index the position bias:

    window (L, C) -> q, k, v (heads, L, head_dim) -> scores (heads, L, L) + bias (heads, L, L) [+ shift mask]
                  -> softmax -> weights @ v -> (L, C) -> output dense
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import GradientCheckpointingLayer, PreTrainedModel
from ..outputs import SwinImageClassifierOutput, SwinMaskedImageModelingOutput, SwinModelOutput

SHIFT_MASK_VALUE = -100.0  # added to the scores of patch pairs that a shifted window must keep apart


class SwinConfig(PretrainedConfig):
    """Swin's fields; the defaults are those of microsoft/swin-tiny-patch4-window7-224."""

    model_type = "swin"
    attribute_map = {"num_attention_heads": "num_heads", "num_hidden_layers": "num_layers"}
    swin_v2 = False  # Swinv2Config: cosine attention, the position-bias MLP, post-norm blocks (see the docstring)

    def __init__(
        self,
        image_size: int | list[int] = 224,  # the size the model was trained at (sets the absolute position table)
        patch_size: int | list[int] = 4,  # each patch_size x patch_size square of pixels becomes one token
        num_channels: int = 3,
        embed_dim: int = 96,  # width of the first stage; stage i is embed_dim * 2^i wide
        depths: list[int] = (2, 2, 6, 2),  # layers per stage
        num_heads: list[int] = (3, 6, 12, 24),  # attention heads per stage
        window_size: int = 7,  # attention windows are window_size x window_size patches
        mlp_ratio: float = 4.0,  # the MLP is mlp_ratio times as wide as its stage
        qkv_bias: bool = True,
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        drop_path_rate: float = 0.1,  # stochastic depth, rising linearly from 0 over the layers to this
        hidden_act: str = "gelu",
        use_absolute_embeddings: bool = False,  # add a learned position table to the patches (off in the Hub's)
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-5,
        encoder_stride: int = 32,  # pixels per final patch: the masked-image-modeling decoder upsamples by this
        **kwargs,
    ):
        for derived in ("hidden_size", "num_layers"):  # written to config.json by the reference; derived here
            kwargs.pop(derived, None)
        super().__init__(**kwargs)
        depths, num_heads = list(depths), list(num_heads)
        if len(num_heads) != len(depths):
            raise ValueError(f"depths={depths} and num_heads={num_heads} must have one entry per stage.")
        for stage, heads in enumerate(num_heads):
            width = embed_dim * 2**stage
            if width % heads:
                raise ValueError(
                    f"Stage {stage} is embed_dim * 2^{stage} = {width} wide, not a multiple of {heads} heads."
                )
        self.image_size = image_size
        self.patch_size = patch_size
        self.num_channels = num_channels
        self.embed_dim = embed_dim
        self.depths = depths
        self.num_heads = num_heads
        self.window_size = window_size
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.drop_path_rate = drop_path_rate
        self.hidden_act = hidden_act
        self.use_absolute_embeddings = use_absolute_embeddings
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.encoder_stride = encoder_stride
        self.num_layers = len(depths)
        self.hidden_size = int(embed_dim * 2 ** (len(depths) - 1))  # width of the last stage (what heads read)


class Swinv2Config(SwinConfig):
    """Swin's fields and the pre-training window sizes; the defaults are the reference's (Swin-T's shape, 224
    pixels, window 7; microsoft/swinv2-tiny-patch4-window8-256 sets 256 and 8)."""

    model_type = "swinv2"
    swin_v2 = True

    def __init__(
        self,
        pretrained_window_sizes: list[int] = (0, 0, 0, 0),  # per stage: the window size of pre-training, which
        # scales the position-bias offsets when a checkpoint is fine-tuned with larger windows (0: window_size)
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.pretrained_window_sizes = list(pretrained_window_sizes)


# Tiny presets for tests and teaching: seconds to build and run on a CPU. 32x32 images make an 8x8 patch grid:
# stage 0 runs 2x2 windows of 4x4 patches (shifted in its second layer), stage 1 one 4x4 window.
TINY_PRESETS = {
    f"{model_type}-tiny-random": dict(
        model_type=model_type,
        image_size=32,
        patch_size=4,
        embed_dim=16,
        depths=[2, 2],
        num_heads=[2, 4],
        window_size=4,
        encoder_stride=8,  # 4 * 2: the masked-image-modeling decoder gives back 32x32 images
        drop_path_rate=0.0,
    )
    for model_type in ("swin", "swinv2")
}


def base_model_prefix_for(config: SwinConfig) -> str:
    """Attribute name of the bare model inside task models, which prefixes its checkpoint keys."""
    return "swinv2" if config.swin_v2 else "swin"


# ------------------------------------------------------------------------------------------------
# Windows: partition, reverse, the shifted-window mask
# ------------------------------------------------------------------------------------------------


def window_partition(feature_map: torch.Tensor, window: int) -> torch.Tensor:
    """(batch, height, width, C) -> (batch * windows, window * window, C), windows in row-major order per image."""
    batch, height, width, channels = feature_map.shape
    windows = feature_map.view(batch, height // window, window, width // window, window, channels)
    windows = windows.transpose(2, 3)  # (batch, rows of windows, columns of windows, window, window, C)
    return windows.reshape(-1, window * window, channels)


def window_reverse(windows: torch.Tensor, window: int, height: int, width: int) -> torch.Tensor:
    """(batch * windows, window * window, C) -> (batch, height, width, C): window_partition undone."""
    channels = windows.shape[-1]
    feature_map = windows.view(-1, height // window, width // window, window, window, channels)
    return feature_map.transpose(2, 3).reshape(-1, height, width, channels)


def shifted_window_mask(height: int, width: int, window: int, shift: int, dtype, device) -> torch.Tensor:
    """The additive mask of shifted-window attention on a (height, width) map: (windows, L, L), L = window^2.

    Rolling the map by ``shift`` brings the bottom and right edges next to the top and left ones. Along each
    axis the positions fall in three regions: [0, size - window), [size - window, size - shift) and
    [size - shift, size); a patch may attend to another only if both are in the same region along both axes
    (9 region pairs). Other pairs get SHIFT_MASK_VALUE (-100, as in the reference: not -inf).
    """
    rows, cols = torch.arange(height, device=device), torch.arange(width, device=device)
    row_region = (rows >= height - window).long() + (rows >= height - shift).long()  # (height,) in 0, 1, 2
    col_region = (cols >= width - window).long() + (cols >= width - shift).long()  # (width,)
    region = (row_region[:, None] * 3 + col_region[None, :]).to(dtype)  # (height, width): 9 regions
    region_windows = window_partition(region[None, :, :, None], window).squeeze(-1)  # (windows, L)
    different = region_windows[:, None, :] != region_windows[:, :, None]  # (windows, L, L)
    return torch.zeros(different.shape, dtype=dtype, device=device).masked_fill(different, SHIFT_MASK_VALUE)


def log_spaced_offsets(window: int, pretrained_window: int) -> torch.Tensor:
    """Swin V2's position-bias inputs: every (dy, dx) offset between two patches of a window, (2w-1, 2w-1, 2).

    Offsets are scaled to [-8, 8] (by the pre-training window when given, so a larger window extrapolates
    beyond it) and squashed by sign(x) * log2(1 + |x|) / log2(8): large windows get a similar input range.
    """
    offsets = torch.arange(-(window - 1), window, dtype=torch.float32, device="cpu")  # (2w - 1,)
    table = torch.stack(torch.meshgrid(offsets, offsets, indexing="ij"), dim=-1)  # (2w-1, 2w-1, 2): (dy, dx)
    if pretrained_window > 0:
        table = table / (pretrained_window - 1)
    elif window > 1:
        table = table / (window - 1)
    table = table * 8
    return torch.sign(table) * torch.log2(torch.abs(table) + 1.0) / math.log2(8)


# ------------------------------------------------------------------------------------------------
# Embeddings and patch merging
# ------------------------------------------------------------------------------------------------


class SwinEmbeddings(nn.Module):
    """Patch embeddings, LayerNorm, optional mask token (masked image modeling) and absolute position table.

    Images whose sides are not multiples of patch_size are padded with zeros on the right and bottom first.
    """

    def __init__(self, config: SwinConfig, use_mask_token: bool = False):
        super().__init__()
        self.patch_embeddings = layers.PatchEmbeddings(config.num_channels, config.embed_dim, config.patch_size)
        image_size, patch_size = layers.as_pair(config.image_size), layers.as_pair(config.patch_size)
        self.grid = (image_size[0] // patch_size[0], image_size[1] // patch_size[1])  # at the configured size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, config.embed_dim)) if use_mask_token else None
        self.position_embeddings = None
        if config.use_absolute_embeddings:
            self.position_embeddings = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], config.embed_dim))
        self.norm = nn.LayerNorm(config.embed_dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, pixel_values, bool_masked_pos=None, interpolate_pos_encoding=False):
        height, width = pixel_values.shape[-2:]
        patch_h, patch_w = self.patch_embeddings.patch_size
        pixel_values = F.pad(pixel_values, (0, (-width) % patch_w, 0, (-height) % patch_h))  # whole patches
        grid = self.patch_embeddings.grid(*pixel_values.shape[-2:])  # (h, w)
        patches = self.norm(self.patch_embeddings(pixel_values))  # (batch, h * w, embed_dim)
        if bool_masked_pos is not None:
            if self.mask_token is None:
                raise ValueError(
                    "bool_masked_pos needs a mask token, which this model has not: use the masked-image-modeling "
                    "model (SwinForMaskedImageModeling) or build the bare model with use_mask_token=True."
                )
            if tuple(bool_masked_pos.shape) != patches.shape[:2]:
                raise ValueError(
                    f"bool_masked_pos has shape {tuple(bool_masked_pos.shape)}; these images have {grid[0]} x "
                    f"{grid[1]} patches, so it must be (batch, {grid[0] * grid[1]}): one flag per patch."
                )
            masked = bool_masked_pos[..., None].type_as(patches)  # (batch, h * w, 1): 1 = replace by the mask token
            patches = patches * (1.0 - masked) + self.mask_token * masked
        if self.position_embeddings is not None:
            patches = patches + self.position_table(grid, interpolate_pos_encoding)
        return self.dropout(patches), grid

    def position_table(self, grid: tuple[int, int], interpolate: bool) -> torch.Tensor:
        """The absolute position table for a (h, w) patch grid: (1, h * w, embed_dim)."""
        if grid == self.grid:
            return self.position_embeddings
        if not interpolate:
            raise ValueError(
                f"These images make a {grid[0]} x {grid[1]} patch grid; the position table covers "
                f"{self.grid[0]} x {self.grid[1]} (config.image_size). Resize the images to config.image_size, or "
                "pass interpolate_pos_encoding=True to resample the table."
            )
        return layers.resize_position_table(self.position_embeddings, self.grid, grid)


class SwinPatchMerging(nn.Module):
    """(batch, h * w, C) -> (batch, h/2 * w/2, 2C): each 2x2 group of patches concatenated (4C), then reduced.

    An odd side is padded with a row or column of zeros first. v1 normalises the 4C vector before the
    reduction, v2 the 2C result after it.
    """

    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.norm_after = config.swin_v2
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(2 * dim if self.norm_after else 4 * dim)

    def forward(self, hidden: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        batch, _, channels = hidden.shape
        height, width = grid
        hidden = F.pad(hidden.view(batch, height, width, channels), (0, 0, 0, width % 2, 0, height % 2))
        # the four patches of each 2x2 group: top-left, bottom-left, top-right, bottom-right
        corners = [hidden[:, 0::2, 0::2], hidden[:, 1::2, 0::2], hidden[:, 0::2, 1::2], hidden[:, 1::2, 1::2]]
        hidden = torch.cat(corners, dim=-1).view(batch, -1, 4 * channels)  # (batch, h/2 * w/2, 4C)
        if self.norm_after:
            return self.norm(self.reduction(hidden))
        return self.reduction(self.norm(hidden))  # (batch, h/2 * w/2, 2C)


# ------------------------------------------------------------------------------------------------
# Window attention and the block
# ------------------------------------------------------------------------------------------------


class SwinSelfAttention(nn.Module):
    """Multi-head self-attention inside each window, with a relative position bias per head.

    v1: the bias of two patches is a learned number per head for their (dy, dx) offset, read from
    ``relative_position_bias_table`` at ``relative_position_index``. v2: an MLP computes that table from the
    log-spaced offsets, squashed to (0, 16) by 16 * sigmoid; the scores are cosine similarities times a learned
    per-head temperature exp(logit_scale) (at most 100).
    """

    def __init__(self, config: SwinConfig, dim: int, num_heads: int, window: int, pretrained_window: int = 0):
        super().__init__()
        self.num_heads = num_heads
        self.window = window
        self.cosine = config.swin_v2
        self.query = nn.Linear(dim, dim, bias=config.qkv_bias)
        self.key = nn.Linear(dim, dim, bias=config.qkv_bias and not self.cosine)  # v2's key has no bias
        self.value = nn.Linear(dim, dim, bias=config.qkv_bias)
        self.dropout_prob = config.attention_probs_dropout_prob
        self.pattern_hook = layers.HookPoint()  # sees (batch * windows, heads, L, L) probabilities on the eager path
        # Which table row holds the bias of patch i -> patch j: (L, L). Fixed by the window, so never saved (old
        # Swin checkpoints carry it anyway; the loader skips it). Built on the CPU even when from_pretrained
        # builds the model on the meta device, since no checkpoint fills it.
        index = layers.relative_position_index(window, window, device="cpu")
        self.register_buffer("relative_position_index", index, persistent=False)
        if self.cosine:
            self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
            self.continuous_position_bias_mlp = nn.Sequential(
                nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, num_heads, bias=False)
            )
            coords = log_spaced_offsets(window, pretrained_window)  # (2w-1, 2w-1, 2)
            self.register_buffer("relative_coords_table", coords, persistent=False)
        else:
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, num_heads))

    def position_bias(self) -> torch.Tensor:
        """(heads, L, L): the bias added to the scores of every window."""
        if self.cosine:
            mlp_dtype = self.continuous_position_bias_mlp[0].weight.dtype
            table = self.continuous_position_bias_mlp(self.relative_coords_table.to(mlp_dtype))  # (2w-1, 2w-1, heads)
            table = table.view(-1, self.num_heads)
        else:
            table = self.relative_position_bias_table  # ((2w-1)^2, heads)
        area = self.window * self.window
        bias = table[self.relative_position_index.view(-1)].view(area, area, -1).permute(2, 0, 1)  # (heads, L, L)
        return 16 * torch.sigmoid(bias) if self.cosine else bias

    def forward(self, windows: torch.Tensor, shift_mask: torch.Tensor | None, output_attentions: bool):
        """windows (batch * windows, L, C); shift_mask (windows, L, L) or None -> (batch * windows, L, C), weights."""
        q = layers.split_heads(self.query(windows), self.num_heads)  # (batch * windows, heads, L, head_dim)
        k = layers.split_heads(self.key(windows), self.num_heads)
        v = layers.split_heads(self.value(windows), self.num_heads)
        bias = self.position_bias()[None]  # (1, heads, L, L)
        if self.cosine:
            temperature = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()  # (heads, 1, 1)
            q, k, scale = F.normalize(q, dim=-1) * temperature, F.normalize(k, dim=-1), 1.0
        else:
            scale = None  # 1 / sqrt(head_dim)
        if shift_mask is not None:
            if self.cosine:
                shift_mask = 2 * shift_mask  # the reference's Swinv2 adds its mask twice: -200
            num_windows = shift_mask.shape[0]
            shift_mask = shift_mask.repeat(windows.shape[0] // num_windows, 1, 1)[:, None]  # (batch * windows, 1, L, L)
            bias = bias + shift_mask  # (batch * windows, heads, L, L)
        context, weights = layers.attention(
            q,
            k,
            v,
            bias,
            dropout=self.dropout_prob if self.training else 0.0,
            scale=scale,
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return layers.merge_heads(context), weights  # (batch * windows, L, C)


class SwinSelfOutput(nn.Module):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, dim)
        # the reference drops out here with hidden_dropout_prob in v1, attention_probs_dropout_prob in v2
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob if config.swin_v2 else config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden))


class SwinAttention(nn.Module):
    def __init__(self, config: SwinConfig, dim: int, num_heads: int, window: int, pretrained_window: int = 0):
        super().__init__()
        self.self = SwinSelfAttention(config, dim, num_heads, window, pretrained_window)
        self.output = SwinSelfOutput(config, dim)

    def forward(self, windows, shift_mask, output_attentions):
        context, weights = self.self(windows, shift_mask, output_attentions)
        return self.output(context), weights


class SwinIntermediate(nn.Module):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = nn.Linear(dim, int(config.mlp_ratio * dim))
        self.act = layers.activation(config.hidden_act)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.act(self.dense(hidden))  # (batch, h * w, mlp_ratio * C)


class SwinOutput(nn.Module):
    def __init__(self, config: SwinConfig, dim: int):
        super().__init__()
        self.dense = nn.Linear(int(config.mlp_ratio * dim), dim)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(hidden))


class SwinLayer(GradientCheckpointingLayer):
    """Window attention (shifted by ``shift`` patches when it is > 0) and an MLP, each in a residual branch.

    v1 (pre-norm):  x = x + drop_path(attention(layernorm_before(x)));  x = x + mlp(layernorm_after(x))
    v2 (post-norm): x = x + drop_path(layernorm_before(attention(x)));  x = x + drop_path(layernorm_after(mlp(x)))
    (v1's MLP branch has no drop path in the reference.)
    """

    def __init__(self, config, dim, num_heads, resolution, shift, drop_path_rate, pretrained_window=0):
        super().__init__()
        self.post_norm = config.swin_v2
        self.window, self.shift = config.window_size, shift
        if self.post_norm:
            # v2 fits the window to the stage's resolution at the configured image size once, here (its position
            # bias MLP is built for that window; by the height alone, as in the reference); v1 does so for every
            # input, in window_and_shift().
            self.window = min(resolution[0], config.window_size)
            self.shift = 0 if resolution[0] <= self.window else shift
        self.layernorm_before = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.attention = SwinAttention(config, dim, num_heads, self.window, pretrained_window)
        self.drop_path = layers.DropPath(drop_path_rate)
        self.layernorm_after = nn.LayerNorm(dim, eps=config.layer_norm_eps)
        self.intermediate = SwinIntermediate(config, dim)
        self.output = SwinOutput(config, dim)

    def window_and_shift(self, grid: tuple[int, int]) -> tuple[int, int]:
        """The window and shift this layer uses on a (h, w) map. v1: a map no larger than the window is one
        window (no shift); a smaller one cannot use the position table, as in the reference, which fails there."""
        if self.post_norm or min(grid) > self.window:
            return self.window, self.shift
        if min(grid) < self.window:
            raise ValueError(
                f"A Swin stage got a {grid[0]} x {grid[1]} patch map, smaller than its {self.window} x {self.window} "
                "attention window (the position bias table is built for that window). Use larger images, e.g. "
                "config.image_size."
            )
        return self.window, 0

    def forward(self, hidden: torch.Tensor, grid: tuple[int, int], output_attentions: bool):
        """hidden (batch, h * w, C) on a grid = (h, w) -> (batch, h * w, C), attention weights or None."""
        window, shift = self.window_and_shift(grid)
        batch, _, channels = hidden.shape
        height, width = grid
        shortcut = hidden
        if not self.post_norm:
            hidden = self.layernorm_before(hidden)
        feature_map = hidden.view(batch, height, width, channels)
        pad_bottom, pad_right = (-height) % window, (-width) % window  # up to a multiple of the window
        feature_map = F.pad(feature_map, (0, 0, 0, pad_right, 0, pad_bottom))
        padded_height, padded_width = height + pad_bottom, width + pad_right
        shift_mask = None
        if shift > 0:
            feature_map = torch.roll(feature_map, shifts=(-shift, -shift), dims=(1, 2))
            shift_mask = shifted_window_mask(padded_height, padded_width, window, shift, hidden.dtype, hidden.device)
        windows = window_partition(feature_map, window)  # (batch * windows, window * window, C)
        attended, weights = self.attention(windows, shift_mask, output_attentions)
        feature_map = window_reverse(attended, window, padded_height, padded_width)  # (batch, H', W', C)
        if shift > 0:
            feature_map = torch.roll(feature_map, shifts=(shift, shift), dims=(1, 2))
        attended = feature_map[:, :height, :width].reshape(batch, height * width, channels)
        if self.post_norm:
            hidden = shortcut + self.drop_path(self.layernorm_before(attended))
            return hidden + self.drop_path(self.layernorm_after(self.output(self.intermediate(hidden)))), weights
        hidden = shortcut + self.drop_path(attended)
        return hidden + self.output(self.intermediate(self.layernorm_after(hidden))), weights


class SwinStage(nn.Module):
    """``depth`` layers at one resolution (every second one shifted), then patch merging (not in the last stage)."""

    def __init__(self, config, stage: int, resolution: tuple[int, int], drop_path_rates: list[float]):
        super().__init__()
        dim = config.embed_dim * 2**stage
        pretrained_window = config.pretrained_window_sizes[stage] if config.swin_v2 else 0
        self.blocks = nn.ModuleList(
            SwinLayer(
                config,
                dim,
                config.num_heads[stage],
                resolution,
                shift=0 if i % 2 == 0 else config.window_size // 2,
                drop_path_rate=drop_path_rates[i],
                pretrained_window=pretrained_window,
            )
            for i in range(config.depths[stage])
        )
        self.downsample = SwinPatchMerging(config, dim) if stage < len(config.depths) - 1 else None

    def forward(self, hidden: torch.Tensor, grid: tuple[int, int], output_attentions: bool):
        """-> hidden (batch, h' * w', C'), its grid (h', w'), and the attention weights of the stage's last layer."""
        weights = None
        for block in self.blocks:
            hidden, weights = block(hidden, grid, output_attentions)
        if self.downsample is not None:
            hidden = self.downsample(hidden, grid)
            grid = ((grid[0] + 1) // 2, (grid[1] + 1) // 2)
        return hidden, grid, weights


def output_grid(config: SwinConfig, height: int, width: int) -> tuple[int, int]:
    """The (h, w) patch grid of the last stage for (height, width) images: patches (padded up), then halved
    (rounded up) by each patch merging."""
    patch_h, patch_w = layers.as_pair(config.patch_size)
    grid = (-(-height // patch_h), -(-width // patch_w))
    for _ in range(len(config.depths) - 1):
        grid = ((grid[0] + 1) // 2, (grid[1] + 1) // 2)
    return grid


def spatial(hidden: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(batch, h * w, C) -> (batch, C, h, w): a stage's output as a feature map (``reshaped_hidden_states``)."""
    batch, _, channels = hidden.shape
    return hidden.view(batch, *grid, channels).permute(0, 3, 1, 2)


class SwinEncoder(nn.Module):
    def __init__(self, config: SwinConfig, grid: tuple[int, int]):
        super().__init__()
        total = sum(config.depths)
        rates = [config.drop_path_rate * i / max(total - 1, 1) for i in range(total)]  # stochastic depth per layer
        starts = [sum(config.depths[:stage]) for stage in range(len(config.depths))]
        self.layers = nn.ModuleList(
            SwinStage(
                config,
                stage,
                (grid[0] // 2**stage, grid[1] // 2**stage),  # the resolution at the configured image size
                rates[start : start + config.depths[stage]],
            )
            for stage, start in enumerate(starts)
        )

    def forward(self, hidden, grid, output_attentions: bool, output_hidden_states: bool):
        """Returns the last hidden state, and with the flags: the embeddings' output and every stage's (after
        its patch merging) as (batch, h * w, C) and as (batch, C, h, w) maps; the last layer's attention
        weights of every stage, (batch * windows, heads, L, L)."""
        all_hidden = (hidden,) if output_hidden_states else None
        all_maps = (spatial(hidden, grid),) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for stage in self.layers:
            hidden, grid, weights = stage(hidden, grid, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
                all_maps += (spatial(hidden, grid),)
            if output_attentions:
                all_attentions += (weights,)
        return hidden, all_hidden, all_attentions, all_maps


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class SwinPreTrainedModel(PreTrainedModel):
    config_class = SwinConfig
    base_model_prefix = "swin"
    main_input_name = "pixel_values"
    # Old Swin checkpoints saved the (fixed) index of the position table as a persistent buffer.
    _ignored_checkpoint_keys = r"attention\.self\.relative_position_index$"

    def __init__(self, config: SwinConfig):
        super().__init__(config)
        self.base_model_prefix = base_model_prefix_for(config)  # for loading a task checkpoint into the bare model

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Conv2d):
            nn.init.normal_(module.weight, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, SwinEmbeddings):  # mask token and position table start at zero
            for table in (module.mask_token, module.position_embeddings):
                if table is not None:
                    nn.init.zeros_(table)
        elif isinstance(module, SwinSelfAttention):
            if module.cosine:
                nn.init.constant_(module.logit_scale, math.log(10.0))
            else:
                nn.init.zeros_(module.relative_position_bias_table)
        else:
            layers.init_weights(module, std)


class SwinModel(SwinPreTrainedModel):
    """Embeddings + encoder + final LayerNorm (+ mean pooling). Returns ``last_hidden_state`` (batch, patches,
    hidden_size) at the last stage's resolution, ``pooler_output`` (batch, hidden_size)."""

    def __init__(self, config: SwinConfig, add_pooling_layer: bool = True, use_mask_token: bool = False):
        super().__init__(config)
        if config.swin_v2 and config.use_absolute_embeddings:
            raise NotImplementedError(
                "Swinv2 with use_absolute_embeddings=True does not run in the reference either (its table has one "
                "row more than there are patches); no Swinv2 checkpoint uses it. Set use_absolute_embeddings=False."
            )
        self.embeddings = SwinEmbeddings(config, use_mask_token=use_mask_token)
        self.encoder = SwinEncoder(config, self.embeddings.grid)
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.add_pooling_layer = add_pooling_layer  # the pooler is a mean: it has no weights
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.embeddings.patch_embeddings

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        bool_masked_pos: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        interpolate_pos_encoding: bool = False,
        return_dict: bool | None = None,
    ):
        layers.check_pixel_values(pixel_values, self.config.num_channels, type(self).__name__, self.dtype)
        output_attentions = self.config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )
        hidden, grid = self.embeddings(pixel_values, bool_masked_pos, interpolate_pos_encoding)  # (batch, h * w, C)
        hidden, all_hidden, all_attentions, all_maps = self.encoder(
            hidden, grid, output_attentions, output_hidden_states
        )
        hidden = self.layernorm(hidden)  # (batch, patches, hidden_size)
        out = SwinModelOutput(
            last_hidden_state=hidden,
            pooler_output=hidden.mean(dim=1) if self.add_pooling_layer else None,  # (batch, hidden_size)
            hidden_states=all_hidden,
            attentions=all_attentions,
            reshaped_hidden_states=all_maps,
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class SwinTaskModel(SwinPreTrainedModel):
    """Shared plumbing: the bare model lives at ``self.swin`` (``self.swinv2`` for Swin V2 checkpoints)."""

    def __init__(self, config: SwinConfig, **base_options):
        super().__init__(config)
        self.add_module(self.base_model_prefix, SwinModel(config, **base_options))

    def finish_with_maps(self, output_class, base_out, return_dict, **fields):
        """A head's results with the bare model's hidden states, attentions and feature maps."""
        out = output_class(
            hidden_states=base_out.hidden_states,
            attentions=base_out.attentions,
            reshaped_hidden_states=base_out.reshaped_hidden_states,
            **fields,
        )
        return self.format_output(out, return_dict)


class SwinForImageClassification(SwinTaskModel):
    """A linear classifier on the mean of the last stage's patches."""

    def __init__(self, config: SwinConfig):
        super().__init__(config)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels) if config.num_labels > 0 else nn.Identity()
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        labels=None,
        output_attentions=None,
        output_hidden_states=None,
        interpolate_pos_encoding=False,
        return_dict=None,
    ):
        base = self.run_base(
            pixel_values=pixel_values,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )
        logits = self.classifier(base.pooler_output)  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        return self.finish_with_maps(SwinImageClassifierOutput, base, return_dict, loss=loss, logits=logits)


class SwinForMaskedImageModeling(SwinTaskModel):
    """SimMIM: masked patches are replaced by a mask token; a 1x1 convolution and a pixel shuffle turn the last
    stage's map back into an image, and the loss is the L1 error on the masked pixels.

        last_hidden_state (batch, h * w, C) -> (batch, C, h, w) -> Conv2d 1x1 -> (batch, stride^2 * channels, h, w)
          -> PixelShuffle(stride) -> reconstruction (batch, channels, h * stride, w * stride)
    """

    def __init__(self, config: SwinConfig):
        super().__init__(config, add_pooling_layer=False, use_mask_token=True)
        self.decoder = nn.Sequential(
            nn.Conv2d(config.hidden_size, config.encoder_stride**2 * config.num_channels, kernel_size=1),
            nn.PixelShuffle(config.encoder_stride),
        )
        self.post_init()

    def forward(
        self,
        pixel_values=None,
        bool_masked_pos=None,
        output_attentions=None,
        output_hidden_states=None,
        interpolate_pos_encoding=False,
        return_dict=None,
    ):
        base = self.run_base(
            pixel_values=pixel_values,
            bool_masked_pos=bool_masked_pos,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            interpolate_pos_encoding=interpolate_pos_encoding,
        )
        grid = output_grid(self.config, *pixel_values.shape[-2:])
        reconstruction = self.decoder(spatial(base.last_hidden_state, grid))  # (batch, channels, H, W)
        loss = None
        if bool_masked_pos is not None:
            loss = self.masked_pixel_loss(pixel_values, reconstruction, bool_masked_pos)
        return self.finish_with_maps(
            SwinMaskedImageModelingOutput, base, return_dict, loss=loss, reconstruction=reconstruction
        )

    def masked_pixel_loss(self, pixel_values, reconstruction, bool_masked_pos) -> torch.Tensor:
        """Mean L1 error over the pixels of masked patches (and over channels)."""
        if reconstruction.shape != pixel_values.shape:
            raise ValueError(
                f"The reconstruction is {tuple(reconstruction.shape[-2:])} but the images are "
                f"{tuple(pixel_values.shape[-2:])}: the masked-image-modeling loss needs image sides that are "
                f"multiples of config.encoder_stride ({self.config.encoder_stride})."
            )
        patch_h, patch_w = layers.as_pair(self.config.patch_size)
        grid = pixel_values.shape[-2] // patch_h, pixel_values.shape[-1] // patch_w
        mask = bool_masked_pos.reshape(-1, *grid)  # (batch, h, w): 1 = masked patch
        mask = mask.repeat_interleave(patch_h, 1).repeat_interleave(patch_w, 2)[:, None]  # (batch, 1, H, W)
        error = F.l1_loss(pixel_values, reconstruction, reduction="none")  # (batch, channels, H, W)
        return (error * mask).sum() / (mask.sum() + 1e-5) / self.config.num_channels


# ------------------------------------------------------------------------------------------------
# The variant's Hub names: the same classes
# ------------------------------------------------------------------------------------------------

Swinv2Model = SwinModel
Swinv2ForImageClassification = SwinForImageClassification
Swinv2ForMaskedImageModeling = SwinForMaskedImageModeling
