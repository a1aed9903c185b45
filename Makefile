# make lab   - set up .venv and the offline model (once), then open JupyterLab on notebooks/
# make test  - the same set-up, then every test and notebook
.DEFAULT_GOAL := lab
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.vlesson-setup
PORT ?= 8888
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PYTEST_ARGS ?=
NBVAL := --nbval-lax --nbval-current-env --nbval-cell-timeout=900
# Notebooks run `!vlesson ...`: the kernel's shell must find the venv's commands.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: lab test setup model unit clean

setup: $(STAMP)
$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

# Converts the offline model once into ~/.cache/vlesson (or $$VLESSON_HOME); instant after.
model: setup
	$(PY) -m vlesson prepare-model

lab: setup model
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG) \
		notebooks/00_contents.ipynb

test: setup model
	$(PY) -m pytest $(NBVAL) $(PYTEST_ARGS) tests notebooks

unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

clean:
	rm -rf $(VENV)
