"""The reference's ``transformers.tokenization_utils_base`` names, for code written against the reference.

Code from the Transformers docs imports from this module: the multiple-choice guide's own data collator starts
with ``from transformers.tokenization_utils_base import PreTrainedTokenizerBase, PaddingStrategy``. The code
lives in ``workbench/processing``; this module gives it the reference's module name.

In the reference, ``PreTrainedTokenizerBase`` is the base class of its slow (Python) and fast (Rust) tokenizers.
Here every tokenizer is a :class:`~workbench.processing.tokenizer.PreTrainedTokenizerFast` (the model-specific
classes, ``BertTokenizer``, ... are subclasses of it), so ``PreTrainedTokenizerBase`` is that class under the
reference's name: use it in type hints and ``isinstance`` checks.
"""

from .processing.batch_encoding import BatchEncoding
from .processing.padding import PaddingStrategy, TruncationStrategy
from .processing.tokenizer import PreTrainedTokenizerFast

PreTrainedTokenizerBase = PreTrainedTokenizerFast

__all__ = ["BatchEncoding", "PaddingStrategy", "PreTrainedTokenizerBase", "TruncationStrategy"]
