#!/usr/bin/env bash
# Start JupyterLab on the learner's notebooks, my-notebooks/, from the project's .venv
# (make lab). The learner's copies are built from notebooks/ (the sources, with the answers)
# when missing; one the learner has is never overwritten (a fresh copy, keeping yours:
# .venv/bin/vlesson lesson reset 01). Extra arguments go to `jupyter lab` (make lab
# PORT=8899 LAB_ARGS=--no-browser); make lab names 00_contents.ipynb, which opens first.
# VLESSON_NOTEBOOKS (make lab NOTEBOOKS=dir) serves another folder of notebooks instead.
set -euo pipefail
project=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "${VLESSON_NOTEBOOKS:-}" ]; then
  "$project/.venv/bin/python" -m vlesson lesson build  # the missing copies only
fi
notebooks=$(cd "${VLESSON_NOTEBOOKS:-$project/my-notebooks}" && pwd)
root=()
[ "$(id -u)" = 0 ] && root=(--allow-root)  # JupyterLab refuses to run as root otherwise
# JupyterLab resolves a notebook named on its command line from the working directory,
# not from its root_dir: start it in the notebooks' folder so `00_contents.ipynb` is found.
cd "$notebooks"
# scripts/jupyterlab/overrides.json: no news or update check (the course runs offline, and
# the pop-up asking about them covers the notebook). A learner's own settings still win.
exec "$project/.venv/bin/jupyter" lab --ServerApp.root_dir="$notebooks" --ip=127.0.0.1 \
  --LabApp.app_settings_dir="$project/scripts/jupyterlab" "${root[@]}" "$@"
