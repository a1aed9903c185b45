"""The top-level `vlesson` command: usage, unknown commands, the model commands."""

from __future__ import annotations

import pytest

from tests.unit.cli.commands import vlesson
from vlesson import envvars, models
from vlesson.cli import main
from vlesson.cli import main as cli_main


def test_usage_and_unknown_command(capsys):
    assert main([]) == 2
    assert "generate" in capsys.readouterr().out
    assert main(["--help"]) == 0
    assert main(["generat"]) == 2
    assert "unknown command 'generat'" in capsys.readouterr().err


def test_prepare_model_defaults_to_the_offline_model(monkeypatch, capsys):
    prepared = []
    monkeypatch.setattr(
        models, "prepare_model", lambda name: prepared.append(name) or name
    )
    assert main(["prepare-model"]) == 0
    assert prepared == [models.DEFAULT_MODEL]
    assert main(["prepare-model", "no-such-model"]) == 2
    assert "unknown offline model 'no-such-model'" in capsys.readouterr().err


def test_models_lists_the_registry(capsys):
    assert main(["models"]) == 0
    assert models.DEFAULT_MODEL in capsys.readouterr().out


SECRET = "s3cret-key-of-the-class"


@pytest.mark.parametrize(
    "command",
    [
        ["classroom-server", "--dry-run"],
        ["generate", "--server", "http://127.0.0.1:9/v1"],
        ["batch", "--prompts-file", "p.txt", "--out", "out"],
        ["sweep"],
        ["smart", "--topic", "tea"],
        ["serve"],
    ],
)
def test_a_key_on_any_command_line_is_refused_before_anything_starts(command, capsys):
    """The learner's commands and the servers alike: a command line is in the process
    list for every user of the machine; the key goes in the environment."""
    for key in (["--api-key", SECRET], [f"--api-key={SECRET}"]):
        assert cli_main([*command, *key]) == 2
        err = capsys.readouterr().err
        assert f"export {envvars.SERVER_API_KEY}=KEY" in err and "process list" in err
        assert SECRET not in err


def test_warnings_in_the_cli_are_one_line_without_source(tmp_path):
    code, err, _ = vlesson("generate", "--max-tokens", "5000", "--prompt", "")
    assert code == 2
    assert "very high" in err and "warnings.warn" not in err
    assert all(not line.startswith(" ") for line in err.splitlines()), err
