# `make repro` runs the pipeline, `make test` the test suite; both build .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: repro test bench report lint clean
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
	python -m reprolab.report --base $(BASE)

lint: $(VENV)/.installed
	ruff check . && ruff format --check .

clean:
	rm -rf $(VENV)
