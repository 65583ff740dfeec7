"""Whisper's ``generate``: the decoder's prompt (language, task, timestamps), language detection, the timestamp
rules, and a time for every token from the cross-attentions.

Whisper's decoder starts from special tokens that say what to do, then writes the text:

    [<|startofprev|> context ...]  <|startoftranscript|>  <|fr|>     <|transcribe|>  <|notimestamps|>   text ...
     prompt_ids (optional)          decoder start          language   or translate    no timestamps

``generate(input_features, language="fr", task="translate")`` builds that prompt (from ``language``/``task``, or
the generation config's ``forced_decoder_ids`` when neither is given), detects the language when a multilingual
model is given none (the most probable language token after <|startoftranscript|>), adds Whisper's logits
processors and runs the ordinary decoding loop (GenerationMixin) once, over one 30-second window:

    suppress_tokens, begin_suppress_tokens    never these ids; not these as the first new token (generation config)
    return_timestamps=True                    no <|notimestamps|>: the model writes <|0.00|> text <|1.24|><|1.24|> ...
                                              and WhisperTimeStampLogitsProcessor keeps the timestamps well formed
    return_token_timestamps=True              a time for every token: the cross-attention of the generation config's
                                              ``alignment_heads``, normalised, smoothed by a median filter, aligned to
                                              the audio frames by dynamic time warping (OpenAI's word timestamps)

It returns the whole decoder sequence, prompt included (``batch_decode(ids, skip_special_tokens=True)`` keeps the
text), as the reference's generate with ``force_unique_generate_call=True`` (and v4.37's short-form generate) does.
Audio longer than 30 s is the ASR pipeline's job (``chunk_length_s``), not a loop in here.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ..outputs import BaseModelOutput
from .logits_process import WhisperTimeStampLogitsProcessor
from .utils import GenerationMixin

# Whisper's languages, in the order of their tokens in the vocabulary (<|en|> is the first, 50259 in the
# multilingual vocabulary): code -> name.
LANGUAGES = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip
# name (and a few other names) -> code
TO_LANGUAGE_CODE = {
    **{name: code for code, name in LANGUAGES.items()},
    "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb", "pushto": "ps",
    "panjabi": "pa", "moldavian": "ro", "moldovan": "ro", "sinhalese": "si", "castilian": "es", "mandarin": "zh",
}  # fmt: skip
TASK_IDS = ("translate", "transcribe")

# The reference's long-form options (sequential decoding of audio over 30 s, temperature fallback): not here.
LONG_FORM_OPTIONS = (
    "condition_on_prev_tokens",
    "compression_ratio_threshold",
    "logprob_threshold",
    "no_speech_threshold",
    "num_segment_frames",
    "prompt_condition_type",
    "return_segments",
)


def language_token_id(language: str, lang_to_id: dict[str, int]) -> int:
    """The id of a language's token: ``language`` is a token ("<|fr|>"), a code ("fr") or a name ("french")."""
    language = language.lower()
    if language in lang_to_id:
        token = language
    elif language in TO_LANGUAGE_CODE:
        token = f"<|{TO_LANGUAGE_CODE[language]}|>"
    elif language in LANGUAGES:
        token = f"<|{language}|>"
    else:
        known = sorted(LANGUAGES) if len(language) <= 3 else sorted(TO_LANGUAGE_CODE)
        raise ValueError(f"Unsupported language {language!r}; Whisper knows: {', '.join(known)}.")
    if token not in lang_to_id:
        raise ValueError(
            f"{token} is not in this model's generation_config.lang_to_id (its languages: {', '.join(lang_to_id)})."
        )
    return lang_to_id[token]


# ------------------------------------------------------------------------------------------------
# Word-level timestamps: cross-attention -> median filter -> dynamic time warping
# ------------------------------------------------------------------------------------------------


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median of each window of ``width`` (odd) values along the last dimension, edges reflected."""
    if width <= 0 or width % 2 != 1:
        raise ValueError(f"The median filter's width must be a positive odd number, got {width}.")
    half = width // 2
    if x.shape[-1] <= half:
        return x
    padded = F.pad(x, (half, half, 0, 0), mode="reflect")
    return padded.unfold(-1, width, 1).sort()[0][..., half]  # (..., length): the middle of each sorted window


def dynamic_time_warping(cost_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The monotonic path through (tokens, frames) ``cost_matrix`` of least total cost, from (0, 0) to the last cell:
    each step moves to the next frame, the next token, or both. Returns the path as (token indices, frame indices).

    ``cost[i, j]``, the cheapest path to token i - 1 at frame j - 1, is the cell's cost plus the cheapest of its three
    predecessors. Cells on one anti-diagonal (i + j constant) do not depend on each other, so each anti-diagonal is
    one vectorised step. Sums are kept in float32 and ties broken as OpenAI's loop breaks them (diagonal only when
    strictly best, then up, else left), so the path is the same.
    """
    tokens, frames = cost_matrix.shape
    cost = np.full((tokens + 1, frames + 1), np.inf, dtype=np.float32)
    trace = -np.ones((tokens + 1, frames + 1), dtype=np.float32)  # 0: diagonal, 1: from the token above, 2: left
    cost[0, 0] = 0
    for diagonal in range(2, tokens + frames + 1):
        i = np.arange(max(1, diagonal - frames), min(tokens, diagonal - 1) + 1)  # rows of this anti-diagonal
        j = diagonal - i
        c0, c1, c2 = cost[i - 1, j - 1], cost[i - 1, j], cost[i, j - 1]
        step = np.where((c0 < c1) & (c0 < c2), 0, np.where((c1 < c0) & (c1 < c2), 1, 2))
        cost[i, j] = cost_matrix[i - 1, j - 1] + np.choose(step, [c0, c1, c2])
        trace[i, j] = step

    trace[0, :] = 2  # along the edges the path can only go left, or up
    trace[:, 0] = 1
    i, j = tokens, frames
    token_path, frame_path = [], []
    while i > 0 or j > 0:
        token_path.append(i - 1)
        frame_path.append(j - 1)
        move = trace[i, j]
        if move == 0:
            i, j = i - 1, j - 1
        elif move == 1:
            i -= 1
        else:
            j -= 1
    return np.array(token_path)[::-1], np.array(frame_path)[::-1]


def token_timestamps(
    cross_attentions,
    alignment_heads,
    prompt_length: int,
    num_frames=None,
    filter_width: int = 7,
    time_precision: float = 0.02,
) -> torch.Tensor:
    """A start time in seconds for every token of the sequences generate() returned: (rows, prompt + new tokens).

    ``cross_attentions`` are generate()'s: per step, per decoder layer, (rows, heads, new tokens, encoder states);
    ``alignment_heads`` the [layer, head] pairs whose cross-attention follows the speech (a checkpoint's generation
    config lists them); ``num_frames`` the audio's real length in feature frames (an int, or one per input; None:
    the whole 30 s), so that the padding is left out of the alignment.

    Per row, the selected heads' attention (tokens x audio states) is standardised over the tokens, smoothed by a
    median filter along time and averaged over the heads; dynamic time warping then finds the monotonic path that
    attends most, and a token's time is where the path reaches it. The prompt's tokens (not part of the alignment,
    as in OpenAI's code) get 0.0; the last token, whose attention generate() never computed, repeats the time
    before it.
    """
    num_layers = len(cross_attentions[0])
    per_layer = [torch.cat([step[layer] for step in cross_attentions], dim=2) for layer in range(num_layers)]
    weights = torch.stack([per_layer[layer][:, head] for layer, head in alignment_heads], dim=1)
    rows, _, positions, _ = weights.shape  # (rows, selected heads, positions, encoder states)
    timestamps = torch.zeros(rows, positions + 1)
    weights = weights[:, :, prompt_length:]  # the attention of the generated tokens (the last one's is not there)
    if weights.shape[2] == 0:
        return timestamps
    if num_frames is not None:
        frames = torch.as_tensor(num_frames).reshape(-1)
        frames = frames.repeat_interleave(rows // len(frames))  # one per row (each input's samples or beams)
    for row in range(rows):
        matrix = weights[row]  # (selected heads, tokens, encoder states)
        if num_frames is not None:
            matrix = matrix[..., : int(frames[row]) // 2]  # two feature frames per encoder state
        std, mean = torch.std_mean(matrix, dim=-2, keepdim=True, unbiased=False)
        matrix = median_filter((matrix - mean) / std, filter_width).mean(dim=0)  # (tokens, encoder states)
        token_path, time_path = dynamic_time_warping(-matrix.double().cpu().numpy())
        new_token = np.pad(np.diff(token_path), (1, 0), constant_values=1).astype(bool)  # where the path reaches one
        times = time_path[new_token] * time_precision  # (tokens,) seconds
        timestamps[row] = torch.cat([torch.zeros(prompt_length), torch.tensor(times), torch.tensor(times[-1:])])
    return timestamps


# ------------------------------------------------------------------------------------------------
# generate()
# ------------------------------------------------------------------------------------------------


class WhisperGenerationMixin(GenerationMixin):
    """``generate`` for WhisperForConditionalGeneration: speech in (log-mel features), text out."""

    @torch.no_grad()
    def generate(
        self,
        input_features: torch.Tensor | None = None,
        generation_config=None,
        logits_processor=None,
        *,
        language: str | list[str] | None = None,
        task: str | None = None,
        is_multilingual: bool | None = None,
        return_timestamps: bool | None = None,
        prompt_ids: torch.Tensor | list[int] | None = None,
        return_token_timestamps: bool | None = None,
        attention_mask: torch.Tensor | None = None,
        num_frames=None,
        time_precision: float = 0.02,
        **kwargs,
    ):
        """Transcribe (or translate) ``input_features`` (batch, num_mel_bins, frames): 30 s or less, from the feature
        extractor; the encoder's outputs may be given instead (``encoder_outputs=``).

        ``language``: a code ("fr"), a name ("french") or a token ("<|fr|>"), one for the batch or one per input;
        None on a multilingual model: detected. ``task``: "transcribe" or "translate" (into English).
        ``return_timestamps=True``: segment timestamps in the text (<|0.00|> ... <|1.24|>). ``prompt_ids``: context
        before the prompt (``processor.get_prompt_ids(text)``, starting with <|startofprev|>).
        ``return_token_timestamps``: also a time per token, in a dict {"sequences", "token_timestamps"}; the audio's
        length in frames comes from ``attention_mask`` (the feature extractor's, return_attention_mask=True) or
        ``num_frames``. ``forced_decoder_ids`` (v4.37's way to set language and task) and ``decoder_input_ids`` (the
        whole prompt) are accepted too. Other keyword arguments are generation settings (max_new_tokens, num_beams,
        suppress_tokens, ...) as for any model.

        Returns the decoder's sequences, (batch, prompt + new tokens), or a dict as above, or the Generate*Output
        with ``return_dict_in_generate=True``.
        """
        if input_features is None:
            input_features = kwargs.pop("inputs", None)  # the reference's generic name: generate(inputs=features)
        config = copy.deepcopy(generation_config if generation_config is not None else self.generation_config)
        inputs = config.update(**kwargs)  # what is left: model inputs and GenerationMixin.generate's arguments
        encoder_outputs = inputs.pop("encoder_outputs", None)
        decoder_input_ids = inputs.pop("decoder_input_ids", None)
        if "forced_decoder_ids" in inputs:
            config.forced_decoder_ids = inputs.pop("forced_decoder_ids")
        asked_for_dict, asked_for_attentions = config.return_dict_in_generate, config.output_attentions
        self._check_settings(
            config, inputs, language, task, is_multilingual, return_timestamps, return_token_timestamps
        )
        if encoder_outputs is None:  # the encoder runs once, for the language detection and the decoding
            if input_features is None:
                raise ValueError(
                    f"{type(self).__name__}.generate needs input_features (feature_extractor(audio, "
                    "sampling_rate=16000, return_tensors='pt').input_features) or encoder_outputs."
                )
            encoder_outputs = self.get_encoder()(
                self._padded_to_30_seconds(input_features),
                output_attentions=asked_for_attentions,  # not for token timestamps: (frames x frames) per head
                output_hidden_states=config.output_hidden_states,
                return_dict=True,
            )
        if decoder_input_ids is None:
            decoder_input_ids = self._decoder_start(config, encoder_outputs, prompt_ids)
        decoder_input_ids = torch.as_tensor(decoder_input_ids, dtype=torch.long, device=self.device)
        prompt_length = decoder_input_ids.shape[-1]
        self._limit_length(config, prompt_length)

        processors = list(logits_processor or [])
        if config.return_timestamps:
            processors.insert(0, WhisperTimeStampLogitsProcessor(config, begin_index=prompt_length))
        out = super().generate(
            generation_config=config,
            logits_processor=processors,
            decoder_input_ids=decoder_input_ids,
            encoder_outputs=encoder_outputs,
            **inputs,
        )
        if not return_token_timestamps:
            return out
        if num_frames is None and attention_mask is not None:
            num_frames = attention_mask.sum(-1).cpu()  # each clip's real length
        times = token_timestamps(
            out.cross_attentions,
            config.alignment_heads,
            prompt_length,
            num_frames,
            self.config.median_filter_width,
            time_precision,
        )
        if asked_for_dict:
            return {**out, "token_timestamps": times}
        return {"sequences": out.sequences, "token_timestamps": times}

    # -- the parts ----------------------------------------------------------------------------------

    @staticmethod
    def _check_settings(config, inputs, language, task, is_multilingual, return_timestamps, return_token_timestamps):
        """Check generate()'s Whisper arguments against the generation config and record them on it."""
        long_form = [key for key in LONG_FORM_OPTIONS if key in inputs]
        if long_form or isinstance(config.temperature, (list, tuple)):
            raise ValueError(
                f"generate() decodes one 30-second window; {long_form or 'a list of temperatures'} belong to the "
                "reference's long-form decoding (temperature fallback, conditioning on the previous window), which is "
                "not implemented here. Transcribe long audio with pipeline('automatic-speech-recognition', ..., "
                "chunk_length_s=30)."
            )
        if return_timestamps is None:
            return_timestamps = getattr(config, "return_timestamps", False)
        config.return_timestamps = return_timestamps is True  # v4.37's pipeline passes "word": token times only
        if config.return_timestamps and getattr(config, "no_timestamps_token_id", None) is None:
            raise ValueError(
                "return_timestamps=True needs the generation config's no_timestamps_token_id (and the timestamp tokens "
                "after it); this model's generation_config.json has none. Load a Whisper checkpoint's."
            )
        if return_token_timestamps:
            if getattr(config, "alignment_heads", None) is None:
                raise ValueError(
                    "return_token_timestamps=True needs the generation config's alignment_heads (the [layer, head] "
                    "pairs whose cross-attention follows the speech); this model's generation_config.json has none."
                )
            if config.num_beams > 1 or not config.use_cache:
                raise ValueError(
                    "return_token_timestamps=True works with greedy search and sampling with the KV cache here, not "
                    "with beam search (num_beams > 1) or use_cache=False."
                )
            config.return_dict_in_generate = config.output_attentions = config.output_scores = True  # cross-attentions
        if is_multilingual is not None:
            config.is_multilingual = is_multilingual
        if getattr(config, "is_multilingual", True) is False and (task is not None or language is not None):
            raise ValueError(
                "This is an English-only Whisper (generation_config.is_multilingual=False): it takes neither language "
                "nor task. For other languages use a multilingual checkpoint (e.g. openai/whisper-base)."
            )
        if language is not None:
            if getattr(config, "lang_to_id", None) is None:
                raise ValueError("language= needs the generation config's lang_to_id, which this model's lacks.")
            config.language = language
        if task is not None:
            if getattr(config, "task_to_id", None) is None:
                raise ValueError("task= needs the generation config's task_to_id, which this model's lacks.")
            config.task = task

    def _padded_to_30_seconds(self, input_features):
        """Shorter features are padded with zeros to the encoder's 30 s (as the reference's generate does)."""
        frames = 2 * self.config.max_source_positions
        if isinstance(input_features, torch.Tensor) and input_features.dim() == 3 and input_features.shape[-1] < frames:
            return F.pad(input_features, (0, frames - input_features.shape[-1]))
        return input_features

    @staticmethod
    def _forced_start(config, model_config) -> list:
        """The tokens after <|startoftranscript|> that ``forced_decoder_ids`` [[1, id], [2, id], ...] give (v4.37's
        way to say language and task; an id may be None: "choose it")."""
        forced = getattr(config, "forced_decoder_ids", None) or getattr(model_config, "forced_decoder_ids", None)
        tokens = []
        for position, token in forced or []:
            if position != len(tokens) + 1:
                raise ValueError(
                    f"forced_decoder_ids {forced} do not follow Whisper's prompt: they must give positions 1, 2, 3, "
                    "... in order. Pass language= and task= instead."
                )
            tokens.append(token)
        return tokens

    def _needs_language_detection(self, config) -> bool:
        """A multilingual model given no language (and no forced language token) detects it."""
        if getattr(config, "language", None) is not None or getattr(config, "lang_to_id", None) is None:
            return False
        if getattr(config, "task", None) is not None:
            return True
        forced = self._forced_start(config, self.config)
        return not forced or forced[0] is None

    def _decoder_start(self, config, encoder_outputs, prompt_ids) -> torch.Tensor:
        """The decoder's prompt, (batch, n): the context of ``prompt_ids`` if any, then the start tokens (with the
        language detected when it must be)."""
        batch = encoder_outputs[0].shape[0]
        detected = None
        if self._needs_language_detection(config):
            detected = self.detect_language(encoder_outputs=encoder_outputs, generation_config=config)
        start = self._start_tokens(config, batch, detected)
        if prompt_ids is None:
            return start
        context = torch.as_tensor(prompt_ids, dtype=torch.long, device=self.device).reshape(1, -1)
        return torch.cat([context.expand(batch, -1), start], dim=-1)  # <|startofprev|> context <|startoftranscript|>

    def _start_tokens(self, config, batch: int, detected: torch.Tensor | None) -> torch.Tensor:
        """The prompt that starts the decoder, (batch, n): <|startoftranscript|> [language] [task] [<|notimestamps|>],
        following the reference's rules step for step (so the same settings give the same tokens)."""
        start = [config.decoder_start_token_id]
        language, task = getattr(config, "language", None), getattr(config, "task", None)
        if language is None and task is None:  # the generation config's forced_decoder_ids, if any
            start += self._forced_start(config, self.config)
        if isinstance(language, (list, tuple)):
            if len(language) != batch:
                raise ValueError(f"language= has {len(language)} entries for a batch of {batch} inputs; give one each.")
            rows = [list(start) for _ in language]
            language_ids = [language_token_id(lang, config.lang_to_id) for lang in language]
        elif language is not None:
            rows, language_ids = [list(start)], [language_token_id(language, config.lang_to_id)]
        elif detected is not None:
            rows, language_ids = [list(start) for _ in range(batch)], detected.tolist()
        else:
            rows, language_ids = [list(start)], None
        task_to_id = getattr(config, "task_to_id", None)
        no_timestamps = getattr(config, "no_timestamps_token_id", None)
        for row, tokens in enumerate(rows):
            if language_ids is not None:  # the language goes right after <|startoftranscript|>
                if len(tokens) > 1:
                    tokens[1] = language_ids[row]
                else:
                    tokens.append(language_ids[row])
            if task is not None:
                if task not in TASK_IDS:
                    raise ValueError(f"task={task!r} is not one of {TASK_IDS}.")
                tokens.append(task_to_id[task])
            elif language is not None and task_to_id is not None and not set(tokens) & set(task_to_id.values()):
                tokens.append(task_to_id["transcribe"])
            if not config.return_timestamps and no_timestamps is not None and tokens[-1] != no_timestamps:
                tokens.append(no_timestamps)
            elif config.return_timestamps and tokens[-1] == no_timestamps:
                tokens.pop()
            rows[row] = [token for token in tokens if token is not None]
        return torch.tensor(rows, dtype=torch.long, device=self.device).expand(batch, -1)

    def _limit_length(self, config, prompt_length: int) -> None:
        """The decoder has ``max_target_positions`` (448) positions for the prompt and the new tokens. As the
        reference: max_new_tokens must fit; max_length counts from the start tokens (at most half the positions)."""
        positions = self.config.max_target_positions
        new_tokens = config.max_new_tokens or 0
        if new_tokens + prompt_length > positions:
            raise ValueError(
                f"The decoder prompt has {prompt_length} tokens (start tokens and prompt_ids) and max_new_tokens is "
                f"{new_tokens}: {new_tokens + prompt_length} in all, but Whisper's decoder has {positions} positions. "
                f"Ask for at most max_new_tokens={positions - prompt_length}, or shorten prompt_ids."
            )
        if config.max_new_tokens is None and config.max_length is not None:
            config.max_length = min(config.max_length + min(positions // 2 - 1, prompt_length), positions)

    def detect_language(
        self, input_features: torch.Tensor | None = None, encoder_outputs=None, generation_config=None
    ) -> torch.Tensor:
        """The most probable language token after <|startoftranscript|>, per input: (batch,) ids of
        ``generation_config.lang_to_id``."""
        config = generation_config if generation_config is not None else self.generation_config
        lang_to_id = getattr(config, "lang_to_id", None)
        if not lang_to_id:
            raise ValueError("Language detection needs the generation config's lang_to_id (a multilingual Whisper).")
        if (input_features is None) == (encoder_outputs is None):
            raise ValueError("detect_language takes input_features or encoder_outputs (one of them).")
        if encoder_outputs is None:
            input_features = self._padded_to_30_seconds(input_features)
            encoder_outputs = self.get_encoder()(input_features, return_dict=True)
        elif not isinstance(encoder_outputs, BaseModelOutput):
            encoder_outputs = BaseModelOutput(*encoder_outputs)
        batch = encoder_outputs.last_hidden_state.shape[0]
        start = torch.full((batch, 1), config.decoder_start_token_id, dtype=torch.long, device=self.device)
        with torch.no_grad():
            logits = self(encoder_outputs=encoder_outputs, decoder_input_ids=start, use_cache=False).logits[:, -1]
        is_language = torch.zeros(logits.shape[-1], dtype=torch.bool, device=logits.device)
        is_language[list(lang_to_id.values())] = True
        return logits.masked_fill(~is_language, -float("inf")).argmax(dim=-1)

    # -- hooks of GenerationMixin's loop ------------------------------------------------------------

    def _decoder_prompt(self, decoder_input_ids, batch: int, config) -> torch.Tensor:
        """generate() built the whole prompt already (it need not start with decoder_start_token_id)."""
        return decoder_input_ids
