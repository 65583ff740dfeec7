"""pipeline("zero-shot-image-classification"): the v4.37 reference's answers (labels in the same order, scores
within 1e-4) on tiny random CLIP and SigLIP checkpoints with CLIP's real tokenizer and real photos; softmax for
CLIP, sigmoid for SigLIP; templates, batches, and clear errors for bad labels and wrong models."""

import math
import shutil

import pytest
import torch

import workbench
from tests.reference_v4 import run_v4, v4_unavailable
from workbench import data
from workbench.models.auto import tiny_config
from workbench.processing.image_processing import CLIPImageProcessor, SiglipImageProcessor

TOL = 1e-4
LABELS = ["cat", "dog", "a red dress", "hat", "two people on a beach"]
TEXT = dict(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406, eos_token_id=49407, pad_token_id=1)


def _checkpoint(folder, preset: str, image_processor) -> str:
    """A tiny random model (weights moved off their initial values, a sharp temperature) saved with CLIP's real
    tokenizer files and an image processor for 32x32 images."""
    torch.manual_seed(0)
    model = workbench.AutoModel.from_config(
        tiny_config(preset, text_config={**tiny_config(preset).text_config.to_dict(), **TEXT})
    )
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.2)
        model.logit_scale.fill_(math.log(30.0))
        if model.logit_bias is not None:  # SigLIP: no bias, so that the sigmoid's scores spread over (0, 1)
            model.logit_bias.fill_(0.0)
    model.save_pretrained(folder)
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):  # v4.37's
        shutil.copy(data.path("tokenizers", "clip-vit-base-patch32", name), folder)  # tokenizers reads no newer json
    image_processor.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("zero-shot-image")
    return {
        "clip": _checkpoint(
            root / "clip", "clip-tiny-random", CLIPImageProcessor(size={"shortest_edge": 32}, crop_size=32)
        ),
        "siglip": _checkpoint(
            root / "siglip", "siglip-tiny-random", SiglipImageProcessor(size={"height": 32, "width": 32})
        ),
    }


@pytest.fixture(scope="module")
def photos():
    clothing = [str(sorted(data.path("images", "clothing", kind).glob("*.jpg"))[0]) for kind in ("dress", "hat")]
    return clothing + [str(p) for p in sorted(data.path("images", "captioned").glob("*.jpg"))[:2]]


# id -> (checkpoint, which photos: "first" or "all", call options)
CASES = {
    "clip": ("clip", "first", {"candidate_labels": LABELS}),
    "clip-template-batch": ("clip", "all", {"candidate_labels": LABELS[:3], "hypothesis_template": "a picture of {}"}),
    "clip-one-label": ("clip", "first", {"candidate_labels": ["hat"]}),
    "siglip": ("siglip", "first", {"candidate_labels": LABELS}),
    "siglip-batch": ("siglip", "all", {"candidate_labels": LABELS[1:], "hypothesis_template": "{}"}),
}


@pytest.fixture(scope="module")
def v4_outputs(checkpoints, photos):
    reason = v4_unavailable()
    if reason:
        pytest.skip(f"reference v4 pipelines unavailable: {reason}")
    calls = [
        {
            "task": "zero-shot-image-classification",
            "model": checkpoints[model],
            "inputs": photos[0] if which == "first" else photos,
            "call_kwargs": options,
        }
        for model, which, options in CASES.values()
    ]
    return dict(zip(CASES, run_v4(calls)))


def assert_same_answers(ours, ref, where: str = "answer") -> None:
    if ref and isinstance(ref[0], list):
        assert len(ours) == len(ref), where
        for i, (a, b) in enumerate(zip(ours, ref)):
            assert_same_answers(a, b, f"{where}[{i}]")
        return
    assert [x["label"] for x in ours] == [x["label"] for x in ref], f"{where}: {ours} != {ref}"
    for a, b in zip(ours, ref):
        assert list(a) == ["score", "label"] and math.isclose(a["score"], b["score"], abs_tol=TOL), (where, a, b)


@pytest.mark.parametrize("case", CASES)
def test_answers_equal_reference_v4(case, checkpoints, photos, v4_outputs):
    model, which, options = CASES[case]
    pipe = workbench.pipeline("zero-shot-image-classification", model=checkpoints[model])
    ours = pipe(photos[0] if which == "first" else photos, **options)
    assert "__error__" not in v4_outputs[case], v4_outputs[case]
    assert_same_answers(ours, v4_outputs[case], case)
    scores = [x["score"] for x in (ours if which == "first" else ours[0])]
    if model == "clip":
        assert math.isclose(sum(scores), 1.0, abs_tol=1e-5)  # softmax over the labels
    else:
        assert all(0 < s < 1 for s in scores) and not math.isclose(sum(scores), 1.0, abs_tol=1e-3)  # each on its own


def test_the_task_is_inferred_and_options_set_once(checkpoints, photos):
    pipe = workbench.pipeline(model=checkpoints["clip"], candidate_labels="cat, dog,hat", batch_size=2)
    assert pipe.task == "zero-shot-image-classification"
    answers = pipe(photos)
    assert len(answers) == len(photos) and sorted(x["label"] for x in answers[0]) == ["cat", "dog", "hat"]
    one_at_a_time = [pipe(photo) for photo in photos]
    for batched, single in zip(answers, one_at_a_time):
        assert [x["label"] for x in batched] == [x["label"] for x in single]
        for a, b in zip(batched, single):
            assert math.isclose(a["score"], b["score"], abs_tol=1e-5)


def test_bad_inputs_get_clear_errors(checkpoints, photos, tmp_path):
    pipe = workbench.pipeline("zero-shot-image-classification", model=checkpoints["clip"])
    with pytest.raises(ValueError, match="candidate_labels is empty"):
        pipe(photos[0], candidate_labels=[])
    with pytest.raises(ValueError, match="needs the labels"):
        pipe(photos[0])
    with pytest.raises(ValueError, match="has no \\{\\}"):
        pipe(photos[0], candidate_labels=LABELS, hypothesis_template="a photo")
    with pytest.raises(ValueError, match="truncation|77"):
        pipe(photos[0], candidate_labels=["word " * 100])
    vit = workbench.AutoModelForImageClassification.from_config(tiny_config("vit-tiny-random"))
    vit.save_pretrained(tmp_path / "vit")
    with pytest.raises(ValueError, match="images and texts|has no zero-shot-image-classification head"):
        workbench.pipeline("zero-shot-image-classification", model=str(tmp_path / "vit"))
