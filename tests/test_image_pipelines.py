"""The image pipelines: image-classification against the reference v4.37 pipeline, image-feature-extraction
against the current reference's (v4.37 has no such task), inputs, batching and bad input.

Models are tiny random checkpoints built by the reference (ViT, DeiT with its distillation head, ConvNeXT,
ResNet, Swin, DINOv2), each saved with a preprocessor_config.json as its family's Hub checkpoints have it
(scaled down to 32 x 32 images). Inputs are real photos of data/images, plus a grayscale, an RGBA, a tiny and
an EXIF-rotated one made from them. Labels must be identical and scores within 1e-4; ours runs each case one
image at a time and in batches.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import datasets
import numpy as np
import PIL.Image
import pytest
import torch
import transformers
from parity import reference_model, varied_weights

import workbench
from tests.reference_v4 import run_v4, v4_unavailable
from workbench.data import load as load_data
from workbench.data import path as data_path
from workbench.pipelines import PipelineModelError, pipeline
from workbench.pipelines.image_classification import ImageClassificationPipeline
from workbench.pipelines.image_feature_extraction import ImageFeatureExtractionPipeline
from workbench.pipelines.pt_utils import KeyDataset
from workbench.processing.image_processing import ConvNextImageProcessor, ViTImageProcessor

TOL = 1e-4
LABELS = ["dress", "hat", "pants", "shoes", "t-shirt"]
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]

# The preprocessor_config.json of each family's Hub checkpoints (google/vit-base-patch16-224,
# facebook/deit-base-distilled-patch16-224, facebook/convnext-tiny-224, microsoft/resnet-50,
# microsoft/swin-tiny-patch4-window7-224, facebook/dinov2-small), with 224 -> 32 and 256 -> 40.
PREPROCESSORS = {
    "vit": {
        "feature_extractor_type": "ViTFeatureExtractor",
        "do_normalize": True,
        "do_resize": True,
        "image_mean": [0.5, 0.5, 0.5],
        "image_std": [0.5, 0.5, 0.5],
        "resample": 2,
        "size": 32,
    },
    "deit": {
        "feature_extractor_type": "DeiTFeatureExtractor",
        "crop_size": 32,
        "do_center_crop": True,
        "do_normalize": True,
        "do_resize": True,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
        "resample": 3,
        "size": 40,
    },
    "convnext": {
        "feature_extractor_type": "ConvNextFeatureExtractor",
        "crop_pct": 0.875,
        "do_normalize": True,
        "do_resize": True,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
        "resample": 3,
        "size": 32,
    },
    "swin": {
        "feature_extractor_type": "ViTFeatureExtractor",
        "do_normalize": True,
        "do_resize": True,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
        "resample": 3,
        "size": 32,
    },
    "dinov2": {
        "image_processor_type": "BitImageProcessor",
        "crop_size": {"height": 32, "width": 32},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "image_mean": IMAGENET_MEAN,
        "image_std": IMAGENET_STD,
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": 40},
    },
}
PREPROCESSORS["resnet"] = PREPROCESSORS["convnext"]

VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, image_size=32, patch_size=8)
CONFIGS = {
    "vit": transformers.ViTConfig(**VIT, intermediate_size=37),
    "deit": transformers.DeiTConfig(**VIT, intermediate_size=37),
    "dinov2": transformers.Dinov2Config(**VIT, mlp_ratio=2),
    "convnext": transformers.ConvNextConfig(num_stages=2, hidden_sizes=[8, 16], depths=[1, 1]),
    "resnet": transformers.ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1]),
    "swin": transformers.SwinConfig(
        image_size=32, patch_size=4, embed_dim=16, depths=[1, 1], num_heads=[2, 4], window_size=4
    ),
}
# folder name -> (reference class, family, extra config settings)
MODELS = {
    "vit": ("ViTForImageClassification", "vit", {}),
    "deit-teacher": ("DeiTForImageClassificationWithTeacher", "deit", {}),
    "convnext": ("ConvNextForImageClassification", "convnext", {}),
    "resnet": ("ResNetForImageClassification", "resnet", {}),
    "swin": ("SwinForImageClassification", "swin", {}),
    "dinov2-multilabel": ("Dinov2ForImageClassification", "dinov2", {"problem_type": "multi_label_classification"}),
    "vit-base": ("ViTModel", "vit", {}),
    "dinov2-base": ("Dinov2Model", "dinov2", {}),
    "convnext-base": ("ConvNextModel", "convnext", {}),
    "resnet-base": ("ResNetModel", "resnet", {}),
    "swin-base": ("SwinModel", "swin", {}),
}


def _photos() -> list[str]:
    clothing = [sorted(data_path("images", "clothing", label).glob("*.jpg"))[0] for label in LABELS]
    captioned = sorted(data_path("images", "captioned").glob("*.jpg"))[:2]
    return [str(p) for p in clothing + captioned]


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, object]:
    """Real photos (paths), and odd ones made from them: grayscale, RGBA, 9 x 7 pixels, EXIF-rotated."""
    paths = _photos()
    root = tmp_path_factory.mktemp("odd-photos")
    source = PIL.Image.open(paths[0])
    odd = {"gray": source.convert("L"), "rgba": source.convert("RGBA"), "tiny": source.resize((9, 7))}
    for name, image in odd.items():
        image.save(root / f"{name}.png")
    rotated = PIL.Image.open(paths[1])
    exif = rotated.getexif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to view
    rotated.save(root / "rotated.jpg", exif=exif, quality=95)
    return {"photos": paths, "odd": [str(root / f"{name}.png") for name in odd] + [str(root / "rotated.jpg")]}


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("image-pipeline-models")
    folders = {}
    for seed, (name, (class_name, family, extra)) in enumerate(MODELS.items()):
        config = copy.deepcopy(CONFIGS[family])
        for key, value in extra.items():
            setattr(config, key, value)
        if class_name.endswith(("ForImageClassification", "WithTeacher")):
            config.num_labels = len(LABELS)
            config.id2label = dict(enumerate(LABELS))
            config.label2id = {label: i for i, label in enumerate(LABELS)}
        model = varied_weights(reference_model(class_name, config, seed=seed), std=0.2, seed=seed)
        folders[name] = root / name
        model.save_pretrained(folders[name])
        (folders[name] / "preprocessor_config.json").write_text(json.dumps(PREPROCESSORS[family]))
    return folders


# ------------------------------------------------------------------------------------------------
# image-classification: parity with the reference v4.37 pipeline
# ------------------------------------------------------------------------------------------------

# (id, model, inputs: "photos", "odd" or "first" (one photo), call kwargs, v4 pipeline() kwargs)
CASES = [
    ("vit", "vit", "photos", {}, {}),
    ("vit-single", "vit", "first", {}, {}),
    ("vit-top2", "vit", "photos", {"top_k": 2}, {}),
    ("vit-top-k-above-labels", "vit", "first", {"top_k": 50}, {}),
    ("vit-sigmoid", "vit", "photos", {"function_to_apply": "sigmoid"}, {}),
    ("vit-none", "vit", "photos", {"function_to_apply": "NONE", "top_k": 3}, {}),
    ("vit-odd-images", "vit", "odd", {}, {}),
    ("vit-v4-batches", "vit", "photos", {}, {"batch_size": 3}),
    ("deit-teacher", "deit-teacher", "photos", {}, {}),
    ("deit-odd-images", "deit-teacher", "odd", {}, {}),
    ("convnext", "convnext", "photos", {}, {}),
    ("convnext-odd-images", "convnext", "odd", {"top_k": 1}, {}),
    ("resnet", "resnet", "photos", {}, {}),
    ("swin", "swin", "photos", {}, {}),
    ("dinov2-multilabel", "dinov2-multilabel", "photos", {}, {}),
    ("dinov2-odd-images", "dinov2-multilabel", "odd", {"function_to_apply": "softmax"}, {}),
]


def _inputs(kind: str, photos: dict):
    return photos["photos"][0] if kind == "first" else photos[kind]


@pytest.fixture(scope="session")
def v4_outputs(models, photos) -> dict:
    reason = v4_unavailable()
    if reason:
        pytest.skip(f"reference v4 pipelines unavailable: {reason}")
    calls = [
        {
            "task": "image-classification",
            "model": str(models[model]),
            "no_tokenizer": True,
            "init_kwargs": init_kwargs,
            "inputs": _inputs(kind, photos),
            "call_kwargs": call_kwargs,
        }
        for _, model, kind, call_kwargs, init_kwargs in CASES
    ]
    return {case[0]: out for case, out in zip(CASES, run_v4(calls))}


def assert_same_labels(ours, ref, where: str = "answer") -> None:
    """The same labels in the same order, scores within TOL (a list of answers, or one answer)."""
    if ref and isinstance(ref[0], list):
        assert len(ours) == len(ref), f"{where}: {len(ours)} answers != {len(ref)}"
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_same_labels(a, b, f"{where}[{i}]")
        return
    assert [x["label"] for x in ours] == [x["label"] for x in ref], f"{where}: labels {ours} != {ref}"
    for a, b in zip(ours, ref):
        assert list(a) == ["label", "score"] and isinstance(a["score"], float)
        assert math.isclose(a["score"], b["score"], abs_tol=TOL), f"{where}: {a} != {b}"


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_image_classification_equals_reference_v4(case, models, photos, v4_outputs):
    name, model, kind, call_kwargs, _ = case
    ref = v4_outputs[name]
    assert not (isinstance(ref, dict) and "__error__" in ref), ref
    pipe = pipeline("image-classification", model=models[model])
    inputs = _inputs(kind, photos)
    assert_same_labels(pipe(inputs, batch_size=1, **call_kwargs), ref, f"{name}, one at a time")
    assert_same_labels(pipe(inputs, **call_kwargs), ref, f"{name}, batched")  # default: batches of 32
    if kind != "first":
        opened = [PIL.Image.open(p) for p in inputs]  # PIL images too (the rotated one turned as the reference does)
        assert_same_labels(pipe(opened, batch_size=4, **call_kwargs), ref, f"{name}, PIL images")


def test_default_top_k_is_five_and_none_keeps_it(models, photos):
    pipe = pipeline("image-classification", model=models["vit"])
    assert len(pipe(photos["photos"][0])) == 5
    assert len(pipe(photos["photos"][0], top_k=None)) == 5  # as v4.37: None means the default, not every label
    assert len(pipeline("image-classification", model=models["vit"], top_k=2)(photos["photos"][0])) == 2


# ------------------------------------------------------------------------------------------------
# image-feature-extraction: parity with the current reference's pipeline
# ------------------------------------------------------------------------------------------------

FEATURE_CASES = [
    ("vit", "vit-base", {}),
    ("vit-pool", "vit-base", {"pool": True}),
    ("dinov2-pool", "dinov2-base", {"pool": True}),
    ("convnext", "convnext-base", {}),
    ("convnext-pool", "convnext-base", {"pool": True}),
    ("resnet-pool", "resnet-base", {"pool": True}),
    ("swin", "swin-base", {}),
    ("swin-pool", "swin-base", {"pool": True}),
    ("vit-processor-kwargs", "vit-base", {"image_processor_kwargs": {"do_normalize": False}}),
]


@pytest.mark.parametrize("case", FEATURE_CASES, ids=[c[0] for c in FEATURE_CASES])
def test_image_feature_extraction_equals_reference(case, models, photos):
    _, model, kwargs = case
    images = photos["photos"][:3] + photos["odd"]
    ref_pipe = transformers.pipeline("image-feature-extraction", model=str(models[model]))
    ours = pipeline("image-feature-extraction", model=models[model])
    for return_tensors in (True, False):
        ref = ref_pipe(images, return_tensors=return_tensors, **kwargs)
        got = ours(images, return_tensors=return_tensors, **kwargs)
        assert len(got) == len(ref)
        for a, b in zip(got, ref):
            if return_tensors:
                assert isinstance(a, torch.Tensor) and a.shape == b.shape and a.shape[0] == 1
                torch.testing.assert_close(a, b, atol=TOL, rtol=TOL)
            else:
                assert isinstance(a, list) and np.shape(a) == np.shape(b)
                np.testing.assert_allclose(np.array(a), np.array(b), atol=TOL, rtol=TOL)
    one = ours(images[0], return_tensors=True, **kwargs)  # one image: one answer, not a list
    torch.testing.assert_close(one, ref_pipe(images[0], return_tensors=True, **kwargs), atol=TOL, rtol=TOL)


def test_feature_shapes(models, photos):
    image = photos["photos"][0]
    shape = {  # (last hidden state, pooler output), each with the batch dimension of one
        "vit-base": ((1, 17, 32), (1, 32)),
        "dinov2-base": ((1, 17, 32), (1, 32)),
        "convnext-base": ((1, 16, 4, 4), (1, 16)),
        "resnet-base": ((1, 16, 4, 4), (1, 16, 1, 1)),
        "swin-base": ((1, 16, 32), (1, 32)),
    }
    for model, (features, pooled) in shape.items():
        pipe = pipeline("image-feature-extraction", model=models[model])
        assert np.shape(pipe(image)) == features, model
        assert tuple(pipe(image, pool=True, return_tensors=True).shape) == pooled, model


def test_images_of_several_sizes_in_one_batch(models, photos):
    """Without a fixed output size (no crop), each size runs its own forward pass: the same features as one image
    at a time."""
    pipe = pipeline("image-feature-extraction", model=models["convnext-base"])
    no_crop = {"image_processor_kwargs": {"crop_pct": None}}  # shortest edge 32, the aspect ratio kept
    images = photos["photos"]
    batched = pipe(images, return_tensors=True, **no_crop)
    assert len({tuple(t.shape) for t in batched}) > 1  # several sizes
    for image, features in zip(images, batched):
        torch.testing.assert_close(features, pipe(image, return_tensors=True, **no_crop), atol=TOL, rtol=TOL)


# ------------------------------------------------------------------------------------------------
# Inputs
# ------------------------------------------------------------------------------------------------


def test_inputs_of_every_kind_give_the_same_answers(models, photos):
    pipe = pipeline("image-classification", model=models["vit"])
    paths = photos["photos"][:3]
    expected = pipe(paths)
    opened = [PIL.Image.open(p) for p in paths]
    assert pipe(opened) == expected
    assert pipe(images=paths) == expected  # the reference's keyword
    assert pipe([Path(p) for p in paths]) == expected
    assert pipe([Path(p).read_bytes() for p in paths]) == expected  # a file's bytes
    assert pipe(paths, timeout=5.0) == expected  # the reference's download timeout (for URLs)
    assert pipe([np.asarray(image.convert("RGB")) for image in opened]) == expected  # arrays (v4.37 refuses them)
    assert pipe([torch.tensor(np.asarray(image.convert("RGB"))) for image in opened]) == expected
    assert list(pipe(p for p in paths)) == expected  # a generator gives a generator
    assert_same_labels(pipe(paths[1]), expected[1])  # alone: the same answer, up to float rounding
    assert_same_labels([pipe(p, batch_size=1) for p in paths], expected)


def test_datasets_image_column(models):
    clothing = load_data("clothing", split="validation").select(range(6))
    pipe = pipeline("image-classification", model=models["vit"])
    expected = pipe([str(p) for p in _clothing_paths(clothing)])
    assert pipe(clothing["image"]) == expected
    assert list(pipe(KeyDataset(clothing, "image"))) == expected
    undecoded = clothing.cast_column("image", datasets.Image(decode=False))
    assert pipe(undecoded["image"]) == expected  # {"bytes", "path"} values
    with pytest.raises(TypeError, match="one column"):
        pipe(clothing)


def _clothing_paths(dataset) -> list[str]:
    return [row["path"] for row in dataset.cast_column("image", datasets.Image(decode=False))["image"]]


def test_task_inferred_from_the_checkpoint(models):
    assert isinstance(pipeline(model=models["deit-teacher"]), ImageClassificationPipeline)
    assert isinstance(pipeline(model=models["dinov2-base"]), ImageFeatureExtractionPipeline)


def test_model_objects_and_processors_given(models, photos):
    model = workbench.AutoModelForImageClassification.from_pretrained(models["convnext"])
    expected = pipeline("image-classification", model=models["convnext"])(photos["photos"])
    assert pipeline("image-classification", model=model)(photos["photos"]) == expected  # finds its processor
    processor = workbench.AutoImageProcessor.from_pretrained(models["convnext"])
    for kwargs in ({"image_processor": processor}, {"processor": processor}, {"feature_extractor": processor}):
        assert pipeline("image-classification", model=model, **kwargs)(photos["photos"]) == expected
    assert pipeline("image-classification", model=model, image_processor=models["convnext"])(photos["photos"]) == (
        expected
    )
    warp = ConvNextImageProcessor(size={"shortest_edge": 384})  # another processor: other pixels, other scores
    assert pipeline("image-classification", model=model, image_processor=warp)(photos["photos"]) != expected


def test_save_pretrained_keeps_the_image_processor(models, photos, tmp_path):
    pipe = pipeline("image-classification", model=models["deit-teacher"])
    pipe.save_pretrained(tmp_path)
    assert (tmp_path / "preprocessor_config.json").is_file()
    assert pipeline("image-classification", model=tmp_path)(photos["photos"]) == pipe(photos["photos"])


def test_torch_dtype(models, photos):
    pipe = pipeline("image-classification", model=models["vit"], torch_dtype=torch.float64)
    expected = pipeline("image-classification", model=models["vit"])(photos["photos"])
    assert_same_labels(pipe(photos["photos"]), expected)


# ------------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------------


def test_bad_images_name_the_problem(models, photos, tmp_path):
    pipe = pipeline("image-classification", model=models["vit"])
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(Path(photos["photos"][0]).read_bytes()[:2000])
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    with pytest.raises(ValueError, match="corrupt.jpg could not be decoded: the file is truncated or corrupt"):
        pipe(str(corrupt))
    with pytest.raises(ValueError, match="notes.jpg is not an image file that PIL can read") as error:
        pipe([photos["photos"][0], str(text)])
    assert "image 1 of the batch of 2" in "".join(getattr(error.value, "__notes__", []))
    with pytest.raises(FileNotFoundError, match="No image file 'missing.jpg'"):
        pipe("missing.jpg")
    with pytest.raises(IsADirectoryError):
        pipe(str(tmp_path))
    with pytest.raises(TypeError, match="takes images.*got int"):
        pipe([photos["photos"][0], 3])
    with pytest.raises(TypeError, match="takes images"):
        pipe(3.5)
    with pytest.raises(ValueError, match="empty string"):
        pipe("")
    with pytest.raises(ValueError, match="empty list"):
        pipe([])
    with pytest.raises(ValueError, match="Cannot tell the channels"):
        pipe(np.zeros((5, 6, 7), dtype=np.uint8))
    with pytest.raises(TypeError, match="needs an image"):
        pipe()
    with pytest.raises(TypeError, match="twice"):
        pipe(photos["photos"][0], images=photos["photos"][0])


def test_bad_settings(models, photos):
    pipe = pipeline("image-classification", model=models["vit"])
    for top_k in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="top_k must be a positive integer"):
            pipe(photos["photos"][0], top_k=top_k)
    with pytest.raises(ValueError, match="function_to_apply='softplus' is not one of"):
        pipe(photos["photos"][0], function_to_apply="softplus")
    with pytest.raises(TypeError, match="unexpected"):
        pipe(photos["photos"][0], pool=True)
    no_pooler = workbench.ViTModel(workbench.ViTConfig(**VIT, intermediate_size=37), add_pooling_layer=False)
    features = pipeline("image-feature-extraction", model=no_pooler, image_processor=ViTImageProcessor(size=32))
    with pytest.raises(ValueError, match="pool=True needs the model's pooler_output"):
        features(photos["photos"][0], pool=True)
    with pytest.raises(ValueError, match="must not set return_tensors"):
        features(photos["photos"][0], image_processor_kwargs={"return_tensors": "np"})


def test_models_and_processors_that_do_not_fit(models, tmp_path):
    with pytest.raises(PipelineModelError, match="has no image-classification head"):
        pipeline("image-classification", model=models["vit-base"])
    with pytest.raises(ValueError, match="needs an image-classification head"):
        pipeline("image-classification", model=workbench.AutoModel.from_pretrained(models["vit-base"]))
    with pytest.raises(ValueError, match="returns a base model's features"):
        model = workbench.AutoModelForImageClassification.from_pretrained(models["vit"])
        pipeline("image-feature-extraction", model=model)
    with pytest.raises(PipelineModelError, match="takes text, but this model \\(vit\\) takes images. Use 'image-fe"):
        pipeline("feature-extraction", model=models["vit-base"])
    with pytest.raises(ValueError, match="needs no tokenizer"):
        pipeline("image-classification", model=models["vit"], tokenizer=models["vit"])
    bert = workbench.BertModel(workbench.BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2))
    with pytest.raises(PipelineModelError, match="takes images, but this model \\(bert\\) takes text"):
        pipeline("image-feature-extraction", model=bert)
    no_processor = tmp_path / "no-processor"
    workbench.AutoModelForImageClassification.from_pretrained(models["vit"]).save_pretrained(no_processor)
    with pytest.raises(PipelineModelError, match="has no preprocessor_config.json.*save one next to the model"):
        pipeline("image-classification", model=no_processor)
    assert pipeline("image-classification", model=no_processor, image_processor=ViTImageProcessor(size=32))
