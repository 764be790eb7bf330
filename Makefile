# Two commands for a new machine: `make repro` runs the pipeline, `make test` runs the checks.
# Both create .venv and install the pinned requirements first (once, and again when they change).
VENV := .venv
PYTHON ?= python3
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup repro test test-fast soak lint compare ui

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements-dev.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation --editable .  # the `imgclf` command
	touch $@

# params.yaml is checked by our strict loader first: DVC's own parser has no bound on its size or aliases.
repro: setup
	python -m imgclf.config.params_check
	dvc repro

lint: setup
	ruff check .
	ruff format --check .

test: lint
	python -m pytest --durations=15  # the slowest, to keep .ci/run in its time

# The edit-and-test loop: everything but the end-to-end tests marked slow (under 3 minutes on 2 cores).
test-fast: setup
	python -m pytest -m "not slow" -q

# The search under lost machines: 3 clones, a real PostgreSQL server, 5 kill schedules (about 15 minutes).
soak: setup
	python -m pytest -m soak -q

# The experiments of HEAD side by side, for a 120-column terminal: test accuracy and loss, training time, and only
# the params that differ (imgclf/experiments/compare.py). `make compare ARGS=--md`: a markdown table, e.g. for a pull request.
compare: setup
	@python -m imgclf.experiments.compare $(ARGS)

# The experiments, their plots and the search studies as a local web app: http://127.0.0.1:8765 (imgclf/ui/).
ui: setup
	python -m imgclf.ui.serve $(ARGS)
