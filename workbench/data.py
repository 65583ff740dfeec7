"""The small real data sets the notebooks use, offline: ``load("rotten_tomatoes", split="train")``.

They ship in the repository's ``data/`` folder (``data/MANIFEST.md`` says where each file comes from and
under which licence; several need attribution). ``WORKBENCH_DATA_DIR`` points elsewhere if you keep them
in another place. Each set loads as a ``datasets.Dataset`` (or a ``DatasetDict`` without ``split=``) with
the columns of its Hub original, so code written for ``datasets.load_dataset`` reads it unchanged:

    >>> from workbench import data
    >>> reviews = data.load("rotten_tomatoes", split="train")      # columns: text, label
    >>> reviews[0]
    {'text': 'the rock is destined to be ...', 'label': 1}
    >>> data.path("tokenizers", "gpt2")                             # a file or folder inside the data folder

Offline (``HF_HUB_OFFLINE=1`` or ``HF_DATASETS_OFFLINE=1``) nothing touches the network. Online,
``load(name, source="hub")`` fetches the Hub original instead (``datasets.load_dataset``), which is
bigger: the local files are subsets (see the manifest).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The repository's data folder: workbench/ and data/ sit side by side in a clone.
REPOSITORY_DATA = Path(__file__).resolve().parent.parent / "data"


def data_dir() -> Path:
    """The data folder: ``WORKBENCH_DATA_DIR`` if set, else the repository's ``data/``."""
    override = os.environ.get("WORKBENCH_DATA_DIR")
    folder = Path(override).expanduser() if override else REPOSITORY_DATA
    if not folder.is_dir():
        where = f"WORKBENCH_DATA_DIR={override!r}" if override else f"the repository's data folder ({folder})"
        raise FileNotFoundError(
            f"The data folder was not found: {where} does not exist. The data sets ship in the repository's "
            "data/ folder (a clone has them); point WORKBENCH_DATA_DIR at a copy of that folder if you keep it "
            "elsewhere."
        )
    return folder


def path(*parts: str) -> Path:
    """A file or folder inside the data folder, e.g. ``path("tokenizers", "gpt2")``; it must exist."""
    target = data_dir().joinpath(*parts)
    if not target.exists():
        raise FileNotFoundError(
            f"{target} does not exist in the data folder {data_dir()}; `workbench data` lists what is there."
        )
    return target


# ------------------------------------------------------------------------------------------------
# Readers: one per file layout, each yields the rows of one split as dicts
# ------------------------------------------------------------------------------------------------


def _read_tsv(file: Path) -> Iterator[dict]:
    """GLUE-style ``sentence<TAB>label`` with no quoting (some sentences contain double quotes)."""
    with open(file, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            yield {"text": row["sentence"].strip(), "label": int(row["label"])}


WIKIGOLD_TAGS = ["O", "I-PER", "I-ORG", "I-LOC", "I-MISC"]


def _read_conll(file: Path) -> Iterator[dict]:
    """``token TAG`` per line, a blank line between sentences, ``-DOCSTART-`` between documents."""
    tokens: list[str] = []
    tags: list[int] = []
    index = 0
    for line in [*file.read_text(encoding="utf-8").splitlines(), ""]:
        if line.startswith("-DOCSTART-") or not line.strip():
            if tokens:
                yield {"id": str(index), "tokens": tokens, "ner_tags": tags}
                index += 1
            tokens, tags = [], []
            continue
        token, tag = line.split(" ")[0], line.split(" ")[-1]
        tokens.append(token)
        tags.append(WIKIGOLD_TAGS.index(tag))


def _read_squad(file: Path) -> Iterator[dict]:
    """SQuAD v1.1 JSON: articles -> paragraphs -> questions, flattened to one row per question."""
    for article in json.loads(file.read_text(encoding="utf-8"))["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield {
                    "id": qa["id"],
                    "title": article["title"],
                    "context": paragraph["context"],
                    "question": qa["question"],
                    "answers": {
                        "text": [a["text"] for a in qa["answers"]],
                        "answer_start": [a["answer_start"] for a in qa["answers"]],
                    },
                }


def _read_translation(source: Path) -> Iterator[dict]:
    """Line-aligned ``*.src.txt`` (English) and ``*.tgt.txt`` (German)."""
    target = source.with_name(source.name.replace(".src.", ".tgt."))
    english = source.read_text(encoding="utf-8").splitlines()
    german = target.read_text(encoding="utf-8").splitlines()
    for i, (en, de) in enumerate(zip(english, german, strict=True)):
        yield {"id": str(i), "translation": {"en": en, "de": de}}


def _read_scitldr(file: Path) -> Iterator[dict]:
    """SciTLDR-A JSON lines: the abstract's sentences and one or more one-sentence summaries."""
    with open(file, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            yield {"source": " ".join(row["source"]), "target": row["target"][0], "paper_id": row["paper_id"]}


def _read_text(file: Path) -> Iterator[dict]:
    yield {"text": file.read_text(encoding="utf-8")}


def _read_labelled_images(file: Path) -> Iterator[dict]:
    """``labels.csv``: ``file,label,split,...`` rows; the image column holds the file's path."""
    with open(file, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield {"image": str(file.parent / row["file"]), "label": row["label"], "split": row["split"]}


def _read_captioned_images(file: Path) -> Iterator[dict]:
    """``captions.csv``: one photo per row, its five COCO captions joined by `` | ``."""
    with open(file, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            yield {
                "image": str(file.parent / row["file"]),
                "captions": row["all_captions"].split(" | "),
                "licence": row["licence"],
                "author_source": row["author_source"],
            }


def _read_spoken_digits(file: Path) -> Iterator[dict]:
    """``metadata.csv``: ``file,digit,speaker,index,split`` rows; the audio column holds the file's path, as a
    ``datasets`` Audio value that is not decoded (``{"path", "bytes"}``, see ``_dataset``)."""
    with open(file, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            audio = {"path": str(file.parent / row["file"]), "bytes": None}
            yield {"audio": audio, "label": int(row["digit"]), "speaker": row["speaker"], "split": row["split"]}


@dataclass(frozen=True)
class DataSet:
    """One data set: its files per split, how to read them, and where it comes from."""

    folder: str
    splits: dict[str, str]  # split -> file inside ``folder``
    reader: Callable[[Path], Iterator[dict]]
    licence: str
    description: str
    hub_id: str | None = None  # the Hub original, for load(..., source="hub")
    features: Callable[[], Any] | None = None  # the datasets.Features of the rows (class labels, images)
    split_column: bool = False  # the splits are rows of one file, told apart by their "split" column


def _rotten_tomatoes_features():
    from datasets import ClassLabel, Features, Value

    return Features({"text": Value("string"), "label": ClassLabel(names=["neg", "pos"])})


def _wikigold_features():
    from datasets import ClassLabel, Features, Sequence, Value

    return Features(
        {
            "id": Value("string"),
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=WIKIGOLD_TAGS)),
        }
    )


def _clothing_features():
    from datasets import ClassLabel, Features, Image, Value

    return Features(
        {
            "image": Image(),
            "label": ClassLabel(names=["dress", "hat", "pants", "shoes", "t-shirt"]),
            "split": Value("string"),
        }
    )


def _captioned_features():
    from datasets import Features, Image, Sequence, Value

    return Features(
        {
            "image": Image(),
            "captions": Sequence(Value("string")),
            "licence": Value("string"),
            "author_source": Value("string"),
        }
    )


def _spoken_digits_features():
    from datasets import Audio, ClassLabel, Features, Value

    return Features(
        {
            "audio": Audio(decode=False),
            "label": ClassLabel(names=[str(digit) for digit in range(10)]),
            "speaker": Value("string"),
            "split": Value("string"),
        }
    )


DATASETS: dict[str, DataSet] = {
    "rotten_tomatoes": DataSet(
        "rotten_tomatoes",
        {"train": "train.tsv", "validation": "validation.tsv"},
        _read_tsv,
        "CC BY 4.0",
        "movie-review sentences, positive or negative (Pang & Lee 2005)",
        "cornell-movie-review-data/rotten_tomatoes",
        _rotten_tomatoes_features,
    ),
    "wikigold": DataSet(
        "wikigold",
        {"train": "train.txt", "validation": "validation.txt"},
        _read_conll,
        "CC BY 4.0",
        "Wikipedia sentences with PER/LOC/ORG/MISC entity tags (IO scheme)",
        None,
        _wikigold_features,
    ),
    "squad": DataSet(
        "squad",
        {"train": "train.json", "validation": "validation.json"},
        _read_squad,
        "CC BY-SA 4.0",
        "extractive question answering (SQuAD v1.1: 11 train articles; XQuAD-en validation)",
        "rajpurkar/squad",
    ),
    "translation_en_de": DataSet(
        "translation",
        {"train": "train.src.txt", "validation": "validation.src.txt"},
        _read_translation,
        "CC BY-SA 4.0",
        "English-German sentence pairs (NTREX-128 train, FLORES-200 devtest validation)",
    ),
    "scitldr": DataSet(
        "summarization",
        {"train": "train.jsonl", "validation": "validation.jsonl"},
        _read_scitldr,
        "Apache-2.0",
        "paper abstracts and their one-sentence summaries (SciTLDR-A)",
        "allenai/scitldr",
    ),
    "tinyshakespeare": DataSet(
        "text",
        {"train": "tinyshakespeare.txt"},
        _read_text,
        "MIT (text in the public domain)",
        "40,000 lines of Shakespeare in one text (karpathy/char-rnn)",
    ),
    "clothing": DataSet(
        "images/clothing",
        {"train": "labels.csv", "validation": "labels.csv"},
        _read_labelled_images,
        "CC0",
        "photos of clothes in 5 classes",
        None,
        _clothing_features,
        split_column=True,
    ),
    "captioned": DataSet(
        "images/captioned",
        {"train": "captions.csv"},
        _read_captioned_images,
        "images CC BY 2.0, captions CC BY 4.0",
        "29 everyday photos with 5 COCO captions each",
        None,
        _captioned_features,
    ),
    "fsdd": DataSet(
        "fsdd",
        {"train": "metadata.csv", "test": "metadata.csv"},
        _read_spoken_digits,
        "CC BY-SA 4.0",
        "spoken digits 0-9, 8 kHz WAV: 6 speakers x 50 takes (Free Spoken Digit Dataset; takes 0-4 are the test split)",
        None,
        _spoken_digits_features,
        split_column=True,
    ),
}


def list_datasets() -> list[str]:
    return sorted(DATASETS)


def _spec(name: str) -> DataSet:
    if name not in DATASETS:
        raise ValueError(f"Unknown data set {name!r}; the data folder holds: {', '.join(list_datasets())}.")
    return DATASETS[name]


def _rows(spec: DataSet, split: str) -> list[dict]:
    rows = list(spec.reader(path(spec.folder, spec.splits[split])))
    if spec.split_column:
        rows = [row for row in rows if row["split"] == split]
    return rows


def load(name: str, split: str | None = None, *, source: str = "local"):
    """A data set as a ``datasets.Dataset`` (one ``split``) or a ``DatasetDict`` (every split).

    ``source="local"`` (the default) reads the files in the data folder and never touches the network;
    ``source="hub"`` asks ``datasets.load_dataset`` for the Hub original (online; a bigger, full data set).
    """
    import datasets

    spec = _spec(name)
    if source == "hub":
        if spec.hub_id is None:
            raise ValueError(f"{name!r} has no Hub original to fetch; load it with source='local'.")
        return datasets.load_dataset(spec.hub_id, split=split)
    if source != "local":
        raise ValueError(f"source must be 'local' or 'hub', got {source!r}.")
    if split is not None and split not in spec.splits:
        raise ValueError(f"{name!r} has the splits {', '.join(spec.splits)}; got split={split!r}.")
    features = spec.features() if spec.features else None

    def build(one_split: str):
        return _dataset(_rows(spec, one_split), features)

    if split is not None:
        return build(split)
    return datasets.DatasetDict({one_split: build(one_split) for one_split in spec.splits})


def _dataset(rows: list[dict], features):
    """``datasets.Dataset.from_list``, except for Audio columns: datasets 5 encodes every Audio value through
    torchcodec, which cannot load with the pinned CPU torch (its wheels link CUDA's). Their ``{"path", "bytes"}``
    values are stored as the plain struct they are, then the column is cast to Audio, which needs no encoding."""
    import datasets

    audio_columns = [name for name, feature in (features or {}).items() if isinstance(feature, datasets.Audio)]
    if not audio_columns:
        return datasets.Dataset.from_list(rows, features=features)
    storage = datasets.Features(
        {
            name: {"bytes": datasets.Value("binary"), "path": datasets.Value("string")} if name in audio_columns else f
            for name, f in features.items()
        }
    )
    dataset = datasets.Dataset.from_list(rows, features=storage)
    for name in audio_columns:
        dataset = dataset.cast_column(name, features[name])
    return dataset


def summary() -> list[dict]:
    """What the data folder holds: one row per data set with its splits, size on disk and licence."""
    rows = []
    for name in list_datasets():
        spec = DATASETS[name]
        folder = data_dir() / spec.folder
        files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
        rows.append(
            {
                "name": name,
                "splits": ", ".join(spec.splits),
                "files": len(files),
                "megabytes": round(sum(p.stat().st_size for p in files) / 1e6, 1),
                "licence": spec.licence,
                "description": spec.description,
                "present": folder.is_dir(),
            }
        )
    return rows
