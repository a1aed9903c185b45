#!/usr/bin/env bash
# Start JupyterLab on notebooks/ from the project's .venv (make lab, and the browser test).
# Extra arguments go to `jupyter lab` (e.g. --port=8899 --no-browser). VLESSON_NOTEBOOKS
# points it at another folder of notebooks (the browser test runs a scratch copy).
set -euo pipefail
cd "$(dirname "$0")/.."
root=()
[ "$(id -u)" = 0 ] && root=(--allow-root)  # JupyterLab refuses to run as root otherwise
# scripts/jupyterlab/overrides.json: no news or update check (the course runs offline, and
# the pop-up asking about them covers the notebook). A learner's own settings still win.
exec .venv/bin/jupyter lab --ServerApp.root_dir="${VLESSON_NOTEBOOKS:-notebooks}" --ip=127.0.0.1 \
  --LabApp.app_settings_dir="$PWD/scripts/jupyterlab" "${root[@]}" "$@"
