# Two entry points for a fresh machine: `make demo` and `make test`.
# Both create .venv, install the package into it, then run.
# TORCH is the PyTorch requirement installed first; the default pin is the CPU build used in CI.
# On a CUDA or Apple machine use e.g. `make demo TORCH=torch`.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: demo test lint install

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test,metrics,onnx,clip]"
	touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/stylegan demo

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider
