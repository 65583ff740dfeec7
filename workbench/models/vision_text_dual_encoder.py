"""VisionTextDualEncoder: any image model and any text model of the registry, joined CLIP's way.

The recipe of "locked-image tuning" (LiT, Zhai et al. 2022) and of CLIP-Italian: take a pretrained image encoder
(ViT, DINOv2, CLIP's vision tower, ...) and a pretrained text encoder (BERT, RoBERTa, MiniLM, ...), add one bias-free
linear map on top of each into a shared space, and train those maps (and, if you like, the towers) with CLIP's
contrastive loss on (image, caption) pairs. Nothing else is new: the towers are the registry's own model classes, so
their weights keep the Hub's keys under ``vision_model.`` and ``text_model.``, and a checkpoint loads in the
reference as it is.

    pixel_values (images, channels, height, width)        input_ids (texts, seq) [+ attention_mask, token types]
      -> vision_model: any AutoModel of an image family      -> text_model: any AutoModel of a text family
         (ViTModel, Dinov2Model, CLIPVisionModel, ...)          (BertModel, RobertaModel, ...)
      -> its pooler_output (images, vision hidden)           -> its pooler_output (texts, text hidden)
         (DINOv2: the normalised [CLS]; ViT: tanh(dense))       (BERT: tanh(dense([CLS])))
      -> visual_projection (no bias)                         -> text_projection (no bias)
         (images, projection_dim)                               (texts, projection_dim)
                  \\                                                     /
                   image_embeds / |image_embeds|,   text_embeds / |text_embeds|
                   logits_per_text = exp(logit_scale) * text_embeds @ image_embeds.T     (texts, images)
                   logits_per_image = logits_per_text.T                                  (images, texts)
                   zero-shot classification: a softmax over the labels of an image, as CLIP's

``logit_scale`` is stored as a log, as CLIP's (it starts at log(1 / 0.07) = 2.6592). ``return_loss=True`` pairs
text i with image i: CLIP's symmetric cross-entropy. ``from_vision_text_pretrained(vision, text)`` joins two
pretrained checkpoints with fresh projections; ``VisionTextDualEncoderProcessor`` (processing/processor.py) is the
image processor of the first and the tokenizer of the second behind one call.
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .. import layers
from ..configuration import PretrainedConfig
from ..modeling import PreTrainedModel
from ..outputs import CLIPOutput
from .auto import AutoConfig, AutoModel, config_class_for


class VisionTextDualEncoderConfig(PretrainedConfig):
    """The two towers' configs (``vision_config``, ``text_config``: dicts with their own ``model_type`` in
    config.json) and the shared space's width."""

    model_type = "vision-text-dual-encoder"

    def __init__(
        self,
        vision_config: dict | PretrainedConfig | None = None,
        text_config: dict | PretrainedConfig | None = None,
        projection_dim: int = 512,  # the shared space's width
        logit_scale_init_value: float = 2.6592,  # log(1 / 0.07): the temperature CLIP starts from
        **kwargs,
    ):
        super().__init__(**kwargs)
        if vision_config is None or text_config is None:
            missing = " and ".join(
                n for n, c in (("vision_config", vision_config), ("text_config", text_config)) if c is None
            )
            raise ValueError(
                f"VisionTextDualEncoderConfig needs {missing}: the config of each tower, e.g. "
                "VisionTextDualEncoderConfig.from_vision_text_configs(ViTConfig(...), BertConfig(...))."
            )
        self.vision_config = _tower_config(vision_config, "vision_config")
        self.text_config = _tower_config(text_config, "text_config")
        self.projection_dim = projection_dim
        self.logit_scale_init_value = logit_scale_init_value

    @classmethod
    def from_vision_text_configs(
        cls, vision_config: PretrainedConfig, text_config: PretrainedConfig, **kwargs
    ) -> VisionTextDualEncoderConfig:
        return cls(vision_config=vision_config.to_dict(), text_config=text_config.to_dict(), **kwargs)

    def to_dict(self) -> dict:
        out = super().to_dict()
        out["vision_config"] = self.vision_config.to_dict()
        out["text_config"] = self.text_config.to_dict()
        return out


def _tower_config(config: dict | PretrainedConfig, key: str) -> PretrainedConfig:
    """A tower's config object, from a config.json dict by its model_type. A whole CLIP config as the vision
    tower means its image tower (the reference does the same)."""
    if isinstance(config, dict):
        if "model_type" not in config:
            raise ValueError(f"{key} has no model_type, so the tower's architecture is unknown: {sorted(config)}.")
        config = config_class_for(config["model_type"]).from_dict(config)
    if key == "vision_config" and config.model_type == "clip":
        config = config.vision_config
    return config


# Tiny preset for tests and teaching (``auto.tiny_config(name)``): a 2-layer ViT on 32x32 images and a 2-layer BERT.
_TINY_TOWER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
TINY_PRESETS = {
    "vision-text-dual-encoder-tiny-random": dict(
        model_type="vision-text-dual-encoder",
        vision_config=dict(model_type="vit", **_TINY_TOWER, image_size=32, patch_size=8),
        text_config=dict(model_type="bert", **_TINY_TOWER, vocab_size=99, max_position_embeddings=64),
        projection_dim=16,
    )
}


class VisionTextDualEncoderModel(PreTrainedModel):
    """An image tower and a text tower of the registry with CLIP's projections and temperature on top:
    ``logits_per_image`` (images, texts). Build it from a config (random towers), from two towers
    (``VisionTextDualEncoderModel(vision_model=..., text_model=...)``), or from two checkpoints
    (``from_vision_text_pretrained``)."""

    config_class = VisionTextDualEncoderConfig
    base_model_prefix = "vision_text_dual_encoder"

    def __init__(
        self,
        config: VisionTextDualEncoderConfig | None = None,
        vision_model: PreTrainedModel | None = None,
        text_model: PreTrainedModel | None = None,
    ):
        if config is None:
            if vision_model is None or text_model is None:
                raise ValueError("VisionTextDualEncoderModel needs a config, or both vision_model and text_model.")
            config = VisionTextDualEncoderConfig.from_vision_text_configs(vision_model.config, text_model.config)
        super().__init__(config)
        # the registry's base model of each tower; given towers keep their (pretrained) weights
        self.vision_model = vision_model or _base_model_class(config.vision_config)(config.vision_config)
        self.text_model = text_model or _base_model_class(config.text_config)(config.text_config)
        self.vision_model.config, self.text_model.config = config.vision_config, config.text_config  # one source
        vision_width, text_width = config.vision_config.hidden_size, config.text_config.hidden_size
        self.visual_projection = nn.Linear(vision_width, config.projection_dim, bias=False)
        self.text_projection = nn.Linear(text_width, config.projection_dim, bias=False)
        self.logit_scale = nn.Parameter(torch.tensor(config.logit_scale_init_value))
        self.post_init()

    def post_init(self) -> None:
        """Initialise the projections and the temperature only: each tower initialised itself when it was built,
        and towers passed in keep their weights."""
        if not any(p.is_meta for p in self.parameters()):
            for module in (self.visual_projection, self.text_projection, self):
                self._init_weights(module)

    def _init_weights(self, module: nn.Module) -> None:
        """The projections normal(0, 0.02), the temperature at logit_scale_init_value; a tower's module by the
        tower's own rule (used for weights a checkpoint lacks)."""
        if module is self:
            nn.init.constant_(self.logit_scale, self.config.logit_scale_init_value)
        elif module is self.visual_projection or module is self.text_projection:
            nn.init.normal_(module.weight, std=0.02)
        else:
            tower = self.vision_model if any(m is module for m in self.vision_model.modules()) else self.text_model
            tower._init_weights(module)

    def get_input_embeddings(self) -> nn.Module:
        return self.text_model.get_input_embeddings()

    def _checkpoint_to_model_key(self, key: str, model_keys: set[str]) -> str:
        """Also the current reference's layout of a CLIP image tower, which leaves out the tower's own prefix
        (``vision_model.embeddings.*``; the Hub's checkpoints and this model: ``vision_model.vision_model.*``)."""
        key = super()._checkpoint_to_model_key(key, model_keys)
        tower_name, _, rest = key.partition(".")
        if key not in model_keys and tower_name in ("vision_model", "text_model"):
            nested = f"{tower_name}.{getattr(self, tower_name).base_model_prefix}.{rest}"
            if nested in model_keys:
                return nested
        return key

    def _text_outputs(self, input_ids, attention_mask, position_ids, token_type_ids, **flags):
        """The text tower's outputs; only the inputs given are passed (not every text model takes token types)."""
        inputs = dict(attention_mask=attention_mask, position_ids=position_ids, token_type_ids=token_type_ids)
        inputs = {name: value for name, value in inputs.items() if value is not None}
        return self.text_model(input_ids=input_ids, **inputs, **flags, return_dict=True)

    def get_text_features(self, input_ids=None, attention_mask=None, position_ids=None, token_type_ids=None):
        """(texts, projection_dim): each text's vector in the shared space, not normalised (v4.37's return value:
        a tensor)."""
        pooled = self._text_outputs(input_ids, attention_mask, position_ids, token_type_ids).pooler_output
        return self.text_projection(pooled)

    def get_image_features(self, pixel_values=None) -> torch.Tensor:
        """(images, projection_dim): each image's vector in the shared space, not normalised."""
        pooled = self.vision_model(pixel_values=pixel_values, return_dict=True).pooler_output
        return self.visual_projection(pooled)

    def forward(
        self,
        input_ids=None,
        pixel_values=None,
        attention_mask=None,
        position_ids=None,
        return_loss=None,
        token_type_ids=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        config = self.config
        flags = dict(
            output_attentions=config.output_attentions if output_attentions is None else output_attentions,
            output_hidden_states=config.output_hidden_states if output_hidden_states is None else output_hidden_states,
        )
        image = self.vision_model(pixel_values=pixel_values, **flags, return_dict=True)
        text = self._text_outputs(input_ids, attention_mask, position_ids, token_type_ids, **flags)
        image_embeds = self.visual_projection(image.pooler_output)  # (images, projection_dim)
        text_embeds = self.text_projection(text.pooler_output)  # (texts, projection_dim)
        image_embeds = image_embeds / image_embeds.norm(p=2, dim=-1, keepdim=True)
        text_embeds = text_embeds / text_embeds.norm(p=2, dim=-1, keepdim=True)
        logits_per_text = text_embeds @ image_embeds.t() * self.logit_scale.exp()  # (texts, images)
        loss = None
        if return_loss:
            if len(text_embeds) != len(image_embeds):
                raise ValueError(
                    f"return_loss pairs text i with image i, but there are {len(text_embeds)} texts and "
                    f"{len(image_embeds)} images; pass one caption per image."
                )
            loss = layers.image_text_contrastive_loss(logits_per_text)
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

    @classmethod
    def from_vision_text_pretrained(
        cls,
        vision_model_name_or_path: str | os.PathLike | None = None,
        text_model_name_or_path: str | os.PathLike | None = None,
        **kwargs,
    ) -> VisionTextDualEncoderModel:
        """Join two pretrained checkpoints (folders or Hub ids) with new, random projections: train them before
        using the model. Keyword arguments starting with ``vision_`` / ``text_`` go to that tower's
        ``from_pretrained`` (``vision_model=`` / ``text_model=``: a tower already loaded); the others to the
        config (``projection_dim=256``). A whole CLIP checkpoint as the vision model gives its image tower."""
        towers = {}
        for side, name in (("vision", vision_model_name_or_path), ("text", text_model_name_or_path)):
            options = {key[len(side) + 1 :]: kwargs.pop(key) for key in list(kwargs) if key.startswith(side + "_")}
            tower = options.pop("model", None)
            if tower is None:
                if name is None:
                    raise ValueError(
                        f"from_vision_text_pretrained needs the {side} tower: pass {side}_model_name_or_path (a "
                        f"folder or Hub id) or {side}_model= (a loaded model)."
                    )
                config = options.pop("config", None) or AutoConfig.from_pretrained(name)
                if side == "vision" and config.model_type == "clip":
                    config = config.vision_config
                tower = _base_model_class(config).from_pretrained(name, config=config, **options)
            towers[side] = tower
        config = VisionTextDualEncoderConfig.from_vision_text_configs(
            towers["vision"].config, towers["text"].config, **kwargs
        )
        return cls(config, vision_model=towers["vision"], text_model=towers["text"])


def _base_model_class(config: PretrainedConfig) -> type[PreTrainedModel]:
    """The registry's base model for a tower's config (CLIPVisionModel for a CLIP image tower)."""
    return AutoModel.model_class(config)
