# Two commands on a fresh machine (python3 >= 3.11 and make): `make run`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test test-slow bench lint audit clean

run: $(VENV)/.installed-run
	$(BIN)/analytics up

test: $(VENV)/.installed-dev
	@scripts/install-test-tools
	@scripts/audit-dependencies
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest --durations=15

# Stress runs and the benchmark smoke test, excluded from `make test`.
test-slow: $(VENV)/.installed-dev
	$(BIN)/pytest -m slow

bench: $(VENV)/.installed-run
	$(BIN)/analytics bench

# Known vulnerabilities in the installed dependencies (skipped, and says so, when offline).
audit: $(VENV)/.installed-dev
	@scripts/audit-dependencies

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .analytics build *.egg-info

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run
