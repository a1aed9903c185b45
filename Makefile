# make lab   - set up .venv and the offline model (once), then open JupyterLab on notebooks/
# make test  - the same set-up, then every test and notebook
# make classroom-server - one vLLM server for a whole class (README: Classroom mode)
.DEFAULT_GOAL := lab
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Notebook shell cells (!vlesson ...) and scripts find the venv's commands first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP := $(VENV)/.vlesson-setup
PORT ?= 8888
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900
SERVER_HOST ?= 0.0.0.0
SERVER_PORT ?= 8000
SERVER_ARGS ?=

.PHONY: lab test setup model browser unit gpu-check clean classroom-server classroom-test

setup: $(STAMP)
$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# Converts the offline model once into ~/.cache/vlesson (or $$VLESSON_HOME); instant after.
model: setup
	$(PY) -m vlesson prepare-model

lab: setup model
	bash scripts/lab.sh --port=$(PORT) 00_contents.ipynb

# Debian's Chromium for the browser test (Playwright's own browser download is not used).
browser:
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "NOTE: chromium is missing, so the browser test will be skipped: sudo apt-get install chromium"; \
		fi; \
	fi

test: setup model browser
	$(PY) -m pytest $(NBVAL) $(PYTEST_ARGS) tests notebooks

# vLLM's OpenAI-compatible server with the offline model and vlesson's engine defaults;
# learners: export VLESSON_SERVER=http://THIS-HOST:$(SERVER_PORT)/v1. Key: VLESSON_SERVER_API_KEY.
# More GPUs: make classroom-server SERVER_ARGS="--tensor-parallel-size 4"
classroom-server: setup model
	$(PY) -m vlesson classroom-server --host $(SERVER_HOST) --port $(SERVER_PORT) $(SERVER_ARGS)

# Starts a real server on a free loopback port: the remote path, errors, a notebook on it.
classroom-test: setup model
	$(PY) -m pytest $(PYTEST_ARGS) tests/unit/test_remote.py tests/integration/test_classroom.py

# On a machine with an NVIDIA GPU: tests, notebooks and the GPU figures (see README).
gpu-check: setup model
	PYTHON=$(PY) bash scripts/gpu_check.sh

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV)
