"""Headless widget tests: drive every control through the widget objects and check what they render."""

from __future__ import annotations

import base64
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

import workbench
from workbench.hub import DEFAULT_MODEL
from workbench.widgets.attention import AttentionVisualizer, bertviz_html, head_statistics, render_head_view
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
        "assert {'AttentionVisualizer','ModelPicker','TokenizerExplorer','GenerationExplorer'} <= set(w.__all__)"
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
