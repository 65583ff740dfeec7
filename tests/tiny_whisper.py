"""Tiny Whisper models for tests: a reference config, input features, and a generation config laid out as a real
Whisper checkpoint's generation_config.json, on a 101-token vocabulary:

    0-49 text | 50 <|endoftext|> | 51 <|startoftranscript|> | 52-54 <|en|> <|fr|> <|de|> | 55 <|translate|>
    56 <|transcribe|> | 57 <|startoflm|> | 58 <|startofprev|> | 59 <|nospeech|> | 60 <|notimestamps|>
    61-100 timestamps <|0.00|> ... <|0.78|>

(The English-only layout keeps the same ids and has no languages or tasks, as whisper-*.en's files.)
"""

from __future__ import annotations

import torch
import transformers

VOCAB = 101
EOS, START, NO_TIMESTAMPS, PREV = 50, 51, 60, 58
LANGUAGES = {"<|en|>": 52, "<|fr|>": 53, "<|de|>": 54}
TASKS = {"translate": 55, "transcribe": 56}
MEL_BINS, FRAMES = 8, 60  # max_source_positions 30: 60 feature frames = the tiny model's "30 seconds"


def reference_config(**overrides) -> transformers.WhisperConfig:
    values = dict(
        vocab_size=VOCAB,
        num_mel_bins=MEL_BINS,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=FRAMES // 2,
        max_target_positions=40,
        pad_token_id=EOS,
        bos_token_id=EOS,
        eos_token_id=EOS,
        decoder_start_token_id=START,
        begin_suppress_tokens=[0, EOS],
    )
    return transformers.WhisperConfig(**{**values, **overrides})


def generation_config_values(multilingual: bool = True) -> dict:
    """generation_config.json's keys, as whisper-tiny (multilingual) or whisper-tiny.en has them."""
    values = dict(
        decoder_start_token_id=START,
        bos_token_id=EOS,
        eos_token_id=EOS,
        pad_token_id=EOS,
        max_length=40,
        no_timestamps_token_id=NO_TIMESTAMPS,
        prev_sot_token_id=PREV,
        max_initial_timestamp_index=5,
        alignment_heads=[[1, 0], [1, 2], [0, 3]],
        suppress_tokens=[1, 2, 7, 57, 58, 59],
        begin_suppress_tokens=[0, EOS],
        is_multilingual=multilingual,
        return_timestamps=False,
    )
    if multilingual:
        values.update(lang_to_id=LANGUAGES, task_to_id=TASKS, forced_decoder_ids=[[1, None], [2, TASKS["transcribe"]]])
    else:
        values.update(forced_decoder_ids=[[1, NO_TIMESTAMPS]])
    return values


def input_features(batch: int = 2, seed: int = 0, frames: int = FRAMES) -> torch.Tensor:
    """(batch, mel bins, frames) random log-mel-like features."""
    return torch.randn(batch, MEL_BINS, frames, generator=torch.Generator().manual_seed(seed))
