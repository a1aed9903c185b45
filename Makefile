# make lab   - set up .venv and the offline model (once), then open JupyterLab on notebooks/
# make test  - the same set-up, then every test and notebook
# make classroom-server - one vLLM server for a whole class (README: Classroom mode)
.DEFAULT_GOAL := lab
SHELL := /bin/bash
VENV := .venv
# The interpreter the venv is built from (make lab PYTHON=python3.11): scripts/preflight.sh checks it.
PYTHON ?= python3
PY := $(VENV)/bin/python
# Notebook shell cells (!vlesson ...) and scripts find the venv's commands first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
STAMP := $(VENV)/.vlesson-setup
# make lab PORT=8899 LAB_ARGS=--no-browser NOTEBOOKS=dir (README: "The lesson")
PORT ?= 8888
LAB_ARGS ?=
# NOTEBOOKS empty: the learner's copies in my-notebooks/, built when missing (scripts/lab.sh).
NOTEBOOKS ?=
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900
# At the end of make test: time per area (tests/area_times.py) and the 15 slowest steps.
TIMES := -p tests.area_times --durations=15
SERVER_HOST ?= 0.0.0.0
SERVER_PORT ?= 8000
SERVER_ARGS ?=

.PHONY: lab test setup lock model browser unit gpu-check clean classroom-server classroom-test

setup: $(STAMP)
$(STAMP): pyproject.toml $(wildcard locks/*.txt) scripts/setup.sh scripts/uvenv.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup.sh
	touch $@

# Rewrites locks/ (the exact set `make setup` installs) from pyproject.toml; commit the result.
lock:
	bash scripts/lock.sh

# Converts the offline model once into ~/.cache/vlesson (or $$VLESSON_HOME), then on a CPU
# compiles the lesson's engines once (1.5-3 minutes; VLESSON_COMPILE=0 skips it); instant after.
model: setup
	$(PY) -m vlesson prepare-model
	$(PY) -m vlesson compile

lab: setup model
	$(if $(NOTEBOOKS),VLESSON_NOTEBOOKS="$(abspath $(NOTEBOOKS))") bash scripts/lab.sh --port=$(PORT) $(LAB_ARGS) 00_contents.ipynb

# Debian's Chromium for the browser test (Playwright's own browser download is not used).
browser:
	@if ! command -v chromium >/dev/null; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "NOTE: chromium is missing, so the browser test will be skipped: sudo apt-get install chromium"; \
		fi; \
	fi

# The suite runs with the network cut (scripts/offline.sh: a network namespace with only
# loopback), so every `make test` also proves the course needs no network once set up: models,
# API docs, notebooks. Where namespaces are not allowed it says so and runs with the network.
# The set-up before it (uv, models' packages, chromium) is the only step that downloads.
# Each notebook runs paired with its learner's copy (notebooks/conftest.py).
test: setup model browser
	bash scripts/offline.sh $(PY) -m pytest $(NBVAL) $(TIMES) $(PYTEST_ARGS) tests notebooks

# vLLM's OpenAI-compatible server with the offline model and vlesson's engine defaults;
# it prints the lines learners paste. The key comes from the environment, never the command
# line: VLESSON_SERVER_API_KEY=KEY make classroom-server (none given: a new random key).
# More GPUs: make classroom-server SERVER_ARGS="--tensor-parallel-size 4"
classroom-server: setup model
	$(PY) -m vlesson classroom-server --host $(SERVER_HOST) --port $(SERVER_PORT) $(SERVER_ARGS)

# Starts a real server on a free loopback port: the remote path, errors, the key, and six
# notebooks on it (make test runs one of them, 07).
classroom-test: setup model
	VLESSON_CLASSROOM_NOTEBOOKS=all $(PY) -m pytest $(PYTEST_ARGS) tests/unit/test_remote.py \
		tests/integration/test_classroom.py tests/integration/test_classroom_key.py

# On a machine with an NVIDIA GPU: tests, notebooks and the GPU figures (see README).
gpu-check: setup model
	PYTHON=$(PY) bash scripts/gpu_check.sh

unit: setup
	bash scripts/offline.sh $(PY) -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV)
