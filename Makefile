# The README's two commands: `make demo` and `make test`. Both set everything up first.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 3
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup system-deps demo test test-fast lint bench clean

# Debian packages the project reads: Fashion-MNIST's IDX files, a host C++ compiler,
# espeak-ng (the kws task's speech) and PostgreSQL (the shared-study test starts a server).
system-deps:
	@missing=""; \
	dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || missing="$$missing dataset-fashion-mnist"; \
	command -v g++ >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v espeak-ng >/dev/null 2>&1 || missing="$$missing espeak-ng"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing. Run: sudo apt-get install$$missing" >&2; exit 2; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11); set PY=/path/to/python3.11" >&2; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: system-deps $(STAMP)

demo: setup
	$(BIN)/tinyzoo search --board nano33ble --task fashion --trials 16
	$(BIN)/tinyzoo list
	$(BIN)/tinyzoo pull fashion-nano33ble@latest -o models/fashion-nano33ble

test: setup
	$(BIN)/ruff check nas zoo searchspaces tests bench
	$(BIN)/pytest -q

test-fast: setup
	$(BIN)/pytest -q -m "not slow"

lint: setup
	$(BIN)/ruff check nas zoo searchspaces tests bench
	$(BIN)/ruff format --check nas zoo searchspaces tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) models .pytest_cache
