"""Image processors against the reference: pixel_values bit-identical (torch.equal) to the current reference's
PIL-backend processors (ViTImageProcessorPil, ...) and to v4.37's default processors, on real photos, odd
sizes, grayscale, RGBA, CMYK, palette and float inputs, arrays and tensors in both layouts; loading and saving
preprocessor_config.json both ways (legacy keys too); the Auto classes; a combined processor (CLIP's) against
the reference's; and a clear error, a warning or the reference's behaviour for each bad input."""

import io
import json
import subprocess
import warnings

import numpy as np
import pytest
import torch
import transformers
from PIL import Image

from workbench import data
from workbench.processing import AutoFeatureExtractor, AutoImageProcessor, AutoProcessor, AutoTokenizer, BatchFeature
from workbench.processing import image_processing as ours_module
from workbench.processing.image_processing import (
    BeitImageProcessor,
    BitImageProcessor,
    CLIPImageProcessor,
    ConvNextImageProcessor,
    DeiTImageProcessor,
    ViTImageProcessor,
)
from workbench.processing.image_utils import load_image, make_list_of_images

# (our class, the reference's class, settings): every family, with the settings of real checkpoints. BEiT's
# defaults differ between v4.37 (256, crop 224) and the current release (224, no crop); these name them.
FAMILIES = {
    "vit": (ViTImageProcessor, "ViTImageProcessor", {}),
    "deit": (DeiTImageProcessor, "DeiTImageProcessor", {"image_mean": [0.485, 0.456, 0.406]}),
    "beit": (BeitImageProcessor, "BeitImageProcessor", {"size": 256, "do_center_crop": True, "resample": 2}),
    "convnext-224": (ConvNextImageProcessor, "ConvNextImageProcessor", {"size": 224, "resample": 3}),
    "convnext-384": (ConvNextImageProcessor, "ConvNextImageProcessor", {"size": 384, "resample": 2}),
    "dinov2": (
        BitImageProcessor,
        "BitImageProcessor",
        {"size": {"shortest_edge": 256}, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
    ),
    "clip": (CLIPImageProcessor, "CLIPImageProcessor", {}),
}
CONVERTING = ("dinov2", "clip")  # the reference's processors that convert images to RGB themselves


def pair(family: str, **overrides):
    ours_class, ref_name, settings = FAMILIES[family]
    settings = {**settings, **overrides}
    return ours_class(**settings), getattr(transformers, ref_name + "Pil")(**settings)


def pixels(processor, images, **kwargs) -> torch.Tensor:
    return processor(images, return_tensors="pt", **kwargs)["pixel_values"]


def assert_same(ours, ref, images, **kwargs):
    got, expected = pixels(ours, images, **kwargs), pixels(ref, images, **kwargs)
    assert got.dtype == torch.float32 and got.shape == expected.shape
    assert torch.equal(got, expected), f"max difference {(got - expected).abs().max()}"


def photo_paths() -> list:
    clothing = sorted(data.path("images", "clothing").glob("*/*.jpg"))
    return clothing[::72] + sorted(data.path("images", "captioned").glob("*.jpg"))[:3]  # portrait and landscape


@pytest.fixture(scope="module")
def photos() -> list[Image.Image]:
    images = [Image.open(path) for path in photo_paths()]
    for image in images:
        image.load()
    return images


def random_image(height: int, width: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    values = np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)
    return Image.fromarray(values[..., 0] if channels == 1 else values, mode=None if mode != "CMYK" else "CMYK")


# ------------------------------------------------------------------------------------------------
# Bit-identical to the current reference's PIL-backend processors
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_photos_and_odd_sizes(family, photos):
    ours, ref = pair(family)
    assert_same(ours, ref, photos)
    odd = [random_image(h, w, seed=i) for i, (h, w) in enumerate([(37, 53), (225, 224), (3, 1000), (1, 1), (500, 17)])]
    assert_same(ours, ref, odd)


@pytest.mark.parametrize("family", FAMILIES)
def test_grayscale_rgba_palette_cmyk_are_converted(family, photos):
    """The reference's ViT/ConvNeXT/DeiT/BEiT processors fail on grayscale and RGBA; ours convert as v4.37's
    converting processors do (PIL's convert("RGB"): alpha dropped)."""
    ours, ref = pair(family)
    photo = photos[0]
    images = [photo.convert(mode) for mode in ("L", "LA", "RGBA", "P", "CMYK")]
    got = pixels(ours, images)
    expected = pixels(ref, [image.convert("RGB") for image in images])
    assert torch.equal(got, expected)
    if family in CONVERTING:  # the reference converts grayscale, palette and CMYK itself, with the same numbers
        assert_same(ours, ref, [images[0], images[3], images[4]])
    else:
        with pytest.raises(ValueError, match="mean must have"):
            pixels(ref, images[0])


def test_rgba_follows_v4_not_the_current_release(photos):
    """v4.37 drops alpha; the current release composites on white. Ours follows v4.37."""
    ours, ref = pair("clip")
    rgba = photos[1].convert("RGBA")
    alpha = np.zeros((rgba.height, rgba.width), dtype=np.uint8)
    alpha[: rgba.height // 2] = 255
    rgba.putalpha(Image.fromarray(alpha))
    assert torch.equal(pixels(ours, rgba), pixels(ref, rgba.convert("RGB")))
    assert not torch.equal(pixels(ours, rgba), pixels(ref, rgba))


@pytest.mark.parametrize("family", ["vit", "clip", "convnext-224"])
def test_arrays_and_tensors_in_both_layouts(family, photos):
    ours, ref = pair(family)
    photo = photos[2]
    hwc = np.array(photo)
    expected = pixels(ref, photo)
    for image in (hwc, np.ascontiguousarray(hwc.transpose(2, 0, 1)), torch.from_numpy(hwc).permute(2, 0, 1)):
        assert torch.equal(pixels(ours, image), expected)
    batch = torch.from_numpy(np.stack([hwc, hwc])).permute(0, 3, 1, 2)  # (batch, channels, height, width)
    assert torch.equal(pixels(ours, batch), expected.repeat(2, 1, 1, 1))
    gray = np.asarray(photo.convert("L"))
    assert torch.equal(pixels(ours, gray), pixels(ref, photo.convert("L").convert("RGB")))
    assert torch.equal(pixels(ours, hwc.astype(np.int64)), expected)  # integers 0-255 of another dtype


@pytest.mark.parametrize("family", ["vit", "deit", "dinov2"])
def test_float_inputs_keep_the_reference_numbers(family, photos):
    """Floats in [0, 1] are resized through 8 bits and divided by 255 twice, as in the reference; a warning says
    so. With do_rescale=False they are right, and silent. Whole numbers 0-255 as floats are 8-bit pixels."""
    ours, ref = pair(family)
    unit = np.asarray(photos[3], dtype=np.float32) / 255
    with pytest.warns(UserWarning, match="divides them by 255"):
        got = pixels(ours, unit)
    assert torch.equal(got, pixels(ref, unit))
    chw = torch.from_numpy(unit).permute(2, 0, 1)
    with pytest.warns(UserWarning, match="divides them by 255"):
        assert torch.equal(pixels(ours, chw), pixels(ref, chw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(pixels(ours, unit, do_rescale=False), pixels(ref, unit, do_rescale=False))
        whole = np.asarray(photos[3], dtype=np.float64)
        assert torch.equal(pixels(ours, whole), pixels(ref, photos[3]))
    noisy = np.random.default_rng(0).random((40, 30, 3))  # not resized: the float arithmetic itself
    with pytest.warns(UserWarning):
        assert torch.equal(
            pixels(ours, noisy, do_resize=False, do_center_crop=False),
            pixels(ref, noisy, do_resize=False, do_center_crop=False),
        )


def test_threads_give_the_same_numbers(photos):
    ours, _ = pair("dinov2")
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        serial = pixels(ours, photos)
        torch.set_num_threads(3)
        assert torch.equal(pixels(ours, photos), serial)
        lazy = Image.open(photo_paths()[0])  # one image twice, not decoded yet: decoded once, before the threads
        assert torch.equal(pixels(ours, [lazy, lazy, photos[1]]), serial[[0, 0, 1]])
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------------------
# v4.37, the reference for processors' behaviour
# ------------------------------------------------------------------------------------------------

_V4_SCRIPT = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from PIL import Image
import transformers
cases = json.loads(sys.stdin.read())
out = {}
for case in cases:
    if "folder" in case:
        processor = transformers.AutoImageProcessor.from_pretrained(case["folder"])
        out[case["name"] + ":class"] = np.array(type(processor).__name__)
    else:
        processor = getattr(transformers, case["class"])(**case["settings"])
    image = Image.open(case["path"])
    image = image.convert(case["mode"]) if case["mode"] else image
    try:
        out[case["name"]] = processor(image, return_tensors="np")["pixel_values"]
    except Exception as e:
        out[case["name"] + ":error"] = np.array(str(e))
np.savez(sys.argv[1], **out)
"""


def test_cross_check_with_v4_default_processors(tmp_path):
    """v4.37's default processors give our numbers on photos; on RGBA, its converting processors (CLIP, BiT)
    drop alpha as ours do, and the others fail where ours convert. v4.37 loads what we save, as our class."""
    from reference_v4 import VENV, _env, v4_unavailable

    if reason := v4_unavailable():
        pytest.skip(reason)
    paths = [str(path) for path in photo_paths()[:3]]
    cases, ours = [], {}
    for family, (ours_class, ref_name, settings) in FAMILIES.items():
        processor = ours_class(**settings)
        processor.save_pretrained(tmp_path / family)
        for i, path in enumerate(paths):
            cases.append({"name": f"{family}-{i}", "class": ref_name, "settings": settings, "path": path, "mode": None})
        cases.append(
            {"name": f"{family}-rgba", "class": ref_name, "settings": settings, "path": paths[0], "mode": "RGBA"}
        )
        cases.append({"name": f"{family}-saved", "folder": str(tmp_path / family), "path": paths[1], "mode": None})
        ours.update({case["name"]: processor for case in cases[-5:]})
    result = subprocess.run(
        [str(VENV / "bin" / "python"), "-c", _V4_SCRIPT, str(tmp_path / "v4.npz")],
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    v4 = np.load(tmp_path / "v4.npz")
    for case in cases:
        name, image = case["name"], Image.open(case["path"])
        got = ours[name](image.convert(case["mode"]) if case["mode"] else image, return_tensors="np")["pixel_values"]
        if name + ":error" in v4:  # v4.37 ViT, DeiT, BEiT, ConvNeXT cannot read RGBA; ours drops alpha
            assert case["mode"] == "RGBA" and name.split("-")[0] not in CONVERTING, str(v4[name + ":error"])
            expected = ours[name](image.convert("RGB"), return_tensors="np")["pixel_values"]
        else:
            expected = v4[name]
        if name + ":class" in v4:
            assert str(v4[name + ":class"]) == type(ours[name]).__name__
        assert np.array_equal(got, expected), name


# ------------------------------------------------------------------------------------------------
# preprocessor_config.json and the Auto classes
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_saved_here_loads_in_the_reference_and_back(family, photos, tmp_path):
    ours, ref = pair(family, rescale_factor=1 / 255)
    ours.save_pretrained(tmp_path / "ours")
    loaded = transformers.AutoImageProcessor.from_pretrained(tmp_path / "ours", backend="pil")
    assert type(loaded).__name__ == FAMILIES[family][1] + "Pil"
    assert torch.equal(pixels(loaded, photos[:3]), pixels(ours, photos[:3]))
    ref.save_pretrained(tmp_path / "ref")
    again = AutoImageProcessor.from_pretrained(tmp_path / "ref")
    assert type(again) is type(ours) and again.to_dict() == ours.to_dict()
    saved_by_reference = json.loads((tmp_path / "ref" / "preprocessor_config.json").read_text())
    assert ours.to_dict() == saved_by_reference  # the same keys and values as the reference writes
    assert torch.equal(pixels(again, photos[:3]), pixels(ours, photos[:3]))


# preprocessor_config.json of real Hub checkpoints, written by older versions of the reference
LEGACY = {
    "google/vit-base-patch16-224": (
        {"do_normalize": True, "do_resize": True, "feature_extractor_type": "ViTFeatureExtractor",
         "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5], "resample": 2, "size": 224},
        ViTImageProcessor, {"height": 224, "width": 224},
    ),
    "microsoft/resnet-50": (
        {"crop_pct": 0.875, "do_normalize": True, "do_resize": True,
         "feature_extractor_type": "ConvNextFeatureExtractor", "image_mean": [0.485, 0.456, 0.406],
         "image_std": [0.229, 0.224, 0.225], "resample": 3, "size": 224},
        ConvNextImageProcessor, {"shortest_edge": 224},
    ),
    "microsoft/beit-base-patch16-224": (
        {"crop_size": 224, "do_center_crop": False, "do_normalize": True, "do_resize": True,
         "feature_extractor_type": "BeitFeatureExtractor", "image_mean": [0.5, 0.5, 0.5],
         "image_std": [0.5, 0.5, 0.5], "reduce_labels": False, "resample": 2, "size": 224},
        BeitImageProcessor, {"height": 224, "width": 224},
    ),
    "openai/clip-vit-base-patch32": (
        {"crop_size": 224, "do_center_crop": True, "do_normalize": True, "do_resize": True,
         "feature_extractor_type": "CLIPFeatureExtractor", "image_mean": [0.48145466, 0.4578275, 0.40821073],
         "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3, "size": 224},
        CLIPImageProcessor, {"shortest_edge": 224},
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", LEGACY)
def test_legacy_configs_of_hub_checkpoints(name, photos, tmp_path):
    config, expected_class, size = LEGACY[name]
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    ours = AutoImageProcessor.from_pretrained(tmp_path)
    assert type(ours) is expected_class and ours.size == size
    assert type(AutoFeatureExtractor.from_pretrained(tmp_path)) is expected_class
    ref = transformers.AutoImageProcessor.from_pretrained(tmp_path, backend="pil")
    assert torch.equal(pixels(ours, photos[:2]), pixels(ref, photos[:2]))


def test_class_from_model_type_and_overrides(tmp_path, photos):
    config = {"do_resize": True, "size": {"shortest_edge": 256}, "image_mean": [0.485, 0.456, 0.406]}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "dinov2"}))
    ours = AutoImageProcessor.from_pretrained(tmp_path, do_center_crop=False, crop_size=200)
    assert type(ours) is BitImageProcessor and ours.crop_size == {"height": 200, "width": 200}
    assert ours.image_std == [0.26862954, 0.26130258, 0.27577711]  # the class's default
    assert pixels(ours, photos[0]).shape == (1, 3, 341, 256)
    saved = json.loads(ours.to_json_string())
    assert saved["image_processor_type"] == "BitImageProcessor" and saved["do_center_crop"] is False


def test_auto_errors(tmp_path):
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"image_processor_type": "Owlv2ImageProcessor"}))
    with pytest.raises(ValueError, match="Owlv2ImageProcessor.*Supported: BeitImageProcessor"):
        AutoImageProcessor.from_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_resize": True}))
    with pytest.raises(ValueError, match="names no class"):
        AutoImageProcessor.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="trust_remote_code"):
        AutoImageProcessor.from_pretrained(tmp_path, trust_remote_code=True)
    with pytest.raises(OSError, match="no preprocessor_config.json.*AutoTokenizer"):
        AutoImageProcessor.from_pretrained(data.path("tokenizers", "gpt2"))
    with pytest.raises(TypeError, match="'do_resise' -> did you mean 'do_resize'"):
        ViTImageProcessor(do_resise=False)


def test_unknown_keys_are_kept(tmp_path):
    config = {"image_processor_type": "ViTImageProcessor", "processor_class": "SomeProcessor", "do_pad": False}
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    processor = ViTImageProcessor.from_pretrained(tmp_path / "preprocessor_config.json")
    processor.save_pretrained(tmp_path / "again")
    saved = json.loads((tmp_path / "again" / "preprocessor_config.json").read_text())
    assert saved["processor_class"] == "SomeProcessor" and saved["do_pad"] is False
    assert saved["size"] == {"height": 224, "width": 224} and saved["resample"] == 2


# ------------------------------------------------------------------------------------------------
# AutoProcessor and a combined processor
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A CLIP processor saved by the current reference (its processor_config.json layout), with a tokenizer.json."""
    folder = tmp_path_factory.mktemp("clip")
    tokenizer = transformers.CLIPTokenizer.from_pretrained(data.path("tokenizers", "clip-vit-base-patch32"))
    transformers.CLIPProcessor(
        image_processor=transformers.CLIPImageProcessorPil(), tokenizer=tokenizer
    ).save_pretrained(folder)
    return folder


def test_clip_processor_equals_the_reference(clip_folder, photos, tmp_path):
    ours = AutoProcessor.from_pretrained(clip_folder)
    assert type(ours).__name__ == "CLIPProcessor" and isinstance(ours.image_processor, CLIPImageProcessor)
    assert ours.model_input_names == ["pixel_values", "input_ids", "attention_mask"]
    ref = transformers.AutoProcessor.from_pretrained(clip_folder, backend="pil")
    texts = ["a photo of a dress", "shoes"]
    got = ours(text=texts, images=photos[:2], padding=True, return_tensors="pt", crop_size=200)
    expected = ref(text=texts, images=photos[:2], padding=True, return_tensors="pt", crop_size=200)
    assert sorted(got) == sorted(expected) == ["attention_mask", "input_ids", "pixel_values"]
    for key in expected:
        assert torch.equal(got[key], expected[key]), key
    only_images = ours(images=photos[0], return_tensors="pt")
    assert isinstance(only_images, BatchFeature) and list(only_images) == ["pixel_values"]
    assert ours.batch_decode(got["input_ids"]) == ours.tokenizer.batch_decode(got["input_ids"])

    ours.save_pretrained(tmp_path)  # the Hub's layout: preprocessor_config.json and the tokenizer's files
    assert json.loads((tmp_path / "preprocessor_config.json").read_text())["processor_class"] == "CLIPProcessor"
    assert not (tmp_path / "processor_config.json").exists()
    again = transformers.AutoProcessor.from_pretrained(tmp_path, backend="pil")
    assert type(again).__name__ == "CLIPProcessor"
    reloaded = again(text=texts, images=photos[:2], padding=True, return_tensors="pt")
    assert torch.equal(reloaded["pixel_values"], ours(images=photos[:2], return_tensors="pt")["pixel_values"])
    assert type(AutoProcessor.from_pretrained(tmp_path)).__name__ == "CLIPProcessor"
    with pytest.raises(ValueError, match="needs text=..., images=..."):
        ours()


def test_auto_processor_without_a_processor_class(tmp_path):
    ViTImageProcessor().save_pretrained(tmp_path / "vision")
    assert type(AutoProcessor.from_pretrained(tmp_path / "vision")) is ViTImageProcessor
    tokenizer = AutoProcessor.from_pretrained(data.path("tokenizers", "bert-base-uncased"))
    assert type(tokenizer) is type(AutoTokenizer.from_pretrained(data.path("tokenizers", "bert-base-uncased")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(OSError, match="neither tokenizer files nor a preprocessor_config.json"):
        AutoProcessor.from_pretrained(tmp_path / "empty")


# ------------------------------------------------------------------------------------------------
# Inputs: files, datasets, batches, and bad ones
# ------------------------------------------------------------------------------------------------


def test_paths_and_datasets_columns(photos):
    ours, ref = pair("dinov2")
    expected = pixels(ref, photos[:3])
    paths = photo_paths()[:3]
    assert torch.equal(pixels(ours, [str(p) for p in paths]), expected)
    assert torch.equal(pixels(ours, paths), expected)
    column = data.load("clothing", split="train")["image"]
    assert torch.equal(pixels(ours, column[:2]), pixels(ref, [column[0], column[1]]))
    undecoded = (
        data.load("clothing", split="train")
        .select(range(2))
        .cast_column("image", __import__("datasets").Image(decode=False))
    )
    assert torch.equal(pixels(ours, undecoded["image"]), pixels(ref, [column[0], column[1]]))
    raw = {"bytes": paths[0].read_bytes(), "path": None}
    assert torch.equal(pixels(ours, raw), expected[:1])


def test_corrupt_and_non_image_files(tmp_path):
    good = photo_paths()[0].read_bytes()
    (tmp_path / "truncated.jpg").write_bytes(good[: len(good) // 3])
    with pytest.raises(ValueError, match="truncated.jpg could not be decoded: the file is truncated or corrupt"):
        ViTImageProcessor()(str(tmp_path / "truncated.jpg"))
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="notes.jpg is not an image file"):
        load_image(tmp_path / "notes.jpg")
    with pytest.raises(FileNotFoundError, match="No image file"):
        ViTImageProcessor()(str(tmp_path / "missing.png"))
    with pytest.raises(ValueError, match=r"image 1 of the batch of 2") as info:
        ViTImageProcessor()([str(photo_paths()[0]), str(tmp_path / "truncated.jpg")])
    assert "image 1 of the batch of 2" in "".join(getattr(info.value, "__notes__", []))


def test_one_pixel_image(photos):
    ours, ref = pair("clip")
    dot = Image.new("RGB", (1, 1), (200, 30, 90))
    assert_same(ours, ref, dot)
    array = np.asarray(dot)  # (1, 1, 3): the first axis could be one channel
    with pytest.warns(UserWarning, match="could be \\(channels, height, width\\) or \\(height, width, channels\\)"):
        pixels(ours, array)
    assert torch.equal(pixels(ours, array, input_data_format="channels_last"), pixels(ref, dot))


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path):
    """The reference clips 16-bit values to 255 (a white image); here they are scaled to 8 bits."""
    ramp = (np.arange(64 * 48, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    eight_bit = Image.fromarray(np.round(ramp / 257).astype(np.uint8))
    processor = ViTImageProcessor()
    assert torch.equal(pixels(processor, str(tmp_path / "deep.png")), pixels(processor, eight_bit))
    assert torch.equal(pixels(processor, ramp), pixels(processor, eight_bit))


def test_cmyk_jpeg(tmp_path, photos):
    photos[0].convert("CMYK").save(tmp_path / "print.jpg")
    assert Image.open(tmp_path / "print.jpg").mode == "CMYK"
    ours, ref = pair("clip")
    assert_same(ours, ref, Image.open(tmp_path / "print.jpg"))
    assert torch.equal(
        pixels(ViTImageProcessor(), str(tmp_path / "print.jpg")),
        pixels(ViTImageProcessor(), Image.open(tmp_path / "print.jpg").convert("RGB")),
    )


def test_image_smaller_than_the_crop_is_padded_as_the_reference_does():
    ours, ref = pair("deit", do_resize=False)
    small = random_image(100, 81)
    with pytest.warns(UserWarning, match="smaller than crop_size 224x224: it is padded with zeros"):
        got = pixels(ours, small)
    assert torch.equal(got, pixels(ref, small))


def test_bad_arguments_and_arrays(photos):
    processor = ViTImageProcessor()
    with pytest.raises(ValueError, match="return_tensors='tf' is not supported"):
        processor(photos[0], return_tensors="tf")
    with pytest.raises(TypeError, match="'do_resise' -> did you mean 'do_resize'"):
        processor(photos[0], do_resise=False)
    with pytest.raises(ValueError, match="size=\\{'longest_edge': 200\\} is not supported"):
        processor(photos[0], size={"longest_edge": 200})
    with pytest.raises(ValueError, match="different sizes after preprocessing"):
        processor([random_image(20, 30), random_image(30, 20)], do_resize=False, return_tensors="pt")
    assert [
        a.shape for a in processor([random_image(20, 30), random_image(30, 20)], do_resize=False)["pixel_values"]
    ] == [(3, 20, 30), (3, 30, 20)]
    with pytest.raises(ValueError, match="image_mean has 3 values but the image has 1 channel"):
        processor(photos[0].convert("L"), do_convert_rgb=False)
    with pytest.raises(TypeError, match="boolean array is a mask"):
        processor(np.zeros((8, 8), dtype=bool))
    with pytest.raises(ValueError, match="must hold values 0-255"):
        processor(np.full((8, 8, 3), 300, dtype=np.int32))
    with pytest.raises(ValueError, match="Float pixels must be in \\[0, 1\\]"):
        processor(np.full((8, 8, 3), 2.5, dtype=np.float32))
    with pytest.raises(ValueError, match="empty list"):
        processor([])
    with pytest.raises(TypeError, match="Image 1 of the batch is int"):
        make_list_of_images([photos[0], 3])
    with pytest.raises(ValueError, match="needs images"):
        processor()


def test_outputs_and_batch_feature(photos):
    processor = ConvNextImageProcessor(size=224)
    listed = processor(photos[:2])["pixel_values"]
    assert isinstance(listed, list) and listed[0].shape == (3, 224, 224) and listed[0].dtype == np.float32
    as_numpy = processor(photos[:2], return_tensors="np", data_format="channels_last")
    assert as_numpy.pixel_values.shape == (2, 224, 224, 3)
    assert np.array_equal(as_numpy.pixel_values[0], listed[0].transpose(1, 2, 0))
    half = processor(photos[:2], return_tensors="pt").to(torch.float16)
    assert half["pixel_values"].dtype == torch.float16
    assert repr(processor).startswith("ConvNextImageProcessor {") and '"crop_pct": 0.875' in repr(processor)


def test_module_defaults_follow_v4():
    """Where the current release changed a family's defaults, ours are v4.37's."""
    assert ConvNextImageProcessor().resample == 2
    beit = BeitImageProcessor()
    assert beit.size == {"height": 256, "width": 256} and beit.do_center_crop and beit.crop_size["height"] == 224
    assert ours_module.CONVNEXT_WARP_FROM == 384


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_bytes_and_data_urls():
    import base64

    image = random_image(20, 30)
    expected = pixels(ViTImageProcessor(), image)
    raw = _png_bytes(image)
    assert torch.equal(pixels(ViTImageProcessor(), raw), expected)
    url = "data:image/png;base64," + base64.b64encode(raw).decode()
    assert torch.equal(pixels(ViTImageProcessor(), url), expected)
