"""CLIP's tokenizer on OpenAI's real vocabulary (data/tokenizers/clip-vit-base-patch32): the same ids as the
reference's CLIPTokenizer (lower-casing, words ending in </w>, the start and end tokens, pairs, padding,
truncation at 77 positions), the same decoded text, a save that both load, and CLIPProcessor via AutoProcessor."""

import json

import pytest
import torch
import transformers

import workbench
from workbench import data
from workbench.processing.image_processing import SiglipImageProcessor
from workbench.processing.tokenizer_classes import CLIPTokenizer

FOLDER = data.path("tokenizers", "clip-vit-base-patch32")
TEXTS = [
    "a photo of a cat",
    "A Photo of TWO dogs!!  running\tfast",
    "it's 2024, we'll see: naïve café 😀",
    "hello <|endoftext|> world",
    "don't   STOP",
    "日本語のテキスト",
    "word1 word2 3.14159",
    "",
]
LONG = "a very long caption about a photo " * 20  # about 140 tokens


@pytest.fixture(scope="module")
def tokenizers():
    return workbench.AutoTokenizer.from_pretrained(FOLDER), transformers.AutoTokenizer.from_pretrained(FOLDER)


def test_ids_and_decoding_match_the_reference(tokenizers):
    ours, ref = tokenizers
    assert isinstance(CLIPTokenizer.from_pretrained(FOLDER), CLIPTokenizer)
    for text in TEXTS:
        ids = ours(text)["input_ids"]
        assert ids == ref(text)["input_ids"], text
        assert ids[0] == 49406 and ids[-1] == 49407  # <|startoftext|> ... <|endoftext|>
        assert ours.decode(ids) == ref.decode(ids)
        assert ours.decode(ids, skip_special_tokens=True) == ref.decode(ids, skip_special_tokens=True)
    assert ours.convert_ids_to_tokens(ours("A Photo")["input_ids"]) == [
        "<|startoftext|>",
        "a</w>",
        "photo</w>",
        "<|endoftext|>",
    ]
    assert ours("a cat", "a dog")["input_ids"] == ref("a cat", "a dog")["input_ids"]


def test_batches_pad_and_truncate_as_the_reference(tokenizers):
    ours, ref = tokenizers
    kwargs = dict(padding=True, truncation=True, return_tensors="pt")
    got, expected = ours([TEXTS[0], LONG], **kwargs), ref([TEXTS[0], LONG], **kwargs)
    assert got["input_ids"].shape == (2, 77)  # model_max_length: CLIP's 77 positions, the end token kept
    assert got["input_ids"][1, -1] == 49407 and got["input_ids"][0, 6] == 49407  # padded with <|endoftext|>
    for key in ("input_ids", "attention_mask"):
        assert torch.equal(got[key], expected[key]), key
    padded = ours(TEXTS[:2], padding="max_length", max_length=12)["input_ids"]
    assert padded == ref(TEXTS[:2], padding="max_length", max_length=12)["input_ids"]


def test_over_long_text_without_truncation_is_a_clear_error_in_the_model(tokenizers):
    ours, _ = tokenizers
    config = workbench.models.auto.tiny_config("clip-tiny-random", text_config=dict(max_position_embeddings=77))
    model = workbench.CLIPModel(config).eval()
    ids = ours(LONG, return_tensors="pt")["input_ids"]  # not truncated: longer than the model's 77 positions
    assert ids.shape[1] > 77
    with pytest.raises(ValueError, match="truncation=True, max_length=77"):
        model.get_text_features(input_ids=ids.clamp(max=98))


def test_save_loads_here_and_in_the_reference(tokenizers, tmp_path):
    ours, ref = tokenizers
    ours.save_pretrained(tmp_path)
    for loaded in (
        workbench.AutoTokenizer.from_pretrained(tmp_path),
        transformers.AutoTokenizer.from_pretrained(tmp_path),
    ):
        assert [loaded(t)["input_ids"] for t in TEXTS] == [ref(t)["input_ids"] for t in TEXTS]


def test_auto_processor_builds_the_clip_processor(tmp_path):
    """A CLIP checkpoint's folder: AutoProcessor gives CLIPProcessor (tokenizer + CLIPImageProcessor), whose call
    equals the reference's."""
    ours_tok = workbench.AutoTokenizer.from_pretrained(FOLDER)
    ours_tok.save_pretrained(tmp_path)
    workbench.CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32}).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "clip"}))
    processor = workbench.AutoProcessor.from_pretrained(tmp_path)
    assert type(processor).__name__ == "CLIPProcessor"
    image = (torch.arange(48 * 40 * 3) % 251).reshape(48, 40, 3).numpy().astype("uint8")
    got = processor(text=TEXTS[:2], images=[image], padding=True, return_tensors="pt")
    expected = transformers.CLIPProcessor.from_pretrained(tmp_path)(
        text=TEXTS[:2], images=[image], padding=True, return_tensors="pt"
    )
    assert sorted(got) == sorted(expected)
    assert torch.equal(got["input_ids"], expected["input_ids"])
    torch.testing.assert_close(got["pixel_values"], expected["pixel_values"], atol=1e-4, rtol=0)


def test_auto_processor_builds_the_siglip_processor(tmp_path):
    """SigLIP's image processor (a bicubic warp, mean and std 0.5) equals the reference's; AutoProcessor combines it
    with the folder's tokenizer (here CLIP's: SigLIP's own SentencePiece tokenizer is not read by workbench yet)."""
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        (tmp_path / name).write_bytes((FOLDER / name).read_bytes())
    SiglipImageProcessor(size={"height": 40, "width": 24}).save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "siglip"}))
    processor = workbench.AutoProcessor.from_pretrained(tmp_path)
    assert type(processor).__name__ == "SiglipProcessor"
    image = (torch.arange(48 * 40 * 3) % 251).reshape(48, 40, 3).numpy().astype("uint8")
    got = processor(images=[image], return_tensors="pt")["pixel_values"]
    expected = transformers.SiglipImageProcessor.from_pretrained(tmp_path)(images=[image], return_tensors="pt")
    assert got.shape == (1, 3, 40, 24)
    torch.testing.assert_close(got, expected["pixel_values"], atol=1e-4, rtol=0)
