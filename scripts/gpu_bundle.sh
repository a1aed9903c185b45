#!/usr/bin/env bash
# On the CPU machine: build everything the lent GPU machine needs into .gpu/ (ignored by git).
# The lent machine (an NVIDIA H200, torch 2.11 + CUDA 13, Python 3.12) has no package index, and
# one run carries at most 64 MiB, so the bundle travels in chunks. Steps, all in
# scripts/gpu_session.sh's header.
#
# Usage (from the project's root):  bash scripts/gpu_bundle.sh [CHUNK_MB]   (default 60)
# Result:
#   .gpu/c00 .. .gpu/cNN   ../shared/tools/gpu-bundle.sh's chunks: vLLM 0.24.0, its deps, the
#                          ipywidgets/nbval/ipykernel stack, loguru, both offline models' wheels
#   .gpu/gpu-install.sh    that tool's installer (run by gpu_session.sh install)
#   .gpu/extra/            what the API tests need (schemathesis and the deps the GPU image lacks;
#                          jmespath for vLLM's OpenAI server, which the shared bundle lacks;
#                          pytest 9 only if the image's is older than schemathesis's 8.4), and
#                          project.tar: this checkout's files, for a run whose working tree is
#                          not this one (a helper's worktree: the tool sends the session's checkout)
# 60 MiB chunks: the last chunk, .gpu/extra and the working tree (0.6 MiB) fit in one 64 MiB run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$(cd "${GPU_TOOLS:-../shared/tools}" && pwd)
chunk=${1:-60}
# gpu-bundle.sh appends to .git/info/exclude, which a git worktree lacks (.git is a file
# there): build in a scratch folder, then move the result here. /.gpu/ is in .gitignore.
scratch=$(mktemp -d)
mkdir -p "$scratch/.git/info" && touch "$scratch/.git/info/exclude"
(cd "$scratch" && bash "$tools/gpu-bundle.sh" "$chunk") 2>&1 | grep -v "is ignored: it is neither"
rm -rf .gpu && mv "$scratch/.gpu" .gpu && rm -rf "$scratch"
dl() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform any -d "$1" "${@:2}" 2>&1 | grep -v "is ignored" || true; }
# schemathesis 4.32.5 and the deps the image lacks (its Requires-Dist, checked one by one
# against KINDS.md's package list); hypothesis pinned to what the CPU venv runs.
dl .gpu/extra schemathesis==4.32.5 hypothesis==6.170.17 harfile==0.6.0 hypothesis-graphql==0.13.5 \
  graphql-core==3.3.2 jsonschema-rs==0.60.3 pyrate-limiter==4.5.1
# jmespath: vLLM's OpenAI server (classroom mode) imports it through
# model-hosting-container-standards; the shared bundle lacks it, and without it every classroom
# test failed on the H200 with "No module named 'jmespath'".
dl .gpu/extra jmespath==1.1.0
# mistune: a right verdict renders its discussion (markdown) with it; the image has no nbconvert.
dl .gpu/extra mistune==3.4.0
dl .gpu/extra/pytest pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1
# This checkout's tracked and new (not ignored) files, as they are now, uncommitted edits too.
git ls-files -z --cached --others --exclude-standard | grep -zv "^\.venv$" | tar --null -T - -cf .gpu/extra/project.tar
ls -la .gpu .gpu/extra
du -sh .gpu/extra
