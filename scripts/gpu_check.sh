#!/usr/bin/env bash
# make gpu-check: the whole course on an NVIDIA GPU. Runs the unit and integration tests
# and every notebook on vLLM (CUDA), then prints the GPU figures (bench/gpu_figures.py):
# tok/s at batch 1/8/64/256 and TTFT against HF transformers on the same GPU, exercise
# 2.6 (memory fraction -> KV cache, concurrency, NVML memory), exercise 2.12 (fp8 vs bf16).
# PYTHON picks the interpreter (default: the project's .venv).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu-check: no CUDA GPU is visible to torch')"
"$PY" -m vlesson prepare-model
# Two runs: on a GPU each engine reserves a share of memory, and the notebooks' kernels
# should not share it with the integration tests' engine.
"$PY" -m pytest -q -p no:cacheprovider tests/unit tests/integration
# One pytest per notebook: each result and time is printed, and a slow or failing
# notebook does not hide the others.
failed=()
for notebook in notebooks/*.ipynb; do
  echo "== $notebook"
  "$PY" -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
      --nbval-cell-timeout=900 "$notebook" || failed+=("$notebook")
done
"$PY" bench/gpu_figures.py
if ((${#failed[@]})); then
  echo "gpu-check: these notebooks failed: ${failed[*]}" >&2
  exit 1
fi
