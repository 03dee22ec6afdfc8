# Two entry points for a fresh machine (see README.md):
#   make demo   set up .venv, then run the demo workflow end to end
#   make test   set up .venv, then run the test suite (what CI runs)
#   make test-fast   every unit test and the dry runs, on every core (minutes): no demo, cluster, container
# On a CUDA machine, install your own torch build first or set TORCH=torch==<version>.

PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
CORES ?= all
SHELL := /bin/bash
BIN := $(VENV)/bin

.PHONY: setup demo test test-fast lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first: the pinned CPU build, so that nothing pulls a multi-GB CUDA build
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

setup: $(BIN)/.installed

demo: setup
	$(BIN)/snakemake --cores $(CORES)

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -n auto -m "not (e2e or slow or cluster or container)"

lint: setup
	$(BIN)/ruff check src tests workflow/scripts
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint
	$(BIN)/lint-imports

# what the demo wrote, and only that: the outputs of its DAG, then its logs, benchmarks, report,
# scratch and the folders left empty (a run with another config or output_dir is left alone, and so
# is .snakemake/, which every run from this folder shares)
clean: setup
	$(BIN)/snakemake --cores 1 --delete-all-output --quiet
	rm -rf results/logs results/benchmarks results/work results/report.html results/models/fold-*/checkpoint.pt
	rm -f results/{preproc,mni,predictions}/{dataset_description.json,.bidsignore}
	find results -mindepth 1 -type d -empty -delete
