# anomaly_ae: `make train` and `make test` set everything up on first use.
# Pass Hydra overrides to train with ARGS, e.g. make train ARGS="trainer.accelerator=gpu"

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install train test test-fast bench benchmark reproduce lint format docs tensorboard clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk -F':.*## ' -v venv='$(VENV)' '{gsub(/\$$\(VENV\)/, venv, $$2); printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

install: $(STAMP) ## create $(VENV) and install the package with its dev tools

train: $(STAMP) ## train, calibrate and test the hw7 experiment (ARGS="..." for overrides)
	$(BIN)/python -m anomaly_ae.train $(ARGS)

test: $(STAMP) ## run the test suite
	$(BIN)/python -m pytest

test-fast: $(STAMP) ## the unit tier (tests/unit), for the edit-test loop
	$(BIN)/python -m pytest tests/unit

bench: $(STAMP) ## time hw7's loop, a bare loop, anomaly_ae's fit and scoring, side by side
	$(BIN)/python benchmarks/train_speed.py $(ARGS)

benchmark: $(STAMP) ## one-class MNIST for every detector, 3 seeds, beside the published tables
	$(BIN)/python -m anomaly_ae.benchmark $(ARGS)

reproduce: $(STAMP) ## hw7's loop and anomaly_ae, 5 seeds each, side by side on real data
	$(BIN)/python benchmarks/reproduce_hw7.py $(ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

docs: $(STAMP) ## build the documentation site into site/ (MkDocs, warnings as errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

tensorboard: $(STAMP) ## open TensorBoard on every run under logs/
	$(BIN)/tensorboard --logdir logs

clean: ## remove logs, caches and build files (keeps data/ and $(VENV))
	rm -rf logs outputs multirun site .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +
