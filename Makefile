# edge-gate developer entry points. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# import-linter lives in a venv of its own: it brings rich, which structlog would then load into
# every edge process (+20 MiB), so the benchmarks would measure something no site runs.
LINTERS := $(VENV)-imports

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(LINTERS)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LINTERS)
	$(LINTERS)/bin/python -m pip install --quiet 'import-linter>=2.1,<3'
	touch $@

demo: $(STAMP)
	$(BIN)/edge demo

test: $(STAMP)
	scripts/system-packages
	$(BIN)/python -m pytest --numprocesses=auto --maxprocesses=4 --cov --cov-report=term $(PYTEST_ARGS)

lint: $(STAMP) $(LINTERS)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	PYTHONPATH=. $(LINTERS)/bin/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(LINTERS) .pytest_cache .mypy_cache .ruff_cache .coverage
