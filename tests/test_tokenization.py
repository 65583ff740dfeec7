"""Tokenizer parity: workbench.processing against the reference (transformers.AutoTokenizer).

Each kind of source is loaded by both libraries from the same files: a tokenizer.json (MiniLM, by its Hub
id), and raw files only (BERT vocab.txt, GPT-2 vocab.json + merges.txt, a RoBERTa vocabulary made from
GPT-2's, T5 spiece.model, Mistral tokenizer.model). Ours reads the raw folder as it is; the reference
needs a tokenizer_config.json that names its class, so it reads a copy that has one. ByT5, which has no
vocabulary file, has its own tests at the end.
"""

import json
import logging
import os
import shutil
from pathlib import Path

import jinja2
import numpy as np
import pytest
import torch
from tokenizers import Tokenizer

import workbench
from workbench import hub
from workbench.processing import AutoTokenizer, BatchEncoding, PreTrainedTokenizerFast

transformers = pytest.importorskip("transformers")
logging.getLogger("transformers").setLevel(logging.ERROR)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"

SENTENCES = [
    "Hello world!",
    "",
    "Héllo, naïve café — déjà vu. Ångström Straße",
    "日本語のテキストと中文字符，한국어",
    "Emoji 😀👍🏽 and symbols ©®™ ½",
    "  leading and   multiple   spaces\tand\ttabs\nnew line  ",
    "don't stop: it's 3.14159, isn't it? (yes) [no] {maybe}",
    "UPPER lower MiXeD 12345 hyphen-ated e-mail@example.com",
    "The quick brown fox jumps over the lazy dog. " * 25,
]
PAIRS = [
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    ("short", "a much longer second sequence that goes on and on " * 4),
    ("a first sequence that is clearly the longer one of the two " * 3, "tiny"),
]
FIRSTS, SECONDS = [a for a, _ in PAIRS], [b for _, b in PAIRS]

# RoBERTa's mask token takes the space before it ("the <mask>" -> "Ġthe", "<mask>"), in the reference v4 and in
# the Hub's roberta-base tokenizer.json; the reference v5 forgets it for a <mask> that is in vocab.json, unless told.
LSTRIP_MASK = {
    "__type": "AddedToken",
    "content": "<mask>",
    "lstrip": True,
    "normalized": False,
    "rstrip": False,
    "single_word": False,
    "special": True,
}
# source -> (folder in the data dir, the tokenizer_config.json the reference needs to read the raw files)
RAW_SOURCES = {
    "bert": ("bert-base-uncased", {"tokenizer_class": "BertTokenizer"}),
    "gpt2": ("gpt2", {"tokenizer_class": "GPT2Tokenizer"}),
    "roberta": ("gpt2", {"tokenizer_class": "RobertaTokenizer", "mask_token": LSTRIP_MASK}),
    "t5": ("t5-small", {"tokenizer_class": "T5Tokenizer"}),
    "mistral": ("mistral-7b-v0.1", {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True}),
}
SOURCES = ["minilm", *RAW_SOURCES]
ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def _tokenizer_data() -> Path:
    path = Path(os.environ["WORKBENCH_DATA_DIR"]) / "tokenizers"
    if not path.is_dir():
        pytest.skip(f"no tokenizer files in {path}")
    return path


def _raw_folder(source: str, folder: Path) -> Path:
    """Copy a source's raw files, and nothing else, into ``folder``. RoBERTa's vocabulary is GPT-2's
    plus RoBERTa's special tokens."""
    shutil.copytree(_tokenizer_data() / RAW_SOURCES[source][0], folder)
    if source == "roberta":
        vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
        vocab.update({token: len(vocab) + i for i, token in enumerate(ROBERTA_SPECIALS)})
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    """source -> (the folder ours loads, the folder the reference loads)."""
    root = tmp_path_factory.mktemp("tokenizers")
    minilm = Path(hub.resolve_file(MINILM, "tokenizer.json")).parent  # the cache, seeded from the package
    found = {"minilm": (minilm, minilm)}
    for source, (_, reference_config) in RAW_SOURCES.items():
        raw = _raw_folder(source, root / "raw" / source)
        for_reference = shutil.copytree(raw, root / "reference" / source)
        (for_reference / "tokenizer_config.json").write_text(json.dumps(reference_config))
        found[source] = (raw, for_reference)
    return found


def load_both(folders, source):
    ours_folder, reference_folder = folders[source]
    ours = AutoTokenizer.from_pretrained(MINILM if source == "minilm" else ours_folder)
    return ours, transformers.AutoTokenizer.from_pretrained(reference_folder)


@pytest.fixture(scope="module")
def tokenizers(folders):
    """source -> (ours, reference), loaded once. GPT-2 and Mistral have no padding token; they pad with
    their end-of-text token, as usual."""
    loaded = {source: load_both(folders, source) for source in SOURCES}
    for ours, theirs in loaded.values():
        if theirs.pad_token is None:
            ours.pad_token = theirs.pad_token = theirs.eos_token
    return loaded


@pytest.fixture(params=SOURCES)
def pair(request, tokenizers):
    """(ours, reference) for each source."""
    return tokenizers[request.param]


def plain(value):
    """Tensors, arrays and tuples -> nested lists, to compare the outputs of both libraries."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def assert_same(ours, theirs):
    assert isinstance(ours, BatchEncoding)
    assert {k: plain(v) for k, v in ours.items()} == {k: plain(v) for k, v in theirs.items()}


def call_both(ours, theirs, *args, **kwargs):
    """Call both tokenizers: the same output, or both fail."""
    try:
        expected = theirs(*args, **kwargs)
    except Exception as error:
        with pytest.raises(Exception):
            ours(*args, **kwargs)
        return error
    assert_same(ours(*args, **kwargs), expected)
    return expected


# ---- loading and encoding -----------------------------------------------------------------------------


def test_loaded_like_the_reference(pair):
    ours, theirs = pair
    assert isinstance(ours, PreTrainedTokenizerFast) and workbench.AutoTokenizer is AutoTokenizer
    assert ours.vocab_size == theirs.vocab_size and len(ours) == len(theirs)
    assert ours.get_vocab() == theirs.get_vocab()
    assert ours.special_tokens_map == theirs.special_tokens_map
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    for name in ("bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"):
        assert getattr(ours, name) == getattr(theirs, name), name
        assert getattr(ours, name + "_id") == getattr(theirs, name + "_id"), name
    assert ours.model_max_length == theirs.model_max_length
    assert ours.padding_side == theirs.padding_side and ours.truncation_side == theirs.truncation_side
    assert ours.model_input_names == theirs.model_input_names


def test_sentences_match(pair):
    ours, theirs = pair
    everything = dict(
        return_offsets_mapping=True, return_special_tokens_mask=True, return_token_type_ids=True, return_length=True
    )
    call_both(ours, theirs, SENTENCES)
    call_both(ours, theirs, SENTENCES, **everything)
    call_both(ours, theirs, SENTENCES, add_special_tokens=False)
    for sentence in SENTENCES:
        call_both(ours, theirs, sentence)  # un-batched lists
        call_both(ours, theirs, sentence, **everything)


def test_pairs_match(pair):
    ours, theirs = pair
    call_both(ours, theirs, FIRSTS, SECONDS, return_token_type_ids=True, return_special_tokens_mask=True)
    call_both(ours, theirs, PAIRS, return_offsets_mapping=True)  # a list of (text, text_pair) tuples
    call_both(ours, theirs, *PAIRS[0], return_token_type_ids=True)
    assert ours(*PAIRS[0]).sequence_ids() == theirs(*PAIRS[0]).sequence_ids()


def test_text_target_for_seq2seq(pair):
    """``tokenizer(sources, text_target=targets)``: the targets' ids come back as ``labels``."""
    ours, theirs = pair
    call_both(ours, theirs, FIRSTS, text_target=SECONDS)
    call_both(ours, theirs, FIRSTS, text_target=SECONDS, padding=True, return_tensors="pt")
    call_both(ours, theirs, FIRSTS[0], text_target=SECONDS[0], max_length=6, truncation=True)
    call_both(ours, theirs, text_target=SECONDS)  # targets alone: their own encoding
    with pytest.raises(ValueError, match="Nothing to tokenize"):
        ours()


@pytest.mark.filterwarnings("ignore:`max_length` is ignored:UserWarning")  # the reference's, for padding=True
@pytest.mark.parametrize("padding", [True, "longest", "max_length", False, "do_not_pad"])
def test_padding_and_truncation_modes(pair, padding):
    ours, theirs = pair
    for truncation in (True, "longest_first", "only_first", "only_second", False, "do_not_truncate", None):
        for max_length in (16, 24):
            kwargs = dict(padding=padding, truncation=truncation, max_length=max_length, return_token_type_ids=True)
            call_both(ours, theirs, FIRSTS, SECONDS, **kwargs)
            if truncation != "only_second":
                call_both(ours, theirs, SENTENCES[:4], **kwargs)
    if padding != "max_length" or ours.model_max_length < 10_000:  # else an error: see test_input_errors
        call_both(ours, theirs, SENTENCES, padding=padding, pad_to_multiple_of=8)


def test_left_padding_and_truncation_side(pair):
    ours, theirs = pair
    call_both(ours, theirs, SENTENCES, padding=True, padding_side="left")
    saved = ours.padding_side, ours.truncation_side
    try:
        for side in ("left", "right"):
            ours.padding_side = theirs.padding_side = ours.truncation_side = theirs.truncation_side = side
            call_both(
                ours,
                theirs,
                SENTENCES,
                padding="max_length",
                truncation=True,
                max_length=10,
                return_offsets_mapping=True,
            )
    finally:
        ours.padding_side, ours.truncation_side = theirs.padding_side, theirs.truncation_side = saved


def test_overflow_with_stride(pair):
    ours, theirs = pair
    long_texts = [SENTENCES[-1], SENTENCES[2]]
    expected = call_both(
        ours,
        theirs,
        long_texts,
        truncation=True,
        max_length=20,
        stride=5,
        padding=True,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    assert sorted(set(expected["overflow_to_sample_mapping"])) == [0, 1] and len(expected["input_ids"]) > 2
    call_both(ours, theirs, long_texts[0], truncation=True, max_length=20, stride=3, return_overflowing_tokens=True)
    call_both(
        ours,
        theirs,
        ["question?"] * 2,
        long_texts,
        truncation="only_second",
        max_length=24,
        stride=4,
        return_overflowing_tokens=True,
        padding="max_length",
    )


def test_truncation_defaults_to_model_max_length(tokenizers):
    ours, theirs = tokenizers["minilm"]
    text = "word " * 600
    expected = call_both(ours, theirs, text, truncation=True)
    assert len(expected["input_ids"]) == ours.model_max_length == 512
    assert len(ours(text)["input_ids"]) == 602  # nothing is truncated unless asked
    call_both(ours, theirs, [text, "short"], padding="max_length", truncation=True)  # to model_max_length


def test_return_tensors(pair):
    ours, theirs = pair
    for kind, array_type in (("pt", torch.Tensor), ("np", np.ndarray)):
        batch = ours(SENTENCES[:3], padding=True, return_tensors=kind)
        assert all(isinstance(v, array_type) for v in batch.values())
        assert batch["input_ids"].dtype in (torch.int64, np.int64)
        assert_same(batch, theirs(SENTENCES[:3], padding=True, return_tensors=kind))
        single = ours(SENTENCES[0], return_tensors=kind)
        assert single["input_ids"].shape == (1, len(ours(SENTENCES[0])["input_ids"]))
        assert_same(single, theirs(SENTENCES[0], return_tensors=kind))
    assert ours(SENTENCES[:2], padding=True, return_tensors="pt").to("cpu").input_ids.device.type == "cpu"


def test_split_into_words(pair):
    ours, theirs = pair
    words = [sentence.split() or ["x"] for sentence in SENTENCES]
    call_both(ours, theirs, words, is_split_into_words=True, padding=True)
    call_both(ours, theirs, words[0], is_split_into_words=True)
    expected = theirs(words[2], is_split_into_words=True).word_ids()
    assert ours(words[2], is_split_into_words=True).word_ids() == expected


def test_batch_encoding_helpers(pair):
    ours, theirs = pair
    mine, expected = ours(SENTENCES[:3], padding=True), theirs(SENTENCES[:3], padding=True)
    assert mine.input_ids == mine["input_ids"]
    for i in range(3):
        assert mine.tokens(i) == expected.tokens(i)
        assert mine.word_ids(i) == expected.word_ids(i)
        assert mine.sequence_ids(i) == expected.sequence_ids(i)
        assert [mine.char_to_token(i, c) for c in range(8)] == [expected.char_to_token(i, c) for c in range(8)]
    assert mine.char_to_token(3) == expected.char_to_token(3)
    assert len(mine.encodings) == 3
    with pytest.raises(AttributeError, match="no key"):
        mine.not_a_key


def test_pad_like_a_data_collator(pair):
    ours, theirs = pair
    features = [theirs(sentence, return_special_tokens_mask=True) for sentence in SENTENCES[:4]]
    assert_same(ours.pad(features, return_tensors="pt"), theirs.pad(features, return_tensors="pt"))
    to_160 = dict(padding="max_length", max_length=160, pad_to_multiple_of=64, padding_side="left")
    assert_same(ours.pad(features, **to_160), theirs.pad(features, **to_160))
    without_mask = [{"input_ids": f["input_ids"]} for f in features]
    assert_same(ours.pad(without_mask), theirs.pad(without_mask))
    assert_same(ours.pad(features[0]), theirs.pad(features[0]))


# ---- decoding and vocabulary --------------------------------------------------------------------------


def test_decode(pair):
    ours, theirs = pair
    batch = theirs(SENTENCES, padding=True)["input_ids"]
    for skip in (False, True):
        for cleanup in (None, False, True):
            kwargs = dict(skip_special_tokens=skip, clean_up_tokenization_spaces=cleanup)
            assert ours.batch_decode(batch, **kwargs) == theirs.batch_decode(batch, **kwargs)
            assert [ours.decode(ids, **kwargs) for ids in batch] == [theirs.decode(ids, **kwargs) for ids in batch]
    assert ours.decode(torch.tensor(batch[0])) == theirs.decode(batch[0])
    skipped = theirs.batch_decode(batch, skip_special_tokens=True)
    assert ours.batch_decode(torch.tensor(batch), skip_special_tokens=True) == skipped
    assert ours.decode(batch[0][1]) == theirs.decode(batch[0][1])


def test_tokens_and_ids(pair):
    ours, theirs = pair
    for sentence in SENTENCES:
        tokens = ours.tokenize(sentence)
        assert tokens == theirs.tokenize(sentence)
        ids = ours.convert_tokens_to_ids(tokens)
        assert ids == theirs.convert_tokens_to_ids(tokens)
        assert ours.convert_ids_to_tokens(ids) == theirs.convert_ids_to_tokens(ids)
        assert ours.convert_tokens_to_string(tokens) == theirs.convert_tokens_to_string(tokens)
        assert ours.encode(sentence) == theirs.encode(sentence)
    ids = theirs("Hello world")["input_ids"]
    assert ours.convert_ids_to_tokens(ids, True) == theirs.convert_ids_to_tokens(ids, skip_special_tokens=True)
    assert ours.convert_tokens_to_ids("no-such-token-here") == theirs.convert_tokens_to_ids("no-such-token-here")


# ---- adding tokens, loading options, saving ----------------------------------------------------------


@pytest.mark.parametrize("source", ["bert", "gpt2"])
def test_add_tokens(folders, source):
    ours, theirs = load_both(folders, source)  # fresh ones: this test changes them
    new = ["brandnewword", "[NEW]", "hello"]
    assert ours.add_tokens(new) == theirs.add_tokens(new)
    assert ours.add_tokens("brandnewword") == theirs.add_tokens("brandnewword") == 0
    special = {"pad_token": "<pad>", "additional_special_tokens": ["<x>"]}
    assert ours.add_special_tokens(special) == theirs.add_special_tokens(special)
    assert len(ours) == len(theirs) and ours.pad_token_id == theirs.pad_token_id
    assert ours.all_special_tokens == theirs.all_special_tokens
    texts = ["a brandnewword [NEW] <x> here", "hello <pad>"]
    call_both(ours, theirs, texts, padding=True)
    ids = theirs(texts)["input_ids"]
    assert ours.batch_decode(ids, skip_special_tokens=True) == theirs.batch_decode(ids, skip_special_tokens=True)


def test_loading_overrides_and_pad_token_setter(folders):
    ours = AutoTokenizer.from_pretrained(folders["gpt2"][0], padding_side="left", model_max_length=32)
    assert ours.padding_side == "left" and ours.model_max_length == 32
    ours.pad_token = ours.eos_token
    theirs = transformers.AutoTokenizer.from_pretrained(folders["gpt2"][1])
    theirs.pad_token = theirs.eos_token
    assert ours.pad_token_id == theirs.pad_token_id == 50256
    assert_same(ours(SENTENCES[:3], padding=True, padding_side="right"), theirs(SENTENCES[:3], padding=True))


CONFIGS = {
    "bert-cased": (
        "bert",
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": False,
            "model_max_length": 64,
            "padding_side": "left",
            "truncation_side": "left",
        },
    ),
    "gpt2-added-pad": (
        "gpt2",
        {
            "tokenizer_class": "GPT2Tokenizer",
            "pad_token": "<|pad|>",
            "added_tokens_decoder": {
                "50257": {
                    "content": "<|pad|>",
                    "lstrip": False,
                    "normalized": False,
                    "rstrip": False,
                    "single_word": False,
                    "special": True,
                }
            },
        },
    ),
    "t5-fewer-sentinels": ("t5", {"tokenizer_class": "T5Tokenizer", "extra_ids": 10, "model_max_length": 512}),
    "mistral-eos": ("mistral", {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "add_eos_token": True}),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_raw_files_with_tokenizer_config(folders, tmp_path, name):
    """tokenizer_config.json settings change how raw files are read, as in the reference."""
    source, config = CONFIGS[name]
    shutil.copytree(folders[source][0], tmp_path, dirs_exist_ok=True)
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(config))
    ours, theirs = AutoTokenizer.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)
    for attribute in ("model_max_length", "padding_side", "truncation_side", "all_special_tokens", "pad_token"):
        assert getattr(ours, attribute) == getattr(theirs, attribute), attribute
    assert len(ours) == len(theirs)
    call_both(ours, theirs, SENTENCES, return_offsets_mapping=True)
    call_both(ours, theirs, FIRSTS, SECONDS)
    if ours.pad_token is not None:
        call_both(ours, theirs, SENTENCES, padding=True, truncation=True, max_length=12)


def test_special_tokens_map_json(folders, tmp_path):
    shutil.copytree(folders["gpt2"][0], tmp_path, dirs_exist_ok=True)
    (tmp_path / "special_tokens_map.json").write_text(json.dumps({"pad_token": "<|endoftext|>"}))
    assert AutoTokenizer.from_pretrained(tmp_path).pad_token == "<|endoftext|>"


def assert_same_ids(first, second):
    assert plain(first(SENTENCES)["input_ids"]) == plain(second(SENTENCES)["input_ids"])
    assert plain(first(FIRSTS, SECONDS)["input_ids"]) == plain(second(FIRSTS, SECONDS)["input_ids"])


def test_save_and_load_both_ways(pair, tmp_path):
    ours, theirs = pair
    ours.save_pretrained(tmp_path / "ours")
    written = {p.name for p in (tmp_path / "ours").iterdir()}
    assert written == {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}
    for reloaded in (
        transformers.AutoTokenizer.from_pretrained(tmp_path / "ours"),
        AutoTokenizer.from_pretrained(tmp_path / "ours"),
    ):
        assert_same_ids(ours, reloaded)
        assert reloaded.all_special_tokens == ours.all_special_tokens
        assert (reloaded.model_max_length, reloaded.padding_side) == (ours.model_max_length, ours.padding_side)
        assert reloaded.decode(reloaded("Héllo wörld!").input_ids) == ours.decode(ours("Héllo wörld!").input_ids)

    theirs.save_pretrained(tmp_path / "theirs")
    from_reference = AutoTokenizer.from_pretrained(tmp_path / "theirs")
    assert_same_ids(from_reference, theirs)
    assert from_reference.all_special_tokens == theirs.all_special_tokens
    assert from_reference.padding_side == theirs.padding_side


def test_added_tokens_survive_saving(folders, tmp_path):
    ours = AutoTokenizer.from_pretrained(folders["gpt2"][0])
    ours.add_tokens(["brandnewword"])
    ours.add_special_tokens({"pad_token": "<pad>"})
    ours.save_pretrained(tmp_path)
    for reloaded in (AutoTokenizer.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)):
        assert reloaded.pad_token == "<pad>" and len(reloaded) == len(ours)
        assert reloaded("a brandnewword <pad>")["input_ids"] == ours("a brandnewword <pad>")["input_ids"]


# ---- chat templates -----------------------------------------------------------------------------------

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('Unknown role: ' + message['role']) }}"
    "{% endif %}\n"
    "<|{{ message['role'] }}|>\n{{ message['content'] | trim }}{{ eos_token }}\n"
    "{% endfor %}\n"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Héllo! What's 2 + 2? 😀"},
    {"role": "assistant", "content": "  It's 4.  "},
]


@pytest.fixture(scope="module")
def chat_tokenizers(folders, tmp_path_factory):
    """Mistral's tokenizer with a chat template in its tokenizer_config.json."""
    folder = tmp_path_factory.mktemp("chat")
    shutil.copytree(folders["mistral"][0], folder, dirs_exist_ok=True)
    config = {"tokenizer_class": "LlamaTokenizer", "add_bos_token": True, "chat_template": CHAT_TEMPLATE}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)


def test_chat_template(chat_tokenizers):
    ours, theirs = chat_tokenizers
    for generation_prompt in (False, True):
        text = ours.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=generation_prompt)
        assert text == theirs.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=generation_prompt)
        assert text.startswith("<s><|system|>\nYou are")  # trim_blocks: no newline after a block tag
        ids = ours.apply_chat_template(CHAT, add_generation_prompt=generation_prompt)
        assert ids == theirs.apply_chat_template(CHAT, add_generation_prompt=generation_prompt, return_dict=False)
        assert ids.count(ours.bos_token_id) == 1  # the template's <s> only: none is added when tokenizing
    batch = [CHAT, CHAT[:2]]
    ours.pad_token = theirs.pad_token = "</s>"
    mine = ours.apply_chat_template(batch, padding=True, return_tensors="pt", return_dict=True)
    assert_same(mine, theirs.apply_chat_template(batch, padding=True, return_tensors="pt", return_dict=True))
    assert mine["input_ids"].shape[0] == 2


def test_chat_template_errors(chat_tokenizers, tokenizers):
    ours, _ = chat_tokenizers
    with pytest.raises(jinja2.TemplateError, match="Unknown role: robot"):
        ours.apply_chat_template([{"role": "robot", "content": "beep"}])
    with pytest.raises(ValueError, match="non-empty list of messages"):
        ours.apply_chat_template([])
    first = ours.apply_chat_template(CHAT[:1], chat_template="{{ messages[0]['content'] }}", tokenize=False)
    assert first == CHAT[0]["content"]
    with pytest.raises(ValueError, match="no chat template"):
        tokenizers["bert"][0].apply_chat_template(CHAT)
    with pytest.raises(jinja2.exceptions.SecurityError):  # templates run in a sandbox
        ours.apply_chat_template(CHAT, chat_template="{{ messages.__class__.__mro__ }}", tokenize=False)


# ---- errors -------------------------------------------------------------------------------------------


def test_missing_tokenizer_files(tmp_path, data_dir):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(OSError, match=r"tokenizer\.json.*vocab\.txt.*merges\.txt.*spiece\.model.*tokenizer\.model"):
        AutoTokenizer.from_pretrained(tmp_path)
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(data_dir / "tokenizers" / "gpt2" / "vocab.json", half)  # merges.txt is missing
    with pytest.raises(OSError, match="No tokenizer files"):
        AutoTokenizer.from_pretrained(half)
    with pytest.raises(OSError, match="not in the local Hugging Face cache"):  # the tests run offline
        AutoTokenizer.from_pretrained("nobody-at-all/no-such-model")


def test_input_errors(tokenizers, folders):
    bert, _ = tokenizers["bert"]
    with pytest.raises(ValueError, match="empty list"):
        bert([])
    with pytest.raises(TypeError, match="the input holds int"):
        bert(42)
    with pytest.raises(TypeError, match="item 1 of the batch holds int"):
        bert(["fine", 3])
    with pytest.raises(ValueError, match="text_pair must be a list of as many texts"):
        bert(["a", "b"], ["only one"])
    with pytest.raises(ValueError, match="padding=True"):
        bert(["short", "a longer text here"], return_tensors="pt")
    with pytest.raises(ValueError, match="pass max_length"):
        bert(["short"], padding="max_length")  # no max_length, and the files name no model_max_length
    with pytest.raises(ValueError, match="padding='sideways' is not one of"):
        bert("x", padding="sideways")
    with pytest.raises(ValueError, match="truncation='middle' is not one of"):
        bert("x", truncation="middle")
    with pytest.raises(ValueError, match="return_tensors='tf'"):
        bert("x", return_tensors="tf")
    gpt2 = AutoTokenizer.from_pretrained(folders["gpt2"][0])  # as loaded: no padding token
    with pytest.raises(ValueError, match=r"tokenizer\.pad_token = tokenizer\.eos_token"):
        gpt2(["short", "a longer text"], padding=True)


def test_named_chat_templates_round_trip(chat_tokenizers, tmp_path):
    ours, _ = chat_tokenizers
    ours.chat_template = {"default": CHAT_TEMPLATE, "plain": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}
    try:
        ours.save_pretrained(tmp_path)
    finally:
        ours.chat_template = CHAT_TEMPLATE
    for reloaded in (AutoTokenizer.from_pretrained(tmp_path), transformers.AutoTokenizer.from_pretrained(tmp_path)):
        assert reloaded.apply_chat_template(CHAT[:1], chat_template="plain", tokenize=False) == CHAT[0]["content"]
        assert reloaded.apply_chat_template(CHAT, tokenize=False) == ours.apply_chat_template(CHAT, tokenize=False)


# ---- ByT5: bytes, no vocabulary file --------------------------------------------------------------------
# google/byt5-small and its siblings ship no tokenizer.json and no vocabulary: only the files written below,
# with the class named in config.json. The reference's ByT5Tokenizer is a Python class; ours rebuilds it as a
# backend, so the ids (not the token strings, see test_byt5_token_strings) are compared.

BYT5_TEXTS = SENTENCES + [
    "a<extra_id_0>b",
    "fill <extra_id_0> the <extra_id_1> blanks <extra_id_124>",
    "specials in text: a <pad> b </s> c <unk> d",
    "control bytes \x00\x01\x7f\x80 and U+00AD \xad",
    "<unk>",
]
SENTINELS = [f"<extra_id_{i}>" for i in range(125)]


def _byt5_folder(folder: Path, layout: str) -> Path:
    """A ByT5 checkpoint's tokenizer files as the Hub has them. ``layout``: ``"hub"`` names the class in
    config.json only, ``"tokenizer_config"`` in tokenizer_config.json, ``"extra_ids=3"`` has three sentinels."""
    folder.mkdir(parents=True)
    extra_ids = 3 if layout == "extra_ids=3" else 125
    specials = {
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "additional_special_tokens": SENTINELS[:extra_ids],
    }
    config = {**specials, "extra_ids": extra_ids}
    if layout != "hub":
        config["tokenizer_class"] = "ByT5Tokenizer"
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "special_tokens_map.json").write_text(json.dumps(specials))
    model_config = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"], "vocab_size": 384}
    if layout == "hub":
        model_config["tokenizer_class"] = "ByT5Tokenizer"
    (folder / "config.json").write_text(json.dumps(model_config))
    return folder


@pytest.fixture(scope="module")
def byt5(tmp_path_factory):
    """(ours, reference), both loaded from a Hub-like ByT5 folder."""
    folder = _byt5_folder(tmp_path_factory.mktemp("byt5") / "byt5-small", "hub")
    return AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)


@pytest.mark.parametrize("layout", ["hub", "tokenizer_config", "extra_ids=3"])
def test_byt5_loaded_like_the_reference(tmp_path, layout):
    folder = _byt5_folder(tmp_path / "byt5", layout)
    ours, theirs = AutoTokenizer.from_pretrained(folder), transformers.AutoTokenizer.from_pretrained(folder)
    assert type(theirs).__name__ == "ByT5Tokenizer" and ours.tokenizer_class == "ByT5Tokenizer"
    assert len(ours) == len(theirs) == 256 + 3 + (3 if layout == "extra_ids=3" else 125)
    assert ours.vocab_size == theirs.vocab_size + 3  # ours counts <pad> </s> <unk> in the base vocabulary
    assert ours.all_special_tokens == theirs.all_special_tokens
    assert ours.all_special_ids == theirs.all_special_ids
    assert ours.convert_tokens_to_ids(SENTINELS[:3]) == theirs.convert_tokens_to_ids(SENTINELS[:3]) == [259, 260, 261]
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        assert getattr(ours, name) == getattr(theirs, name), name
        assert getattr(ours, name + "_id") == getattr(theirs, name + "_id"), name
    assert ours.model_max_length == theirs.model_max_length
    assert ours.padding_side == theirs.padding_side and ours.model_input_names == theirs.model_input_names
    call_both(ours, theirs, BYT5_TEXTS[:5], padding=True)


def test_byt5_ids_are_bytes_plus_three(byt5):
    ours, theirs = byt5
    for text in BYT5_TEXTS:
        if "<" not in text:  # no special tokens written in the text
            assert ours(text)["input_ids"] == [byte + 3 for byte in text.encode("utf-8")] + [ours.eos_token_id]
        call_both(ours, theirs, text)
        call_both(ours, theirs, text, add_special_tokens=False, return_special_tokens_mask=True)
    call_both(ours, theirs, BYT5_TEXTS)
    call_both(ours, theirs, BYT5_TEXTS, return_special_tokens_mask=True, return_token_type_ids=True, return_length=True)


@pytest.mark.filterwarnings("ignore:`max_length` is ignored:UserWarning")
@pytest.mark.parametrize("padding", [True, "max_length", False])
def test_byt5_pairs_padding_truncation(byt5, padding):
    ours, theirs = byt5
    call_both(ours, theirs, *PAIRS[0], return_token_type_ids=True)
    call_both(ours, theirs, FIRSTS, text_target=SECONDS, padding=True, return_tensors="pt")
    # Pairs that "only_first" / "only_second" can cut to 40 bytes: the reference's Python tokenizer leaves a
    # pair it cannot cut as it is (and logs an error); ours raises, as the reference's fast tokenizers do.
    can_cut = {True: PAIRS, False: PAIRS, "only_first": PAIRS[2:], "only_second": PAIRS[:2]}
    for truncation, pairs in can_cut.items():
        for max_length in (16, 40) if truncation in (True, False) else (40,):
            kwargs = dict(padding=padding, truncation=truncation, max_length=max_length)
            call_both(ours, theirs, [a for a, _ in pairs], [b for _, b in pairs], **kwargs)
            if truncation != "only_second":
                call_both(ours, theirs, BYT5_TEXTS, **kwargs)
    call_both(ours, theirs, BYT5_TEXTS, padding=padding, max_length=64, padding_side="left", pad_to_multiple_of=8)
    features = [theirs(text) for text in BYT5_TEXTS[:4]]
    assert_same(ours.pad(features, return_tensors="pt"), theirs.pad(features, return_tensors="pt"))


def test_byt5_decode(byt5):
    ours, theirs = byt5
    batch = theirs(BYT5_TEXTS, padding=True)["input_ids"]
    for skip in (False, True):
        decoded = ours.batch_decode(torch.tensor(batch), skip_special_tokens=skip)
        assert decoded == theirs.batch_decode(batch, skip_special_tokens=skip)
    assert ours.decode(batch[0], skip_special_tokens=True) == BYT5_TEXTS[0]
    h, i = ord("h") + 3, ord("i") + 3
    broken = [
        [h, 0xC3 + 3, i],  # the first byte of "é" alone
        [0xE6 + 3, 0x97 + 3],  # two of the three bytes of "日"
        [0xA9 + 3, h],  # a continuation byte with nothing before it
        [0xFF + 3, 0xC0 + 3, i, 259, 0xF0 + 3, 0x9F + 3, 0xA4 + 3, 0x97 + 3, 1],  # never valid; 🤗 whole
    ]
    for ids in broken:
        for skip in (False, True):
            assert ours.decode(ids, skip_special_tokens=skip) == theirs.decode(ids, skip_special_tokens=skip), ids
    assert ours.decode(broken[0]) == "hi"


def test_byt5_token_strings(byt5):
    """A token is its byte written as one character: the reference writes ``chr(byte)``, ours the byte-level
    alphabet's character, the same except for spaces and control bytes (``" "`` is ``"Ġ"``)."""
    ours, theirs = byt5
    ours_tokens, their_tokens = (tok.convert_ids_to_tokens([byte + 3 for byte in range(256)]) for tok in byt5)
    differ = [byte for byte in range(256) if ours_tokens[byte] != their_tokens[byte]]
    assert differ == [*range(33), *range(127, 161), 173]  # the bytes that are not printable characters
    assert ours_tokens[ord(" ")] == "Ġ" and ours_tokens["é".encode()[0]] == their_tokens["é".encode()[0]] == "Ã"
    for text in BYT5_TEXTS:
        if "<" in text:  # the backend's token for " <pad> " keeps the spaces that it strips around <pad>
            continue
        tokens = ours.tokenize(text)
        assert len(tokens) == len(theirs.tokenize(text))
        assert ours.convert_tokens_to_ids(tokens) == theirs.convert_tokens_to_ids(theirs.tokenize(text))
        assert ours.convert_tokens_to_string(tokens) == text
    ids = theirs("a <extra_id_0> b").input_ids
    assert ours.convert_ids_to_tokens(ids, skip_special_tokens=True) == ["a", "Ġ", "Ġ", "b"]


def test_byt5_offsets_point_at_characters(byt5):
    """The reference's Python tokenizer has no offsets; ours maps each byte to the character it is part of."""
    ours, _ = byt5
    text = "Héllo 日本 🤗!"
    encoding = ours(text, return_offsets_mapping=True)
    offsets = encoding["offset_mapping"][:-1]  # the last token is </s>: (0, 0)
    assert encoding["offset_mapping"][-1] == (0, 0)
    assert [text[start:end] for start, end in offsets] == [char for char in text for _ in char.encode()]
    assert encoding.char_to_token(text.index("日")) == len("Héllo ".encode())


def test_byt5_save_and_load_both_ways(byt5, tmp_path):
    ours, theirs = byt5
    ours.save_pretrained(tmp_path / "ours")
    assert {p.name for p in (tmp_path / "ours").iterdir()} == {
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    # The reference reads our folder as its Python ByT5Tokenizer (it ignores tokenizer.json), ours as saved.
    for reloaded in (
        transformers.AutoTokenizer.from_pretrained(tmp_path / "ours"),
        AutoTokenizer.from_pretrained(tmp_path / "ours"),
    ):
        assert reloaded(BYT5_TEXTS)["input_ids"] == theirs(BYT5_TEXTS)["input_ids"]
        assert reloaded.all_special_tokens == theirs.all_special_tokens and len(reloaded) == len(theirs)
        ids = reloaded("Héllo <extra_id_7> wörld!").input_ids
        assert reloaded.decode(ids, skip_special_tokens=True) == theirs.decode(ids, skip_special_tokens=True)
    assert type(transformers.AutoTokenizer.from_pretrained(tmp_path / "ours")).__name__ == "ByT5Tokenizer"

    theirs.save_pretrained(tmp_path / "theirs")  # added_tokens.json + tokenizer_config.json, no vocabulary
    from_reference = AutoTokenizer.from_pretrained(tmp_path / "theirs")
    assert from_reference(BYT5_TEXTS)["input_ids"] == theirs(BYT5_TEXTS)["input_ids"]
    assert from_reference.all_special_ids == theirs.all_special_ids
    assert from_reference.decode(theirs(BYT5_TEXTS[2]).input_ids) == theirs.decode(theirs(BYT5_TEXTS[2]).input_ids)


def test_byt5_config_errors(tmp_path):
    folder = _byt5_folder(tmp_path / "byt5", "tokenizer_config")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config["extra_ids"] = 100  # but 125 sentinels are listed
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="extra_ids=100 and additional_special_tokens with 125"):
        AutoTokenizer.from_pretrained(folder)
    (folder / "tokenizer_config.json").write_text(json.dumps({"extra_ids": 125}))  # and config.json names none
    (folder / "config.json").write_text("{}")
    with pytest.raises(OSError, match="naming ByT5Tokenizer"):
        AutoTokenizer.from_pretrained(folder)


def shakespeare_batches(lines: int = 2000, batch: int = 250) -> list[list[str]]:
    text = (_tokenizer_data().parent / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8")
    kept = [line for line in text.splitlines() if line.strip()][:lines]
    return [kept[i : i + batch] for i in range(0, len(kept), batch)]


def without_vocabulary(tokenizer) -> dict:
    """The backend's tokenizer.json without the learned vocabulary (and merges)."""
    spec = json.loads(tokenizer.backend_tokenizer.to_str())
    for key in ("vocab", "merges"):
        spec["model"].pop(key, None)
    spec.pop("padding"), spec.pop("truncation")  # per-call settings
    return spec


def test_train_new_from_iterator_matches_reference(pair):
    # The tokenizers trainers break ties between equally good merges in no fixed order (the reference's own
    # vocabulary changes from run to run at the margin), so the learned entries are compared as sets,
    # allowing a few; everything else (pipeline, special tokens and their ids, template) must be equal.
    ours, theirs = pair
    new_ours = ours.train_new_from_iterator(shakespeare_batches(), vocab_size=600)
    new_theirs = theirs.train_new_from_iterator(shakespeare_batches(), vocab_size=600)
    assert without_vocabulary(new_ours) == without_vocabulary(new_theirs)
    assert len(new_ours) == len(new_theirs) < len(ours)
    assert new_ours.all_special_ids == new_theirs.all_special_ids
    learned_ours, learned_theirs = set(new_ours.get_vocab()), set(new_theirs.get_vocab())
    assert len(learned_ours ^ learned_theirs) <= 0.02 * len(learned_theirs), learned_ours ^ learned_theirs
    speech = "First Citizen: Before we proceed any further, hear me speak."
    special_ours = [i for i in new_ours(speech, "What say you?")["input_ids"] if i in new_ours.all_special_ids]
    special_theirs = [i for i in new_theirs(speech, "What say you?")["input_ids"] if i in new_theirs.all_special_ids]
    assert special_ours == special_theirs  # the same template around a pair
    assert new_ours.decode(new_ours(speech)["input_ids"], skip_special_tokens=True).lower().replace(
        " ", ""
    ) == speech.lower().replace(" ", "")


def test_train_new_from_iterator_renames_and_adds_special_tokens(tmp_path):
    ours = AutoTokenizer.from_pretrained(MINILM)
    new = ours.train_new_from_iterator(
        shakespeare_batches(400),
        vocab_size=300,
        new_special_tokens=["<speaker>"],
        special_tokens_map={"[CLS]": "<cls>"},
    )
    assert new.cls_token == "<cls>" and "<speaker>" in new.additional_special_tokens
    ids = new("hear me <speaker> speak")["input_ids"]
    assert ids[0] == new.convert_tokens_to_ids("<cls>") and new.convert_tokens_to_ids("<speaker>") in ids
    new.save_pretrained(tmp_path)
    assert transformers.AutoTokenizer.from_pretrained(tmp_path)("hear me <speaker> speak")["input_ids"] == ids


def test_train_new_from_iterator_needs_the_template_tokens():
    # A backend whose special tokens lack [SEP], which its template still names: the new vocabulary has no
    # [SEP] to put into the template, and the error says so.
    ours = AutoTokenizer.from_pretrained(MINILM)
    spec = json.loads(ours.backend_tokenizer.to_str())
    spec["added_tokens"] = [token for token in spec["added_tokens"] if token["content"] != "[SEP]"]
    without_sep = type(ours)(
        tokenizer_object=Tokenizer.from_str(json.dumps(spec)), **{**ours._config(), "sep_token": None}
    )
    with pytest.raises(ValueError, match=r"uses '\[SEP\]', which the new vocabulary lacks"):
        without_sep.train_new_from_iterator(shakespeare_batches(400), vocab_size=300)
