# Two commands matter: `make run` and `make test`. Everything else is a step they use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# Test processes (pytest-xdist). loadfile keeps every test of a file in one process, in order, so a module
# fixture is built once (loadscope splits a file by class, and a worker that comes back to the file rebuilt it).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

.PHONY: install migrate seed run test test-sqlite test-postgres lint format bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/jieduan migrate

seed: migrate
	$(BIN)/jieduan load-reference --if-empty
	$(BIN)/jieduan seed-demo

run: seed
	$(BIN)/uvicorn --factory app.main:create_app --host 127.0.0.1 --port 8000 --no-access-log

test: test-sqlite

test-sqlite: install
	$(PYTEST)

# The pure packages' tests (matching, region source) touch no database: once, on SQLite, is enough.
test-postgres: install
	JIEDUAN_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST) --ignore=tests/matching --ignore=tests/regions

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format app matching tests bench

bench: install
	$(BIN)/python -m bench.api_bench
	$(BIN)/python -m bench.matching_bench
	$(BIN)/python -m bench.import_bench
	$(BIN)/python -m bench.workflow_bench

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .hypothesis
