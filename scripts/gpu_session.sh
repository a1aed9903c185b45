#!/usr/bin/env bash
# The course on a lent GPU machine (NVIDIA H200: torch 2.11 + CUDA 13, Python 3.12, no package
# index; each run carries at most 64 MiB; idle 30 s after a run and the machine goes back, and
# everything on it with it). The whole sequence, measured on an H200 (see README, On a GPU):
#
#  On the CPU machine, once:   bash scripts/gpu_bundle.sh      # -> .gpu/c00..c11, .gpu/extra
#  Then one run after another, each started as soon as the last returns (on the H200: the first
#  34 s with the machine's start, then about 5 s of device time each):
#   1. for each chunk but the last, a run carrying .gpu/cNN:
#        bash scripts/gpu_session.sh stage
#   2. a run carrying the last chunk, .gpu/gpu-install.sh and .gpu/extra:
#        bash scripts/gpu_session.sh install        # vLLM 0.24 + deps, vlesson on PATH, both
#                                                   # models: 275 s on the H200 (gemma 152 s)
#      (from a checkout that is not the one the tool sends, e.g. a helper's worktree, start it with
#       mkdir -p /tmp/project && tar xf .gpu/extra/project.tar -C /tmp/project && bash
#       /tmp/project/scripts/gpu_session.sh install   - and use that path in the runs below)
#   3. the long steps, back to back, each under the 600 s a run may take:
#        bash scripts/gpu_session.sh start                 # bench/gpu_engine_start.py
#        bash scripts/gpu_session.sh lanes "03 00 02 05" "01 04 04b 06 07"   # one lane per GPU
#        bash scripts/gpu_session.sh wait 540              # lanes in the background: again
#                                                   # until all are done; logs come back
#        bash scripts/gpu_session.sh notebooks 03          # one pytest (nbval) per notebook
#        bash scripts/gpu_session.sh api                   # tests/integration/test_api_server.py
#        bash scripts/gpu_session.sh classroom             # test_remote.py + test_classroom.py
#        bash scripts/gpu_session.sh notebooks 01 04 04b ...   # one after another
#        bash scripts/gpu_session.sh figures               # bench/gpu_figures.py, about 210 s
#        bash scripts/gpu_session.sh drawings              # bench/machinery_figures.py: PNGs
#        bash scripts/gpu_session.sh cache-out             # last: the compile caches come back
#                                                   # in parts; put them in .gpu/ and stage each
#                                                   # like a chunk: the install unpacks them
#  Logs and a summary (one line per step: name, exit status, seconds) go to $OUT (the device
#  tool's folder that comes back) or /tmp/gpu-logs. LIMIT caps each pytest (default 570 s), so a
#  stuck cell still leaves its log.
set -uo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-/tmp/gpu-logs}
mkdir -p "$out"
envfile=/tmp/gpu-env.sh

stage() {  # the chunks this run carries, into /tmp/stage (kept while the machine stays warm)
  mkdir -p /tmp/stage && { cp .gpu/c[0-9]* /tmp/stage/ 2>/dev/null || true; }
  # parts of a compile cache (cache-out), named apart from the chunks gpu-install.sh cats (c*)
  cp .gpu/torch-cache.tgz.* /tmp/stage/ 2>/dev/null || true
  ls /tmp/stage | tr '\n' ' ' && echo
}

install() {
  set -e
  stage
  bash .gpu/gpu-install.sh   # all chunks -> /tmp/site (vLLM 0.24.0 and its deps) and models
  # A compile cache an earlier lease sent back (cache-out): engines start warm, not ~85 s each.
  if ls /tmp/stage/torch-cache.tgz.* >/dev/null 2>&1; then
    cat /tmp/stage/torch-cache.tgz.* | tar xzf - -C / && echo "compile cache restored"
  fi
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .gpu/extra/*.whl
  # schemathesis needs pytest >= 8.4; the image's plugins stay with the image's pytest if it is.
  if ! python3 -c "import pytest, sys; sys.exit(tuple(map(int, pytest.__version__.split('.')[:2])) < (8, 4))"; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .gpu/extra/pytest/*.whl
  fi
  mkdir -p /tmp/bin
  # The python by its full path, as an installed entry point has it: 2.9's check counts
  # each start of `python3` found on PATH as one more model load.
  printf '#!/bin/sh\nexec %s -m vlesson "$@"\n' "$(command -v python3)" > /tmp/bin/vlesson
  chmod +x /tmp/bin/vlesson
  cat > "$envfile" <<EOV
export PYTHONPATH=$project:/tmp/site PATH=/tmp/bin:\$PATH
# FlashInfer is not in the bundle; without this the engine fails to start.
export VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
EOV
  # shellcheck disable=SC1090
  source "$envfile"
  cd "$project"
  timed prepare-model vlesson prepare-model
  # GEMMA=0 skips the second model (100 s): only notebooks 03 and 06 need it.
  [ "${GEMMA:-1}" = 1 ] && timed prepare-gemma vlesson prepare-model gemma-3-270m
  python3 -c "import torch, vllm, vlesson, schemathesis, nbval, pytest; print('torch', torch.__version__, 'vllm', vllm.__version__, 'schemathesis', schemathesis.__version__, 'pytest', pytest.__version__, torch.cuda.get_device_name(0))"
  set +e
}

timed() {  # timed NAME COMMAND...: run it, log it, and add "NAME rc=N Ns" to the summary
  local name=$1 start rc
  shift
  start=$(date +%s)
  "$@" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  echo "$name rc=$rc $(($(date +%s) - start))s" | tee -a "$out/summary.txt"
  return "$rc"
}

free_gpu() {  # end the GPU processes an earlier step left behind, by their ids
  # A notebook's kernel runs in a session of its own: when a pytest is stopped (LIMIT), the
  # kernel and its engines stay, and on the H200 they held 114 of 140 GiB, so the next step's
  # engines failed with "Free memory on device ... less than desired GPU memory utilization".
  # Only vLLM engine processes of this user (setproctitle names them VLLM::...).
  local pid
  for pid in $(nvidia-smi --query-compute-apps=pid --format=csv,noheader 2>/dev/null); do
    if [ "$(ps -o user= -p "$pid")" = "$(id -un)" ] && ps -o args= -p "$pid" | grep -q '^VLLM::'; then
      echo "gpu_session: ending vLLM engine $pid left by an earlier step"
      kill -9 "$pid" 2>/dev/null
    fi
  done
}

venv_shim() {  # the classroom tests start `make classroom-server` as the README says; its
  # prerequisite is the venv `make setup` builds, which has no package index here: .venv/bin/python
  # stands for this machine's python3 (with the bundle on PYTHONPATH), the setup stamp says done.
  mkdir -p .venv/bin
  printf '#!/bin/sh\nexec %s "$@"\n' "$(command -v python3)" > .venv/bin/python
  chmod +x .venv/bin/python
  touch .venv/.vlesson-setup
}

pytest_run() {  # pytest_run NAME ARGS...: one pytest, capped at LIMIT seconds (SIGINT first,
  local name=$1  # so pytest still prints what passed)
  shift
  [ "${FREE_GPU:-1}" = 1 ] && free_gpu
  timed "$name" timeout -s INT -k 30 "${LIMIT:-570}" python3 -m pytest -q -p no:cacheprovider \
    --durations=0 "$@"
}

notebook() {
  local file
  file=$(ls notebooks/"$1"_*.ipynb)
  pytest_run "nb$1" --nbval-lax --nbval-current-env --nbval-cell-timeout=900 "$file"
}

lanes() {  # lanes "03 00" "01 04": one background lane per argument, one GPU each
  # Each lane runs its steps one after another in a session of its own (setsid), so it
  # outlives this run while the machine stays warm; `wait` collects them. One GPU a lane:
  # six lanes on one H200 (0.08 of it each) failed, vLLM 0.24's memory profiling sees
  # another process free memory meanwhile ("Error in memory profiling") or leaves no KV
  # cache. Several lanes need as many GPUs (nvidia-h200-x2: two lanes).
  local i=0 lane gpus
  gpus=$(nvidia-smi --list-gpus 2>/dev/null | wc -l)
  if [ "$#" -gt "${gpus:-0}" ]; then
    echo "gpu_session: $# lanes need $# GPUs, this machine has ${gpus:-0}" >&2
    return 2
  fi
  free_gpu
  mkdir -p /tmp/gpu-logs && rm -f /tmp/gpu-logs/lane-*
  for lane in "$@"; do
    # shellcheck disable=SC2086
    OUT=/tmp/gpu-logs FREE_GPU=0 CUDA_VISIBLE_DEVICES=$i \
      setsid nohup bash "$project/scripts/gpu_session.sh" lane "$((i + 1))" $lane \
      > "/tmp/gpu-logs/lane-$((i + 1)).out" 2>&1 < /dev/null &
    i=$((i + 1))
  done
  echo "$i lanes started: $*"
}

lane() {  # lane N STEP...: notebooks by number, api, classroom; then lane-N.done
  local n=$1 step
  shift
  for step in "$@"; do
    case "$step" in
      api|classroom|start) bash "$project/scripts/gpu_session.sh" "$step" ;;
      *) notebook "$step" ;;
    esac
  done
  touch "/tmp/gpu-logs/lane-$n.done"
}

wait_lanes() {  # wait_lanes SECONDS: until every lane is done or SECONDS pass; logs to $OUT
  local limit=${1:-540} started total done
  started=$(date +%s)
  total=$(ls /tmp/gpu-logs/lane-*.out 2>/dev/null | wc -l)
  while :; do
    done=$(ls /tmp/gpu-logs/lane-*.done 2>/dev/null | wc -l)
    [ "$done" -ge "$total" ] && break
    [ $(($(date +%s) - started)) -ge "$limit" ] && break
    sleep 5
  done
  echo "lanes done: $done of $total"
  cat /tmp/gpu-logs/summary.txt 2>/dev/null
  tar czf "$out/lane-logs.tgz" -C /tmp/gpu-logs . 2>/dev/null
}

if [ "${1:-}" = stage ]; then stage; exit; fi
if [ "${1:-}" = install ]; then install; exit; fi
# shellcheck disable=SC1090
source "$envfile" || { echo "run the install step first" >&2; exit 1; }
cd "$project"
step=${1:-}
shift || true
case "$step" in
  notebooks) for nb in "$@"; do notebook "$nb"; done ;;
  lanes) lanes "$@" ;;
  lane) lane "$@" ;;
  wait) wait_lanes "$@" ;;
  start) timed engine-start python3 bench/gpu_engine_start.py "$@" ;;
  # These tests hold up to three engines at once (a server, the shared `llm`, an app in
  # process): at vLLM's 0.4 each the third found 25 of 140 GiB free and failed to start.
  api) VLESSON_GPU_MEMORY_UTILIZATION=${VLESSON_GPU_MEMORY_UTILIZATION:-0.25} \
         pytest_run api tests/integration/test_api_server.py "$@" ;;
  classroom) venv_shim
         VLESSON_GPU_MEMORY_UTILIZATION=${VLESSON_GPU_MEMORY_UTILIZATION:-0.25} \
         VLESSON_CLASSROOM_NOTEBOOKS=${VLESSON_CLASSROOM_NOTEBOOKS:-all} pytest_run classroom tests/unit/test_remote.py tests/integration/test_classroom.py \
         tests/integration/test_classroom_key.py "$@" ;;
  figures) timed figures python3 bench/gpu_figures.py "$@" ;;
  # vLLM's and inductor's compile caches, for the next lease's install (.gpu/torch-cache.tgz):
  # in parts of 40 MB: a run carries at most 64 MiB (stage them like the chunks, then install).
  cache-out) tar czf - -C / --ignore-failed-read "${HOME#/}/.cache/vllm/torch_compile_cache" \
               "tmp/torchinductor_$(whoami)" 2>/dev/null | split -b 40M -d - "$out/torch-cache.tgz."
             du -ch "$out"/torch-cache.tgz.* ;;
  drawings) timed drawings python3 bench/machinery_figures.py --out "$out/drawings" "$@" ;;
  pytest) pytest_run "${NAME:-pytest}" "$@" ;;
  *) echo "usage: gpu_session.sh stage|install|notebooks NN...|lanes \"NN NN\"...|wait [S]|start|api|classroom|figures|drawings|cache-out|pytest ARGS" >&2
     exit 2 ;;
esac
