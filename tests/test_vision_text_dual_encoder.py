"""VisionTextDualEncoderModel: parity with the reference on tiny random towers (ViT + BERT, DINOv2 + BERT, CLIP's image
tower + RoBERTa), checkpoints both ways, joining two pretrained towers, the processor, the contrastive loss, and
pipeline("zero-shot-image-classification") equal to v4.37's (softmax over the labels, as CLIP)."""

import json
import math
import shutil

import pytest
import torch
import transformers
from parity import (
    assert_outputs_close,
    assert_reference_loads_ours,
    load_ours_from_reference,
    padding_mask,
    reference_model,
)
from safetensors import safe_open

import workbench
from tests.reference_v4 import run_v4, v4_unavailable
from workbench import data, hub
from workbench.models.auto import tiny_config
from workbench.processing.image_processing import ViTImageProcessor
from workbench.processing.processor import VisionTextDualEncoderProcessor

VOCAB, PAD = 99, 1
TOWER = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4)
IMAGE = dict(image_size=32, patch_size=8)
MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def bert(**overrides):
    return transformers.BertConfig(**{**TOWER, "vocab_size": VOCAB, "max_position_embeddings": 64, **overrides})


TOWERS = {
    "vit-bert": (lambda: transformers.ViTConfig(**TOWER, **IMAGE), bert),
    "dinov2-bert": (lambda: transformers.Dinov2Config(**TOWER, **IMAGE, mlp_ratio=2), bert),
    "clip-vision-roberta": (
        lambda: transformers.CLIPVisionConfig(**TOWER, **IMAGE),
        lambda: transformers.RobertaConfig(**TOWER, vocab_size=VOCAB, max_position_embeddings=64, pad_token_id=PAD),
    ),
}


def reference_config(towers: str, **overrides):
    vision, text = TOWERS[towers]
    return transformers.VisionTextDualEncoderConfig.from_vision_text_configs(
        vision(), text(), **{"projection_dim": 16, **overrides}
    )


def random_reference(config):
    """The reference model with every weight moved off its initial value, and a temperature other than the
    default, so that each shows."""
    ref = reference_model("VisionTextDualEncoderModel", config, seed=0)
    with torch.no_grad():
        for param in ref.parameters():
            param.add_(torch.randn_like(param) * 0.1)
    return ref


def batch(texts: int = 3, images: int = 3) -> dict:
    """Right-padded texts with token types (row 0 full, row 1 two pads, row 2 four) and random images."""
    g = torch.Generator().manual_seed(0)
    mask = padding_mask(9, right=[0, 2, 4][:texts])
    ids = torch.randint(3, VOCAB, (texts, 9), generator=g).masked_fill(mask == 0, PAD)
    token_types = (torch.arange(9) >= 5).long().expand(texts, 9) * mask
    pixels = torch.randn(images, 3, 32, 32, generator=g)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types, "pixel_values": pixels}


def flat(model):
    """The model with its outputs in one flat dict (``text_model_output.pooler_output``, ...), empty placeholders
    left out (the reference's BERT returns cross_attentions=()), for the harness's comparison."""

    def run(**inputs):
        out, flat_out = model(**inputs), {}
        for key, value in out.items():
            items = value.items() if key.endswith("model_output") else [(None, value)]
            for name, item in items:
                if not (isinstance(item, tuple) and not item):
                    flat_out[f"{key}.{name}" if name else key] = item
        return flat_out

    return run


@pytest.mark.parametrize("towers", TOWERS)
def test_parity(towers, tmp_path):
    ref = random_reference(reference_config(towers))
    ours, _ = load_ours_from_reference(ref, workbench.VisionTextDualEncoderModel, tmp_path)
    inputs = batch()
    if towers.endswith("roberta"):  # RoBERTa's checkpoints have a single token type
        del inputs["token_type_ids"]
    # every output: scores, vectors, the loss, and each tower's states, pooled vector, hidden states and attentions
    expected, _ = assert_outputs_close(flat(ref), flat(ours), {**inputs, "return_loss": True})
    assert "text_model_output.attentions" in expected and "vision_model_output.hidden_states" in expected
    with torch.no_grad():  # the fused attention path gives the eager path's numbers
        eager, fast = ours(**inputs, output_attentions=True), ours(**inputs)
        for key in ("logits_per_image", "text_embeds", "image_embeds"):
            torch.testing.assert_close(fast[key], eager[key], atol=1e-5, rtol=1e-4)
        # get_*_features: the projected vectors (v4.37's tensors; the current reference wraps them in an output)
        text_inputs = {k: v for k, v in inputs.items() if k != "pixel_values"}
        torch.testing.assert_close(
            ours.get_text_features(**text_inputs), ref.get_text_features(**text_inputs).pooler_output
        )
        torch.testing.assert_close(
            ours.get_image_features(inputs["pixel_values"]),
            ref.get_image_features(inputs["pixel_values"]).pooler_output,
        )
    if towers.startswith("clip"):  # the Hub's layout (vision_model.vision_model.*): the current reference reads it
        ours.save_pretrained(tmp_path / "ours")  # and writes vision_model.* (which we read: see above)
        back, info = transformers.VisionTextDualEncoderModel.from_pretrained(
            tmp_path / "ours", output_loading_info=True
        )
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        torch.testing.assert_close(back.state_dict(), ref.state_dict(), atol=0, rtol=0)
    else:
        assert_reference_loads_ours(ours, ref, tmp_path)


def test_auto_classes_and_unequal_batches(tmp_path):
    ref = random_reference(reference_config("dinov2-bert"))
    ours, folder = load_ours_from_reference(ref, workbench.AutoModelForZeroShotImageClassification, tmp_path)
    assert type(ours) is workbench.VisionTextDualEncoderModel
    assert type(ours.vision_model).__name__ == "ViTModel" and ours.vision_model.config.model_type == "dinov2"
    assert workbench.AutoModel.from_pretrained(folder).config == ours.config
    inputs = batch(texts=3, images=2)
    with torch.no_grad():
        got, expected = ours(**inputs), ref(**inputs)
        torch.testing.assert_close(got.logits_per_image, expected.logits_per_image, atol=1e-5, rtol=1e-4)
        assert got.logits_per_image.shape == (2, 3)
        with pytest.raises(ValueError, match="one caption per image"):
            ours(**inputs, return_loss=True)


def test_from_vision_text_pretrained_joins_two_checkpoints(tmp_path):
    torch.manual_seed(0)
    vit = transformers.ViTModel(transformers.ViTConfig(**TOWER, **IMAGE))
    text = transformers.BertModel(bert())
    vit.save_pretrained(tmp_path / "vit")
    text.save_pretrained(tmp_path / "bert")
    ours = workbench.VisionTextDualEncoderModel.from_vision_text_pretrained(
        tmp_path / "vit", tmp_path / "bert", projection_dim=8, logit_scale_init_value=1.0
    )
    ref = transformers.VisionTextDualEncoderModel.from_vision_text_pretrained(
        str(tmp_path / "vit"), str(tmp_path / "bert"), projection_dim=8
    )
    ours.save_pretrained(tmp_path / "ours")
    ref.save_pretrained(tmp_path / "ref")  # the files: the current reference renames some modules in memory
    with (
        safe_open(tmp_path / "ours" / "model.safetensors", "pt") as mine,
        safe_open(tmp_path / "ref" / "model.safetensors", "pt") as theirs,
    ):
        assert sorted(mine.keys()) == sorted(theirs.keys())
        for key in theirs.keys():  # the towers' weights as saved; the projections new, of the same shapes
            same = torch.equal(mine.get_tensor(key), theirs.get_tensor(key))
            assert same or "projection" in key or key == "logit_scale", key
    assert ours.logit_scale.item() == 1.0 and ours.visual_projection.weight.shape == (8, 32)
    # a CLIP checkpoint as the vision model: its image tower, CLIPVisionModel
    clip = workbench.CLIPModel(tiny_config("clip-tiny-random"))
    clip.save_pretrained(tmp_path / "clip")
    joined = workbench.VisionTextDualEncoderModel.from_vision_text_pretrained(tmp_path / "clip", tmp_path / "bert")
    assert type(joined.vision_model) is workbench.CLIPVisionModel
    torch.testing.assert_close(
        joined.vision_model.state_dict(), {"vision_model." + k: v for k, v in clip.vision_model.state_dict().items()}
    )
    with pytest.raises(ValueError, match="needs the text tower"):
        workbench.VisionTextDualEncoderModel.from_vision_text_pretrained(tmp_path / "vit")


def test_config_errors_and_the_tiny_preset():
    with pytest.raises(ValueError, match="needs text_config"):
        workbench.VisionTextDualEncoderConfig(vision_config={"model_type": "vit"})
    with pytest.raises(ValueError, match="has no model_type"):
        workbench.VisionTextDualEncoderConfig(vision_config={"hidden_size": 32}, text_config={"model_type": "bert"})
    model = workbench.AutoModel.from_config(tiny_config("vision-text-dual-encoder-tiny-random"))
    with torch.no_grad():
        out = model(**batch(texts=2, images=2), return_loss=True)
    assert out.logits_per_image.shape == (2, 2) and out.loss.item() > 0


def _tiny_checkpoint(folder) -> str:
    """A tiny random ViT + BERT with all-MiniLM-L6-v2's real tokenizer (30,522 words) and a processor for 32x32
    images, saved as the Hub lays out a VisionTextDualEncoderProcessor."""
    torch.manual_seed(0)
    config = tiny_config("vision-text-dual-encoder-tiny-random")
    config.text_config.vocab_size = 30522
    model = workbench.VisionTextDualEncoderModel(config)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.2)
        model.logit_scale.fill_(math.log(30.0))
    model.save_pretrained(folder)
    tokenizer_folder = hub.packaged_snapshot(MINILM)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tokenizer_folder / name, folder)
    image_processor = ViTImageProcessor(size={"height": 32, "width": 32})
    processor = VisionTextDualEncoderProcessor(image_processor, workbench.AutoTokenizer.from_pretrained(folder))
    processor.save_pretrained(folder)
    # v4.37's pipeline() also loads a feature extractor for this model type; the Hub's dual encoders (written by
    # older versions) name one too: the older name of the same class
    settings = json.loads((folder / "preprocessor_config.json").read_text())
    settings["feature_extractor_type"] = "ViTFeatureExtractor"
    (folder / "preprocessor_config.json").write_text(json.dumps(settings))
    return str(folder)


def test_processor_matches_the_reference(tmp_path):
    folder = _tiny_checkpoint(tmp_path / "tiny")
    ours = workbench.AutoProcessor.from_pretrained(folder)
    ref = transformers.AutoProcessor.from_pretrained(folder)
    assert type(ours).__name__ == type(ref).__name__ == "VisionTextDualEncoderProcessor"
    photo = str(sorted(data.path("images", "captioned").glob("*.jpg"))[0])
    from PIL import Image

    texts = ["a photo of a cat", "two dogs on a beach"]
    got = ours(text=texts, images=Image.open(photo), padding=True, return_tensors="pt")
    expected = ref(text=texts, images=Image.open(photo), padding=True, return_tensors="pt")
    assert sorted(got) == sorted(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return _tiny_checkpoint(tmp_path_factory.mktemp("dual-encoder") / "tiny")


PIPELINE_CASES = {"default-template": {}, "bare-labels": {"hypothesis_template": "{}"}}
LABELS = ["cat", "a red dress", "two people on a beach"]


@pytest.fixture(scope="module")
def photos():
    return [str(p) for p in sorted(data.path("images", "captioned").glob("*.jpg"))[:2]]


@pytest.fixture(scope="module")
def v4_outputs(tiny_checkpoint, photos):
    reason = v4_unavailable()
    if reason:
        pytest.skip(f"reference v4 pipelines unavailable: {reason}")
    # v4.37's pipeline() loads this model type's tokenizer from the model's folder only when given none
    calls = [
        {
            "task": "zero-shot-image-classification",
            "model": tiny_checkpoint,
            "no_tokenizer": True,
            "inputs": photos,
            "call_kwargs": {"candidate_labels": LABELS, **options},
        }
        for options in PIPELINE_CASES.values()
    ]
    return dict(zip(PIPELINE_CASES, run_v4(calls)))


@pytest.mark.parametrize("case", PIPELINE_CASES)
def test_zero_shot_pipeline_equals_reference_v4(case, tiny_checkpoint, photos, v4_outputs):
    expected = v4_outputs[case]
    assert "__error__" not in expected, expected
    pipe = workbench.pipeline("zero-shot-image-classification", model=tiny_checkpoint)
    got = pipe(photos, candidate_labels=LABELS, **PIPELINE_CASES[case])
    for ours, theirs in zip(got, expected, strict=True):
        assert [x["label"] for x in ours] == [x["label"] for x in theirs]
        for a, b in zip(ours, theirs):
            assert math.isclose(a["score"], b["score"], abs_tol=1e-4), (a, b)
        assert math.isclose(sum(x["score"] for x in ours), 1.0, abs_tol=1e-5)  # a softmax over the labels
