# The two commands of the README are `make run` and `make test`; both install what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_DIR := src/twinbridge/engines/imodel/node
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: setup run test lint format clean

setup: $(PY_STAMP) node-setup

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(PY_STAMP)

# The iModel engine's npm packages; skipped until the engine's package.json exists.
node-setup:
	@if [ -f $(NODE_DIR)/package.json ]; then \
		if [ ! -f $(NODE_DIR)/node_modules/.package-lock.json ] || \
		   [ $(NODE_DIR)/package-lock.json -nt $(NODE_DIR)/node_modules/.package-lock.json ]; then \
			cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error; \
		fi; \
	fi

run: setup
	$(BIN)/twinbridge serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .twinbridge .pytest_cache .mypy_cache .ruff_cache
