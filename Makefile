# `make demo` and `make test` are the whole set-up: each creates .venv (python3 -m venv, plain
# pip) when it is missing or pyproject.toml changed, then runs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1

.PHONY: setup demo test test-fast bench lint clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/fakebench demo --out runs/demo

# The full suite: lint, the sample media fetch, unit + real-media tests, perf suites run once.
test: $(STAMP)
	$(BIN)/ruff check fakebench tests
	$(BIN)/fakebench samples fetch
	FAKEBENCH_REQUIRE_MEDIA=1 $(BIN)/python -m pytest

# Unit tests only (no sample media, no perf suites).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not media" --ignore=tests/perf

# Timed perf suites (pytest-benchmark); figures go into BENCHMARKS.md by hand, with the machine.
bench: $(STAMP)
	$(BIN)/fakebench samples fetch
	$(BIN)/python -m pytest tests/perf --benchmark-enable --benchmark-only --benchmark-columns=min,median,max,rounds -s

lint: $(STAMP)
	$(BIN)/ruff check fakebench tests

clean:
	rm -rf runs .pytest_cache .benchmarks
