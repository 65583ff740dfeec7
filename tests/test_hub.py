"""Resolving checkpoints: local folders, the Hugging Face cache layout, offline mode, packaged models."""

import os
from pathlib import Path

import pytest

import workbench
from workbench import hub

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hf" / "hub"


def test_packaged_minilm_seeds_the_standard_cache_layout(fresh_cache):
    config = hub.resolve_file(MINILM, "config.json")
    repo = fresh_cache / "models--sentence-transformers--all-MiniLM-L6-v2"
    commit = (repo / "refs" / "main").read_text()
    assert Path(config) == repo / "snapshots" / commit / "config.json"
    assert (repo / "snapshots" / commit / "model.safetensors").is_file()
    # seeding again is a no-op that resolves to the same snapshot
    assert hub.resolve_file(MINILM, "model.safetensors") == str(repo / "snapshots" / commit / "model.safetensors")


def test_huggingface_hub_reads_our_cache_and_we_read_its(fresh_cache):
    from huggingface_hub import hf_hub_download

    # huggingface_hub reads its cache location once, at import: name the folder explicitly
    ours = hub.resolve_file(MINILM, "tokenizer.json")
    theirs = hf_hub_download(MINILM, "tokenizer.json", local_files_only=True, cache_dir=fresh_cache)
    assert Path(ours).resolve() == Path(theirs).resolve()


def test_reference_loads_minilm_from_our_seeded_cache(fresh_cache):
    transformers = pytest.importorskip("transformers")
    hub.resolve_file(MINILM, "config.json")
    model = transformers.AutoModel.from_pretrained(MINILM, cache_dir=fresh_cache)
    assert type(model).__name__ == "BertModel"


def test_a_cache_laid_out_by_hand_like_huggingface_hub(fresh_cache, tmp_path):
    repo = fresh_cache / "models--someone--tiny"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text('{"model_type": "bert"}')
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    assert hub.resolve_file("someone/tiny", "config.json") == str(snapshot / "config.json")
    # a commit hash works as a revision too
    assert hub.resolve_file("someone/tiny", "config.json", revision="a" * 40) == str(snapshot / "config.json")
    assert hub.resolve_file("someone/tiny", "tokenizer.json", required=False) is None


def test_cache_dir_argument(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = hub.resolve_file(MINILM, "config.json", cache_dir=tmp_path / "elsewhere")
    assert str(tmp_path / "elsewhere") in path


def test_offline_and_not_cached_says_what_to_do(fresh_cache):
    with pytest.raises(hub.CheckpointNotFoundError) as e:
        workbench.AutoConfig.from_pretrained("google-bert/bert-base-uncased")
    message = str(e.value)
    assert "not in the local Hugging Face cache" in message and "HF_HUB_OFFLINE=1" in message
    assert "local folder" in message


def test_local_files_only_makes_no_network_attempt(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("network attempted")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    with pytest.raises(hub.CheckpointNotFoundError, match="local_files_only=True"):
        hub.resolve_file("google-bert/bert-base-uncased", "config.json", local_files_only=True)


def test_missing_path_is_not_the_confusing_repo_id_message(tmp_path):
    with pytest.raises(hub.CheckpointNotFoundError) as e:
        workbench.AutoModel.from_pretrained(str(tmp_path / "no" / "such" / "folder"))
    assert "neither an existing local folder nor a Hub id" in str(e.value)
    assert "Repo id must be" not in str(e.value)


def test_folder_without_config(tmp_path):
    (tmp_path / "weights.txt").write_text("x")
    with pytest.raises(hub.CheckpointNotFoundError, match=r"has no config.json \(it holds: weights.txt\)"):
        workbench.AutoConfig.from_pretrained(tmp_path)


def test_empty_name():
    with pytest.raises(hub.CheckpointNotFoundError, match="empty"):
        hub.resolve_file("", "config.json")


def test_atomic_write_leaves_old_file_when_interrupted(tmp_path, monkeypatch):
    target = tmp_path / "f.json"
    hub.atomic_write_text(target, "old")

    def crash(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        hub.atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_packaged_checkpoint_never_asks_the_network_for_files_it_lacks(tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    import huggingface_hub

    def no_network(*args, **kwargs):
        raise AssertionError("network attempted")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_network)
    assert hub.resolve_file(MINILM, "chat_template.jinja", required=False) is None
    with pytest.raises(hub.CheckpointNotFoundError, match="has no file generation_config.json"):
        hub.resolve_file(MINILM, "generation_config.json")
