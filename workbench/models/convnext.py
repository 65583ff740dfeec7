"""ConvNeXT and ConvNeXT V2: a convolutional network redesigned in the image of a vision transformer.

ConvNeXT (Liu et al. 2022) keeps convolutions but borrows the transformer's recipe: a "patchify" stem,
stages of residual blocks with a wide MLP, LayerNorm, GELU, layer scale and stochastic depth. ConvNeXT V2
(Woo et al. 2023) adds Global Response Normalization (GRN) inside each block's MLP and drops layer scale.
One architecture, two Hub names; the version is a config switch and both share every model class below:

    model_type   config class       checkpoints (for example)          block               prefix
    convnext     ConvNextConfig     facebook/convnext-tiny-224         layer scale         convnext.
    convnextv2   ConvNextV2Config   facebook/convnextv2-tiny-1k-224    GRN, no layer scale convnextv2.

    pixel_values (batch, channels, H, W)
      -> ConvNextEmbeddings: conv kernel = stride = patch_size, LayerNorm over channels   (batch, C0, H/4, W/4)
      -> ConvNextEncoder: one ConvNextStage per entry of depths / hidden_sizes
           stage i > 0 first downsamples: LayerNorm, conv kernel 2 stride 2              (batch, Ci, H/2^(i+2), ...)
           then depths[i] x ConvNextLayer, a residual block on (batch, Ci, h, w):
             x + drop_path(layer_scale * pwconv2(act(pwconv1(LayerNorm(dwconv 7x7(x))))))
             (the LayerNorm and the two pointwise convolutions run channels-last: (batch, h, w, Ci);
              V2: GRN between act and pwconv2, no layer scale)
      -> mean over height and width, LayerNorm                                  pooler_output (batch, C_last)
      -> classifier: Linear                                                     logits (batch, num_labels)

With ``output_hidden_states`` the model returns the stem's output and every stage's output, as feature maps
(batch, Ci, h, w): features at several scales, without an AutoBackbone. A convolutional network has no
attention, so there are no ``attentions``. Module names are the Hub's state-dict keys
(``encoder.stages.1.layers.0.pwconv1.weight``), so checkpoints load with no key map.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention


class ConvNextConfig(PretrainedConfig):
    model_type = "convnext"
    attribute_map = {"num_hidden_layers": "num_stages"}
    # The version switch, a constant of each config class (config.json tells the versions apart by model_type).
    global_response_norm = False  # V2: GRN in every block's MLP

    def __init__(
        self,
        num_channels: int = 3,  # of the input images (3: RGB)
        patch_size: int = 4,  # the stem's kernel and stride: each 4x4 patch becomes one position
        num_stages: int = 4,
        hidden_sizes: list[int] = (96, 192, 384, 768),  # channels of each stage (convnext-tiny)
        depths: list[int] = (3, 3, 9, 3),  # blocks in each stage
        hidden_act: str = "gelu",
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,  # of the final LayerNorm (the others use 1e-6, as the original code)
        layer_scale_init_value: float = 1e-6,  # initial per-channel scale of each block's output; 0: no layer scale
        drop_path_rate: float = 0.0,  # stochastic depth of the last block; it grows linearly from 0 at the first
        image_size: int = 224,  # the training resolution (informative: other sizes work too)
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_channels = num_channels
        self.patch_size = patch_size
        self.num_stages = num_stages
        self.hidden_sizes = list(hidden_sizes)
        self.depths = list(depths)
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.layer_scale_init_value = layer_scale_init_value
        self.drop_path_rate = drop_path_rate
        self.image_size = image_size
        if not len(self.hidden_sizes) == len(self.depths) == num_stages:
            raise ValueError(
                f"num_stages={num_stages}, but hidden_sizes has {len(self.hidden_sizes)} entries and depths "
                f"{len(self.depths)}: give one hidden size and one depth per stage."
            )


class ConvNextV2Config(ConvNextConfig):
    """ConvNeXT V2: GRN in each block's MLP, and no layer scale (nor its config.json key)."""

    model_type = "convnextv2"
    global_response_norm = True
    layer_scale_init_value = 0.0  # the class's value, read by the blocks: V2 has no layer scale

    def __init__(self, **kwargs):
        if kwargs.pop("layer_scale_init_value", 0.0):
            raise ValueError("ConvNeXT V2 has no layer scale (GRN took its place); use a ConvNextConfig for it.")
        super().__init__(**kwargs)
        del self.layer_scale_init_value  # the class's 0.0 shows through, and config.json gets no such key


# Tiny presets for tests and teaching: the shape of facebook/convnext-tiny-224 (4 stages, a deeper third one)
# with 8-16x fewer channels, at 64x64 pixels. Seconds to build and run on a CPU.
_TINY = dict(hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 2, 1], image_size=64, num_labels=3)
TINY_PRESETS = {
    "convnext-tiny-random": dict(_TINY, model_type="convnext"),
    "convnextv2-tiny-random": dict(_TINY, model_type="convnextv2"),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class ChannelsFirstLayerNorm(nn.LayerNorm):
    """LayerNorm over the channels of a (batch, channels, height, width) feature map: each position's vector
    of channels is normalised on its own, exactly as a transformer normalises each token."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features.permute(0, 2, 3, 1)  # (batch, channels, h, w) -> (batch, h, w, channels)
        return super().forward(features).permute(0, 3, 1, 2)  # back to (batch, channels, h, w)


class GlobalResponseNorm(nn.Module):
    """ConvNeXT V2's GRN on a channels-last map (batch, h, w, channels).

    Each channel's L2 norm over the whole map, divided by the mean of those norms over the channels, says how
    strongly the channel responds compared with the others; the features are rescaled by it (a learned
    ``weight``, from zero) and the input is added back: x + weight * (x * ratio) + bias. Channels then compete,
    which keeps the wide MLP from collapsing to a few redundant features.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.bias = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        norms = torch.linalg.vector_norm(features, ord=2, dim=(1, 2), keepdim=True)  # (batch, 1, 1, channels)
        ratio = norms / (norms.mean(dim=-1, keepdim=True) + 1e-6)  # (batch, 1, 1, channels)
        return self.weight * (features * ratio) + self.bias + features


class ConvNextEmbeddings(nn.Module):
    """The "patchify" stem: a convolution whose kernel equals its stride cuts the image into non-overlapping
    patches (like a ViT's patch embedding, but the result stays a 2-D map), then LayerNorm over channels."""

    def __init__(self, config: ConvNextConfig):
        super().__init__()
        self.patch_embeddings = nn.Conv2d(
            config.num_channels, config.hidden_sizes[0], kernel_size=config.patch_size, stride=config.patch_size
        )
        self.layernorm = ChannelsFirstLayerNorm(config.hidden_sizes[0], eps=1e-6)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.layernorm(self.patch_embeddings(pixel_values))  # (batch, C0, H / patch, W / patch)


class ConvNextLayer(nn.Module):
    """One residual block. The depthwise 7x7 convolution mixes positions (one filter per channel, as attention
    mixes tokens); the MLP (two pointwise convolutions, written as Linear layers on a channels-last map) mixes
    channels, 4x wider inside. V2 puts GRN after the activation; V1 scales the output per channel."""

    def __init__(self, config: ConvNextConfig, dim: int, drop_path: float):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)  # depthwise: groups = channels
        self.layernorm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = layers.activation(config.hidden_act)
        self.grn = GlobalResponseNorm(4 * dim) if config.global_response_norm else None
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.layer_scale_parameter = (
            nn.Parameter(config.layer_scale_init_value * torch.ones(dim)) if config.layer_scale_init_value > 0 else None
        )
        self.drop_path = layers.DropPath(drop_path)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        residual = features
        features = self.dwconv(features)  # (batch, dim, h, w)
        features = features.permute(0, 2, 3, 1)  # (batch, dim, h, w) -> (batch, h, w, dim)
        features = self.act(self.pwconv1(self.layernorm(features)))  # (batch, h, w, 4 * dim)
        if self.grn is not None:
            features = self.grn(features)
        features = self.pwconv2(features)  # (batch, h, w, dim)
        if self.layer_scale_parameter is not None:
            features = self.layer_scale_parameter * features
        features = features.permute(0, 3, 1, 2)  # (batch, h, w, dim) -> (batch, dim, h, w)
        return residual + self.drop_path(features)


class ConvNextStage(nn.Module):
    """A downsampling step (every stage but the first: LayerNorm, conv kernel 2 stride 2, which halves the map
    and changes the channels) and one residual block per drop-path rate, at the new width."""

    def __init__(
        self, config: ConvNextConfig, in_channels: int, out_channels: int, downsample: bool, drop_path_rates: list
    ):
        super().__init__()
        if downsample:
            self.downsampling_layer = nn.Sequential(
                ChannelsFirstLayerNorm(in_channels, eps=1e-6),
                nn.Conv2d(in_channels, out_channels, kernel_size=2, stride=2),
            )
        else:
            self.downsampling_layer = nn.Sequential()  # the first stage: the stem has already downsampled
        self.layers = nn.Sequential(*(ConvNextLayer(config, out_channels, rate) for rate in drop_path_rates))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(self.downsampling_layer(features))  # (batch, out_channels, h, w)


class ConvNextEncoder(nn.Module):
    def __init__(self, config: ConvNextConfig):
        super().__init__()
        # Stochastic depth grows linearly block by block, from 0 at the first to drop_path_rate at the last
        # (computed on the CPU: the model may be built on the meta device).
        rates = torch.linspace(0, config.drop_path_rate, sum(config.depths), device="cpu").split(config.depths)
        sizes = config.hidden_sizes
        self.stages = nn.ModuleList(
            ConvNextStage(config, sizes[max(i - 1, 0)], sizes[i], downsample=i > 0, drop_path_rates=rates[i].tolist())
            for i in range(config.num_stages)
        )

    def forward(self, features: torch.Tensor, output_hidden_states: bool):
        """features: the stem's (batch, C0, h, w). Returns the last stage's map and, if asked, every map."""
        all_hidden = (features,) if output_hidden_states else None
        for stage in self.stages:
            features = stage(features)
            if output_hidden_states:
                all_hidden += (features,)
        return features, all_hidden


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class ConvNextPreTrainedModel(PreTrainedModel):
    """Shared plumbing: weight initialisation, and the bare model's attribute in task models: ``self.convnext``
    (``self.convnextv2`` for V2 checkpoints: the prefix of their keys), named after ``config.model_type``."""

    config_class = ConvNextConfig
    base_model_prefix = "convnext"

    def __init__(self, config: ConvNextConfig):
        super().__init__(config)
        self.base_model_prefix = config.model_type  # "convnext" or "convnextv2"

    def _init_weights(self, module: nn.Module) -> None:
        """As the reference: normal(0, initializer_range) convolution and linear weights, zero biases, LayerNorm
        at identity, layer scale at layer_scale_init_value, GRN at zero (so a fresh GRN is the identity)."""
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(module.weight, mean=0.0, std=self.config.initializer_range)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, GlobalResponseNorm):
            nn.init.zeros_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, ConvNextLayer) and module.layer_scale_parameter is not None:
            nn.init.constant_(module.layer_scale_parameter, self.config.layer_scale_init_value)


class ConvNextModel(ConvNextPreTrainedModel):
    """Stem + stages + pooled features. Returns ``last_hidden_state`` (batch, C_last, h, w) and
    ``pooler_output`` (batch, C_last): the LayerNorm of the map's mean over height and width."""

    def __init__(self, config: ConvNextConfig):
        super().__init__(config)
        self.embeddings = ConvNextEmbeddings(config)
        self.encoder = ConvNextEncoder(config)
        self.layernorm = nn.LayerNorm(config.hidden_sizes[-1], eps=config.layer_norm_eps)
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        name = type(self).__name__
        layers.check_pixel_values(pixel_values, self.config.num_channels, name, self.dtype)
        # The stem takes patch_size pixels to one position and each later stage halves the map: smaller images
        # would run out of pixels before the last stage.
        min_height, min_width = (p * 2 ** (self.config.num_stages - 1) for p in layers.as_pair(self.config.patch_size))
        if pixel_values.shape[-2] < min_height or pixel_values.shape[-1] < min_width:
            raise ValueError(
                f"{name} needs images of at least {min_height}x{min_width} pixels (patch_size "
                f"{self.config.patch_size}, then {self.config.num_stages - 1} halvings), got "
                f"{pixel_values.shape[-2]}x{pixel_values.shape[-1]}. Resize them: the image processor does."
            )
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        features = self.embeddings(pixel_values)  # (batch, C0, H / patch, W / patch)
        features, all_hidden = self.encoder(features, output_hidden_states)  # (batch, C_last, h, w)
        pooled = self.layernorm(features.mean([-2, -1]))  # global average pooling: (batch, C_last)
        out = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=features, pooler_output=pooled, hidden_states=all_hidden
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task head
# ------------------------------------------------------------------------------------------------


class ConvNextForImageClassification(ConvNextPreTrainedModel):
    """A linear classifier on the pooled features (``num_labels=0``: no classifier, the logits are the
    features). ``labels`` (batch,) give the cross-entropy loss (regression or multi-label by
    ``config.problem_type``, as for text classification)."""

    def __init__(self, config: ConvNextConfig):
        super().__init__(config)
        self.add_module(self.base_model_prefix, ConvNextModel(config))
        self.classifier = (
            nn.Linear(config.hidden_sizes[-1], config.num_labels) if config.num_labels > 0 else nn.Identity()
        )
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        base = self.run_base(pixel_values=pixel_values, output_hidden_states=output_hidden_states)
        logits = self.classifier(base.pooler_output)  # (batch, num_labels)
        loss = layers.sequence_classification_loss(logits, labels, self.config) if labels is not None else None
        out = ImageClassifierOutputWithNoAttention(loss=loss, logits=logits, hidden_states=base.hidden_states)
        return self.format_output(out, return_dict)


# ConvNeXT V2 runs on the same classes (the config switches GRN on); its Hub names are aliases.
ConvNextV2Model = ConvNextModel
ConvNextV2ForImageClassification = ConvNextForImageClassification
