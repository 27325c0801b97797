# Every set-up step lives here: `make run` and `make test` work on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install run test lint format clean docs-screenshot

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

docs-screenshot: $(INSTALLED)  ## run the browser test; its /docs screenshot becomes docs/swagger-ui.png
	$(BIN)/pytest -m browser -q
	cp test-artifacts/screenshots/docs.png docs/swagger-ui.png

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

.PHONY: bench bench-quick bench-listing bench-soak

bench: $(INSTALLED)  ## the full benchmark (about 30 minutes; see bench/README.md)
	$(BIN)/python bench/run.py

bench-quick: $(INSTALLED)  ## a smoke run of the benchmark (1 repetition, SQLite, 1 worker, 64 connections) into bench/RESULTS-quick.md
	$(BIN)/python bench/run.py --repetitions 1 --duration 2 --warmup 1 --databases sqlite \
		--workers 1 --connections 64 --title "quick smoke run (not a measurement)" \
		--output bench/RESULTS-quick.md

bench-listing: $(INSTALLED)  ## pages of the list on 1,000,000 heroes, PostgreSQL and SQLite (bench/README.md)
	$(BIN)/python bench/listing.py --compare-indexes

bench-soak: $(INSTALLED)  ## resident memory over 1,000,000 requests, SQLite, 1 worker (bench/RESULTS-soak.md)
	$(BIN)/python bench/soak.py
