"""The top-level `vlesson` command: usage, unknown commands, the model commands."""

from __future__ import annotations

from vlesson import models
from vlesson.cli import main


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
