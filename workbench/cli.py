"""The ``workbench`` command: ``workbench --help`` lists the subcommands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _info(args: argparse.Namespace) -> int:
    import platform

    import torch

    from . import __version__, hub
    from .models.auto import supported_model_types

    print(f"workbench {__version__}  (python {platform.python_version()}, torch {torch.__version__})")
    print(f"Hugging Face cache : {hub.hub_cache_dir()}")
    print(f"offline            : {hub.is_offline()} (HF_HUB_OFFLINE)")
    print(f"data directory     : {_data_folder()}")
    print(f"default model      : {hub.DEFAULT_MODEL}")
    print(f"model types        : {', '.join(supported_model_types())}")
    return 0


def _data_folder() -> str:
    from . import data

    try:
        return str(data.data_dir())
    except FileNotFoundError as e:
        return f"(missing) {e}"


def _models(args: argparse.Namespace) -> int:
    from .models.auto import MODEL_TYPES, TASKS

    width = max(len(t) for t in MODEL_TYPES)
    print(f"{'model_type':<{width}}  tasks")
    for model_type, family in sorted(MODEL_TYPES.items()):
        print(f"{model_type:<{width}}  {', '.join(t for t in TASKS if t in family.tasks)}")
    _packaged_checkpoints()
    return 0


def _packaged_checkpoints() -> None:
    """The checkpoints served offline from Python packages, and whether each is ready here."""
    from . import hub

    print("\nPackaged checkpoints (load offline by id; copied or converted into the Hugging Face cache on first use):")
    for repo_id, entry in hub.PACKAGED_CHECKPOINTS.items():
        print(f"  {repo_id}  (from {entry.package}; {hub.packaged_status(repo_id)})\n      {entry.about}")


def _convert(args: argparse.Namespace) -> int:
    """Convert a checkpoint in another format into a Hub-format folder."""
    from .convert import convert

    try:
        out = convert(args.format, args.source, args.out)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.format}: wrote {', '.join(sorted(p.name for p in out.iterdir()))} to {out}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    """Put a checkpoint in the local cache: seed a packaged one, or download one while online."""
    from . import hub

    for name in args.names:
        path = hub.resolve_file(name, "config.json", revision=args.revision)
        files = hub.list_files(name, revision=args.revision)
        for file_name in files:
            if file_name.endswith((".json", ".txt", ".model", ".safetensors")) or file_name == "merges.txt":
                hub.resolve_file(name, file_name, revision=args.revision)
        print(f"{name}: cached in {Path(path).parent}")
    return 0


def _lab(args: argparse.Namespace) -> int:
    """Start JupyterLab on the tutorials, offline, with the default model ready in the cache."""
    from . import hub

    folder = Path(args.folder).resolve()
    if not folder.is_dir():
        print(
            f"error: {folder} does not exist; run this from a clone of the repository or pass a folder.",
            file=sys.stderr,
        )
        return 2
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    hub.resolve_file(hub.DEFAULT_MODEL, "config.json")  # seeds the cache from the packaged checkpoint
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.root_dir={folder}",
        f"--port={args.port}",
        f"--ServerApp.ip={args.ip}",
    ]
    if args.no_browser:
        command.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and classroom images often run as root
    print("Starting JupyterLab:", " ".join(command), flush=True)
    os.execv(sys.executable, command)
    return 0  # not reached


def _data(args: argparse.Namespace) -> int:
    """List the offline data sets: name, splits, size and licence."""
    from . import data

    rows = data.summary()
    print(f"data folder: {data.data_dir()}  (override with WORKBENCH_DATA_DIR)")
    width = max(len(row["name"]) for row in rows)
    print(f"{'name':<{width}}  {'splits':<18} {'MB':>5}  licence")
    for row in rows:
        print(f"{row['name']:<{width}}  {row['splits']:<18} {row['megabytes']:>5}  {row['licence']}")
        print(f"{'':<{width}}  {row['description']}")
    print(
        "Load one with: from workbench import data; data.load('rotten_tomatoes', split='train')."
        " Sources and licences: data/MANIFEST.md."
    )
    return 0


def _export_onnx(args: argparse.Namespace) -> int:
    """Export a checkpoint to ONNX for a task and check the graphs in ONNX Runtime."""
    from .export import to_onnx

    result = to_onnx(
        args.model,
        args.out,
        task=args.task,
        exporter=args.exporter,
        opset=args.opset,
        validate=not args.no_validate,
        atol=args.atol,
    )
    if args.no_validate:
        print(f"wrote {', '.join(p.name for p in result)} to {args.out} (not validated)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demos import run_from_args

    return run_from_args(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="workbench",
        description="Transformers Workbench: Hugging Face Transformers models in plain PyTorch, for notebooks "
        "and demos.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="versions, cache location, offline state, supported model types")
    p.set_defaults(func=_info)

    p = sub.add_parser("models", help="list the supported model types, their task heads and the packaged checkpoints")
    p.set_defaults(func=_models)

    p = sub.add_parser("convert", help="convert a checkpoint in another format into a Hub-format folder")
    from .convert import CONVERTERS

    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, converter in CONVERTERS.items():
        f = formats.add_parser(name, help=f"read {converter.reads}")
        f.add_argument("source", help=converter.reads)
        f.add_argument("out", help="a new folder for config.json, model.safetensors, ...")
        f.set_defaults(func=_convert)

    p = sub.add_parser("fetch", help="put checkpoints in the local cache (packaged ones offline, others by download)")
    p.add_argument("names", nargs="+", help="Hub ids such as sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--revision", default=None)
    p.set_defaults(func=_fetch)

    p = sub.add_parser("data", help="list the offline data sets (sizes, licences)")
    p.set_defaults(func=_data)

    p = sub.add_parser("lab", help="start JupyterLab on the tutorials, offline")
    p.add_argument("folder", nargs="?", default="tutorials", help="folder to open (default: tutorials)")
    p.add_argument("--port", type=int, default=8888)
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(func=_lab)

    p = sub.add_parser("export", help="export a model to ONNX for a task, checked in ONNX Runtime")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    from .export.tasks import TASKS

    f = formats.add_parser("onnx", help="write model.onnx (or encoder_model.onnx + decoder_model.onnx, ...)")
    f.add_argument("model", help="a checkpoint's folder or Hub id")
    f.add_argument("out", help="the folder for the .onnx file(s) and config.json")
    f.add_argument("--task", default="feature-extraction", choices=list(TASKS), metavar="TASK", help=", ".join(TASKS))
    f.add_argument("--exporter", default="torchscript", choices=["torchscript", "dynamo"])
    f.add_argument("--opset", type=int, default=None, help="ONNX opset (default: 17 for torchscript)")
    f.add_argument("--atol", type=float, default=None, help="tolerance of the check (default: the family's)")
    f.add_argument("--no-validate", action="store_true", help="skip the ONNX Runtime check")
    f.set_defaults(func=_export_onnx)

    p = sub.add_parser("demo", help="start the Gradio demos of every pipeline (127.0.0.1, offline)")
    from .demos import add_arguments

    add_arguments(p)
    p.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
