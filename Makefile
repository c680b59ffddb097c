# Idempotent set-up, demo and tests. `make demo` and `make test` do everything on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR := /usr/share/datasets/fashion-mnist
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: setup data demo child test test-all lint bench clean

setup: data $(STAMP)

# Fashion-MNIST from Debian, unless the data is already there or COEXPLORE_DATA points elsewhere.
data:
	@if [ -z "$$COEXPLORE_DATA" ] && [ ! -f $(DATA_DIR)/train-images-idx3-ubyte.gz ]; then \
	  if command -v apt-get >/dev/null 2>&1; then \
	    $(SUDO) apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq dataset-fashion-mnist; \
	  else echo "Fashion-MNIST not found: install dataset-fashion-mnist or set COEXPLORE_DATA" >&2; fi; \
	fi

# torch first, pinned: the CPU wheel pip finds on disk (a looser spec would pull CUDA builds).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

# From a frame-rate target to deployable files: HDX search of network and accelerator -> retrain the
# derived child -> quantize it data-free to the accelerator's bits -> ZigZag -> accelerator files, ONNX,
# runs/demo/report.md.
demo: setup
	$(BIN)/coexplore codesign --min-fps 8000 --objective edap --lam 0.5 --profile quick --dfq-profile quick \
	  --out runs/demo --overwrite

# The default child of the search space, trained alone (the teacher of the DFQ commands in the README).
child: setup
	$(BIN)/coexplore train --arch default --profile quick --out runs/default --overwrite

test: setup
	$(BIN)/python -m pytest -q

test-all: setup
	$(BIN)/python -m pytest -q -m ''

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: setup
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/search_overhead.py

clean:
	rm -rf $(VENV) runs *.egg-info
