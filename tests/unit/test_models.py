"""The offline model registry: atomic, idempotent conversion; clear missing-model errors."""

from __future__ import annotations

import pytest

from vlesson import models


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("VLESSON_HOME", str(tmp_path))
    return tmp_path


def _fake_convert(gguf, out):
    out.mkdir(parents=True)
    (out / "config.json").write_text("{}")


def test_conversion_is_atomic_and_idempotent(home, monkeypatch):
    calls = []
    monkeypatch.setattr(models, "_find_gguf", lambda spec: home / "x.gguf")

    def interrupted(gguf, out):
        _fake_convert(gguf, out)
        raise KeyboardInterrupt  # killed halfway through writing

    monkeypatch.setattr(models, "_convert", interrupted)
    with pytest.raises(KeyboardInterrupt):
        models.prepare_model()
    target = home / "models" / models.DEFAULT_MODEL
    assert not target.exists()  # nothing half-written that could later load
    assert not list((home / "models").glob(".*partial*"))
    with pytest.raises(models.ModelNotAvailableError, match="not prepared yet"):
        models.model_path(prepare=False)

    monkeypatch.setattr(models, "_convert", lambda g, o: calls.append(o) or _fake_convert(g, o))
    assert models.prepare_model() == target
    assert models.prepare_model() == target  # second run: no work
    assert len(calls) == 1
    assert models.resolve(None) == str(target)
    assert models.describe(str(target)) == models.DEFAULT_MODEL


def test_a_folder_without_marker_is_rebuilt(home, monkeypatch):
    stale = home / "models" / models.DEFAULT_MODEL
    stale.mkdir(parents=True)
    (stale / "config.json").write_text("half")
    monkeypatch.setattr(models, "_find_gguf", lambda spec: home / "x.gguf")
    monkeypatch.setattr(models, "_convert", _fake_convert)
    models.prepare_model()
    assert (stale / "config.json").read_text() == "{}"


def test_unknown_names_pass_through_and_missing_folders_fail():
    assert models.resolve("facebook/opt-125m") == "facebook/opt-125m"
    with pytest.raises(models.ModelNotAvailableError, match="does not exist - check the path"):
        models.check_available("./no/such/model")


def test_hub_model_without_network_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # empty cache
    import importlib

    import huggingface_hub.constants

    importlib.reload(huggingface_hub.constants)
    try:
        with pytest.raises(models.ModelNotAvailableError) as info:
            models.check_available("facebook/opt-125m")
    finally:
        monkeypatch.undo()
        importlib.reload(huggingface_hub.constants)
    message = str(info.value)
    assert "facebook/opt-125m" in message and "hub cannot be reached" in message
    assert "--model smollm2-135m-instruct" in message
