# The two commands of README.md. Both are idempotent: a second run only
# reinstalls when pyproject.toml changed.
#   make lab    install what the lab needs, start the signaling server and JupyterLab
#   make test   install what the tests need, then run every test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: lab test chromium lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.lab: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.lab

# Extra options for p2plab lab and JupyterLab, e.g.
#   make lab ARGS="--port 8890 --server ws://127.0.0.1:8766"
lab: $(VENV)/.lab
	$(BIN)/p2plab lab $(ARGS)

# The browser tests drive Debian's Chromium; Playwright's own browser
# download is never used.
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

test: $(VENV)/.dev chromium
	$(BIN)/python tests/run.py

lint: $(VENV)/.dev
	$(BIN)/ruff check p2plab server tests bench
	$(BIN)/ruff format --check p2plab server tests bench
	$(BIN)/mypy
