"""The ``generate()`` loop: ``GenerationMixin`` (mixed into every language model), greedy search and sampling,
and the ``Generate*Output`` classes that ``return_dict_in_generate=True`` returns. The other strategies have
modules of their own: beam search (beam_search.py), diverse beam search (group_beam_search.py) and contrastive
search (contrastive.py); ``generate`` prepares what they all share and calls the one the settings select.

Decoding writes into preallocated buffers (token ids, attention mask, KV cache) and runs under
``torch.inference_mode``: nothing grows per step.

Encoder-decoder models (T5, BART, Marian, ...) decode the same way. The difference is what the loop
starts from: the encoder reads ``input_ids`` once, and the decoder's "prompt" is the
``decoder_start_token_id`` alone. Each decoder step attends to its own previous tokens (the cache's
self-attention part) and to the encoder's states (cross-attention keys/values, computed at the first
step and kept in the cache):

    input_ids (batch, src) -> encoder, once -> encoder states (batch, src, hidden)
    decoder ids (batch, 1) = [decoder_start_token_id]
      -> decoder step (self-attention over its tokens, cross-attention over the encoder states)
      -> next-token logits -> processors -> choose -> append, repeat
"""

from __future__ import annotations

import copy
import os
import warnings
from typing import Any, Iterable

import torch

from .. import hub
from ..cache import EncoderDecoderCache, KVCache
from ..outputs import BaseModelOutput, ModelOutput
from .beam_search import beam_search
from .configuration_utils import GENERATION_CONFIG_NAME, GenerationConfig, as_id_list
from .contrastive import contrastive_search
from .group_beam_search import group_beam_search
from .logits_process import (
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    LogitNormalization,
    LogitsProcessor,
    LogitsProcessorList,
    MinLengthLogitsProcessor,
    MinNewTokensLengthLogitsProcessor,
    MinPLogitsWarper,
    NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    SuppressTokensAtBeginLogitsProcessor,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)
from .stopping_criteria import StoppingCriteria, StoppingCriteriaList, StopStringCriteria
from .streamers import BaseStreamer

# ------------------------------------------------------------------------------------------------
# Outputs
# ------------------------------------------------------------------------------------------------


class GenerateDecoderOnlyOutput(ModelOutput):
    """Greedy search and sampling: ``sequences`` (batch, total) and, when asked for, one entry per step."""

    fields = ("sequences", "scores", "logits", "attentions", "hidden_states", "past_key_values")


class GenerateBeamDecoderOnlyOutput(ModelOutput):
    """Beam search: also ``sequences_scores`` (length-penalised log-probabilities) and ``beam_indices``."""

    fields = (
        "sequences",
        "sequences_scores",
        "scores",
        "logits",
        "beam_indices",
        "attentions",
        "hidden_states",
        "past_key_values",
    )


class GenerateEncoderDecoderOutput(ModelOutput):
    """Greedy search and sampling with an encoder-decoder: the decoder's ``sequences`` (starting with the
    decoder start token) and, when asked for, the encoder's attentions/hidden states (once) and the
    decoder's self- and cross-attentions/hidden states (one entry per step)."""

    fields = (
        "sequences",
        "scores",
        "logits",
        "encoder_attentions",
        "encoder_hidden_states",
        "decoder_attentions",
        "cross_attentions",
        "decoder_hidden_states",
        "past_key_values",
    )


class GenerateBeamEncoderDecoderOutput(ModelOutput):
    fields = (
        "sequences",
        "sequences_scores",
        "scores",
        "logits",
        "beam_indices",
        "encoder_attentions",
        "encoder_hidden_states",
        "decoder_attentions",
        "cross_attentions",
        "decoder_hidden_states",
        "past_key_values",
    )


GreedySearchDecoderOnlyOutput = SampleDecoderOnlyOutput = GenerateDecoderOnlyOutput
BeamSearchDecoderOnlyOutput = GenerateBeamDecoderOnlyOutput


class GenerationRecorder:
    """What ``return_dict_in_generate=True`` collects while decoding, and the ``Generate*Output`` built from it.

    Both decoding loops (greedy search and sampling below, beam search in beam_search.py) call ``add_step``
    once per step and ``output`` at the end. Each per-step tuple is None unless its ``output_*`` setting
    asks for it. ``layer_outputs=False`` (beam search) records no decoder attentions or hidden states.
    """

    def __init__(self, config: GenerationConfig, encoder_state: dict | None, layer_outputs: bool = True):
        self.return_dict = config.return_dict_in_generate
        self.output_scores = config.output_scores
        self.encoder_state = encoder_state
        encoder_decoder = encoder_state is not None
        self.scores = self._steps_if(config.output_scores)  # the processed scores the choice was made from
        self.logits = self._steps_if(config.output_logits)  # the model's raw logits
        self.attentions = self._steps_if(layer_outputs and config.output_attentions)
        self.cross_attentions = self._steps_if(layer_outputs and config.output_attentions and encoder_decoder)
        self.hidden_states = self._steps_if(layer_outputs and config.output_hidden_states)
        # the decoder's outputs are called attentions/hidden_states in a decoder-only model
        self.prefix = "decoder_" if encoder_decoder else ""

    def _steps_if(self, wanted: bool) -> tuple | None:
        return () if self.return_dict and wanted else None

    def add_step(self, scores: torch.Tensor, logits: torch.Tensor, model_output: ModelOutput) -> None:
        """One step: scores and logits (batch, vocab), and the model output holding that step's attentions."""
        if self.scores is not None:
            self.scores += (scores,)
        if self.logits is not None:
            self.logits += (logits,)
        if self.attentions is not None:
            self.attentions += (model_output[self.prefix + "attentions"],)
        if self.cross_attentions is not None:
            self.cross_attentions += (model_output["cross_attentions"],)
        if self.hidden_states is not None:
            self.hidden_states += (model_output[self.prefix + "hidden_states"],)

    def output(self, sequences: torch.Tensor, past_key_values, sequences_scores=None, beam_indices=None):
        """``sequences`` alone, or the ``Generate*Output`` for this model (beam search gives ``beam_indices``)."""
        if not self.return_dict:
            return sequences
        beam = beam_indices is not None
        values = dict(sequences=sequences, scores=self.scores, logits=self.logits, past_key_values=past_key_values)
        if beam:  # sequences_scores only with output_scores, as the reference
            values.update(sequences_scores=sequences_scores if self.output_scores else None, beam_indices=beam_indices)
        if self.encoder_state is not None:
            output_class = GenerateBeamEncoderDecoderOutput if beam else GenerateEncoderDecoderOutput
            return output_class(
                **values,
                encoder_attentions=self.encoder_state["attentions"],
                encoder_hidden_states=self.encoder_state["hidden_states"],
                decoder_attentions=self.attentions,
                cross_attentions=self.cross_attentions,
                decoder_hidden_states=self.hidden_states,
            )
        output_class = GenerateBeamDecoderOnlyOutput if beam else GenerateDecoderOnlyOutput
        return output_class(**values, attentions=self.attentions, hidden_states=self.hidden_states)


# ------------------------------------------------------------------------------------------------
# GenerationMixin
# ------------------------------------------------------------------------------------------------


class GenerationMixin:
    """``generate`` for language models (mixed into LlamaForCausalLM, GPT2LMHeadModel, T5ForConditionalGeneration...).

    A decoder-only model provides ``forward(input_ids, attention_mask, position_ids, past_key_values,
    use_cache, logits_to_keep)`` returning ``.logits`` and a ``KVCache`` in ``.past_key_values``, and
    ``context_window()``. An encoder-decoder (``config.is_encoder_decoder``) provides ``get_encoder()`` and
    ``forward(encoder_outputs, attention_mask, decoder_input_ids, past_key_values, use_cache)`` with an
    ``EncoderDecoderCache``, and ``config.num_decoder_layers``.
    """

    # -- the generation config travels with the model ---------------------------------------------

    @property
    def generation_config(self) -> GenerationConfig:
        config = self.__dict__.get("_generation_config")
        if config is None:
            config = GenerationConfig.from_model_config(self.config)
            self.__dict__["_generation_config"] = config
        return config

    @generation_config.setter
    def generation_config(self, value: GenerationConfig) -> None:
        self.__dict__["_generation_config"] = value

    def can_generate(self) -> bool:
        return True

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args: Any, **kwargs: Any):
        hub_kwargs = {k: kwargs[k] for k in hub.HUB_KWARGS if k in kwargs}
        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded
        name = os.fspath(pretrained_model_name_or_path)
        path = hub.resolve_file(name, GENERATION_CONFIG_NAME, required=False, **hub_kwargs)
        if path:
            model.generation_config = GenerationConfig.from_pretrained(os.path.dirname(path))
        return loaded

    def save_pretrained(self, save_directory, **kwargs: Any) -> None:
        super().save_pretrained(save_directory, **kwargs)
        self.generation_config.save_pretrained(save_directory)

    # -- generate ---------------------------------------------------------------------------------

    def generate(self, inputs: torch.Tensor | None = None, *args: Any, **kwargs: Any):
        """Continue ``inputs`` (batch, seq) token ids; return (batch * num_return_sequences, total) ids,
        or a ``Generate*Output`` with ``return_dict_in_generate=True``.

        Keyword arguments set ``GenerationConfig`` fields (max_new_tokens, do_sample, top_p, ...) for this
        call; the others (attention_mask, input_ids) are model inputs. Also: ``generation_config=``,
        ``logits_processor=``, ``stopping_criteria=``, ``streamer=``, ``tokenizer=`` (for stop_strings).
        """
        with torch.inference_mode():  # no autograd bookkeeping at all while decoding
            result = self._generate(inputs, *args, **kwargs)
        # ...but hand back ordinary tensors: inference tensors could not be fed to a training step later
        if isinstance(result, torch.Tensor):
            return result.clone()
        for key in ("sequences", "sequences_scores", "beam_indices"):
            if key in result:
                result[key] = result[key].clone()
        for key in ("scores", "logits"):
            if key in result:
                result[key] = tuple(t.clone() for t in result[key])
        return result

    def _generate(
        self,
        inputs: torch.Tensor | None = None,
        generation_config: GenerationConfig | None = None,
        logits_processor: Iterable[LogitsProcessor] | None = None,
        stopping_criteria: Iterable[StoppingCriteria] | None = None,
        streamer: BaseStreamer | None = None,
        tokenizer=None,
        **kwargs: Any,
    ):
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        model_kwargs = config.update(**kwargs)
        input_ids = model_kwargs.pop("input_ids", None) if inputs is None else inputs
        attention_mask = model_kwargs.pop("attention_mask", None)
        model_kwargs.pop("token_type_ids", None)
        encoder_decoder = bool(getattr(self.config, "is_encoder_decoder", False))
        if encoder_decoder:
            decoder_input_ids = model_kwargs.pop("decoder_input_ids", None)
            encoder_outputs = model_kwargs.pop("encoder_outputs", None)
        if model_kwargs:
            raise TypeError(
                f"generate() got unknown arguments {sorted(model_kwargs)}; they are neither generation "
                "settings nor model inputs."
            )
        config.validate()
        mode = config.get_generation_mode()
        # the rows each input becomes while decoding: its samples, contrastive search's candidates, or its beams
        # (num_beams: 1 in greedy search)...
        rows = {"sample": config.num_return_sequences, "contrastive_search": config.top_k}.get(mode, config.num_beams)
        # ...and the rows the logits processors see: the input itself in contrastive search, one group of beams at
        # a time in diverse beam search
        group_size = config.num_beams // config.num_beam_groups
        processor_rows = {"contrastive_search": 1, "group_beam_search": group_size}.get(mode, rows)
        encoder_state = None
        if encoder_decoder:
            # The encoder runs once (or its outputs are given); from here on the decoder's tokens are the "prompt"
            # the loops extend.
            if encoder_outputs is None or input_ids is not None:
                input_ids, attention_mask = self._check_generation_inputs(
                    input_ids, attention_mask, config, encoder_decoder=True
                )
            encoder_state = self._run_encoder(input_ids, attention_mask, encoder_outputs, config, rows)
            batch = encoder_state["outputs"].last_hidden_state.shape[0] // rows
            input_ids, attention_mask = self._decoder_prompt(decoder_input_ids, batch, config), None
        else:
            input_ids, attention_mask = self._check_generation_inputs(input_ids, attention_mask, config)
        step = self._decoder_step(encoder_state)
        eos = as_id_list(config.eos_token_id)
        if config.pad_token_id is None and eos:  # as the reference: rows that finish early are padded with eos
            if input_ids.shape[0] > 1:
                warnings.warn(
                    f"generate() got a batch of {input_ids.shape[0]} inputs and no pad_token_id: using "
                    f"eos_token_id={eos[0]} as the pad token (rows that finish early are filled with it). Pass "
                    "pad_token_id=tokenizer.pad_token_id (or set model.generation_config.pad_token_id) to silence this."
                )
            config.pad_token_id = eos[0]
        prompt_len = input_ids.shape[1]
        max_length = self._resolve_max_length(config, prompt_len)

        if config.stop_strings is not None:
            criteria_tokens = StopStringCriteria(tokenizer, config.stop_strings)
        else:
            criteria_tokens = None
        if streamer is not None and config.num_beams > 1:
            raise ValueError(
                "streamer= works with greedy search, sampling and contrastive search, not beam search (num_beams > 1)."
            )

        # a batch has padding when any row's mask has a zero; without padding no mask is needed at all
        if attention_mask is not None and bool(attention_mask.all()):
            attention_mask = None
        processor_mask = attention_mask
        if attention_mask is not None and processor_rows > 1:
            processor_mask = attention_mask.repeat_interleave(processor_rows, dim=0)
        processors = self._build_processors(config, prompt_len, processor_mask, logits_processor)
        if rows > 1:
            input_ids = input_ids.repeat_interleave(rows, dim=0)  # (batch * rows, prompt)
            attention_mask = attention_mask.repeat_interleave(rows, dim=0) if attention_mask is not None else None
        criteria = StoppingCriteriaList()
        if criteria_tokens is not None:
            criteria.append(criteria_tokens)
        if stopping_criteria:
            criteria.extend(stopping_criteria)

        # Preallocated buffers: the mask of the whole run (new tokens are never padding) and the KV cache;
        # decoding only writes into them. Beam and contrastive search always keep a cache: they reorder it.
        mask = None
        if attention_mask is not None:
            mask = torch.ones((input_ids.shape[0], max_length), dtype=attention_mask.dtype, device=input_ids.device)
            mask[:, :prompt_len] = attention_mask
        positions = _position_ids(attention_mask, prompt_len, input_ids.device)  # (batch, prompt) or (1, prompt)
        reorders_cache = mode not in ("greedy_search", "sample")
        cache = self._new_cache(max_length) if config.use_cache or reorders_cache else None
        recorder = GenerationRecorder(config, encoder_state, layer_outputs=config.num_beams == 1)

        inputs = (input_ids, mask, positions, cache, step, config, processors, criteria, eos)
        if mode == "group_beam_search":
            return group_beam_search(*inputs, recorder)
        if mode in ("beam_search", "beam_sample"):
            return beam_search(*inputs, recorder)
        if mode == "contrastive_search":
            return contrastive_search(*inputs, streamer, recorder)
        return self._greedy_or_sample(*inputs, streamer, recorder)

    # -- encoder-decoders: the encoder pass and the decoder's start ---------------------------------

    def _run_encoder(self, input_ids, attention_mask, encoder_outputs, config: GenerationConfig, rows: int) -> dict:
        """Encode the source once; repeat its states ``rows`` times (beams, samples or candidates per input)."""
        if encoder_outputs is None:
            encoder_outputs = self.get_encoder()(
                input_ids=input_ids,
                attention_mask=attention_mask,
                return_dict=True,
                output_attentions=config.output_attentions,
                output_hidden_states=config.output_hidden_states,
            )
        states = encoder_outputs[0]  # (batch, src, hidden)
        if rows > 1:
            states = states.repeat_interleave(rows, dim=0)  # (batch * rows, src, hidden)
            attention_mask = attention_mask.repeat_interleave(rows, dim=0) if attention_mask is not None else None
        return {
            "outputs": BaseModelOutput(last_hidden_state=states),
            "attention_mask": attention_mask,
            "attentions": encoder_outputs.get("attentions") if isinstance(encoder_outputs, dict) else None,
            "hidden_states": encoder_outputs.get("hidden_states") if isinstance(encoder_outputs, dict) else None,
        }

    def _decoder_prompt(self, decoder_input_ids, batch: int, config: GenerationConfig) -> torch.Tensor:
        """(batch, n) decoder ids to start from: the start token, followed by ``decoder_input_ids`` if given."""
        start = config.decoder_start_token_id
        if start is None:
            start = getattr(self.config, "decoder_start_token_id", None)
        if start is None:
            start = config.bos_token_id
        if start is None:
            raise ValueError(
                f"{type(self).__name__}.generate needs the decoder's first token: set "
                "decoder_start_token_id in the generation config (or pass decoder_input_ids)."
            )
        device = self.device
        start_ids = torch.full((batch, 1), start, dtype=torch.long, device=device)
        if decoder_input_ids is None:
            return start_ids
        decoder_input_ids = torch.as_tensor(decoder_input_ids, device=device)
        if decoder_input_ids.dim() == 1:
            decoder_input_ids = decoder_input_ids[None, :].expand(batch, -1)
        if decoder_input_ids.shape[0] != batch:
            raise ValueError(f"decoder_input_ids has {decoder_input_ids.shape[0]} rows for {batch} inputs.")
        if decoder_input_ids.shape[1] and bool((decoder_input_ids[:, 0] == start).all()):
            return decoder_input_ids
        return torch.cat([start_ids, decoder_input_ids], dim=-1)  # as the reference: the start token goes first

    def _decoder_step(self, encoder_state: dict | None):
        """The model call of one decoding step: (ids, mask, positions, cache, **outputs) -> model output."""
        if encoder_state is None:

            def step(ids, mask, positions, cache, **extra):
                return self(
                    ids,
                    attention_mask=mask,
                    position_ids=positions,
                    past_key_values=cache,
                    use_cache=cache is not None,
                    logits_to_keep=1,
                    **extra,
                )
        else:
            encoder_outputs, encoder_mask = encoder_state["outputs"], encoder_state["attention_mask"]

            def step(ids, mask, positions, cache, **extra):
                # the decoder's own positions come from the cache (or count from 0 without one)
                return self(
                    encoder_outputs=encoder_outputs,
                    attention_mask=encoder_mask,
                    decoder_input_ids=ids,
                    past_key_values=cache,
                    use_cache=cache is not None,
                    **extra,
                )

        return step

    # -- input checks -----------------------------------------------------------------------------

    def _check_generation_inputs(
        self, input_ids, attention_mask, config: GenerationConfig, encoder_decoder: bool = False
    ):
        """Validate the prompt (decoder-only) or the source (encoder-decoder) ids and mask."""
        name = type(self).__name__
        if input_ids is None:
            what = "the source text's ids" if encoder_decoder else "a prompt"
            raise ValueError(
                f"{name}.generate needs {what}: pass input_ids (e.g. **tokenizer(text, return_tensors='pt'))."
            )
        if not isinstance(input_ids, torch.Tensor):
            raise TypeError(
                f"generate takes input_ids as a torch.Tensor, got {type(input_ids).__name__}; "
                "call the tokenizer with return_tensors='pt'."
            )
        if input_ids.dim() == 1:
            input_ids = input_ids[None, :]
        if input_ids.dim() != 2 or input_ids.is_floating_point():
            raise ValueError(
                f"input_ids must be integer ids of shape (batch, seq), got {tuple(input_ids.shape)} {input_ids.dtype}."
            )
        batch, prompt_len = input_ids.shape
        if batch == 0 or prompt_len == 0:
            raise ValueError(
                f"generate got an empty prompt (input shape {batch} x {prompt_len}); give at least one token, "
                "e.g. the tokenizer's bos_token_id."
            )
        pad = config.pad_token_id
        if attention_mask is None:
            eos = as_id_list(config.eos_token_id)
            if pad is not None and pad not in eos and bool((input_ids == pad).any()):
                attention_mask = (input_ids != pad).long()  # infer padding from the pad id, as the reference does
        else:
            if attention_mask.shape != input_ids.shape:
                raise ValueError(
                    f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                    f"{tuple(input_ids.shape)}; pass the mask the tokenizer returned with the ids."
                )
            attention_mask = attention_mask.to(input_ids.device)
        if encoder_decoder:  # right padding is what an encoder expects, and it has no context window here
            if attention_mask is not None and not bool(attention_mask.any(dim=-1).all()):
                raise ValueError(
                    "A row of the batch is all padding (an empty input); give every row at least one token."
                )
            return input_ids, attention_mask
        if attention_mask is not None and batch > 1 and not bool(attention_mask[:, -1].all()):
            raise ValueError(
                "The batch is right-padded (some rows end with padding), so new tokens would follow pad tokens. "
                "Decoder-only models need left padding: set tokenizer.padding_side = 'left' before tokenizing."
            )
        if attention_mask is not None and not bool(attention_mask.any(dim=-1).all()):
            raise ValueError("A row of the batch is all padding (an empty prompt); give every row at least one token.")
        window = self.context_window() if hasattr(self, "context_window") else None
        if window is not None and prompt_len > window:
            raise ValueError(
                f"The prompt has {prompt_len} tokens but {name} has a context window of {window}. Truncate it: "
                f"tokenizer(text, truncation=True, max_length={window}) (leaving room for the new tokens)."
            )
        return input_ids, attention_mask

    def _resolve_max_length(self, config: GenerationConfig, prompt_len: int) -> int:
        if config.max_new_tokens is not None:
            max_length = prompt_len + config.max_new_tokens
        else:
            max_length = config.max_length
            if max_length <= prompt_len:
                raise ValueError(
                    f"max_length={max_length} leaves no room after the {prompt_len}-token prompt; "
                    "pass max_new_tokens=N (how many tokens to add) instead."
                )
        if config.min_new_tokens is not None and config.min_new_tokens > max_length - prompt_len:
            warnings.warn(
                f"min_new_tokens={config.min_new_tokens} is more than the {max_length - prompt_len} "
                "tokens allowed by max_new_tokens/max_length; generation stops at the maximum."
            )
        hard_limit = self.max_total_length() if hasattr(self, "max_total_length") else None
        if hard_limit is not None and max_length > hard_limit:
            raise ValueError(
                f"{type(self).__name__} has {hard_limit} positions, but the prompt ({prompt_len} tokens) plus the new "
                f"tokens would reach {max_length}. Ask for at most max_new_tokens={hard_limit - prompt_len}."
            )
        config.max_length = max_length
        return max_length

    def _build_processors(
        self, config: GenerationConfig, prompt_len: int, attention_mask, extra
    ) -> LogitsProcessorList:
        """The processors the settings ask for, in the reference's order; ``extra`` (yours) after the built-in ones.

        ``attention_mask`` is the prompt's mask with one row per decoding row (None without padding).
        """
        processors = LogitsProcessorList()
        eos = as_id_list(config.eos_token_id)
        if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
            pad_lengths = None
            if attention_mask is not None:
                pad_lengths = (attention_mask != 0).int().argmax(dim=1)  # left padding per row: not penalised
            processors.append(
                RepetitionPenaltyLogitsProcessor(config.repetition_penalty, prompt_ignore_length=pad_lengths)
            )
        if config.no_repeat_ngram_size:
            processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
        if config.bad_words_ids is not None:
            processors.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos))
        if config.min_length and eos:
            processors.append(MinLengthLogitsProcessor(config.min_length, eos))
        if config.min_new_tokens and eos:
            processors.append(MinNewTokensLengthLogitsProcessor(prompt_len, config.min_new_tokens, eos))
        if config.forced_bos_token_id is not None:
            processors.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
        if config.forced_eos_token_id is not None:
            processors.append(ForcedEOSTokenLogitsProcessor(config.max_length, config.forced_eos_token_id))
        if config.suppress_tokens is not None:
            processors.append(SuppressTokensLogitsProcessor(config.suppress_tokens))
        if config.begin_suppress_tokens is not None:  # the first new token; after a forced BOS, the one after it
            begin_index = prompt_len + 1 if prompt_len == 1 and config.forced_bos_token_id is not None else prompt_len
            processors.append(SuppressTokensAtBeginLogitsProcessor(config.begin_suppress_tokens, begin_index))
        if extra:
            processors.extend(extra)
        if config.do_sample:
            keep = (len(eos) + 1 if eos else 2) if config.num_beams > 1 else 1
            if config.temperature is not None and config.temperature != 1.0:
                processors.append(TemperatureLogitsWarper(config.temperature))
            if config.top_k is not None and config.top_k != 0:
                processors.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
            if config.top_p is not None and config.top_p < 1.0:
                processors.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
            if config.min_p is not None:
                processors.append(MinPLogitsWarper(config.min_p, min_tokens_to_keep=keep))
            if config.typical_p is not None and config.typical_p < 1.0:
                processors.append(TypicalLogitsWarper(config.typical_p, min_tokens_to_keep=keep))
        if config.renormalize_logits:
            processors.append(LogitNormalization())
        return processors

    def _new_cache(self, capacity: int):
        if getattr(self.config, "is_encoder_decoder", False):
            return EncoderDecoderCache.empty(self.config.num_decoder_layers, capacity=capacity)
        return KVCache(self.config.num_hidden_layers, capacity=capacity)

    # -- greedy search and sampling ---------------------------------------------------------------

    def _greedy_or_sample(
        self, input_ids, mask, positions, cache, step, config, processors, criteria, eos, streamer, recorder
    ):
        """Greedy search (argmax) or sampling (multinomial) from the processed scores, one token per row and step.

        ``input_ids`` (rows, prompt) and ``mask`` (rows, max_length) or None come expanded to one row per
        sample; ``positions`` are the prompt's position ids; ``cache`` is None with ``use_cache=False``.
        """
        batch, prompt_len = input_ids.shape
        device = input_ids.device
        pad = config.pad_token_id
        max_length = config.max_length

        # the ids of the whole run: decoding only writes into them
        sequences = torch.full((batch, max_length), pad if pad is not None else 0, dtype=input_ids.dtype, device=device)
        sequences[:, :prompt_len] = input_ids
        next_position = positions[:, -1:] + 1  # (batch, 1), or (1, 1) without padding
        extra = {}
        if config.output_attentions:
            extra["output_attentions"] = True
        if config.output_hidden_states:
            extra["output_hidden_states"] = True

        eos_tensor = torch.tensor(eos, device=device) if eos else None
        single_eos = eos[0] if len(eos) == 1 else None
        unfinished = torch.ones(batch, dtype=torch.bool, device=device)
        do_sample = config.do_sample
        if streamer is not None:
            streamer.put(input_ids.cpu())

        cur = prompt_len
        out = step(input_ids, mask[:, :prompt_len] if mask is not None else None, positions, cache, **extra)
        while True:
            logits = out.logits[:, -1, :].float()  # (batch, vocab)
            next_scores = processors(sequences[:, :cur], logits) if processors else logits
            recorder.add_step(next_scores, logits, out)
            if do_sample:
                probs = torch.softmax(next_scores, dim=-1)
                next_tokens = torch.multinomial(probs, num_samples=1).squeeze(1)
            else:
                next_tokens = torch.argmax(next_scores, dim=-1)  # (batch,)
            if eos_tensor is not None:
                next_tokens = torch.where(unfinished, next_tokens, pad)
            sequences[:, cur] = next_tokens
            cur += 1
            if streamer is not None:
                streamer.put(next_tokens.cpu())
            if eos_tensor is not None:
                hit = next_tokens == single_eos if single_eos is not None else torch.isin(next_tokens, eos_tensor)
                unfinished &= ~hit
            if criteria:
                unfinished &= ~criteria(sequences[:, :cur], recorder.scores)
            if cur >= max_length or ((eos_tensor is not None or criteria) and not bool(unfinished.any())):
                break
            mask_so_far = mask[:, :cur] if mask is not None else None
            if cache is not None:
                out = step(sequences[:, cur - 1 : cur], mask_so_far, next_position, cache, **extra)
                next_position = next_position + 1
            else:  # no cache: run the whole sequence so far again
                out = step(sequences[:, :cur], mask_so_far, _position_ids(mask_so_far, cur, device), None, **extra)
        if streamer is not None:
            streamer.end()
        return recorder.output(sequences[:, :cur], cache)

    # -- helpers users call -----------------------------------------------------------------------

    def compute_transition_scores(
        self,
        sequences: torch.Tensor,
        scores: tuple,
        beam_indices: torch.Tensor | None = None,
        normalize_logits: bool = False,
    ) -> torch.Tensor:
        """The score of each generated token, (rows, new tokens): ``scores`` (one (rows, vocab) tensor per step) at
        the token, in the row it was chosen from: ``beam_indices`` with beam search (a step after the beam
        finished, index -1, scores 0), the row itself otherwise."""
        stacked = torch.stack(scores, dim=1)  # (rows, steps, vocab)
        if normalize_logits:
            stacked = stacked.log_softmax(dim=-1)
        if beam_indices is None:
            chosen = sequences[:, -stacked.shape[1] :]
            return stacked.gather(-1, chosen[..., None]).squeeze(-1)
        finished = beam_indices < 0  # (sequences, steps)
        steps = int((~finished).sum(dim=-1).max())
        finished = finished[:, :steps]
        source_rows = beam_indices[:, :steps].long().clamp(min=0)
        chosen = sequences[:, sequences.shape[1] - steps :]  # (sequences, steps)
        transition = stacked[source_rows, torch.arange(steps, device=stacked.device), chosen]
        return transition.masked_fill(finished, 0.0)


def _position_ids(mask: torch.Tensor | None, length: int, device) -> torch.Tensor:
    """Position ids of ``length`` tokens: (batch, length) counting each row's real tokens from 0 (its left
    padding gets 1), or (1, length) = 0 .. length - 1 for every row when there is no padding."""
    if mask is None:
        return torch.arange(length, device=device)[None, :]
    positions = mask.long().cumsum(-1) - 1
    return positions.masked_fill(mask == 0, 1)
