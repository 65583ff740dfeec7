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
- ``image_utils``: images in every form (PIL, arrays, tensors, paths, URLs, datasets values) -> pixels.
- ``image_processing``: the image processors (``ViTImageProcessor``, ``ConvNextImageProcessor``, ...): one
  pipeline (resize, crop, rescale, normalize) whose settings each family's class sets.
- ``audio_utils``: audio in every form (files, bytes, arrays, datasets values) -> a mono waveform at the model's
  rate: decoding (soundfile, PyAV), mixing down, resampling (windowed sinc).
- ``feature_extraction``: the audio feature extractors (``WhisperFeatureExtractor``: log-mel spectrogram;
  ``Wav2Vec2FeatureExtractor``: normalized samples) and the speech processors (``WhisperProcessor``,
  ``Wav2Vec2Processor``).
- ``processor``: :class:`BatchFeature`, preprocessor_config.json, :class:`ProcessorMixin` (a tokenizer plus an
  image processor or feature extractor), and :class:`AutoImageProcessor`, :class:`AutoFeatureExtractor`,
  :class:`AutoProcessor` with the tables of classes they choose from.
"""

from .batch_encoding import BatchEncoding
from .padding import PaddingStrategy, TruncationStrategy
from .processor import AutoFeatureExtractor, AutoImageProcessor, AutoProcessor, BatchFeature, ProcessorMixin
from .tokenizer import AutoTokenizer, PreTrainedTokenizerFast

__all__ = [
    "AutoFeatureExtractor",
    "AutoImageProcessor",
    "AutoProcessor",
    "AutoTokenizer",
    "BatchEncoding",
    "BatchFeature",
    "PaddingStrategy",
    "PreTrainedTokenizerFast",
    "ProcessorMixin",
    "TruncationStrategy",
]
