# Two commands for a new machine: `make repro` runs the pipeline, `make test` runs the checks.
# Both create .venv and install the pinned requirements first (once, and again when they change).
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup repro test lint

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	touch $@

repro: setup
	dvc repro

lint: setup
	ruff check .
	ruff format --check .

test: lint
	python -m pytest
