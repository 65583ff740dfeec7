"""Whisper (OpenAI, 2022): speech recognition and speech translation with an encoder-decoder Transformer.

The encoder hears 30 seconds of audio as a log-mel spectrogram; the decoder writes the text, token by token,
after a prompt of special tokens that says what to do (workbench/generation/whisper.py builds it):

    input_features (batch, num_mel_bins, 3000)        80 (or 128) mel bands x 100 frames per second
      -> conv1 (kernel 3) -> GELU -> conv2 (kernel 3, stride 2) -> GELU          (batch, d_model, 1500)
      -> (batch, 1500, d_model) + embed_positions: a fixed sinusoidal table, not trained
      -> encoder_layers x pre-LN layer:  x + self_attn(norm(x)),  x + mlp(norm(x))
      -> layer_norm                                             encoder states (batch, 1500, d_model)
                                                                           one state per 20 ms of audio
    decoder_input_ids (batch, tgt):  <|startoftranscript|> <|en|> <|transcribe|> <|notimestamps|> text ...
      -> embed_tokens + embed_positions (learned, max_target_positions = 448)
      -> decoder_layers x pre-LN layer:  x + causal self_attn(norm(x))       (KV cache while generating)
                                         x + cross_attn(norm(x), encoder states)
                                         x + mlp(norm(x))
      -> layer_norm -> proj_out (tied to embed_tokens)                        logits (batch, tgt, vocab)

Whisper's own small choices: the attention's key projection has no bias, and queries are multiplied by
1/sqrt(head_dim) before the product with the keys (OpenAI's order of operations, which the reference keeps);
the encoder sees no padding mask (every input is padded to 30 s and the model learned to ignore the silence).

The classes, named as the reference's (module names are the Hub's state-dict keys, no key map):

    WhisperModel                       encoder + decoder, the decoder's last hidden state
    WhisperForConditionalGeneration    + proj_out: logits; ``generate()`` transcribes and translates
    WhisperForAudioClassification     the encoder alone + a projection, mean over time, a classifier
                                       (optionally over a learned weighted sum of all the encoder's layers)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .. import layers
from ..cache import EncoderDecoderCache, as_encoder_decoder_cache
from ..configuration import PretrainedConfig
from ..generation.whisper import WhisperGenerationMixin
from ..modeling import GradientCheckpointingLayer, PreTrainedModel, check_inputs, checkpointing_use_cache
from ..outputs import (
    BaseModelOutput,
    BaseModelOutputWithPastAndCrossAttentions,
    Seq2SeqLMOutput,
    Seq2SeqModelOutput,
    SequenceClassifierOutput,
    seq2seq_fields,
)

# ------------------------------------------------------------------------------------------------
# Config
# ------------------------------------------------------------------------------------------------


class WhisperConfig(PretrainedConfig):
    """config.json of a Whisper checkpoint. The defaults are whisper-tiny's shape (as the reference's)."""

    model_type = "whisper"
    keys_to_ignore_at_inference = ["past_key_values"]
    attribute_map = {
        "num_key_value_heads": "encoder_attention_heads",
        "num_attention_heads": "encoder_attention_heads",
        "hidden_size": "d_model",
        "num_hidden_layers": "encoder_layers",
        "num_decoder_layers": "decoder_layers",
    }
    defaults = dict(
        vocab_size=51865,  # 50257 text tokens (GPT-2's BPE) + specials + 1501 timestamps (51864 for English-only)
        num_mel_bins=80,  # mel bands of the input (128 for large-v3)
        encoder_layers=4,
        encoder_attention_heads=6,
        decoder_layers=4,
        decoder_attention_heads=6,
        decoder_ffn_dim=1536,  # feed-forward width
        encoder_ffn_dim=1536,
        encoder_layerdrop=0.0,  # training: probability of skipping a whole layer
        decoder_layerdrop=0.0,
        decoder_start_token_id=50257,  # <|startoftranscript|> (50258 in the multilingual vocabulary)
        use_cache=True,
        is_encoder_decoder=True,
        activation_function="gelu",
        d_model=384,  # width of every vector
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        init_std=0.02,
        scale_embedding=False,  # read by nothing (the reference's Whisper ignores it too)
        max_source_positions=1500,  # encoder states: 30 s at 20 ms each; the input has twice as many frames
        max_target_positions=448,  # decoder positions: the longest prompt + transcript
        pad_token_id=50256,
        bos_token_id=50256,
        eos_token_id=50256,  # <|endoftext|>
        suppress_tokens=None,  # generate: ids never generated (the checkpoints' generation config lists them)
        begin_suppress_tokens=[220, 50256],  # generate: not as the first token (" " and <|endoftext|>)
        use_weighted_layer_sum=False,  # audio classification: a learned mix of all the encoder's layers
        classifier_proj_size=256,  # audio classification: width of the projection before the mean over time
        apply_spec_augment=False,  # training: mask random spans of the input (SpecAugment)
        mask_time_prob=0.05,
        mask_time_length=10,
        mask_time_min_masks=2,
        mask_feature_prob=0.0,
        mask_feature_length=10,
        mask_feature_min_masks=0,
        median_filter_width=7,  # word timestamps: width of the filter that smooths the cross-attentions
        tie_word_embeddings=True,  # proj_out shares embed_tokens' weight
    )

    def __init__(self, **kwargs):
        super().__init__(**{**type(self).defaults, **kwargs})
        for side in ("encoder", "decoder"):
            heads = getattr(self, f"{side}_attention_heads")
            if self.d_model % heads:
                raise ValueError(f"d_model={self.d_model} is not a multiple of {side}_attention_heads={heads}.")
        if self.d_model % 2:
            raise ValueError(f"d_model={self.d_model} must be even: the sinusoidal positions come in sin/cos pairs.")


# Tiny presets for tests and teaching: seconds to build and run on a CPU. 60 input frames (0.6 s at 100 frames
# per second) instead of 3000.
TINY_PRESETS = {
    "whisper-tiny-random": dict(
        model_type="whisper",
        vocab_size=128,
        num_mel_bins=16,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=30,
        max_target_positions=64,
        pad_token_id=50,
        bos_token_id=50,
        eos_token_id=50,
        decoder_start_token_id=51,
        begin_suppress_tokens=[50],
    )
}


def check_input_features(features, config: WhisperConfig, dtype: torch.dtype, model_name: str) -> None:
    """A Whisper encoder's input: a float (batch, num_mel_bins, 2 * max_source_positions) tensor of the model's
    dtype. The errors say how to make one."""
    if features is None:
        raise ValueError(
            f"{model_name} needs input_features: the log-mel spectrogram of the audio, from the feature extractor "
            "(feature_extractor(audio, sampling_rate=16000, return_tensors='pt').input_features)."
        )
    if not isinstance(features, torch.Tensor) or not features.is_floating_point():
        got = str(features.dtype) if isinstance(features, torch.Tensor) else type(features).__name__
        raise TypeError(
            f"input_features must be a float torch.Tensor (a log-mel spectrogram), got {got}; call the feature "
            "extractor with return_tensors='pt'."
        )
    frames = 2 * config.max_source_positions  # two frames per encoder state (conv2's stride): 3000 = 30 s
    if features.dim() != 3 or features.shape[1] != config.num_mel_bins or features.shape[2] != frames:
        raise ValueError(
            f"{model_name} takes input_features of shape (batch, num_mel_bins={config.num_mel_bins}, {frames}) "
            f"({frames} frames = {frames / 100:g} s of audio, padded), got {tuple(features.shape)}. The feature "
            "extractor pads or trims each clip to that length; for longer audio, transcribe it in chunks "
            "(pipeline('automatic-speech-recognition', ..., chunk_length_s=30))."
        )
    if features.shape[0] == 0:
        raise ValueError(f"{model_name} got an empty batch (input_features of shape {tuple(features.shape)}).")
    if features.dtype != dtype:
        raise TypeError(f"input_features are {features.dtype} but the weights are {dtype}; pass features.to({dtype}).")
    if not bool(torch.isfinite(features).all()):
        raise ValueError(
            "input_features contain NaN or infinite values, so every output would be NaN; check the audio (NaN "
            "samples) before the feature extractor."
        )


# ------------------------------------------------------------------------------------------------
# Attention and layers
# ------------------------------------------------------------------------------------------------


class WhisperAttention(nn.Module):
    """Multi-head attention. Self-attention when ``encoder_states`` is None, else cross-attention: the queries
    come from the decoder, the keys and values from the encoder's states (projected once, then cached)."""

    def __init__(self, config: WhisperConfig, num_heads: int, layer_idx: int | None = None):
        super().__init__()
        self.num_heads = num_heads
        self.layer_idx = layer_idx  # its slot in the KV cache (decoder layers only)
        self.scale = (config.d_model // num_heads) ** -0.5
        self.dropout = config.attention_dropout
        self.k_proj = nn.Linear(config.d_model, config.d_model, bias=False)
        self.v_proj = nn.Linear(config.d_model, config.d_model)
        self.q_proj = nn.Linear(config.d_model, config.d_model)
        self.out_proj = nn.Linear(config.d_model, config.d_model)
        self.pattern_hook = layers.HookPoint()  # sees (batch, heads, q, k) probabilities on the eager path

    def forward(
        self,
        hidden: torch.Tensor,
        additive_mask: torch.Tensor | None,
        cache: EncoderDecoderCache | None,
        output_attentions: bool,
        encoder_states: torch.Tensor | None = None,
    ):
        # queries scaled before the product, as OpenAI's code does (the rounding differs from scaling the scores)
        q = layers.split_heads(self.q_proj(hidden) * self.scale, self.num_heads)  # (batch, heads, q, head_dim)
        if encoder_states is None:
            k = layers.split_heads(self.k_proj(hidden), self.num_heads)
            v = layers.split_heads(self.v_proj(hidden), self.num_heads)
            if cache is not None:
                k, v = cache.update(k, v, self.layer_idx)  # (batch, heads, past + q, head_dim)
        elif cache is not None and cache.is_filled(self.layer_idx):
            k, v = cache.cross(self.layer_idx)  # projected at the first decoding step
        else:
            k = layers.split_heads(self.k_proj(encoder_states), self.num_heads)  # (batch, heads, frames, head_dim)
            v = layers.split_heads(self.v_proj(encoder_states), self.num_heads)
            if cache is not None:
                cache.set_cross(k, v, self.layer_idx)
        context, weights = layers.attention(
            q,
            k,
            v,
            additive_mask,
            dropout=self.dropout if self.training else 0.0,
            scale=1.0,  # already in q
            return_weights=output_attentions,
            pattern_hook=self.pattern_hook,
        )
        return self.out_proj(layers.merge_heads(context)), weights  # (batch, q, d_model)


def _feed_forward(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """The MLP of an encoder or decoder layer: fc1 -> activation -> (activation dropout) -> fc2. (fc1 and fc2 live
    in the layer itself, as in the Hub's state dicts.)"""
    hidden = F.dropout(layer.activation(layer.fc1(hidden)), p=layer.activation_dropout, training=layer.training)
    return layer.fc2(hidden)


class WhisperEncoderLayer(GradientCheckpointingLayer):
    """Pre-LN: x + self_attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.self_attn = WhisperAttention(config, config.encoder_attention_heads)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.encoder_ffn_dim)
        self.fc2 = nn.Linear(config.encoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.activation = layers.activation(config.activation_function)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def forward(self, hidden: torch.Tensor, output_attentions: bool):
        attended, weights = self.self_attn(self.self_attn_layer_norm(hidden), None, None, output_attentions)
        hidden = hidden + F.dropout(attended, p=self.dropout, training=self.training)
        mlp = _feed_forward(self, self.final_layer_norm(hidden))
        hidden = hidden + F.dropout(mlp, p=self.dropout, training=self.training)
        if hidden.dtype == torch.float16:  # keep float16 activations finite (inf would turn into NaN later)
            limit = torch.finfo(torch.float16).max - 1000
            hidden = hidden.clamp(-limit, limit)
        return hidden, weights


class WhisperDecoderLayer(GradientCheckpointingLayer):
    """Pre-LN: x + causal self_attn(norm(x)), x + cross_attn(norm(x), encoder states), x + mlp(norm(x))."""

    def __init__(self, config: WhisperConfig, layer_idx: int):
        super().__init__()
        self.self_attn = WhisperAttention(config, config.decoder_attention_heads, layer_idx)
        self.self_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.encoder_attn = WhisperAttention(config, config.decoder_attention_heads, layer_idx)
        self.encoder_attn_layer_norm = nn.LayerNorm(config.d_model)
        self.fc1 = nn.Linear(config.d_model, config.decoder_ffn_dim)
        self.fc2 = nn.Linear(config.decoder_ffn_dim, config.d_model)
        self.final_layer_norm = nn.LayerNorm(config.d_model)
        self.activation = layers.activation(config.activation_function)
        self.dropout, self.activation_dropout = config.dropout, config.activation_dropout

    def forward(self, hidden, self_mask, encoder_states, cache, output_attentions: bool):
        attended, self_weights = self.self_attn(self.self_attn_layer_norm(hidden), self_mask, cache, output_attentions)
        hidden = hidden + F.dropout(attended, p=self.dropout, training=self.training)
        cross_weights = None
        if encoder_states is not None:
            attended, cross_weights = self.encoder_attn(
                self.encoder_attn_layer_norm(hidden), None, cache, output_attentions, encoder_states=encoder_states
            )
            hidden = hidden + F.dropout(attended, p=self.dropout, training=self.training)
        mlp = _feed_forward(self, self.final_layer_norm(hidden))
        hidden = hidden + F.dropout(mlp, p=self.dropout, training=self.training)
        return hidden, self_weights, cross_weights


# ------------------------------------------------------------------------------------------------
# Encoder and decoder
# ------------------------------------------------------------------------------------------------


class WhisperSinusoids(nn.Embedding):
    """The encoder's positions: a fixed table of sinusoids (layers.sinusoids_log_spaced, the same numbers as
    OpenAI's), never trained. Checkpoints store it (``encoder.embed_positions.weight``), so it is a frozen weight."""

    def __init__(self, num_positions: int, dim: int):
        super().__init__(num_positions, dim)
        self.weight.requires_grad_(False)

    def reset_parameters(self) -> None:
        if not self.weight.is_meta:
            with torch.no_grad():
                self.weight.copy_(layers.sinusoids_log_spaced(torch.arange(self.num_embeddings), self.embedding_dim))


class WhisperEncoder(nn.Module):
    """Two convolutions (the second halves the frame rate), sinusoidal positions, pre-LN layers, a final norm:
    (batch, num_mel_bins, frames) -> (batch, frames / 2, d_model)."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv1d(config.num_mel_bins, config.d_model, kernel_size=3, padding=1)
        self.conv2 = nn.Conv1d(config.d_model, config.d_model, kernel_size=3, stride=2, padding=1)
        self.embed_positions = WhisperSinusoids(config.max_source_positions, config.d_model)
        self.layers = nn.ModuleList(WhisperEncoderLayer(config) for _ in range(config.encoder_layers))
        self.layer_norm = nn.LayerNorm(config.d_model)

    def get_input_embeddings(self) -> nn.Module:
        return self.conv1

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,  # not read: Whisper's encoder attends to every frame
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        config = self.config
        check_input_features(input_features, config, self.conv1.weight.dtype, "The Whisper encoder")
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        hidden = F.gelu(self.conv1(input_features))  # (batch, d_model, frames)
        hidden = F.gelu(self.conv2(hidden))  # (batch, d_model, frames / 2)
        hidden = hidden.permute(0, 2, 1) + self.embed_positions.weight  # (batch, frames / 2, d_model)
        hidden = F.dropout(hidden, p=config.dropout, training=self.training)

        all_hidden = (hidden,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layers:
            if self.training and config.encoder_layerdrop > 0 and torch.rand([]) < config.encoder_layerdrop:
                continue  # LayerDrop: skip the whole layer
            hidden, weights = layer(hidden, output_attentions)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attentions += (weights,)
        hidden = self.layer_norm(hidden)
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)  # as the reference: the last entry is after layer_norm
        out = BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attentions)
        return out if (config.return_dict if return_dict is None else return_dict) else out.to_tuple()


class WhisperDecoder(nn.Module):
    """Token embeddings + learned positions, pre-LN layers with causal self-attention (KV cache) and
    cross-attention over the encoder's states, a final norm: (batch, tgt) ids -> (batch, tgt, d_model)."""

    def __init__(self, config: WhisperConfig):
        super().__init__()
        self.config = config
        self.embed_tokens = nn.Embedding(config.vocab_size, config.d_model, config.pad_token_id)
        self.embed_positions = nn.Embedding(config.max_target_positions, config.d_model)
        self.layers = nn.ModuleList(WhisperDecoderLayer(config, i) for i in range(config.decoder_layers))
        self.layer_norm = nn.LayerNorm(config.d_model)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def forward(
        self,
        input_ids=None,
        attention_mask=None,
        encoder_hidden_states=None,
        past_key_values=None,
        inputs_embeds=None,
        position_ids=None,
        use_cache=None,
        output_attentions=None,
        output_hidden_states=None,
        return_dict=None,
    ):
        config = self.config
        name = "The Whisper decoder (decoder_input_ids or decoder_inputs_embeds)"
        batch, seq = check_inputs(input_ids, inputs_embeds, None, name)
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        output_hidden_states = config.output_hidden_states if output_hidden_states is None else output_hidden_states
        use_cache = checkpointing_use_cache(self, config.use_cache if use_cache is None else use_cache, past_key_values)
        cache = as_encoder_decoder_cache(past_key_values, len(self.layers), use_cache)
        past = cache.get_seq_length() if cache is not None else 0
        layers.check_decoder_length(past, seq, config.max_target_positions, "The Whisper decoder")

        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (batch, tgt, d_model)
        if position_ids is None:
            positions = self.embed_positions.weight[past : past + seq]  # (tgt, d_model): after the cached tokens
        else:
            positions = self.embed_positions(position_ids)  # (batch, tgt, d_model)
        hidden = inputs_embeds + positions.to(inputs_embeds.dtype)
        hidden = F.dropout(hidden, p=config.dropout, training=self.training)
        # (batch or 1, 1, tgt, past + tgt): causal, and padding where decoder_attention_mask has zeros. The
        # cross-attention has no mask: every encoder state is a real frame.
        self_mask = layers.decoder_attention_mask(attention_mask, past, seq, hidden.dtype, hidden.device)

        all_hidden = (hidden,) if output_hidden_states else None
        all_self = () if output_attentions else None
        all_cross = () if output_attentions and encoder_hidden_states is not None else None
        for layer in self.layers:
            if self.training and config.decoder_layerdrop > 0 and torch.rand([]) < config.decoder_layerdrop:
                continue
            hidden, self_weights, cross_weights = layer(
                hidden, self_mask, encoder_hidden_states, cache, output_attentions
            )
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_self += (self_weights,)
            if all_cross is not None:
                all_cross += (cross_weights,)
        if cache is not None:
            cache.advance(seq)
        hidden = self.layer_norm(hidden)
        if output_hidden_states:
            all_hidden = all_hidden[:-1] + (hidden,)
        out = BaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden,
            past_key_values=cache if use_cache else None,
            hidden_states=all_hidden,
            attentions=all_self,
            cross_attentions=all_cross,
        )
        return out if (config.return_dict if return_dict is None else return_dict) else out.to_tuple()


# ------------------------------------------------------------------------------------------------
# The bare model
# ------------------------------------------------------------------------------------------------


class WhisperPreTrainedModel(PreTrainedModel):
    config_class = WhisperConfig
    base_model_prefix = "model"
    main_input_name = "input_features"  # what generate() and the pipelines hand to the encoder

    def _init_weights(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, WhisperSinusoids):
            module.reset_parameters()  # not random: the fixed table
        elif isinstance(module, nn.Conv1d):
            nn.init.normal_(module.weight, mean=0.0, std=std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, (nn.Linear, nn.Embedding, nn.LayerNorm)):
            layers.init_weights(module, std)
        if getattr(module, "layer_weights", None) is not None:  # audio classification: start from the plain mean
            with torch.no_grad():
                module.layer_weights.fill_(1.0 / module.layer_weights.numel())

    def _feat_extract_output_lengths(self, input_lengths: torch.Tensor) -> torch.Tensor:
        """Encoder states for ``input_lengths`` feature frames (conv2's stride 2 halves them)."""
        return (input_lengths - 1) // 2 + 1

    _get_feat_extract_output_lengths = _feat_extract_output_lengths  # the reference's name


class WhisperModel(WhisperPreTrainedModel):
    """Encoder + decoder. Returns the decoder's ``last_hidden_state`` (batch, tgt, d_model) and the encoder's."""

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        self.decoder = WhisperDecoder(config)
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.decoder.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.decoder.embed_tokens = value

    def get_encoder(self) -> WhisperEncoder:
        return self.encoder

    def get_decoder(self) -> WhisperDecoder:
        return self.decoder

    def freeze_encoder(self) -> None:
        """Train the decoder only: the encoder's weights get no gradients."""
        self.encoder.requires_grad_(False)

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs=None,
        past_key_values=None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        if decoder_input_ids is None and decoder_inputs_embeds is None:
            raise ValueError(
                "Whisper's decoder needs its input: pass decoder_input_ids (at least "
                f"[[config.decoder_start_token_id]] = [[{self.config.decoder_start_token_id}]]) or labels, or call "
                "model.generate(input_features) to transcribe."
            )
        if encoder_outputs is None:
            if self.training and self.config.apply_spec_augment:
                input_features = spec_augment(input_features, attention_mask, self.config)
            encoder_outputs = self.encoder(
                input_features,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(*encoder_outputs)  # a tuple: (last state, hidden states, attentions)
        decoder_out = self.decoder(
            input_ids=decoder_input_ids,
            attention_mask=decoder_attention_mask,
            encoder_hidden_states=encoder_outputs[0],
            past_key_values=past_key_values,
            inputs_embeds=decoder_inputs_embeds,
            position_ids=decoder_position_ids,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        out = Seq2SeqModelOutput(
            last_hidden_state=decoder_out.last_hidden_state, **seq2seq_fields(encoder_outputs, decoder_out)
        )
        return self.format_output(out, return_dict)


def spec_augment(input_features: torch.Tensor, attention_mask: torch.Tensor | None, config: WhisperConfig):
    """SpecAugment (training only): zero random spans of frames (``mask_time_*``) and of mel bands
    (``mask_feature_*``) of (batch, num_mel_bins, frames) features, as the reference does."""
    batch, bands, frames = input_features.shape
    if config.mask_time_prob > 0:
        masked = layers.random_span_mask(
            (batch, frames), config.mask_time_prob, config.mask_time_length, attention_mask, config.mask_time_min_masks
        )  # (batch, frames) bool
        input_features = input_features.masked_fill(masked.to(input_features.device)[:, None, :], 0.0)
    if config.mask_feature_prob > 0:
        masked = layers.random_span_mask(
            (batch, bands), config.mask_feature_prob, config.mask_feature_length, None, config.mask_feature_min_masks
        )  # (batch, bands) bool
        input_features = input_features.masked_fill(masked.to(input_features.device)[:, :, None], 0.0)
    return input_features


# ------------------------------------------------------------------------------------------------
# Task heads
# ------------------------------------------------------------------------------------------------


class WhisperForConditionalGeneration(WhisperGenerationMixin, WhisperPreTrainedModel):
    """The model plus ``proj_out`` (tied to the token embeddings): logits (batch, tgt, vocab).
    ``generate(input_features, language=..., task=..., return_timestamps=...)`` transcribes or translates."""

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.model = WhisperModel(config)
        self.proj_out = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self._tied_weights_keys = {"proj_out.weight": "model.decoder.embed_tokens.weight"}
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.proj_out

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.proj_out = value

    def get_encoder(self) -> WhisperEncoder:
        return self.model.encoder

    def get_decoder(self) -> WhisperDecoder:
        return self.model.decoder

    def freeze_encoder(self) -> None:
        self.model.freeze_encoder()

    def max_total_length(self) -> int:
        """Decoder positions: generation cannot go past them."""
        return self.config.max_target_positions

    def prepare_decoder_input_ids_from_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return layers.shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        decoder_input_ids: torch.Tensor | None = None,
        decoder_attention_mask: torch.Tensor | None = None,
        encoder_outputs=None,
        past_key_values=None,
        decoder_inputs_embeds: torch.Tensor | None = None,
        decoder_position_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        if labels is not None:
            if labels.shape[1] > self.config.max_target_positions:
                raise ValueError(
                    f"The labels have {labels.shape[1]} tokens but the decoder has {self.config.max_target_positions} "
                    "positions (max_target_positions); truncate the transcripts when tokenizing them."
                )
            use_cache = False  # training: the whole target at once, nothing to keep
            if decoder_input_ids is None and decoder_inputs_embeds is None:
                decoder_input_ids = self.prepare_decoder_input_ids_from_labels(labels)
        base = self.model(
            input_features=input_features,
            attention_mask=attention_mask,
            decoder_input_ids=decoder_input_ids,
            decoder_attention_mask=decoder_attention_mask,
            encoder_outputs=encoder_outputs,
            past_key_values=past_key_values,
            decoder_inputs_embeds=decoder_inputs_embeds,
            decoder_position_ids=decoder_position_ids,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.proj_out(base.last_hidden_state)  # (batch, tgt, vocab)
        loss = layers.seq2seq_lm_loss(logits, labels) if labels is not None else None
        out = Seq2SeqLMOutput(loss=loss, logits=logits, **{k: v for k, v in base.items() if k != "last_hidden_state"})
        return self.format_output(out, return_dict)


class WhisperForAudioClassification(WhisperPreTrainedModel):
    """Classify a clip from the encoder alone (language identification, keyword spotting, ...):

    encoder states (batch, frames / 2, d_model)   [or a softmax-weighted sum of all its layers' states]
      -> projector (d_model -> classifier_proj_size) -> mean over time -> classifier   (batch, num_labels)
    """

    def __init__(self, config: WhisperConfig):
        super().__init__(config)
        self.encoder = WhisperEncoder(config)
        if config.use_weighted_layer_sum:
            num_states = config.encoder_layers + 1  # the embeddings and every layer's output
            self.layer_weights = nn.Parameter(torch.full((num_states,), 1.0 / num_states))
        self.projector = nn.Linear(config.d_model, config.classifier_proj_size)
        self.classifier = nn.Linear(config.classifier_proj_size, config.num_labels)
        self.post_init()

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.conv1

    def get_encoder(self) -> WhisperEncoder:
        return self.encoder

    def freeze_encoder(self) -> None:
        """Train the projector and the classifier only."""
        self.encoder.requires_grad_(False)

    def forward(
        self,
        input_features: torch.Tensor | None = None,
        encoder_outputs=None,
        labels: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
    ):
        weighted = self.config.use_weighted_layer_sum
        if weighted:
            output_hidden_states = True  # the sum reads every layer (and returns them, as the reference does)
        if encoder_outputs is None:
            encoder_outputs = self.encoder(
                input_features,
                output_attentions=output_attentions,
                output_hidden_states=output_hidden_states,
                return_dict=True,
            )
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        if weighted:
            hidden = layers.weighted_layer_sum(encoder_outputs.hidden_states, self.layer_weights)
        else:
            hidden = encoder_outputs.last_hidden_state
        pooled = self.projector(hidden).mean(dim=1)  # (batch, classifier_proj_size)
        logits = self.classifier(pooled)  # (batch, num_labels)
        loss = None
        if labels is not None:  # always single-label cross-entropy, as the reference
            loss = F.cross_entropy(logits.view(-1, self.config.num_labels), labels.to(logits.device).view(-1))
        out = SequenceClassifierOutput(
            loss=loss, logits=logits, hidden_states=encoder_outputs.hidden_states, attentions=encoder_outputs.attentions
        )
        return self.format_output(out, return_dict)
