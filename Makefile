# `make run` starts the daemon on the example menu; `make test` runs the tests.
# Both build .venv first. On a fresh Debian, python3-venv is installed when missing (needs root).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test venv clean

run: $(VENV)/.installed
	$(BIN)/ivrflow serve --config config/example.yaml --sounds config/sounds

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

venv: $(VENV)/.installed

$(VENV)/bin/python:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { \
	  echo "python3-venv is missing; installing it with apt-get"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/bin/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(VENV)/.installed $@

clean:
	rm -rf $(VENV)
