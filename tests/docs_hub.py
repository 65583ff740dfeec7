"""A private Hugging Face cache holding tiny stand-ins for the Hub checkpoints the Transformers docs load.

``build_hub_cache(hub_dir)`` writes, for every id in ``REPOS``, a random model a few layers deep (hidden 32-48,
no dropout, so that training is the same computation in every library) with the real tokenizer files of its
family from the data directory (the vocabulary of GPT-2, bert-base-uncased, t5-small, Mistral) and the small
config files the Hub repository ships. Files are laid out as ``huggingface_hub`` caches them
(``models--org--name/snapshots/<commit>/...`` with ``refs/main``), so the reference library and workbench both
find them by Hub id with ``HF_HUB_OFFLINE=1``.

Where the data directory lacks a family's vocabulary a neighbour stands in: bert-base-uncased's for the cased
and multilingual BERTs, GPT-2's (shifted by the four RoBERTa special tokens) for RoBERTa and BART. The weights are
random: the docs' outputs are compared between libraries, not read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

TOKENIZERS = Path(os.environ["WORKBENCH_DATA_DIR"]).resolve() / "tokenizers"  # set by tests/conftest.py

SST2_LABELS = ["NEGATIVE", "POSITIVE"]
STARS = ["1 star", "2 stars", "3 stars", "4 stars", "5 stars"]
WNUT_LABELS = [
    "O",
    "B-corporation",
    "I-corporation",
    "B-creative-work",
    "I-creative-work",
    "B-group",
    "I-group",
    "B-location",
    "I-location",
    "B-person",
    "I-person",
    "B-product",
    "I-product",
]
NLI_LABELS = ["contradiction", "neutral", "entailment"]
ROBERTA_SPECIALS = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}

# google-t5/t5-small's config.json task_specific_params, which the summarization and translation pipelines apply.
T5_TASK_PARAMS = {
    "summarization": {
        "early_stopping": True,
        "length_penalty": 2.0,
        "max_length": 200,
        "min_length": 30,
        "no_repeat_ngram_size": 3,
        "num_beams": 4,
        "prefix": "summarize: ",
    },
    **{
        f"translation_en_to_{code}": {
            "early_stopping": True,
            "max_length": 300,
            "num_beams": 4,
            "prefix": f"translate English to {language}: ",
        }
        for code, language in (("de", "German"), ("fr", "French"), ("ro", "Romanian"))
    },
}
# openai-community/gpt2's and distilbert/distilgpt2's: the text-generation pipeline samples 50 tokens.
GPT2_TASK_PARAMS = {"text-generation": {"do_sample": True, "max_length": 50}}

ZEPHYR_CHAT_TEMPLATE = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + "
    "eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n"
    "{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)
MISTRAL_INSTRUCT_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)


# ---- tokenizer files, as the Hub repositories ship them ---------------------------------------------------


def _bert_vocab(folder: Path, tokenizer_config: dict) -> None:
    shutil.copy(TOKENIZERS / "bert-base-uncased" / "vocab.txt", folder / "vocab.txt")
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))


def _gpt2_vocab(folder: Path) -> None:
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(TOKENIZERS / "gpt2" / name, folder / name)
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 1024}))


def _roberta_vocab(folder: Path) -> int:
    """GPT-2's byte-level BPE with RoBERTa's special tokens at their ids (0-3, and <mask> last); returns its size."""
    gpt2 = json.loads((TOKENIZERS / "gpt2" / "vocab.json").read_text(encoding="utf-8"))
    vocab = {**ROBERTA_SPECIALS, **{token: i + len(ROBERTA_SPECIALS) for token, i in gpt2.items()}}
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    shutil.copy(TOKENIZERS / "gpt2" / "merges.txt", folder / "merges.txt")
    return len(vocab)


def _t5_vocab(folder: Path) -> None:
    shutil.copy(TOKENIZERS / "t5-small" / "spiece.model", folder / "spiece.model")


def _mistral_vocab(folder: Path, **tokenizer_config) -> None:
    shutil.copy(TOKENIZERS / "mistral-7b-v0.1" / "tokenizer.model", folder / "tokenizer.model")
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": None,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 1000000000000000019884624838656,
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
        "use_default_system_prompt": False,
        **tokenizer_config,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config))


# ---- tiny models ------------------------------------------------------------------------------------------


def _labels(labels: list[str] | None) -> dict:
    if labels is None:
        return {}
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


def _save(folder: Path, class_name: str, config_class: str, seed: int, **config) -> None:
    import workbench

    torch.manual_seed(seed)
    model = getattr(workbench, class_name)(getattr(workbench, config_class)(**config)).eval()
    model.save_pretrained(folder)


def bert(head: str, labels: list[str] | None = None, lower_case: bool = True) -> Callable[[Path, int], None]:
    def build(folder: Path, seed: int) -> None:
        _save(
            folder,
            f"Bert{head}",
            "BertConfig",
            seed,
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
            initializer_range=0.2,
            **_labels(labels),
        )
        _bert_vocab(folder, {"do_lower_case": lower_case, "model_max_length": 512})

    return build


def distilbert(head: str, labels: list[str] | None = None) -> Callable[[Path, int], None]:
    def build(folder: Path, seed: int) -> None:
        _save(
            folder,
            f"DistilBert{head}",
            "DistilBertConfig",
            seed,
            vocab_size=30522,
            dim=48,  # 48 = 4 heads of 12, or the 12 heads of 4 that the quick tour asks for
            n_layers=2,
            n_heads=4,
            hidden_dim=64,
            dropout=0.0,
            attention_dropout=0.0,
            qa_dropout=0.0,
            seq_classif_dropout=0.0,
            initializer_range=0.2,
            **_labels(labels),
        )
        _bert_vocab(folder, {"do_lower_case": True})

    return build


def roberta_mlm(folder: Path, seed: int) -> None:
    size = _roberta_vocab(folder)
    _save(
        folder,
        "RobertaForMaskedLM",
        "RobertaConfig",
        seed,
        vocab_size=size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        initializer_range=0.2,
    )


def bart_nli(folder: Path, seed: int) -> None:
    size = _roberta_vocab(folder)
    _save(
        folder,
        "BartForSequenceClassification",
        "BartConfig",
        seed,
        vocab_size=size,
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=1024,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        classifier_dropout=0.0,
        init_std=0.2,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        decoder_start_token_id=2,
        forced_eos_token_id=2,
        **_labels(NLI_LABELS),
    )


def gpt2(folder: Path, seed: int) -> None:
    _save(
        folder,
        "GPT2LMHeadModel",
        "GPT2Config",
        seed,
        vocab_size=50257,
        n_positions=1024,
        n_embd=32,
        n_layer=2,
        n_head=4,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        initializer_range=0.2,
        task_specific_params=GPT2_TASK_PARAMS,
    )
    (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": 50256, "eos_token_id": 50256}))
    _gpt2_vocab(folder)


def t5(folder: Path, seed: int) -> None:
    _save(
        folder,
        "T5ForConditionalGeneration",
        "T5Config",
        seed,
        vocab_size=32128,
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        dropout_rate=0.0,
        initializer_factor=2.0,
        task_specific_params=T5_TASK_PARAMS,
    )
    generation = {"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0}
    (folder / "generation_config.json").write_text(json.dumps(generation))
    _t5_vocab(folder)


def mistral(**tokenizer_config) -> Callable[[Path, int], None]:
    def build(folder: Path, seed: int) -> None:
        _save(
            folder,
            "MistralForCausalLM",
            "MistralConfig",
            seed,
            vocab_size=32000,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=4096,
            sliding_window=4096,
            initializer_range=0.2,
        )
        (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": 1, "eos_token_id": 2}))
        _mistral_vocab(folder, **tokenizer_config)

    return build


# Hub id -> how to build it. Ids without an organisation are the docs' own fine-tuned models (saved by their
# task guides) or the reference's v4.37 pipeline defaults, which it asks for at a short revision (``REVISIONS``).
REPOS: dict[str, Callable[[Path, int], None]] = {
    "distilbert-base-uncased-finetuned-sst-2-english": distilbert("ForSequenceClassification", SST2_LABELS),
    "nlptown/bert-base-multilingual-uncased-sentiment": bert("ForSequenceClassification", STARS),
    "google-bert/bert-base-uncased": bert("ForMaskedLM"),
    "google-bert/bert-base-cased": bert("ForMaskedLM", lower_case=False),
    "distilbert/distilbert-base-uncased": distilbert("ForMaskedLM"),
    "distilbert/distilroberta-base": roberta_mlm,
    "facebook/bart-large-mnli": bart_nli,
    "openai-community/gpt2": gpt2,
    "openai-community/gpt2-large": gpt2,
    "distilbert/distilgpt2": gpt2,
    "google-t5/t5-small": t5,
    "mistralai/Mistral-7B-v0.1": mistral(),
    "mistralai/Mistral-7B-Instruct-v0.1": mistral(chat_template=MISTRAL_INSTRUCT_CHAT_TEMPLATE),
    "HuggingFaceH4/zephyr-7b-alpha": mistral(chat_template=ZEPHYR_CHAT_TEMPLATE, pad_token="</s>"),
    "HuggingFaceH4/zephyr-7b-beta": mistral(chat_template=ZEPHYR_CHAT_TEMPLATE, pad_token="</s>"),
    # the task guides' fine-tuned models, as their inference sections load them
    "stevhliu/my_awesome_model": distilbert("ForSequenceClassification", SST2_LABELS),
    "stevhliu/my_awesome_wnut_model": distilbert("ForTokenClassification", WNUT_LABELS),
    "my_awesome_qa_model": distilbert("ForQuestionAnswering"),
    "username/my_awesome_eli5_clm-model": gpt2,
    "username/my_awesome_eli5_mlm_model": roberta_mlm,
    "my_awesome_opus_books_model": t5,
    "stevhliu/my_awesome_billsum_model": t5,
    "my_awesome_swag_model": bert("ForMultipleChoice"),
}
REVISIONS = {"distilbert-base-uncased-finetuned-sst-2-english": "af0f99b"}


def build_hub_cache(hub_dir: Path) -> Path:
    """Write every repository of ``REPOS`` into the cache folder ``hub_dir`` (``$HF_HOME/hub``)."""
    for repo_id, build in REPOS.items():
        commit = hashlib.sha1(repo_id.encode()).hexdigest()  # a stable stand-in for the Hub's commit
        repo = hub_dir / ("models--" + repo_id.replace("/", "--"))
        snapshot = repo / "snapshots" / commit
        snapshot.mkdir(parents=True)
        build(snapshot, int(commit[:8], 16))  # the weights' seed, from the id
        (repo / "refs").mkdir()
        for ref in ("main", *([REVISIONS[repo_id]] if repo_id in REVISIONS else [])):
            (repo / "refs" / ref).write_text(commit)
    return hub_dir
