# `make repro` runs the pipeline, `make test` the test suite; both build .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: repro test bench report compare results lint clean
BASE ?= main

$(VENV)/.installed: requirements.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

repro: $(VENV)/.installed
	dvc repro

test: $(VENV)/.installed
	python -m pytest

bench: $(VENV)/.installed
	python -m bench.trainer
	python -m bench.images

report: $(VENV)/.installed  # the pull-request report against BASE; exits 1 on a regression
	python -m reprolab.review --base $(BASE)

# The experiments of a sweep side by side: the params that differ and the headline metrics
# that changed, without the data and model hashes (after `make repro`; see README).
compare:
	@dvc exp show --no-pager --only-changed --drop '$(COMPARE_DROP)' --md

COMPARE_DROP := ^(data|models|dvclive)/|^params.yaml$$|^(Created|Executor)$$

results: $(VENV)/.installed  # the README's results table, from the committed metrics/
	python -m reprolab.results

lint: $(VENV)/.installed
	ruff check . && ruff format --check .

clean:
	rm -rf $(VENV)
