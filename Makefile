# The two commands a newcomer needs: `make demo` and `make test`. Both run `make install` first.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
export SGS_HOME := $(CURDIR)

.PHONY: install demo test lint lock services clean cluster cluster-down

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

demo: install
	$(BIN)/sgs demo

test: install
	bash scripts/services.sh
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# ruff (pyproject [tool.ruff]) and mypy on the stage packages (pyproject [tool.mypy]); docs/development.md.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Re-pin requirements.txt from the current venv (after changing pyproject.toml).
lock: install
	{ echo "# Full resolved set, pinned (pip freeze on Python 3.11). Direct dependencies: pyproject.toml."; \
	  echo "# Regenerate: make lock"; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^sgs=='; } > requirements.txt

# The local CeleryExecutor cluster (docs/deploy.md); needs SGS_AIRFLOW_ADMIN_PASSWORD. Stop: make cluster-down.
cluster: install
	bash scripts/services.sh
	bash scripts/cluster.sh up

cluster-down:
	bash scripts/cluster.sh down

# Start the local PostgreSQL and MariaDB the integration tests use, if they are not running.
services:
	bash scripts/services.sh

clean:
	rm -rf var/ .pytest_cache
