# The two commands of the README are `make run` and `make test`; both install what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_DIR := src/twinbridge/engines/imodel/node
# The Node test harness that drives Bentley's npm clients against a served twinbridge (tests/clients).
CLIENTS_DIR := tests/clients
# The web console (issue 16): its sources, and the build `twinbridge serve` serves at /console (git-ignored).
CONSOLE_DIR := console
CONSOLE_BUILD := src/twinbridge/console/dist/index.html
CONSOLE_SOURCES := $(shell find $(CONSOLE_DIR)/src $(CONSOLE_DIR)/public -type f 2>/dev/null) \
	$(wildcard $(CONSOLE_DIR)/*.json $(CONSOLE_DIR)/*.ts $(CONSOLE_DIR)/index.html)
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: setup node-setup run test lint format clean

setup: $(PY_STAMP) node-setup $(CONSOLE_BUILD)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(PY_STAMP)

# The npm packages of the iModel engine, of the client test harness and of the console, each installed
# (again) when its lock file is newer than its node_modules; a folder without package.json is skipped.
node-setup:
	@for dir in $(NODE_DIR) $(CLIENTS_DIR) $(CONSOLE_DIR); do \
		if [ -f $$dir/package.json ]; then \
			if [ ! -f $$dir/node_modules/.package-lock.json ] || \
			   [ $$dir/package-lock.json -nt $$dir/node_modules/.package-lock.json ]; then \
				(cd $$dir && npm ci --no-audit --no-fund --loglevel=error) || exit 1; \
			fi; \
		fi; \
	done

# Built again only when a source of the console is newer than the build.
$(CONSOLE_BUILD): $(CONSOLE_SOURCES) | node-setup
	cd $(CONSOLE_DIR) && npm run build --silent
	touch $(CONSOLE_BUILD)

run: setup
	$(BIN)/twinbridge serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	cd $(CONSOLE_DIR) && npm run check

format: setup
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) .twinbridge .pytest_cache .mypy_cache .ruff_cache src/twinbridge/console/dist
