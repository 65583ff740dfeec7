"""Text generation: ``model.generate(...)`` for decoder-only and encoder-decoder language models.

    ids = tokenizer("Once upon a time", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=20)                                   # greedy
    out = model.generate(**ids, max_new_tokens=20, do_sample=True, top_p=0.9)        # nucleus sampling
    out = model.generate(**ids, max_new_tokens=20, num_beams=4)                      # beam search
    out = model.generate(**ids, max_new_tokens=20, penalty_alpha=0.6, top_k=4)       # contrastive search
    out = model.generate(**ids, max_new_tokens=20, num_beams=4, num_beam_groups=2,
                         diversity_penalty=1.0, num_return_sequences=4)              # diverse beam search
    model.generate(**ids, max_new_tokens=20, streamer=TextStreamer(tokenizer))       # print as it goes

One step of decoding, whatever the strategy:

    logits of the last position (batch, vocab)
      -> logits processors, in order (repetition penalty, n-gram and bad-word bans, minimum length,
         then for sampling: temperature, top-k, top-p, min-p, typical-p)         each (ids, scores) -> scores
      -> choose: argmax (greedy) | multinomial (sampling) | top 2*beams continuations (beam search)
         | the top_k candidates re-ranked by how much they repeat the context (contrastive search)
         | beam search group by group, each avoiding the tokens earlier groups chose (diverse beam search)
      -> stopping criteria (max length, eos, stop strings, yours)               each (ids, scores) -> done (batch,)

The choices, their order and their defaults follow the reference implementation, so that the same
model and settings produce the same tokens. ``GenerationConfig.get_generation_mode()`` names the strategy
that the settings select. Contrastive and diverse beam search follow transformers v4.37.2 (v5 moved them to
Hub repositories); their modules say where they differ.

Settings come from a ``GenerationConfig``: the model's own (``model.generation_config``, read from
``generation_config.json`` next to the weights) updated by the keyword arguments of ``generate``.

The modules, named as in the reference:

    configuration_utils.py   GenerationConfig
    logits_process.py        LogitsProcessor, LogitsProcessorList and every processor and warper
    whisper.py               Whisper's generate (language and task prompt, timestamps, word-level times)
    stopping_criteria.py     StoppingCriteria, StoppingCriteriaList, max length, eos and stop-string criteria
    streamers.py             TextStreamer, TextIteratorStreamer
    utils.py                 GenerationMixin (generate, greedy search and sampling), the Generate*Output classes
    beam_search.py           the beam search loop
    group_beam_search.py     diverse beam search (num_beam_groups, diversity_penalty)
    contrastive.py           contrastive search (penalty_alpha, top_k)
"""

from .configuration_utils import GENERATION_CONFIG_NAME, GenerationConfig
from .logits_process import (
    ForcedBOSTokenLogitsProcessor,
    ForcedEOSTokenLogitsProcessor,
    HammingDiversityLogitsProcessor,
    LogitNormalization,
    LogitsProcessor,
    LogitsProcessorList,
    LogitsWarper,
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
    WhisperTimeStampLogitsProcessor,
)
from .stopping_criteria import (
    EosTokenCriteria,
    MaxLengthCriteria,
    StoppingCriteria,
    StoppingCriteriaList,
    StopStringCriteria,
)
from .streamers import BaseStreamer, TextIteratorStreamer, TextStreamer
from .utils import (
    BeamSearchDecoderOnlyOutput,
    GenerateBeamDecoderOnlyOutput,
    GenerateBeamEncoderDecoderOutput,
    GenerateDecoderOnlyOutput,
    GenerateEncoderDecoderOutput,
    GenerationMixin,
    GreedySearchDecoderOnlyOutput,
    SampleDecoderOnlyOutput,
)

__all__ = [
    "GENERATION_CONFIG_NAME",
    "BaseStreamer",
    "BeamSearchDecoderOnlyOutput",
    "EosTokenCriteria",
    "ForcedBOSTokenLogitsProcessor",
    "ForcedEOSTokenLogitsProcessor",
    "GenerateBeamDecoderOnlyOutput",
    "GenerateBeamEncoderDecoderOutput",
    "GenerateDecoderOnlyOutput",
    "GenerateEncoderDecoderOutput",
    "GenerationConfig",
    "GenerationMixin",
    "GreedySearchDecoderOnlyOutput",
    "HammingDiversityLogitsProcessor",
    "LogitNormalization",
    "LogitsProcessor",
    "LogitsProcessorList",
    "LogitsWarper",
    "MaxLengthCriteria",
    "MinLengthLogitsProcessor",
    "MinNewTokensLengthLogitsProcessor",
    "MinPLogitsWarper",
    "NoBadWordsLogitsProcessor",
    "NoRepeatNGramLogitsProcessor",
    "RepetitionPenaltyLogitsProcessor",
    "SampleDecoderOnlyOutput",
    "StopStringCriteria",
    "StoppingCriteria",
    "StoppingCriteriaList",
    "SuppressTokensAtBeginLogitsProcessor",
    "SuppressTokensLogitsProcessor",
    "TemperatureLogitsWarper",
    "TextIteratorStreamer",
    "TextStreamer",
    "TopKLogitsWarper",
    "TopPLogitsWarper",
    "TypicalLogitsWarper",
    "WhisperTimeStampLogitsProcessor",
]
