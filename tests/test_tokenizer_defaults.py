"""Tokenizer defaults of canonical Hub checkpoints, whose files name no special tokens (issue 20).

``google-bert/bert-base-uncased`` ships ``{"do_lower_case": true, "model_max_length": 512}`` as its
tokenizer_config.json, ``google-t5/t5-small`` and ``FacebookAI/roberta-base`` ship none: the tokenizer class that
config.json's ``model_type`` implies supplies the special tokens, model inputs and padding side. Each folder here
is shaped like its Hub repository: the real vocabulary files from the data dir, the repository's own small
tokenizer_config.json and config.json, and (layout ``"hub"``) a tokenizer.json written by the reference from those
files, or (layout ``"raw"``) none. Ours and the reference's ``AutoTokenizer`` load the same folder.

Where the installed reference (v5) reads a folder differently from v4.37 (which the docs describe, and which we
follow), the reference is loaded with the class or the settings v4 used, named in ``REFERENCE_AS_V4``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import pytest
import torch
from tokenizers import AddedToken

from workbench.processing import AutoTokenizer, PreTrainedTokenizerFast, tokenizer_classes
from workbench.processing.tokenizer_families import FAMILIES, MODEL_TYPE_TOKENIZERS
from workbench.tokenization_utils_base import PaddingStrategy, PreTrainedTokenizerBase, TruncationStrategy

transformers = pytest.importorskip("transformers")
logging.getLogger("transformers").setLevel(logging.ERROR)

ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
LSTRIP_FIELDS = {
    "content": "<mask>",
    "lstrip": True,
    "normalized": False,
    "rstrip": False,
    "single_word": False,
    "special": True,
}
LSTRIP_MASK = {"__type": "AddedToken", **LSTRIP_FIELDS}  # as config files write it


@dataclass
class Repo:
    """A Hub repository's tokenizer files: ``source`` is the vocabulary (a folder of the data dir, or how a
    tokenizer.json is made for families whose vocabulary the data dir lacks), ``tokenizer_config`` the repo's
    tokenizer_config.json (``None``: it has none), ``writer`` the reference class that writes its tokenizer.json."""

    source: str
    model_type: str
    tokenizer_config: dict | None
    writer: str
    expected_class: str  # the tokenizer class (v4's AutoTokenizer picks it by model_type)
    layouts: tuple[str, ...] = ("hub", "raw")


REPOS = {
    "google-bert/bert-base-uncased": Repo(
        "bert-base-uncased", "bert", {"do_lower_case": True, "model_max_length": 512}, "BertTokenizer", "BertTokenizer"
    ),
    "distilbert/distilbert-base-uncased": Repo(
        "bert-base-uncased", "distilbert", {"do_lower_case": True}, "BertTokenizer", "DistilBertTokenizer"
    ),
    "google/electra-small-discriminator": Repo(
        "bert-base-uncased",
        "electra",
        {"do_lower_case": True, "model_max_length": 512},
        "BertTokenizer",
        "ElectraTokenizer",
    ),
    "openai-community/gpt2": Repo("gpt2", "gpt2", {"model_max_length": 1024}, "GPT2Tokenizer", "GPT2Tokenizer"),
    "FacebookAI/roberta-base": Repo("roberta", "roberta", None, "RobertaTokenizer", "RobertaTokenizer"),
    "facebook/bart-base": Repo("roberta", "bart", None, "RobertaTokenizer", "BartTokenizer"),
    "google-t5/t5-small": Repo("t5-small", "t5", None, "T5Tokenizer", "T5Tokenizer"),
    "google/mt5-small": Repo("t5-small", "mt5", None, "T5Tokenizer", "MT5Tokenizer"),
    # Llama-style checkpoints with tokenizer.model only
    "mistralai/Mistral-7B-v0.1": Repo("mistral-7b-v0.1", "mistral", None, "", "LlamaTokenizer", ("raw",)),
    "meta-llama/Llama-2-7b-hf": Repo("mistral-7b-v0.1", "llama", None, "", "LlamaTokenizer", ("raw",)),
    # SentencePiece families read from their tokenizer.json only; T5's pieces stand in for their vocabulary
    "albert/albert-base-v2": Repo("albert", "albert", None, "AlbertTokenizer", "AlbertTokenizer", ("hub",)),
    "FacebookAI/xlm-roberta-base": Repo(
        "xlm-roberta", "xlm-roberta", None, "XLMRobertaTokenizer", "XLMRobertaTokenizer", ("hub",)
    ),
}
CASES = [(repo, layout) for repo, spec in REPOS.items() for layout in spec.layouts]

# How the reference v5 is made to read a folder as v4.37 did: (its class instead of AutoTokenizer, keywords).
REFERENCE_AS_V4 = {
    # v5's AutoTokenizer picks BertTokenizer (with token_type_ids) for distilbert; v4 picked DistilBertTokenizer.
    "distilbert/distilbert-base-uncased": ("DistilBertTokenizer", {}),
    # v5 reads Llama-style tokenizer.model files without a class (no special tokens, right padding), and its
    # LlamaTokenizer adds no <s> unless told; v4's LlamaTokenizer did both.
    "mistralai/Mistral-7B-v0.1": ("LlamaTokenizer", {"add_bos_token": True}),
    "meta-llama/Llama-2-7b-hf": ("LlamaTokenizer", {"add_bos_token": True}),
    # v5's AlbertTokenizer returns no token_type_ids; v4's did (ALBERT has segment embeddings).
    "albert/albert-base-v2": (
        "AutoTokenizer",
        {"model_input_names": ["input_ids", "token_type_ids", "attention_mask"]},
    ),
    # v5 forgets that RoBERTa's mask takes the space before it when <mask> is in vocab.json (v4 and the Hub's
    # tokenizer.json keep it).
    "FacebookAI/roberta-base": ("AutoTokenizer", {"mask_token": AddedToken(**LSTRIP_FIELDS)}),
    "facebook/bart-base": ("AutoTokenizer", {"mask_token": AddedToken(**LSTRIP_FIELDS)}),
}

SENTENCES = [
    "Hello world!",
    "Héllo, naïve café — déjà vu. Ångström Straße",
    "Emoji 😀👍🏽 and symbols ©®™ ½",
    "  leading and   multiple   spaces\tand\ttabs\nnew line  ",
    "don't stop: it's 3.14159, isn't it? (yes) [no] {maybe}",
    "The quick brown fox jumps over the lazy dog. " * 6,
]
QUESTIONS = ["What is the capital of France?", "short"]
CONTEXTS = ["Paris is the capital and largest city of France.", "a much longer second sequence that goes on " * 3]


def _data() -> Path:
    path = Path(os.environ["WORKBENCH_DATA_DIR"]) / "tokenizers"
    if not path.is_dir():
        pytest.skip(f"no tokenizer files in {path}")
    return path


def _sentencepiece_pieces() -> list[tuple[str, float]]:
    """T5's SentencePiece pieces without its three special ones, to stand in for another family's vocabulary."""
    from sentencepiece import sentencepiece_model_pb2

    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((_data() / "t5-small" / "spiece.model").read_bytes())
    return [(piece.piece, piece.score) for piece in proto.pieces][3:]


def _vocabulary_files(source: str, folder: Path) -> None:
    """The repository's raw vocabulary files; for ALBERT and XLM-R (none in the data dir), a tokenizer.json that
    the reference builds around T5's pieces, with the family's special tokens at their usual ids."""
    if source == "albert":
        specials = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]
        built = transformers.AlbertTokenizer(vocab=[(t, 0.0) for t in specials] + _sentencepiece_pieces())
    elif source == "xlm-roberta":
        pieces = [(t, 0.0) for t in ["<s>", "<pad>", "</s>", "<unk>"]] + _sentencepiece_pieces() + [("<mask>", 0.0)]
        built = transformers.XLMRobertaTokenizer(vocab=pieces)
    else:
        shutil.copytree(_data() / ("gpt2" if source == "roberta" else source), folder, dirs_exist_ok=True)
        if source == "roberta":  # GPT-2's vocabulary plus RoBERTa's special tokens
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            vocab.update({token: len(vocab) + i for i, token in enumerate(ROBERTA_SPECIALS)})
            (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        return
    built.save_pretrained(folder)
    (folder / "tokenizer_config.json").unlink()


def _reference_tokenizer_json(repo: Repo, folder: Path, scratch: Path) -> None:
    """Write ``folder/tokenizer.json`` as the reference writes it from the raw files (as the Hub's were made)."""
    shutil.copytree(folder, scratch)
    config = {"tokenizer_class": repo.writer, **({"mask_token": LSTRIP_MASK} if repo.source == "roberta" else {})}
    (scratch / "tokenizer_config.json").write_text(json.dumps(config))
    transformers.AutoTokenizer.from_pretrained(scratch).save_pretrained(scratch / "saved")
    shutil.copy(scratch / "saved" / "tokenizer.json", folder / "tokenizer.json")


@pytest.fixture(scope="module")
def hub_folders(tmp_path_factory) -> dict[tuple[str, str], Path]:
    """(repo, layout) -> a folder shaped like the Hub repository."""
    root = tmp_path_factory.mktemp("hub")
    folders = {}
    for index, (name, repo) in enumerate(REPOS.items()):
        raw = root / f"{index}-raw"
        raw.mkdir()
        _vocabulary_files(repo.source, raw)
        (raw / "config.json").write_text(json.dumps({"model_type": repo.model_type, "architectures": []}))
        if repo.tokenizer_config is not None:
            (raw / "tokenizer_config.json").write_text(json.dumps(repo.tokenizer_config))
        folders[name, "raw"] = raw
        if "hub" in repo.layouts:
            hub = shutil.copytree(raw, root / f"{index}-hub")
            if not (hub / "tokenizer.json").exists():
                _reference_tokenizer_json(repo, raw, root / f"{index}-scratch")
                shutil.copy(raw / "tokenizer.json", hub)
                (raw / "tokenizer.json").unlink()
            folders[name, "hub"] = hub
    return folders


def load_reference(repo: str, folder: Path):
    class_name, kwargs = REFERENCE_AS_V4.get(repo, ("AutoTokenizer", {}))
    return getattr(transformers, class_name).from_pretrained(folder, **kwargs)


@pytest.fixture(params=CASES, ids=[f"{repo.split('/')[1]}-{layout}" for repo, layout in CASES])
def case(request, hub_folders):
    """(repo, ours, reference) for each repository and layout."""
    repo, layout = request.param
    folder = hub_folders[repo, layout]
    return repo, AutoTokenizer.from_pretrained(folder), load_reference(repo, folder)


def plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def assert_same(ours, theirs):
    assert {k: plain(v) for k, v in ours.items()} == {k: plain(v) for k, v in theirs.items()}


# ---- special tokens and settings ------------------------------------------------------------------------


def test_special_tokens_like_the_reference(case):
    repo, ours, theirs = case
    assert ours.tokenizer_class == REPOS[repo].expected_class
    assert ours.special_tokens_map == {k: str(v) for k, v in theirs.special_tokens_map.items()}
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    for name in ("pad_token_id", "eos_token_id", "bos_token_id", "mask_token_id", "cls_token_id", "sep_token_id"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert len(ours) == len(theirs)
    assert list(ours.model_input_names) == list(theirs.model_input_names)
    assert (ours.padding_side, ours.model_max_length) == (theirs.padding_side, theirs.model_max_length)


def test_canonical_defaults():
    """What the issue names, pinned: the defaults of the reference's tokenizer classes."""
    families = {name: FAMILIES[name] for name in ("BertTokenizer", "GPT2Tokenizer", "T5Tokenizer", "RobertaTokenizer")}
    assert set(families["BertTokenizer"].special_tokens.values()) == {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"}
    assert set(families["GPT2Tokenizer"].special_tokens.values()) == {"<|endoftext|>"}
    assert "pad_token" not in families["GPT2Tokenizer"].special_tokens
    assert families["T5Tokenizer"].extra_special_tokens({})[-1] == "<extra_id_99>"
    assert families["RobertaTokenizer"].special_tokens["mask_token"].lstrip
    assert MODEL_TYPE_TOKENIZERS["distilbert"] == "DistilBertTokenizer"


# ---- encoding -------------------------------------------------------------------------------------------


def test_encodings_like_the_reference(case):
    repo, ours, theirs = case
    if theirs.pad_token is None:  # GPT-2 and Llama have none: the docs' pad_token = eos_token
        ours.pad_token = ours.eos_token
        theirs.pad_token = theirs.eos_token
    assert_same(ours(SENTENCES), theirs(SENTENCES))
    in_tensors = {"padding": True, "return_tensors": "pt"}
    assert_same(ours(SENTENCES, **in_tensors), theirs(SENTENCES, **in_tensors))
    assert_same(
        ours(QUESTIONS, CONTEXTS, padding="max_length", truncation="only_second", max_length=16),
        theirs(QUESTIONS, CONTEXTS, padding="max_length", truncation="only_second", max_length=16),
    )
    assert_same(
        ours(SENTENCES[:2], text_target=SENTENCES[2:4], max_length=12, truncation=True),
        theirs(SENTENCES[:2], text_target=SENTENCES[2:4], max_length=12, truncation=True),
    )
    encoded = ours(SENTENCES[1])
    assert ours.convert_ids_to_tokens(encoded["input_ids"]) == theirs.convert_ids_to_tokens(encoded["input_ids"])
    assert ours.decode(encoded["input_ids"], skip_special_tokens=True) == theirs.decode(
        encoded["input_ids"], skip_special_tokens=True
    )
    if ours.mask_token is not None:  # the masked-LM docs' sentence
        sentence = f"Paris is the {ours.mask_token} of France."
        assert ours(sentence)["input_ids"] == theirs(sentence)["input_ids"]
        assert ours(sentence)["input_ids"].count(ours.mask_token_id) == 1


def test_bert_gives_token_type_ids_and_distilbert_none(hub_folders):
    bert = AutoTokenizer.from_pretrained(hub_folders["google-bert/bert-base-uncased", "hub"])
    assert bert("Hello world!", "Bye.")["token_type_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]
    assert bert("Hello world!")["input_ids"] == [101, 7592, 2088, 999, 102]
    distilbert = AutoTokenizer.from_pretrained(hub_folders["distilbert/distilbert-base-uncased", "hub"])
    assert "token_type_ids" not in distilbert("Hello world!", "Bye.")


def test_save_and_reload_keeps_the_family(hub_folders, tmp_path):
    ours = AutoTokenizer.from_pretrained(hub_folders["google-t5/t5-small", "hub"])
    ours.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "tokenizer_config.json").read_text())["tokenizer_class"] == "T5Tokenizer"
    for reloaded in (AutoTokenizer.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)):
        assert reloaded.all_special_tokens == ours.all_special_tokens
        assert (
            reloaded("translate English to French: Hi")["input_ids"]
            == ours("translate English to French: Hi")["input_ids"]
        )


# ---- the model-specific classes ---------------------------------------------------------------------------


def test_every_family_has_a_class():
    names = set(tokenizer_classes.__all__)
    assert set(FAMILIES) <= names
    assert set(MODEL_TYPE_TOKENIZERS.values()) <= names
    for name in names:
        cls = getattr(tokenizer_classes, name)
        assert issubclass(cls, PreTrainedTokenizerFast) and cls.__name__ == name.removesuffix("Fast")
    assert tokenizer_classes.BertTokenizerFast is tokenizer_classes.BertTokenizer
    assert not hasattr(tokenizer_classes, "ByT5TokenizerFast")  # as in the reference: ByT5 has no fast class


@pytest.mark.parametrize(
    "name, repo",
    [
        ("BertTokenizerFast", "google-bert/bert-base-uncased"),
        ("GPT2Tokenizer", "openai-community/gpt2"),
        ("RobertaTokenizer", "FacebookAI/roberta-base"),
        ("T5TokenizerFast", "google-t5/t5-small"),
        ("LlamaTokenizerFast", "mistralai/Mistral-7B-v0.1"),
        ("DistilBertTokenizerFast", "distilbert/distilbert-base-uncased"),
    ],
)
def test_named_class_applies_its_defaults_without_any_config(name, repo, hub_folders, tmp_path):
    """``X.from_pretrained`` on the vocabulary files alone (no tokenizer_config.json, no config.json)."""
    layout = "hub" if (repo, "hub") in hub_folders else "raw"
    shutil.copytree(hub_folders[repo, layout], tmp_path, dirs_exist_ok=True)
    for config in ("config.json", "tokenizer_config.json"):
        (tmp_path / config).unlink(missing_ok=True)
    cls = getattr(tokenizer_classes, name)
    ours = cls.from_pretrained(tmp_path)
    assert isinstance(ours, cls) and isinstance(ours, PreTrainedTokenizerBase)
    assert repr(ours).startswith(f"{cls.__name__}(name_or_path=")
    _, reference_kwargs = REFERENCE_AS_V4.get(repo, ("", {}))
    theirs = getattr(transformers, name.removesuffix("Fast")).from_pretrained(tmp_path, **reference_kwargs)
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert list(ours.model_input_names) == list(theirs.model_input_names)
    assert ours.padding_side == theirs.padding_side
    assert_same(ours(QUESTIONS, CONTEXTS), theirs(QUESTIONS, CONTEXTS))


def test_named_class_wins_over_the_files(hub_folders):
    folder = hub_folders["google/electra-small-discriminator", "hub"]  # model_type electra: token_type_ids
    distilbert = tokenizer_classes.DistilBertTokenizer.from_pretrained(folder)
    assert distilbert.tokenizer_class == "DistilBertTokenizer" and "token_type_ids" not in distilbert("Hi")


def test_raw_files_the_class_cannot_read(hub_folders, tmp_path):
    with pytest.raises(ValueError, match=r"BertTokenizer.*vocab\.json \+ merges\.txt.*tokenizer\.json"):
        tokenizer_classes.BertTokenizer.from_pretrained(hub_folders["openai-community/gpt2", "raw"])
    shutil.copy(_data() / "t5-small" / "spiece.model", tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "albert"}))
    with pytest.raises(ValueError, match="AlbertTokenizer, and it has no tokenizer.json, only a SentencePiece Unigram"):
        AutoTokenizer.from_pretrained(tmp_path)  # ALBERT's normalization is not T5's: no silent wrong tokens


# ---- tokenization_utils_base: the docs' multiple-choice collator --------------------------------------------


def test_padding_and_truncation_enums(hub_folders):
    ours = AutoTokenizer.from_pretrained(hub_folders["google-bert/bert-base-uncased", "hub"])
    theirs = transformers.AutoTokenizer.from_pretrained(hub_folders["google-bert/bert-base-uncased", "hub"])
    from transformers.tokenization_utils_base import PaddingStrategy as TheirPadding
    from transformers.tokenization_utils_base import TruncationStrategy as TheirTruncation

    for padding, truncation in [
        (PaddingStrategy.MAX_LENGTH, TruncationStrategy.ONLY_SECOND),
        (PaddingStrategy.LONGEST, TruncationStrategy.LONGEST_FIRST),
        (PaddingStrategy.DO_NOT_PAD, TruncationStrategy.DO_NOT_TRUNCATE),
    ]:
        mine = ours(QUESTIONS, CONTEXTS, padding=padding, truncation=truncation, max_length=14)
        assert_same(mine, ours(QUESTIONS, CONTEXTS, padding=padding.value, truncation=truncation.value, max_length=14))
        assert_same(
            mine,
            theirs(
                QUESTIONS,
                CONTEXTS,
                padding=TheirPadding(padding.value),
                truncation=TheirTruncation(truncation.value),
                max_length=14,
            ),
        )
    with pytest.raises(ValueError, match="padding='sideways' is not one of True, False, 'longest'"):
        ours("x", padding="sideways")


@dataclass
class DataCollatorForMultipleChoice:
    """The multiple-choice task guide's own collator, as the docs write it (its imports are this file's)."""

    tokenizer: PreTrainedTokenizerBase
    padding: Union[bool, str, PaddingStrategy] = True  # noqa: UP007
    max_length: Optional[int] = None  # noqa: UP045
    pad_to_multiple_of: Optional[int] = None  # noqa: UP045

    def __call__(self, features):
        label_name = "label" if "label" in features[0].keys() else "labels"
        labels = [feature.pop(label_name) for feature in features]
        batch_size = len(features)
        num_choices = len(features[0]["input_ids"])
        flattened_features = [
            [{k: v[i] for k, v in feature.items()} for i in range(num_choices)] for feature in features
        ]
        flattened_features = sum(flattened_features, [])
        batch = self.tokenizer.pad(
            flattened_features,
            padding=self.padding,
            max_length=self.max_length,
            pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors="pt",
        )
        batch = {k: v.view(batch_size, num_choices, -1) for k, v in batch.items()}
        batch["labels"] = torch.tensor(labels, dtype=torch.int64)
        return batch


def test_docs_multiple_choice_collator(hub_folders):
    """The same batch from the docs' collator with our tokenizer and with the reference's."""
    folder = hub_folders["google-bert/bert-base-uncased", "hub"]
    batches = []
    for tokenizer in (AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)):
        features = []
        for label, (start, endings) in enumerate(
            [("A man walks", ["in.", "out of the room slowly."]), ("She reads", ["a book about cats.", "."])]
        ):
            encoded = tokenizer([start] * len(endings), endings, truncation=True)
            features.append({**encoded, "label": label})
        collator = DataCollatorForMultipleChoice(tokenizer, padding=PaddingStrategy.LONGEST, pad_to_multiple_of=8)
        batches.append(collator(features))
    ours, theirs = batches
    assert isinstance(AutoTokenizer.from_pretrained(folder), PreTrainedTokenizerBase)
    assert ours.keys() == theirs.keys() and ours["input_ids"].shape == (2, 2, 16)
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_every_tokenizer_class_is_exported_from_workbench():
    import workbench
    from workbench.processing import tokenizer_classes

    for name in tokenizer_classes.__all__:
        assert getattr(workbench, name) is getattr(tokenizer_classes, name)
    assert set(tokenizer_classes.__all__) <= set(workbench.__all__)
