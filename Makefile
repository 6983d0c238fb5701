# `make repro` runs the pipeline, `make test` the test suite; both build .venv first.
# `make help` lists every target.
# The first Python >= 3.11 on PATH (3.11 first: the pins are tested there); PYTHON=... overrides.
ifeq ($(origin PYTHON),undefined)
PYTHON := $(firstword $(foreach p,python3.11 python3.12 python3.13 python3,\
  $(shell command -v $(p) >/dev/null 2>&1 && $(p) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $(p))))
endif
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export DVC_NO_ANALYTICS := 1
ifdef STORAGE  # the study database of a search or seed run (docs/many-machines.md); through the environment, so never echoed
export REPROLAB_STORAGE := $(STORAGE)
endif

.PHONY: help repro plan push test quick bench report compare seeds search results times lint clean-checkpoints clean
.DEFAULT_GOAL := help
BASE ?= main
COMPARE_DROP := ^(data|models|dvclive)/|^params.yaml$$|^(Created|Executor)$$

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 26

# The set-up: the venv (the page template that draws `dvc plots show` offline, .dvc/offline.html, is committed).
SETUP := $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@$(or $(PYTHON),false) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { echo \
	  "error: make: $(if $(PYTHON),$(PYTHON) is not,found no) Python 3.11 or newer (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	touch $@

repro: $(SETUP)  ## create .venv if needed, then run the pipeline (dvc repro)
	dvc repro

plan: $(SETUP)  ## which stages an edit will re-run, and why (before anything runs; dvc status names only the plan stage)
	python -m reprolab.plan

push: $(SETUP)  ## send the outputs, every run's entry and the runs' outputs to the DVC remote (a teammate's dvc repro --pull restores them)
	python -m reprolab.experiments.sharing

test: $(SETUP)  ## the test suite (offline; about 13 to 18 minutes on 2 cores, see docs/testing.md)
	python -m pytest

quick: $(SETUP)  ## the tests not marked end-to-end, in about 90 s: the edit loop's check (see docs/testing.md)
	python -m pytest -m "not e2e" --dist load

bench: $(SETUP)  ## each stage's start-up against main's and a bare import of torch; timings of the training loop and the image models; font digits given to the mnist model; the default ones' share of the matmul peak; the pin's cost; the run cache's saving; a shared search's cost; cifar10's accuracy against its training time
	python -m bench.startup
	python -m bench.trainer
	python -m bench.images
	python -m bench.predict
	python -m bench.fontdigits
	python -m bench.peak
	python -m bench.kernels
	python -m bench.runcache
	python -m bench.many_machines
	python -m bench.budgets

report: $(SETUP)  ## the pull-request report against BASE (default main); exits 1 on a regression
	python -m reprolab.pages.review --base $(BASE)

compare:  ## the experiments side by side: params that differ, headline metrics (after make repro)
	@dvc exp show --no-pager --only-changed --drop '$(COMPARE_DROP)' --md

seeds: $(SETUP)  ## the pipeline over seeds 1, 2 and 3 -> reports/seeds.json; TASK=news: one task's; VARIANT=mnist-mlp: a variant's; STORAGE=URL: shared
	python -m reprolab.experiments.seeds $(if $(VARIANT),--variant $(VARIANT))$(if $(TASK), --task $(TASK))
	python -m reprolab.pages.tables

search: $(SETUP)  ## the Optuna study of search.yaml for TASK=... -> reports/search/; STORAGE=URL: a worker of a shared one
	python -m reprolab.experiments.search $(TASK)
	python -m reprolab.pages.tables

results: $(SETUP)  ## rewrite the README's results table (metrics/) and docs/experiments.md's selection tables (reports/search/)
	python -m reprolab.pages.tables

times: $(SETUP)  ## rewrite the README's stage-time table from logs/runs.jsonl (after make repro)
	python -m reprolab.pages.timings

lint: $(SETUP)  ## ruff check, ruff format check and mypy over the library (pre-commit runs the same)
	ruff check . && ruff format --check . && mypy

clean-checkpoints:  ## remove checkpoints/: interrupted train stages' states (a re-run then starts from epoch 1) and what killed ones left
	rm -rf checkpoints

clean:  ## remove .venv
	rm -rf $(VENV)
