# One command each on a fresh machine: `make demo` (the main job on the embedded default,
# ONNX Runtime on CPU) and `make test`. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# TORCH_WHEELS: a folder of torch wheels pip may install from (for example the CPU build); pinning
# TORCH_PIN first keeps any resolver from pulling a multi-GB CUDA build for the `torch>=2.2` of the extras.
TORCH_PIN ?= torch==2.13.0
TORCH_WHEELS ?= /opt/wheels

.PHONY: setup demo test lint bench ablations bundled-model clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --find-links $(TORCH_WHEELS) "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q --find-links $(TORCH_WHEELS) -e ".[train,export,calibrate,verify,dev]"
	touch $@

demo: setup
	$(BIN)/python -m ibhfn.demo

test: lint
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: setup
	$(BIN)/python bench/run.py

# The equal-budget ablations of docs/ablations.md (the real sets join where ../shared exists).
ablations: setup
	[ -d runs/ablation/data ] || $(BIN)/ibhfn-synth tree runs/ablation/data --seed 2026 --train 16 --val 4 \
		--test 4 --patches 12
	$(BIN)/python -m ibhfn.train.ablation --data runs/ablation/data --out runs/ablation --seeds 0 1 2 \
		--steps 300 --crop 64 --clear-input 0.1

# Retrains the bundled model and its baseline (needs ../shared); see ibhfn/pretrained/MODEL_CARD.md.
bundled-model: setup
	BIN=$(BIN) bash scripts/train_bundled_model.sh

clean:
	rm -rf $(VENV) build *.egg-info
