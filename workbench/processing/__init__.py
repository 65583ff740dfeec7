"""Processing: turning raw inputs into model inputs, and model outputs back into text.

- ``tokenizer``: :class:`PreTrainedTokenizerFast` (loading, calling, padding, decoding, saving) and
  :class:`AutoTokenizer`.
- ``tokenizer_classes``: the model-specific classes (``BertTokenizer``, ``GPT2TokenizerFast``, ...), each
  :class:`PreTrainedTokenizerFast` with one family's defaults.
- ``tokenizer_families``: what each tokenizer class implies when the files do not say it (special tokens,
  model inputs, padding side, special-token template), and which class a model_type implies.
- ``batch_encoding``: :class:`BatchEncoding`, what ``tokenizer(...)`` returns.
- ``padding``: :class:`PaddingStrategy`, :class:`TruncationStrategy` and how ``padding=`` / ``truncation=`` are read.
- ``tokenizer_files``: tokenizer backends built from raw vocabulary files (WordPiece, byte-level BPE,
  SentencePiece, ByT5 bytes).
- ``tokenizer_training``: ``train_new_from_iterator``'s vocabulary training.
- ``chat_template``: reading, compiling and rendering chat templates.
"""

from .batch_encoding import BatchEncoding
from .padding import PaddingStrategy, TruncationStrategy
from .tokenizer import AutoTokenizer, PreTrainedTokenizerFast

__all__ = ["AutoTokenizer", "BatchEncoding", "PaddingStrategy", "PreTrainedTokenizerFast", "TruncationStrategy"]
