"""The model-specific tokenizer classes: ``BertTokenizer``, ``GPT2TokenizerFast``, ``T5Tokenizer``, ...

The reference has a tokenizer class per model family. Here every tokenizer is a :class:`PreTrainedTokenizerFast`
over a ``tokenizers`` backend, and a family differs only by its defaults (``tokenizer_families.FAMILIES``: special
tokens, model inputs, padding side, template). So each class below is :class:`PreTrainedTokenizerFast` with one
family fixed: ``BertTokenizer.from_pretrained(path)`` has ``[CLS]``, ``[SEP]``, ``[PAD]``, ``[MASK]`` and returns
``token_type_ids`` even when the folder's files name no tokenizer class or special tokens, and
``isinstance(tokenizer, BertTokenizer)`` holds for it.

The reference v4 had a slow (Python) and a fast (Rust) class per family; there is no slow tokenizer here, so
``BertTokenizerFast`` is the same class as ``BertTokenizer`` (as in the reference v5). ``ByT5Tokenizer``,
``MarianTokenizer`` and ``M2M100Tokenizer`` have no ``...Fast`` name, as in the reference.
"""

from __future__ import annotations

from .ctc_tokenizer import Wav2Vec2CTCTokenizer as Wav2Vec2CTCTokenizer  # speech: CTC decoding is code of its own
from .tokenizer import PreTrainedTokenizerFast
from .tokenizer_families import FAMILIES
from .whisper_tokenizer import WhisperTokenizer as WhisperTokenizer  # speech: the prompt and timestamps too
from .whisper_tokenizer import WhisperTokenizerFast as WhisperTokenizerFast


def tokenizer_class(name: str) -> type[PreTrainedTokenizerFast]:
    """A subclass of :class:`PreTrainedTokenizerFast` named ``name`` that applies the defaults of
    ``FAMILIES[name]``."""
    if name not in FAMILIES:
        raise KeyError(f"{name} has no entry in tokenizer_families.FAMILIES: add its defaults there first.")
    doc = (
        f"A :class:`PreTrainedTokenizerFast` with the defaults of the reference's ``{name}`` (special tokens, "
        "model inputs, padding side, template), whatever the checkpoint's files name."
    )
    return type(
        name, (PreTrainedTokenizerFast,), {"__doc__": doc, "__module__": __name__, "default_tokenizer_class": name}
    )


# encoders
BertTokenizer = BertTokenizerFast = tokenizer_class("BertTokenizer")
DistilBertTokenizer = DistilBertTokenizerFast = tokenizer_class("DistilBertTokenizer")
ElectraTokenizer = ElectraTokenizerFast = tokenizer_class("ElectraTokenizer")
AlbertTokenizer = AlbertTokenizerFast = tokenizer_class("AlbertTokenizer")
RobertaTokenizer = RobertaTokenizerFast = tokenizer_class("RobertaTokenizer")
XLMRobertaTokenizer = XLMRobertaTokenizerFast = tokenizer_class("XLMRobertaTokenizer")
CamembertTokenizer = CamembertTokenizerFast = tokenizer_class("CamembertTokenizer")
# decoders
GPT2Tokenizer = GPT2TokenizerFast = tokenizer_class("GPT2Tokenizer")
LlamaTokenizer = LlamaTokenizerFast = tokenizer_class("LlamaTokenizer")
CodeLlamaTokenizer = CodeLlamaTokenizerFast = tokenizer_class("CodeLlamaTokenizer")
Qwen2Tokenizer = Qwen2TokenizerFast = tokenizer_class("Qwen2Tokenizer")
# encoder-decoders
T5Tokenizer = T5TokenizerFast = tokenizer_class("T5Tokenizer")
MT5Tokenizer = MT5TokenizerFast = tokenizer_class("MT5Tokenizer")
ByT5Tokenizer = tokenizer_class("ByT5Tokenizer")
BartTokenizer = BartTokenizerFast = tokenizer_class("BartTokenizer")
MBartTokenizer = MBartTokenizerFast = tokenizer_class("MBartTokenizer")
NllbTokenizer = NllbTokenizerFast = tokenizer_class("NllbTokenizer")
M2M100Tokenizer = tokenizer_class("M2M100Tokenizer")
MarianTokenizer = tokenizer_class("MarianTokenizer")
PegasusTokenizer = PegasusTokenizerFast = tokenizer_class("PegasusTokenizer")
# image-text
CLIPTokenizer = CLIPTokenizerFast = tokenizer_class("CLIPTokenizer")

# every name above: the classes and their ...Fast names
__all__ = sorted(
    name
    for name, value in globals().items()
    if isinstance(value, type) and issubclass(value, PreTrainedTokenizerFast) and value is not PreTrainedTokenizerFast
)
