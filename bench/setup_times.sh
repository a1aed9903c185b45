#!/usr/bin/env bash
# Fresh clone to JupyterLab ready, timed as a new learner meets it: the README's `make lab`,
# headless. Two fresh clones of COMMIT (default HEAD) share one new, empty package cache:
# the first runs with it cold, the second warm. Each has its own empty $VLESSON_HOME, so the
# model is converted both times. Prints one row per run:
#   commit  caches  setup_s  model_s  lab_ready_s  total_s
# setup_s: `make setup`; model_s: `make model`; lab_ready_s: `make lab` until /lab answers
# (both are already done, so this is the notebooks' build and JupyterLab's start);
# total_s: fresh clone to JupyterLab ready. Works for commits before uv (pip set-up) too.
#   bench/setup_times.sh [COMMIT]      needs the network (PyPI) for the cold run
set -euo pipefail
commit=${1:-HEAD}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d)
lab_pid=
finish() {
  [ -n "$lab_pid" ] && kill -- "-$lab_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap finish EXIT
# One cache for both runs; uv's and pip's both live here. No browser opens (BROWSER=true)
# and the token is known, so /lab answers 200 once JupyterLab is ready.
export UV_CACHE_DIR=$work/cache/uv PIP_CACHE_DIR=$work/cache/pip BROWSER=true
export JUPYTER_TOKEN=setup-times
short=$(git -C "$repo" rev-parse --short "$commit")

seconds_since() { echo $(( $(date +%s%N) / 1000000 - $1 )) | awk '{printf "%.1f", $1 / 1000}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

run() {  # run CACHES: one fresh clone, timed step by step
  local caches=$1 clone=$work/clone-$1 t setup model ready port
  git clone --quiet "$repo" "$clone"
  git -C "$clone" checkout --quiet "$commit"
  export VLESSON_HOME=$work/home-$caches
  cd "$clone"
  t=$(now_ms); make setup > "$work/$caches-setup.log" 2>&1 \
    || { tail -20 "$work/$caches-setup.log" >&2; exit 1; }
  setup=$(seconds_since "$t")
  t=$(now_ms); make model > "$work/$caches-model.log" 2>&1 \
    || { tail -20 "$work/$caches-model.log" >&2; exit 1; }
  model=$(seconds_since "$t")
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  t=$(now_ms)
  setsid make lab PORT="$port" > "$work/$caches-lab.log" 2>&1 &
  lab_pid=$!
  ready=
  until curl -fs -o /dev/null "http://127.0.0.1:$port/lab?token=$JUPYTER_TOKEN"; do
    if ! kill -0 "$lab_pid" 2>/dev/null; then  # the row says so; the next run goes on
      echo "$short, caches $caches: make lab stopped before JupyterLab answered:" >&2
      tail -5 "$work/$caches-lab.log" >&2
      ready=failed
      break
    fi
    sleep 0.2
  done
  ready=${ready:-$(seconds_since "$t")}
  kill -- "-$lab_pid" 2>/dev/null || true; wait "$lab_pid" 2>/dev/null || true; lab_pid=
  cd "$work"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$short" "$caches" "$setup" "$model" "$ready" \
    "$(echo "$setup $model $ready" | awk '$3 == "failed" {print "-"; next} {printf "%.1f", $1 + $2 + $3}')"
}

printf 'commit\tcaches\tsetup_s\tmodel_s\tlab_ready_s\ttotal_s\n'
run cold
run warm
