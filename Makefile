# Two commands on a fresh machine: `make run` and `make test`. Everything else is set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export LINTSEQ_HOME ?= $(CURDIR)/data
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run ui test test-fast lint bench bench-data clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(VENV)/bin/lintseq materialize

ui: install
	$(VENV)/bin/lintseq ui

# Every tier (unit, platform, e2e): what CI runs. docs/architecture.md, "Tests".
# Two pytest workers (tests/conftest.py groups those that must not overlap): with one, CI took 27-37 min on 2 cores.
# pytest stays below 9.2 (pyproject.toml): xdist 3.8 names a test's group in Item._nodeid, which 9.2 no longer reads.
TEST_WORKERS ?= 2
test: install
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(VENV)/bin/dg check defs
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=25

# The unit tier alone: no Dagster; 5 minutes on one worker on a slow machine, so two here too.
test-fast: install
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup tests/unit

lint: install
	$(VENV)/bin/ruff check .

# LINTSEQ_BENCH_SIZES=10000,30000,90000 for the full scale run (docs/scale.md); the default fits in minutes.
LINTSEQ_BENCH_SIZES ?= 3000
bench: install bench-data
	$(PY) benchmarks/bench_sampler.py
	$(PY) benchmarks/bench_e2e.py --sizes $(LINTSEQ_BENCH_SIZES) --corpus $(LINTSEQ_HOME)/bench

# The scale corpus: one program per top-level def/class of this Python and its packages.
bench-data: install
	@test -f $(LINTSEQ_HOME)/bench/programs.jsonl || $(PY) benchmarks/bench_corpus.py --out $(LINTSEQ_HOME)/bench

clean:
	rm -rf $(VENV) $(LINTSEQ_HOME)
