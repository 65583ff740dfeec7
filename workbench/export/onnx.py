"""Export a model to ONNX for a task, and check the graphs in ONNX Runtime against PyTorch.

    to_onnx(model or path, out, task)
      -> load the task's head (AutoModelFor...), eval mode
      -> wrap it: a module whose forward takes the graph's inputs as tensors, in order, and returns its outputs
      -> torch.onnx.export on example inputs: batch 2, sequence 7 (+ past 4), one row padded
      -> out/model.onnx (encoder_model.onnx + decoder_model.onnx [+ decoder_with_past_model.onnx]), config.json
      -> validate: ONNX Runtime on batch 3, sequence 8 (+ past 5); every output within atol of PyTorch
                   decoders: a greedy loop over the graph(s) gives the tokens of model.generate()

Tracing records the tensor operations of one forward pass; Python decisions are frozen at the values they had.
The example inputs are chosen so that every frozen decision holds for all inputs: a padded row (workbench's
layers skip the padding mask when a batch has none), the textbook attention path (``output_attentions``: the
fused path trims padded keys, a decision read from the mask's values). Validation runs other shapes, with
padding and a zero-length past, so that a frozen decision that does not hold shows up as a mismatch.

Two exporters: ``"torchscript"`` (torch.onnx's tracing exporter, the default) and ``"dynamo"``
(``torch.export`` + onnxscript, ``pip install transformers-workbench[export]``). Measured here (torch 2.13, 2
cores): on a tiny GPT-2 with past both give graphs equal to PyTorch, the dynamo path in 45 s against 3 s; the
encoders stop the dynamo path at ``layers.padding_mask``, whose shortcut reads the mask's values (a guard
torch.export refuses). So tracing is the default, and validation is what makes it safe.
"""

from __future__ import annotations

import inspect
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import layers
from ..cache import EncoderDecoderCache, KVCache
from ..models import auto
from . import tasks as task_specs
from .tasks import TOKENS, Task

EXPORT_SHAPE = {"batch": 2, "sequence": 7, "past": 4}  # validation runs one more of each
GREEDY_TOKENS = 8  # new tokens in the greedy check of decoders


class OnnxValidationError(ValueError):
    """ONNX Runtime's outputs differ from PyTorch's (or its greedy tokens from generate())."""


# ------------------------------------------------------------------------------------------------
# The modules that are traced: graph inputs in, graph outputs out
# ------------------------------------------------------------------------------------------------


class ConcatCache(KVCache):
    """The KV cache inside an exported decoder: the past comes in as graph inputs (``past_key_values.*``), and
    each layer returns past + new by concatenation, which the graph returns (``present.*``). KVCache's buffers
    grow by Python decisions that a trace would freeze; a concatenation has none. Starts empty without a past."""

    def __init__(self, num_layers: int, keys=None, values=None):
        super().__init__(num_layers)
        if keys is not None:
            self.keys, self.values = list(keys), list(values)  # each (batch, kv_heads, past, head_dim)
            self.length = keys[0].shape[2]

    def update(self, key: torch.Tensor, value: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        past_key, past_value = self.keys[layer_idx], self.values[layer_idx]
        if past_key is not None:
            key = torch.cat([past_key, key], dim=2)  # (batch, kv_heads, past + new, head_dim)
            value = torch.cat([past_value, value], dim=2)
        self.keys[layer_idx], self.values[layer_idx] = key, value
        return key, value

    def __getitem__(self, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.keys[layer_idx], self.values[layer_idx]


def _flat(pairs) -> list[torch.Tensor]:
    """[(key, value) per layer] -> [key 0, value 0, key 1, ...]: the order of the past/present names."""
    return [tensor for pair in pairs for tensor in pair]


class EncoderGraph(nn.Module):
    """An encoder with its task head: ``input_names`` tensors in, ``output_names`` tensors out."""

    def __init__(self, model: nn.Module, input_names: list[str], output_names: list[str]):
        super().__init__()
        self.model, self.input_names, self.output_names = model, input_names, output_names

    def forward(self, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = dict(zip(self.input_names, tensors))
        out = self.model(**inputs, output_attentions=True, return_dict=True)  # the textbook attention path
        return tuple(out[name] for name in self.output_names)


class DecoderGraph(nn.Module):
    """A causal LM: input_ids, attention_mask, position_ids (, past keys/values) -> logits (, present)."""

    def __init__(self, model: nn.Module, num_layers: int, with_past: bool):
        super().__init__()
        self.model, self.num_layers, self.with_past = model, num_layers, with_past

    def forward(self, input_ids, attention_mask, position_ids, *past: torch.Tensor) -> tuple[torch.Tensor, ...]:
        cache = ConcatCache(self.num_layers, past[0::2], past[1::2]) if self.with_past else None
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,  # (batch, past + sequence)
            position_ids=position_ids,
            past_key_values=cache,
            use_cache=self.with_past,
            output_attentions=True,
            return_dict=True,
        )
        return (out.logits, *_flat(cache)) if self.with_past else (out.logits,)


class Seq2SeqEncoderGraph(nn.Module):
    """The encoder of an encoder-decoder: input_ids, attention_mask -> last_hidden_state."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.encoder = model.get_encoder()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor]:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_attentions=True, return_dict=True)
        return (out.last_hidden_state,)


class Seq2SeqDecoderGraph(nn.Module):
    """The decoder and LM head of an encoder-decoder, as one of optimum's two graphs:

    - first step (``reads_past=False``): input_ids, encoder_attention_mask, encoder_hidden_states -> logits,
      and with ``returns_present`` the cache it made: present.{i}.decoder.key/value, present.{i}.encoder.key/value
    - later steps (``reads_past=True``): input_ids, encoder_attention_mask, past_key_values.{i}.decoder/encoder.*
      -> logits, present.{i}.decoder.key/value (the encoder's keys/values do not change: the caller keeps them)
    """

    def __init__(self, model: nn.Module, num_layers: int, reads_past: bool, returns_present: bool):
        super().__init__()
        self.model, self.num_layers = model, num_layers
        self.reads_past, self.returns_present = reads_past, returns_present

    def forward(self, input_ids, encoder_attention_mask, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        self_cache, cross_cache = ConcatCache(self.num_layers), KVCache(self.num_layers)
        cache = EncoderDecoderCache(self_cache, cross_cache) if self.returns_present else None
        if self.reads_past:  # rest: decoder key, decoder value, encoder key, encoder value per layer
            self_cache.keys, self_cache.values = list(rest[0::4]), list(rest[1::4])
            self_cache.length = rest[0].shape[2]
            for i in range(self.num_layers):
                cache.set_cross(rest[4 * i + 2], rest[4 * i + 3], i)
            # the cross-attention keys/values come from the cache, so the layers never read the encoder's
            # states; a tensor stands in for them (the decoder only checks that there are some)
            encoder_hidden_states = rest[2]
        else:
            (encoder_hidden_states,) = rest
        out = self.model(
            attention_mask=encoder_attention_mask,
            decoder_input_ids=input_ids,
            encoder_outputs=(encoder_hidden_states,),
            past_key_values=cache,
            use_cache=self.returns_present,
            output_attentions=True,
            return_dict=True,
        )
        if not self.returns_present:
            return (out.logits,)
        if self.reads_past:
            return (out.logits, *_flat(self_cache))
        return (out.logits, *[t for i in range(self.num_layers) for t in (*self_cache[i], *cache.cross(i))])


# ------------------------------------------------------------------------------------------------
# Graphs: what each file takes and returns, and example inputs of any size
# ------------------------------------------------------------------------------------------------


@dataclass
class Graph:
    """One ONNX file: the module traced into it, its inputs and outputs with their dynamic axes."""

    file_name: str
    module: nn.Module
    inputs: dict[str, dict[int, str]]
    outputs: dict[str, dict[int, str]]


def _past_axes(names: list[str], past_axis: str) -> dict[str, dict[int, str]]:
    return {name: {0: "batch_size", 2: past_axis} for name in names}


def _graphs(model: nn.Module, task: Task) -> list[Graph]:
    config = model.config
    if task.kind == "encoder":
        inputs = {name: TOKENS for name in task_specs.encoder_inputs(config)}
        return [Graph("model.onnx", EncoderGraph(model, list(inputs), list(task.outputs)), inputs, task.outputs)]

    num_layers = _num_decoder_layers(model)
    if task.kind == "decoder":
        inputs = {
            "input_ids": TOKENS,
            "attention_mask": {0: "batch_size", 1: "past_sequence_length + sequence_length"},
            "position_ids": TOKENS,
        }
        outputs = dict(task.outputs)
        if task.with_past:
            inputs |= _past_axes(task_specs.past_names("past_key_values", num_layers), "past_sequence_length")
            presents = task_specs.past_names("present", num_layers)
            outputs |= _past_axes(presents, "past_sequence_length + sequence_length")
        return [Graph("model.onnx", DecoderGraph(model, num_layers, task.with_past), inputs, outputs)]

    source = {0: "batch_size", 1: "encoder_sequence_length"}
    target = {0: "batch_size", 1: "decoder_sequence_length"}
    encoder = Graph(
        "encoder_model.onnx",
        Seq2SeqEncoderGraph(model),
        {"input_ids": source, "attention_mask": source},
        {"last_hidden_state": source},
    )
    first_inputs = {"input_ids": target, "encoder_attention_mask": source, "encoder_hidden_states": source}
    first_outputs = dict(task.outputs)
    both = ("decoder.", "encoder.")
    if task.with_past:
        presents = task_specs.past_names("present", num_layers, both)
        first_outputs |= {
            name: {0: "batch_size", 2: "decoder_sequence_length" if ".decoder." in name else "encoder_sequence_length"}
            for name in presents
        }
    graphs = [
        encoder,
        Graph(
            "decoder_model.onnx",
            Seq2SeqDecoderGraph(model, num_layers, reads_past=False, returns_present=task.with_past),
            first_inputs,
            first_outputs,
        ),
    ]
    if task.with_past:
        past = task_specs.past_names("past_key_values", num_layers, both)
        inputs = {"input_ids": {0: "batch_size", 1: "sequence_length"}, "encoder_attention_mask": source}
        inputs |= {
            name: {
                0: "batch_size",
                2: "past_decoder_sequence_length" if ".decoder." in name else "encoder_sequence_length",
            }
            for name in past
        }
        presents = task_specs.past_names("present", num_layers, ("decoder.",))
        outputs = {"logits": {0: "batch_size", 1: "sequence_length"}}
        outputs |= _past_axes(presents, "past_decoder_sequence_length + sequence_length")
        graphs.append(
            Graph(
                "decoder_with_past_model.onnx",
                Seq2SeqDecoderGraph(model, num_layers, reads_past=True, returns_present=True),
                inputs,
                outputs,
            )
        )
    return graphs


def _num_decoder_layers(model: nn.Module) -> int:
    """Layers with a KV cache, read off a one-token forward pass (the config's name for it differs per family)."""
    return len(_cache_shapes(model))


def _cache_shapes(model: nn.Module) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """(key shape, value shape) per cached layer, each (1, kv_heads, 1, head_dim), from a one-token pass: the
    shapes an empty past needs."""
    ids = torch.zeros(1, 1, dtype=torch.long)
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            out = model(input_ids=ids, attention_mask=torch.ones_like(ids), decoder_input_ids=ids, use_cache=True)
            cache = out.past_key_values.self_attention_cache
        else:
            cache = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True).past_key_values
    return [(tuple(k.shape), tuple(v.shape)) for k, v in cache]


def _sample_ids(config, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    # ids 3 and up: clear of the usual special ids (padding, start, end), which some families treat specially
    return torch.randint(3, config.vocab_size, shape, generator=generator)


def example_inputs(model: nn.Module, graph: Graph, batch: int, sequence: int, past: int, seed: int = 0) -> dict:
    """Inputs for ``graph`` with these sizes; row 1 is padded: at the end for encoders, at the start (left
    padding, as in batched generation) for decoders."""
    generator = torch.Generator().manual_seed(seed)
    config, names = model.config, list(graph.inputs)
    past_names = [name for name in names if name.startswith("past_key_values.")]
    past = past if past_names else 0
    inputs: dict[str, torch.Tensor] = {}
    if "input_ids" in names:
        inputs["input_ids"] = _sample_ids(config, (batch, sequence), generator)
    if "token_type_ids" in names:
        inputs["token_type_ids"] = (torch.arange(sequence) >= sequence // 2).long().expand(batch, -1).contiguous()
    if "encoder_attention_mask" in names or "encoder_hidden_states" in names or graph.file_name == "encoder_model.onnx":
        source = sequence + 1  # the encoder's input is longer than the decoder's, as in translation
        mask = torch.ones(batch, source, dtype=torch.long)
        mask[1:, -2:] = 0
        if graph.file_name == "encoder_model.onnx":
            inputs["input_ids"] = _sample_ids(config, (batch, source), generator)
            inputs["attention_mask"] = mask
        else:
            inputs["encoder_attention_mask"] = mask
        if "encoder_hidden_states" in names:
            inputs["encoder_hidden_states"] = torch.randn(batch, source, config.d_model, generator=generator)
    if "position_ids" in names:  # a decoder: the mask covers past and new tokens, row 1 left padded
        mask = torch.ones(batch, past + sequence, dtype=torch.long)
        mask[1:, :2] = 0
        inputs["attention_mask"] = mask
        inputs["position_ids"] = layers.positions_from_mask(mask, sequence)
    elif "attention_mask" in names and "attention_mask" not in inputs:  # an encoder: row 1 right padded
        mask = torch.ones(batch, sequence, dtype=torch.long)
        mask[1:, -2:] = 0
        inputs["attention_mask"] = mask
    shapes = _cache_shapes(model) if past_names else []  # per layer: (key shape, value shape)
    for name in past_names:  # past_key_values.{layer}[.decoder|.encoder].{key|value}
        parts = name.split(".")
        _, heads, _, head_dim = shapes[int(parts[1])][parts[-1] == "value"]
        length = inputs["encoder_attention_mask"].shape[1] if "encoder" in parts else past
        inputs[name] = torch.randn(batch, heads, length, head_dim, generator=generator)
    return {name: inputs[name] for name in names}


# ------------------------------------------------------------------------------------------------
# Export
# ------------------------------------------------------------------------------------------------


def _auto_class(task: Task) -> str:
    """The Auto class that loads the task's head: "AutoModelForMaskedLM" for fill-mask."""
    return next(name for name, head in auto.AUTO_MODEL_CLASSES.items() if head == task.head)


def load_for_task(model_or_path, task: Task) -> nn.Module:
    """The model to export: a loaded model (checked to carry the task's head) or a checkpoint's folder / Hub id."""
    if isinstance(model_or_path, (str, os.PathLike)):
        config = auto.AutoConfig.from_pretrained(model_or_path)
        task_specs.check_supported(config.model_type, task.name)
        return getattr(auto, _auto_class(task)).from_pretrained(model_or_path)
    model = model_or_path
    task_specs.check_supported(model.config.model_type, task.name)
    head_class = getattr(auto, _auto_class(task)).model_class(model.config)
    if not isinstance(model, head_class):
        raise ValueError(
            f"The task {task.name!r} exports a {head_class.__name__}, and this model is a {type(model).__name__}. "
            f"Load it with the task's head ({_auto_class(task)}.from_pretrained(path)), or pass the checkpoint's path."
        )
    return model


def refuse_length_dependent(model: nn.Module) -> None:
    """Refuse a model whose forward chooses by the sequence's length in Python: a trace keeps the choice made at
    the export length (a sliding window applied or not, a rotary scaling picked by the longest position)."""
    for module in model.modules():
        rope = getattr(module, "rope", None)
        kind = rope.get("rope_type") if isinstance(rope, dict) else None
        what = None
        if getattr(module, "sliding_window", None):
            what = f"a sliding attention window ({module.sliding_window} tokens)"
        elif kind in ("dynamic", "longrope"):
            what = f"rotary embeddings of rope_type {kind!r}, which change with the sequence length"
        if what:
            raise ValueError(
                f"This {model.config.model_type} config has {what}: its graph would keep the choice made for the "
                "export's length and compute other lengths wrongly, so ONNX export does not support it yet."
            )


def to_onnx(
    model,
    output_dir: str | os.PathLike,
    task: str = "feature-extraction",
    *,
    exporter: str = "torchscript",
    opset: int | None = None,
    validate: bool = True,
    atol: float | None = None,
    verbose: bool = True,
) -> "ValidationReport | list[Path]":
    """Export ``model`` (a loaded model, a folder or a Hub id) for ``task`` into ``output_dir``: the graph file(s)
    and config.json. With ``validate`` (default), check them in ONNX Runtime and return the report (raising
    OnnxValidationError on a mismatch); otherwise return the paths written.

    ``exporter``: "torchscript" (torch.onnx's tracing exporter) or "dynamo" (torch.export; needs onnxscript).
    ``opset``: the ONNX opset (default 17 for torchscript, the exporter's own for dynamo).
    ``atol``: the tolerance of the check (default: the reference's for the family, see tasks.ATOL)."""
    spec = task_specs.get_task(task)
    if exporter not in ("torchscript", "dynamo"):
        raise ValueError(f"exporter must be 'torchscript' or 'dynamo', got {exporter!r}.")
    source = model
    model = load_for_task(model, spec)
    refuse_length_dependent(model)
    parameter = next(model.parameters())
    if parameter.dtype != torch.float32 or parameter.device.type != "cpu":
        raise ValueError(
            f"ONNX export traces the model on the CPU in float32, and this one is {parameter.dtype} on "
            f"{parameter.device}: export model.float().cpu() (ONNX Runtime's tools can make a float16 graph of it)."
        )
    was_training = model.training
    model.eval()
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        paths = []
        for graph in _graphs(model, spec):
            path = out / graph.file_name
            _export_graph(model, graph, path, exporter, opset)
            paths.append(path)
        model.config.save_pretrained(out)
        if getattr(model, "generation_config", None) is not None and spec.kind != "encoder":
            model.generation_config.save_pretrained(out)
        if isinstance(source, (str, os.PathLike)):
            _copy_tokenizer(source, out)
        if not validate:
            return paths
        report = validate_onnx(model, out, task, atol=atol)
    finally:
        model.train(was_training)
    if verbose:
        print(report)
    return report


def _copy_tokenizer(source: str | os.PathLike, out: Path) -> None:
    """The checkpoint's tokenizer goes next to the graphs, as optimum does: the folder is then all a runtime needs.
    A checkpoint without tokenizer files exports its graphs alone."""
    from ..processing import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError):
        return
    tokenizer.save_pretrained(out)


def _export_graph(model: nn.Module, graph: Graph, path: Path, exporter: str, opset: int | None) -> None:
    shape = EXPORT_SHAPE
    inputs = example_inputs(model, graph, shape["batch"], shape["sequence"], shape["past"])
    module = graph.module.eval()  # the exporter restores the wrapper's mode afterwards, and with it the model's
    dynamic_axes = {**graph.inputs, **graph.outputs}
    common = dict(input_names=list(graph.inputs), output_names=list(graph.outputs), dynamic_axes=dynamic_axes)
    if exporter == "dynamo":
        try:
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise ImportError(
                "exporter='dynamo' needs onnxscript: pip install 'transformers-workbench[export]' "
                "(or pip install onnxscript), or use exporter='torchscript'."
            ) from e
        common["dynamic_shapes"] = _dynamic_shapes(graph)
        del common["dynamic_axes"]
        try:
            torch.onnx.export(module, tuple(inputs.values()), path, dynamo=True, opset_version=opset, **common)
            _name_axes(path, graph)
        except Exception as e:  # torch.export's errors run to pages; say what to do first
            raise RuntimeError(
                f"The dynamo exporter could not export {type(model).__name__} ({type(e).__name__}; the cause is at the "
                "end of the traceback above: encoders stop at layers.padding_mask, whose shortcut for batches without "
                "padding reads the mask's values). Use exporter='torchscript', the default."
            ) from e
        return
    with warnings.catch_warnings():
        # The tracer warns at every Python number taken from a tensor; validation checks what they warn about.
        # torch also says that this exporter is deprecated: chosen all the same, see the module docstring.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, tuple(inputs.values()), path, dynamo=False, opset_version=opset or 17, **common)


def _dynamic_shapes(graph: Graph) -> dict[str, object]:
    """torch.export's form of the dynamic axes, matched to the forward's parameters (named ones, then ``*tensors``
    as a tuple). Dim.DYNAMIC lets torch.export find the ranges itself (GPT-2's sequence is at most n_positions);
    the axes get their names afterwards (``_name_axes``)."""
    from torch.export import Dim

    shapes = [dict.fromkeys(axes, Dim.DYNAMIC) for axes in graph.inputs.values()]
    by_parameter = {}
    for parameter in inspect.signature(graph.module.forward).parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            by_parameter[parameter.name], shapes = tuple(shapes), []
        else:
            by_parameter[parameter.name], shapes = shapes[0], shapes[1:]
    return by_parameter


def _name_axes(path: Path, graph: Graph) -> None:
    """Write our names on the dynamic axes of the graph's inputs and outputs (torch.export calls them s0, s1, ...)."""
    import onnx

    proto = onnx.load(str(path))
    for value in [*proto.graph.input, *proto.graph.output]:
        axes = graph.inputs.get(value.name) or graph.outputs.get(value.name) or {}
        for axis, name in axes.items():
            value.type.tensor_type.shape.dim[axis].dim_param = name
    onnx.save(proto, str(path))


# ------------------------------------------------------------------------------------------------
# Validation
# ------------------------------------------------------------------------------------------------


@dataclass
class ValidationReport:
    """What ``validate_onnx`` checked: per output, the largest difference from PyTorch; decoders, greedy tokens."""

    model_type: str
    task: str
    atol: float
    rows: list[tuple[str, str, tuple[int, ...], float]] = field(default_factory=list)  # file, output, shape, diff
    sizes: str = ""
    greedy: str | None = None  # None: not a decoder; else a sentence saying whether the tokens matched
    greedy_ok: bool = True

    @property
    def ok(self) -> bool:
        return self.greedy_ok and all(diff <= self.atol for *_, diff in self.rows)

    def __str__(self) -> str:
        lines = [
            f"ONNX export of {self.model_type} for {self.task}: "
            f"{'all checks passed' if self.ok else 'MISMATCH'} (onnxruntime, CPU; atol {self.atol:g})",
            f"  inputs: {self.sizes}",
            f"  {'file':<30} {'output':<28} {'shape':<18} {'max |diff|':>10}",
        ]
        for file_name, name, shape, diff in self.rows:
            flag = "" if diff <= self.atol else "  <-- over atol"
            lines.append(f"  {file_name:<30} {name:<28} {str(shape):<18} {diff:>10.2e}{flag}")
        if self.greedy is not None:
            lines.append(f"  greedy decoding: {self.greedy}")
        return "\n".join(lines)


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _run(session, inputs: dict[str, torch.Tensor]) -> list[np.ndarray]:
    return session.run(None, {name: tensor.numpy() for name, tensor in inputs.items()})


def validate_onnx(model, output_dir: str | os.PathLike, task: str, *, atol: float | None = None) -> ValidationReport:
    """Run the exported graphs in ONNX Runtime on inputs one larger in batch, sequence and past than at export,
    compare every output with PyTorch's, and for decoders compare greedy decoding over the graphs with
    ``model.generate()``. Returns the report; raises OnnxValidationError (its text) on any mismatch."""
    spec = task_specs.get_task(task)
    model = load_for_task(model, spec)
    was_training = model.training
    try:
        report = _validate(model.eval(), Path(output_dir), spec, atol)
    finally:
        model.train(was_training)
    if not report.ok:
        raise OnnxValidationError(str(report))
    return report


def _validate(model: nn.Module, folder: Path, spec: Task, atol: float | None) -> ValidationReport:
    config, task = model.config, spec.name
    atol = task_specs.atol_for(config.model_type) if atol is None else atol
    batch, sequence, past = (EXPORT_SHAPE[k] + 1 for k in ("batch", "sequence", "past"))
    report = ValidationReport(config.model_type, spec.name, atol)
    with_past = f", past {past}" if spec.with_past else ""
    exported = f"batch {batch - 1}, sequence {sequence - 1}" + (f", past {past - 1}" if spec.with_past else "")
    report.sizes = f"batch {batch}, sequence {sequence}{with_past} (at export: {exported}); one row padded"
    for graph in _graphs(model, spec):
        path = folder / graph.file_name
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} does not exist; export it first: to_onnx(model, {str(folder)!r}, {task!r})."
            )
        inputs = example_inputs(model, graph, batch, sequence, past, seed=1)
        with torch.no_grad():
            expected = graph.module.eval()(*inputs.values())
        got = _run(_session(path), inputs)
        for name, ours, theirs in zip(graph.outputs, got, expected):
            if ours.shape != tuple(theirs.shape):
                raise OnnxValidationError(
                    f"{graph.file_name}: {name} has shape {ours.shape} in ONNX Runtime and {tuple(theirs.shape)} in "
                    "PyTorch: an axis was frozen at its export size."
                )
            diff = float(np.abs(ours - theirs.numpy()).max()) if ours.size else 0.0
            report.rows.append((graph.file_name, name, ours.shape, diff))
    if spec.kind == "decoder":
        report.greedy, report.greedy_ok = _check_greedy(model, folder, spec)
    elif spec.kind == "encoder-decoder":
        report.greedy, report.greedy_ok = _check_greedy_seq2seq(model, folder, spec)
    return report


def _greedy_config(model: nn.Module):
    from ..generation import GenerationConfig

    own = model.generation_config
    return GenerationConfig(
        max_new_tokens=GREEDY_TOKENS,
        do_sample=False,
        num_beams=1,
        eos_token_id=own.eos_token_id,
        pad_token_id=own.pad_token_id if own.pad_token_id is not None else own.eos_token_id,
        decoder_start_token_id=own.decoder_start_token_id,
    )


def _compare_tokens(ours: torch.Tensor, theirs: torch.Tensor, eos) -> tuple[str, bool]:
    """Greedy tokens per row, up to each row's first end-of-sequence token (generate pads after it)."""
    ends = set(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
    for row, (a, b) in enumerate(zip(ours.tolist(), theirs.tolist())):
        stop = next((i + 1 for i, token in enumerate(a) if token in ends), len(a))
        if a[:stop] != b[:stop]:
            return f"row {row}: ONNX {a[:stop]} but generate() {b[:stop]}", False
    return f"{ours.shape[1]} new tokens x {ours.shape[0]} rows (one padded), same as generate()", True


def _greedy_prompt(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(2)
    ids = _sample_ids(model.config, (2, 5), generator)
    mask = torch.ones_like(ids)
    mask[1, :2] = 0
    return ids, mask


def _check_greedy(model: nn.Module, folder: Path, spec: Task) -> tuple[str, bool]:
    """Greedy decoding with the ONNX graph: the whole sequence each step, or (with past) one token and the cache."""
    session = _session(folder / "model.onnx")
    prompt, mask = _greedy_prompt(model)
    config = _greedy_config(model)
    expected = model.generate(prompt, attention_mask=mask, generation_config=config)[:, prompt.shape[1] :]
    empty = [torch.zeros(prompt.shape[0], shape[1], 0, shape[3]) for shape in _flat(_cache_shapes(model))]
    past_names = task_specs.past_names("past_key_values", len(empty) // 2)
    ids, new_ids, past, generated = prompt, prompt, dict(zip(past_names, empty)), []
    for _ in range(GREEDY_TOKENS):
        step = new_ids if spec.with_past else ids
        inputs = {
            "input_ids": step,
            "attention_mask": mask,
            "position_ids": layers.positions_from_mask(mask, step.shape[1]),
        }
        logits, *present = _run(session, {**inputs, **(past if spec.with_past else {})})
        next_token = torch.from_numpy(logits[:, -1].argmax(-1))[:, None]  # (batch, 1)
        generated.append(next_token)
        past = dict(zip(past_names, (torch.from_numpy(t) for t in present)))
        ids, new_ids = torch.cat([ids, next_token], dim=1), next_token
        mask = torch.cat([mask, torch.ones_like(next_token)], dim=1)
    return _compare_tokens(torch.cat(generated, dim=1), expected, config.eos_token_id)


def _check_greedy_seq2seq(model: nn.Module, folder: Path, spec: Task) -> tuple[str, bool]:
    """Greedy decoding with the encoder graph once, then the decoder graph (with past: the first step with
    decoder_model.onnx, the others with decoder_with_past_model.onnx)."""
    prompt, _ = _greedy_prompt(model)
    mask = torch.ones_like(prompt)
    mask[1, -2:] = 0  # encoders read right-padded batches
    config = _greedy_config(model)
    expected = model.generate(prompt, attention_mask=mask, generation_config=config)[:, 1:]
    (encoder_states,) = _run(_session(folder / "encoder_model.onnx"), {"input_ids": prompt, "attention_mask": mask})
    first = _session(folder / "decoder_model.onnx")
    with_past = _session(folder / "decoder_with_past_model.onnx") if spec.with_past else None
    num_layers = _num_decoder_layers(model)
    ids = torch.full((prompt.shape[0], 1), config.decoder_start_token_id, dtype=torch.long)
    generated, past = [], {}
    for step in range(GREEDY_TOKENS):
        if step == 0 or not spec.with_past:
            feeds = {
                "input_ids": ids.numpy(),
                "encoder_attention_mask": mask.numpy(),
                "encoder_hidden_states": encoder_states,
            }
            logits, *present = first.run(None, feeds)
            names = task_specs.past_names("past_key_values", num_layers, ("decoder.", "encoder."))
        else:
            feeds = {"input_ids": ids[:, -1:].numpy(), "encoder_attention_mask": mask.numpy(), **past}
            logits, *present = with_past.run(None, feeds)
            names = task_specs.past_names("past_key_values", num_layers, ("decoder.",))
        past |= dict(zip(names, present))
        next_token = torch.from_numpy(logits[:, -1].argmax(-1))[:, None]  # (batch, 1)
        generated.append(next_token)
        ids = torch.cat([ids, next_token], dim=1)
    return _compare_tokens(torch.cat(generated, dim=1), expected, config.eos_token_id)
