# Every set-up step lives here: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint format clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)  ## create .venv with the service and its dev tools

run: $(INSTALLED)  ## serve on http://127.0.0.1:8000 (SQLite unless DATABASE_URL says otherwise)
	$(BIN)/heroes serve

test: $(INSTALLED)  ## the whole suite, on SQLite, PostgreSQL and MariaDB
	$(BIN)/pytest

lint: $(INSTALLED)  ## format check, lint, strict types
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
