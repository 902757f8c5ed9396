# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test install install-dev lint bench clean-data

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt

# Installs, creates the SQLite database under data/, loads the sample company, starts the app in demo mode.
run: install
	$(BIN)/python -m core init-db
	$(BIN)/python -m core seed
	ONEFUNNEL_DEMO=1 $(BIN)/streamlit run serve.py --server.port $(PORT)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Installs everything and runs every test (PostgreSQL too when TEST_DATABASE_URL is set).
test: lint
	$(BIN)/python -m pytest

bench: install-dev
	$(BIN)/python bench/benchmark.py

clean-data:
	rm -rf data/
