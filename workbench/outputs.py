"""What models return: ``ModelOutput``, a dict readable as attributes or as a tuple, and one class per shape
of output (the reference's names), so ``out.logits``, ``out["logits"]`` and ``out[0]`` all work."""

from __future__ import annotations

from typing import Any


class ModelOutput(dict):
    """A model's outputs, readable as attributes, by key, or by position like a tuple.

    ``out.logits``, ``out["logits"]`` and ``out[0]`` (when there is no loss) are the same tensor.
    Fields left at ``None`` are not stored, so positions count only what was returned, as in the
    reference.
    """

    fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any):
        values = dict(zip(self.fields, args))
        values.update(kwargs)
        unknown = set(values) - set(self.fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {sorted(unknown)}; fields: {self.fields}")
        super().__init__((name, values[name]) for name in self.fields if values.get(name) is not None)

    def __getattr__(self, name: str) -> Any:
        if name in type(self).fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in type(self).fields:
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self[name] = value

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            return super().__getitem__(key)
        return self.to_tuple()[key]

    def to_tuple(self) -> tuple:
        return tuple(self[name] for name in self.fields if name in self)


class BaseModelOutput(ModelOutput):
    fields = ("last_hidden_state", "hidden_states", "attentions")


class BaseModelOutputWithPooling(ModelOutput):
    fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


class BaseModelOutputWithPoolingAndNoAttention(ModelOutput):
    """A convolutional network's outputs (ConvNeXT, ResNet): feature maps (batch, channels, height, width), the
    pooled features, and with ``output_hidden_states`` the stem's output followed by every stage's."""

    fields = ("last_hidden_state", "pooler_output", "hidden_states")


class ImageClassifierOutputWithNoAttention(ModelOutput):
    fields = ("loss", "logits", "hidden_states")


class SwinModelOutput(ModelOutput):
    """A hierarchical vision transformer's outputs (Swin): besides the (batch, patches, width) hidden states,
    ``reshaped_hidden_states`` gives the same states as feature maps (batch, width, height, width); ``attentions``
    holds the last layer's of each stage, (batch * windows, heads, window^2, window^2)."""

    fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions", "reshaped_hidden_states")


class SwinImageClassifierOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions", "reshaped_hidden_states")


class SwinMaskedImageModelingOutput(ModelOutput):
    """``reconstruction``: the predicted pixel values (batch, channels, height, width)."""

    fields = ("loss", "reconstruction", "hidden_states", "attentions", "reshaped_hidden_states")


class ImageClassifierOutput(ModelOutput):
    """A vision transformer's classification (ViT, DeiT, DINOv2, BEiT): ``logits`` (batch, num_labels)."""

    fields = ("loss", "logits", "hidden_states", "attentions")


class MaskedImageModelingOutput(ModelOutput):
    """``reconstruction``: the predicted pixel values (batch, channels, height, width); ``loss``: their L1 error on
    the masked patches."""

    fields = ("loss", "reconstruction", "hidden_states", "attentions")


class DeiTForImageClassificationWithTeacherOutput(ModelOutput):
    """DeiT's two heads: ``cls_logits`` read the [CLS] token, ``distillation_logits`` the distillation token (trained
    to match a teacher network); ``logits`` is their mean."""

    fields = ("logits", "cls_logits", "distillation_logits", "hidden_states", "attentions")


class CLIPOutput(ModelOutput):
    """An image-text model's answer (CLIP, SigLIP, VisionTextDualEncoder): ``logits_per_image`` (images, texts): how
    well each text describes each image; ``logits_per_text`` its transpose. ``text_embeds`` / ``image_embeds``: the
    normalised vectors; the towers' own outputs as well."""

    fields = (
        "loss",
        "logits_per_image",
        "logits_per_text",
        "text_embeds",
        "image_embeds",
        "text_model_output",
        "vision_model_output",
    )

    def to_tuple(self) -> tuple:
        return tuple(v.to_tuple() if isinstance(v, ModelOutput) else v for v in super().to_tuple())


class MaskedLMOutput(ModelOutput):
    fields = ("loss", "logits", "hidden_states", "attentions")


class SequenceClassifierOutput(MaskedLMOutput):
    pass


class TokenClassifierOutput(MaskedLMOutput):
    pass


class MultipleChoiceModelOutput(MaskedLMOutput):
    pass


class CausalLMOutput(MaskedLMOutput):
    """A CTC model's outputs (Wav2Vec2ForCTC): ``logits`` (batch, frames, vocab), one distribution per frame."""


class Wav2Vec2BaseModelOutput(ModelOutput):
    """A speech encoder's outputs (Wav2Vec2, data2vec-audio): ``extract_features`` are the convolutional feature
    encoder's frames after its LayerNorm, (batch, frames, conv_dim[-1]), before the projection to hidden_size."""

    fields = ("last_hidden_state", "extract_features", "hidden_states", "attentions")


class QuestionAnsweringModelOutput(ModelOutput):
    fields = ("loss", "start_logits", "end_logits", "hidden_states", "attentions")


class BaseModelOutputWithPast(ModelOutput):
    """A decoder's outputs; ``past_key_values`` is the KV cache to pass to the next call (also readable as
    ``.cache``, the reference's newer name)."""

    fields = ("last_hidden_state", "past_key_values", "hidden_states", "attentions")

    @property
    def cache(self):
        return self.get("past_key_values")


class CausalLMOutputWithPast(BaseModelOutputWithPast):
    fields = ("loss", "logits", "past_key_values", "hidden_states", "attentions")


class SequenceClassifierOutputWithPast(CausalLMOutputWithPast):
    """A decoder's sequence classification: ``logits`` (batch, num_labels), read at each row's last token."""


class BaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    """An encoder-decoder's decoder on its own (``model.get_decoder()(...)``): a decoder's outputs plus the
    cross-attentions over the encoder's states."""

    fields = ("last_hidden_state", "past_key_values", "hidden_states", "attentions", "cross_attentions")


class Seq2SeqModelOutput(ModelOutput):
    """An encoder-decoder's outputs: the decoder's (``last_hidden_state``, self- and cross-attentions,
    the cache) followed by the encoder's."""

    fields = (
        "last_hidden_state",
        "past_key_values",
        "decoder_hidden_states",
        "decoder_attentions",
        "cross_attentions",
        "encoder_last_hidden_state",
        "encoder_hidden_states",
        "encoder_attentions",
    )


class Seq2SeqLMOutput(ModelOutput):
    fields = (
        "loss",
        "logits",
        "past_key_values",
        "decoder_hidden_states",
        "decoder_attentions",
        "cross_attentions",
        "encoder_last_hidden_state",
        "encoder_hidden_states",
        "encoder_attentions",
    )


class Seq2SeqSequenceClassifierOutput(Seq2SeqLMOutput):
    pass


def seq2seq_fields(encoder_outputs: BaseModelOutput, decoder_outputs: ModelOutput) -> dict[str, Any]:
    """What every encoder-decoder output carries besides its own fields: the decoder's cache, hidden states and
    attentions (self and cross), then the encoder's."""
    return dict(
        past_key_values=decoder_outputs.past_key_values,
        decoder_hidden_states=decoder_outputs.hidden_states,
        decoder_attentions=decoder_outputs.attentions,
        cross_attentions=decoder_outputs.cross_attentions,
        encoder_last_hidden_state=encoder_outputs.last_hidden_state,
        encoder_hidden_states=encoder_outputs.hidden_states,
        encoder_attentions=encoder_outputs.attentions,
    )
