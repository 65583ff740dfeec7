"""Offline stand-ins for the Hub data sets the Transformers docs load: a few rows each, the Hub's columns.

``load_dataset("imdb")`` here gives a ``datasets.DatasetDict`` with the splits and columns of the Hub's IMDB
(``text``, ``label``), ``load_dataset("squad", split="train[:5000]")`` a ``datasets.Dataset`` of SQuAD-shaped
rows, and so on for every data set the docs pages in tests/test_docs_examples.py use. Text comes from the
repository's data directory (Rotten Tomatoes reviews, SQuAD, the summarization and translation sets) where it has
a match, or is written here. Where ``datasets`` cannot be imported (the v4.37 reference's environment), the same
rows come as a ``Rows`` list that supports what the docs do with it there (``len``, ``dataset[i]["text"]``).
"""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

DATA = Path(os.environ.get("WORKBENCH_DATA_DIR", Path(__file__).resolve().parents[1] / "data")).resolve()
WNUT_TAGS = [
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
WNUT_ROWS = [
    (
        "@paulwalk It 's the view from where I 'm living for two weeks . Empire State Building = ESB .",
        {13: 7, 14: 8, 15: 8},
    ),
    ("From Green Newsfeed : AHFA extends deadline for Sage Award to Nov . 5 http://tinyurl.com/24agj38", {4: 5}),
    ("Pxleyes Top 50 Photography Contest Pictures of August 2010 ... http://bit.ly/bgCyZ0 #photography", {}),
    ("today is my last day at the office .", {}),
    ("I watched Star Wars with Anna in London yesterday", {2: 3, 3: 4, 5: 9, 7: 7}),
    ("Apple and Google announced new phones in New York", {0: 1, 2: 1, 7: 7, 8: 8}),
    ("Going to see Harry Potter at the cinema with my friends", {3: 3, 4: 4}),
    ("Microsoft Word keeps crashing on my laptop", {0: 11, 1: 12}),
]
OPUS_BOOKS_EN_FR = [
    ("The sun was setting behind the hills.", "Le soleil se couchait derrière les collines."),
    ("She opened the door and went out.", "Elle ouvrit la porte et sortit."),
    ("I do not know what you mean.", "Je ne sais pas ce que vous voulez dire."),
    ("The old man was sitting by the fire.", "Le vieil homme était assis près du feu."),
    ("We shall see each other again tomorrow.", "Nous nous reverrons demain."),
    ("He had never seen such a beautiful garden.", "Il n'avait jamais vu un si beau jardin."),
    ("The letter arrived the next morning.", "La lettre arriva le lendemain matin."),
    ("Why are you laughing?", "Pourquoi riez-vous ?"),
    ("The ship left the harbour at dawn.", "Le navire quitta le port à l'aube."),
    ("It was raining when we reached the town.", "Il pleuvait quand nous arrivâmes à la ville."),
]
SWAG_ROWS = [
    (
        "Members of the procession walk down the street holding small horn brass instruments.",
        "A drum line",
        [
            "passes by walking down the street playing their instruments.",
            "has heard approaching them.",
            "arrives and they're outside dancing and asleep.",
            "turns the lead singer watches the performance.",
        ],
        0,
    ),
    (
        "A drum line passes by walking down the street playing their instruments.",
        "Members of the procession",
        [
            "are playing ping pong and celebrating one left each in quick.",
            "wait slowly towards the cadets.",
            "continues to play as well along the crowd along with the band being interviewed.",
            "continue to play marching, interspersed.",
        ],
        3,
    ),
    (
        "A man is sitting on a roof.",
        "He",
        [
            "is using wrap to wrap a pair of skis.",
            "is ripping level tiles off.",
            "is holding a rubik's cube.",
            "starts pulling up roofing on a roof.",
        ],
        3,
    ),
    (
        "A woman is outside with a bucket and a dog.",
        "The dog",
        [
            "is running around trying to avoid a bath.",
            "sits on the couch reading a book.",
            "flies over the house.",
            "writes a letter to the woman.",
        ],
        0,
    ),
]


def _reviews(count: int, offset: int = 0) -> list[tuple[str, int]]:
    with open(DATA / "rotten_tomatoes" / "train.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    picked = rows[offset : offset + count // 2] + rows[-offset - count // 2 : len(rows) - offset]  # both labels
    return [(row["sentence"].strip(), int(row["label"])) for row in picked]


def _text_classification(splits: dict[str, tuple[int, int]], labels: int = 2) -> dict[str, dict]:
    out = {}
    for split, (count, offset) in splits.items():
        rows = _reviews(count, offset)
        out[split] = {
            "text": [text for text, _ in rows],
            "label": [(label + i) % labels for i, (_, label) in enumerate(rows)],
        }
    return out


def _squad(count: int) -> dict[str, list]:
    articles = json.loads((DATA / "squad" / "train.json").read_text(encoding="utf-8"))["data"]
    columns = {"id": [], "title": [], "context": [], "question": [], "answers": []}
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if len(columns["id"]) == count:
                    return columns
                columns["id"].append(qa["id"])
                columns["title"].append(article["title"])
                columns["context"].append(paragraph["context"])
                columns["question"].append(qa["question"])
                columns["answers"].append(
                    {
                        "text": [a["text"] for a in qa["answers"][:1]],
                        "answer_start": [a["answer_start"] for a in qa["answers"][:1]],
                    }
                )
    return columns


def _billsum(count: int) -> dict[str, list]:
    with open(DATA / "summarization" / "train.jsonl", encoding="utf-8") as f:
        rows = [json.loads(line) for _, line in zip(range(count), f)]
    text = [" ".join(row["source"][:6]) for row in rows]
    summary = [" ".join(row["target"]) if isinstance(row["target"], list) else row["target"] for row in rows]
    return {"text": text, "summary": summary, "title": [s[:40] for s in summary]}


def _eli5(count: int) -> dict[str, list]:
    lines = [line for line in (DATA / "text" / "tinyshakespeare.txt").read_text(encoding="utf-8").splitlines() if line]
    columns = {"q_id": [], "title": [], "selftext": [], "category": [], "subreddit": [], "answers": []}
    for i in range(count):
        chunk = lines[i * 12 : (i + 1) * 12]
        columns["q_id"].append(f"q{i}")
        columns["title"].append(f"Why does {chunk[0].rstrip(':').lower()} speak?")
        columns["selftext"].append("")
        columns["category"].append("Other")
        columns["subreddit"].append("explainlikeimfive")
        columns["answers"].append(
            {"a_id": [f"a{i}", f"b{i}"], "text": [" ".join(chunk[1:7]), " ".join(chunk[7:])], "score": [3, 1]}
        )
    return columns


def _wnut() -> dict[str, list]:
    tokens = [text.split(" ") for text, _ in WNUT_ROWS]
    tags = [[spans.get(i, 0) for i in range(len(words))] for words, (_, spans) in zip(tokens, WNUT_ROWS)]
    return {"id": [str(i) for i in range(len(tokens))], "tokens": tokens, "ner_tags": tags}


def _swag() -> dict[str, list]:
    columns = {"video-id": [], "fold-ind": [], "startphrase": [], "sent1": [], "sent2": [], "gold-source": []}
    columns.update({f"ending{i}": [] for i in range(4)})
    columns["label"] = []
    for i, (sent1, sent2, endings, label) in enumerate(SWAG_ROWS):
        for key, value in (
            ("video-id", f"anetv_{i}"),
            ("fold-ind", str(i)),
            ("startphrase", f"{sent1} {sent2}"),
            ("sent1", sent1),
            ("sent2", sent2),
            ("gold-source", "gold"),
            ("label", label),
        ):
            columns[key].append(value)
        for k, ending in enumerate(endings):
            columns[f"ending{k}"].append(ending)
    return columns


def _splits(path: str, name: str | None) -> dict[str, dict]:
    """The data set's splits as columns (lists), by the Hub's name."""
    if path == "rotten_tomatoes":
        return _text_classification({"train": (16, 0), "validation": (8, 20), "test": (8, 40)})
    if path == "yelp_review_full":
        return _text_classification({"train": (120, 0), "test": (16, 200)}, labels=5)
    if path == "imdb":
        return _text_classification({"train": (16, 0), "test": (8, 20), "unsupervised": (10, 60)})
    if path == "wnut_17":
        rows = _wnut()
        return {"train": rows, "validation": rows, "test": rows}
    if path == "squad":
        return {"train": _squad(20), "validation": _squad(6)}
    if path == "eli5_category":
        return {"train": _eli5(10)}
    if path == "opus_books" and name == "en-fr":
        pairs = [{"en": en, "fr": fr} for en, fr in OPUS_BOOKS_EN_FR]
        return {"train": {"id": [str(i) for i in range(len(pairs))], "translation": pairs}}
    if path == "billsum":
        return {"ca_test": _billsum(10), "train": _billsum(10)}
    if path == "swag":
        return {"train": _swag(), "validation": _swag()}
    raise ValueError(f"No offline stand-in for the data set {path!r} ({name}); add one to tests/docs_datasets.py.")


def _features(path: str):
    import datasets

    if path == "wnut_17":
        return datasets.Features(
            {
                "id": datasets.Value("string"),
                "tokens": datasets.Sequence(datasets.Value("string")),
                "ner_tags": datasets.Sequence(datasets.ClassLabel(names=WNUT_TAGS)),
            }
        )
    return None


def load_dataset(path: str, name: str | None = None, split: str | None = None, **_: object):
    """``datasets.load_dataset`` for the docs' data sets, offline; ``split`` may slice (``"train[:5000]"``)."""
    splits = _splits(path, name)
    try:
        from datasets import Dataset, DatasetDict

        def build(columns):
            return Dataset.from_dict(columns, features=_features(path))

        whole = DatasetDict
    except ImportError:  # the reference v4.37 environment cannot import this datasets version
        build, whole = Rows, dict
    if split is None:
        return whole({key: build(columns) for key, columns in splits.items()})
    match = re.fullmatch(r"(\w+)(?:\[:(\d+)\])?", split)
    columns = splits[match.group(1)]
    if match.group(2):
        columns = {key: values[: int(match.group(2))] for key, values in columns.items()}
    return build(columns)


class Rows(list):
    """A data set's rows where ``datasets`` is not importable: ``rows[i]`` is a dict, ``rows["text"]`` a column."""

    def __init__(self, columns: dict[str, list]):
        names = list(columns)
        super().__init__(dict(zip(names, values)) for values in zip(*columns.values()))

    def __getitem__(self, key):
        if isinstance(key, str):
            return [row[key] for row in self]
        return super().__getitem__(key)
