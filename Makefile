# Two commands on a fresh machine: `make run` and `make test`. Everything else is set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export LINTSEQ_HOME ?= $(CURDIR)/data
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run ui test lint bench bench-data clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/lintseq materialize

ui: install
	$(VENV)/bin/lintseq ui

test: install
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) benchmarks/bench_sampler.py

clean:
	rm -rf $(VENV) $(LINTSEQ_HOME)
