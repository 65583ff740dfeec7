"""ResNet (He et al. 2015): stages of residual convolutional blocks after an aggressive stem.

Covers checkpoints whose ``model_type`` is ``resnet`` (microsoft/resnet-18 ... resnet-152). The two kinds of
block are a config switch (``layer_type``), as are where the downsampling happens:

    pixel_values (batch, channels, H, W)
      -> ResNetEmbeddings: conv 7x7 stride 2, BatchNorm, act; max-pool 3x3 stride 2      (batch, C_stem, H/4, W/4)
      -> ResNetEncoder: one ResNetStage per entry of depths / hidden_sizes; the first layer of every stage but
         the first (and of the first with downsample_in_first_stage) has stride 2 and halves the map
           basic       (resnet-18/34):  act(BN(conv3x3(relu(BN(conv3x3(x))))) + shortcut(x))
           bottleneck  (resnet-50+):    act(1x1 to C/4 -> 3x3 -> 1x1 to C, + shortcut(x)), each conv with BN;
                                        the stride sits on the 3x3 (on the first 1x1 with downsample_in_bottleneck)
           shortcut: the identity, or conv 1x1 (with the stride) + BN where the channels or the size change
      -> AdaptiveAvgPool2d(1)                                            pooler_output (batch, C_last, 1, 1)
      -> classifier: Flatten, Linear                                     logits (batch, num_labels)

Every convolution is followed by BatchNorm, which normalises each channel with the statistics of the batch
while training and keeps running averages of them (``running_mean``, ``running_var``, and the count
``num_batches_tracked``: buffers, saved and loaded with the weights); ``model.eval()`` (what from_pretrained
returns) normalises with those running averages instead, so that a prediction does not depend on the batch.

With ``output_hidden_states`` the model returns the stem's output and every stage's output, as feature maps
(batch, Ci, h, w). A convolutional network has no attention, so there are no ``attentions``. Module names are
the Hub's state-dict keys (``encoder.stages.0.layers.1.layer.0.normalization.running_mean``): no key map.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..outputs import BaseModelOutputWithPoolingAndNoAttention, ImageClassifierOutputWithNoAttention

LAYER_TYPES = ("basic", "bottleneck")


class ResNetConfig(PretrainedConfig):
    model_type = "resnet"

    def __init__(
        self,
        num_channels: int = 3,  # of the input images (3: RGB)
        embedding_size: int = 64,  # channels of the stem
        hidden_sizes: list[int] = (256, 512, 1024, 2048),  # output channels of each stage (resnet-50)
        depths: list[int] = (3, 4, 6, 3),  # blocks in each stage
        layer_type: str = "bottleneck",  # "basic": two 3x3 convolutions; "bottleneck": 1x1, 3x3, 1x1
        hidden_act: str = "relu",  # of the stem and after each residual sum (inside a block it is always ReLU)
        downsample_in_first_stage: bool = False,  # stride 2 in the first stage too
        downsample_in_bottleneck: bool = False,  # the stride on the bottleneck's first 1x1 instead of its 3x3
        **kwargs,
    ):
        super().__init__(**kwargs)
        if layer_type not in LAYER_TYPES:
            raise ValueError(f"layer_type={layer_type!r} is not one of {', '.join(LAYER_TYPES)}.")
        if len(hidden_sizes) != len(depths):
            raise ValueError(
                f"hidden_sizes has {len(hidden_sizes)} entries and depths {len(depths)}: one of each per stage."
            )
        self.num_channels = num_channels
        self.embedding_size = embedding_size
        self.hidden_sizes = list(hidden_sizes)
        self.depths = list(depths)
        self.layer_type = layer_type
        self.hidden_act = hidden_act
        self.downsample_in_first_stage = downsample_in_first_stage
        self.downsample_in_bottleneck = downsample_in_bottleneck


# Tiny presets for tests and teaching: the shapes of microsoft/resnet-18 (basic) and resnet-50 (bottleneck)
# with 8-32x fewer channels and one block per stage. Seconds to build and run on a CPU.
TINY_PRESETS = {
    "resnet-tiny-random": dict(
        model_type="resnet", embedding_size=16, hidden_sizes=[16, 32, 48, 64], depths=[1, 1, 1, 1], layer_type="basic"
    ),
    "resnet-bottleneck-tiny-random": dict(
        model_type="resnet", embedding_size=16, hidden_sizes=[32, 64, 96, 128], depths=[1, 1, 1, 1]
    ),
}


# ------------------------------------------------------------------------------------------------
# Building blocks
# ------------------------------------------------------------------------------------------------


class ResNetConvLayer(nn.Module):
    """conv (no bias: BatchNorm's shift replaces it, "same" padding) -> BatchNorm -> activation (or none)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        activation: str | None = "relu",
    ):
        super().__init__()
        self.convolution = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        self.normalization = nn.BatchNorm2d(out_channels)
        self.activation = layers.activation(activation) if activation is not None else nn.Identity()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.activation(self.normalization(self.convolution(features)))  # (batch, out, h / stride, w / stride)


class ResNetEmbeddings(nn.Module):
    """The stem: a 7x7 convolution with stride 2, then a 3x3 max-pool with stride 2: a quarter of the height
    and width, so that the expensive stages run on small maps."""

    def __init__(self, config: ResNetConfig):
        super().__init__()
        self.embedder = ResNetConvLayer(
            config.num_channels, config.embedding_size, kernel_size=7, stride=2, activation=config.hidden_act
        )
        self.pooler = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.pooler(self.embedder(pixel_values))  # (batch, embedding_size, H / 4, W / 4)


class ResNetShortCut(nn.Module):
    """The residual path where the block changes the channels or the size: a 1x1 convolution (with the block's
    stride) and BatchNorm, so that it can be added to the block's output."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.convolution = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)
        self.normalization = nn.BatchNorm2d(out_channels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.normalization(self.convolution(features))


def shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """The identity where the block keeps the shape, else a projecting ``ResNetShortCut``."""
    if in_channels != out_channels or stride != 1:
        return ResNetShortCut(in_channels, out_channels, stride)
    return nn.Identity()


class ResNetBasicLayer(nn.Module):
    """Two 3x3 convolutions (the first with the stride) and the residual: act(layer(x) + shortcut(x))."""

    def __init__(self, config: ResNetConfig, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.shortcut = shortcut(in_channels, out_channels, stride)
        self.layer = nn.Sequential(
            ResNetConvLayer(in_channels, out_channels, stride=stride),
            ResNetConvLayer(out_channels, out_channels, activation=None),
        )
        self.activation = layers.activation(config.hidden_act)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.activation(self.layer(features) + self.shortcut(features))  # (batch, out, h', w')


class ResNetBottleNeckLayer(nn.Module):
    """1x1 down to a quarter of the channels, 3x3 at that width, 1x1 back up, and the residual: the 3x3 (the
    costly one) runs 4x narrower. The stride sits on the 3x3, or on the first 1x1 with downsample_in_bottleneck
    (the original paper's choice; torchvision's "ResNet v1.5" moved it to the 3x3)."""

    def __init__(self, config: ResNetConfig, in_channels: int, out_channels: int, stride: int = 1, reduction: int = 4):
        super().__init__()
        reduced = out_channels // reduction
        first_stride, middle_stride = (stride, 1) if config.downsample_in_bottleneck else (1, stride)
        self.shortcut = shortcut(in_channels, out_channels, stride)
        self.layer = nn.Sequential(
            ResNetConvLayer(in_channels, reduced, kernel_size=1, stride=first_stride),
            ResNetConvLayer(reduced, reduced, stride=middle_stride),
            ResNetConvLayer(reduced, out_channels, kernel_size=1, activation=None),
        )
        self.activation = layers.activation(config.hidden_act)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.activation(self.layer(features) + self.shortcut(features))  # (batch, out, h', w')


class ResNetStage(nn.Module):
    """``depth`` blocks; the first one changes the channels and applies the stage's stride."""

    def __init__(self, config: ResNetConfig, in_channels: int, out_channels: int, stride: int, depth: int):
        super().__init__()
        block = ResNetBottleNeckLayer if config.layer_type == "bottleneck" else ResNetBasicLayer
        self.layers = nn.Sequential(
            block(config, in_channels, out_channels, stride=stride),
            *(block(config, out_channels, out_channels) for _ in range(depth - 1)),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)  # (batch, out_channels, h / stride, w / stride)


class ResNetEncoder(nn.Module):
    def __init__(self, config: ResNetConfig):
        super().__init__()
        in_channels = [config.embedding_size, *config.hidden_sizes[:-1]]
        strides = [2 if config.downsample_in_first_stage else 1] + [2] * (len(config.depths) - 1)
        self.stages = nn.ModuleList(
            ResNetStage(config, c_in, c_out, stride, depth)
            for c_in, c_out, stride, depth in zip(in_channels, config.hidden_sizes, strides, config.depths)
        )

    def forward(self, features: torch.Tensor, output_hidden_states: bool):
        """features: the stem's (batch, embedding_size, h, w). Returns the last stage's map and, if asked,
        every map (the stem's first)."""
        all_hidden = (features,) if output_hidden_states else None
        for stage in self.stages:
            features = stage(features)
            if output_hidden_states:
                all_hidden += (features,)
        return features, all_hidden


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class ResNetPreTrainedModel(PreTrainedModel):
    config_class = ResNetConfig
    base_model_prefix = "resnet"

    def _init_weights(self, module: nn.Module) -> None:
        """As the reference (and torchvision): He-normal convolutions (fan_out, for ReLU), PyTorch's default
        Linear initialisation, BatchNorm at identity with fresh running statistics."""
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(module.in_features) if module.in_features > 0 else 0
            nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, nn.BatchNorm2d):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
            module.reset_running_stats()  # running_mean 0, running_var 1, num_batches_tracked 0


class ResNetModel(ResNetPreTrainedModel):
    """Stem + stages + average pooling. Returns ``last_hidden_state`` (batch, C_last, h, w) and
    ``pooler_output`` (batch, C_last, 1, 1), kept 4-D as in the reference."""

    def __init__(self, config: ResNetConfig):
        super().__init__(config)
        self.embedder = ResNetEmbeddings(config)
        self.encoder = ResNetEncoder(config)
        self.pooler = nn.AdaptiveAvgPool2d((1, 1))
        self.post_init()

    def forward(
        self,
        pixel_values: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        layers.check_pixel_values(pixel_values, self.config.num_channels, type(self).__name__, self.dtype)
        output_hidden_states = (
            self.config.output_hidden_states if output_hidden_states is None else output_hidden_states
        )

        features = self.embedder(pixel_values)  # (batch, embedding_size, H / 4, W / 4)
        features, all_hidden = self.encoder(features, output_hidden_states)  # (batch, C_last, h, w)
        pooled = self.pooler(features)  # the mean over height and width: (batch, C_last, 1, 1)
        out = BaseModelOutputWithPoolingAndNoAttention(
            last_hidden_state=features, pooler_output=pooled, hidden_states=all_hidden
        )
        return self.format_output(out, return_dict)


# ------------------------------------------------------------------------------------------------
# Task head
# ------------------------------------------------------------------------------------------------


class ResNetForImageClassification(ResNetPreTrainedModel):
    """A linear classifier on the pooled features (``num_labels=0``: no classifier, the logits are the
    features). ``labels`` (batch,) give the cross-entropy loss (regression or multi-label by
    ``config.problem_type``, as for text classification)."""

    def __init__(self, config: ResNetConfig):
        super().__init__(config)
        self.resnet = ResNetModel(config)
        self.classifier = nn.Sequential(  # keys classifier.1.weight / .bias, as on the Hub
            nn.Flatten(),  # (batch, C_last, 1, 1) -> (batch, C_last)
            nn.Linear(config.hidden_sizes[-1], config.num_labels) if config.num_labels > 0 else nn.Identity(),
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
