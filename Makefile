# Two entry points a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo lint test test-asterisk asterisk bench faults screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ngcc112 demo

# Before any test (seconds): the layers hold (the import contracts in pyproject.toml),
# src/ is ruff-clean and ruff-formatted, and mypy --strict finds nothing.
lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check src
	$(BIN)/ruff format --check src
	$(BIN)/mypy

# The lint above, the main suite on both cores (pytest-xdist; each worker has its own
# databases and ports), then the integration suite on a real Asterisk (skipped, with the reason printed, until
# `make asterisk` has built one).
test: lint
	$(BIN)/python -m pytest -q -n 2 -m "not real_asterisk"
	$(BIN)/python -m pytest -q -rs tests/real_asterisk

# Build (once, cached by checksum) the real Asterisk 22 and install SIPp.
asterisk:
	scripts/asterisk-build --deps

# The real-Asterisk integration suite alone.
test-asterisk: $(STAMP) asterisk
	$(BIN)/python -m pytest -q -rs tests/real_asterisk

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The fault table: calls → tickets → lost → duplicated under each fault (needs PostgreSQL)
faults: $(STAMP)
	$(BIN)/python bench/faults.py --out docs/fault-table.md

# Needs Debian's chromium (apt-get install chromium); writes docs/screenshots/*.png
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py --out docs/screenshots

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info src/*.egg-info
