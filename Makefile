# The two commands of the README are `make run` and `make test`; both install what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_DIR := src/twinbridge/engines/imodel/node
# The Node test harness that drives Bentley's npm clients against a served twinbridge (tests/clients).
CLIENTS_DIR := tests/clients
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: setup node-setup run test lint format clean

setup: $(PY_STAMP) node-setup

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(PY_STAMP)

# The npm packages of the iModel engine and of the client test harness, each installed (again) when its
# lock file is newer than its node_modules; a folder without package.json is skipped.
node-setup:
	@for dir in $(NODE_DIR) $(CLIENTS_DIR); do \
		if [ -f $$dir/package.json ]; then \
			if [ ! -f $$dir/node_modules/.package-lock.json ] || \
			   [ $$dir/package-lock.json -nt $$dir/node_modules/.package-lock.json ]; then \
				(cd $$dir && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
			fi; \
		fi; \
	done

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
