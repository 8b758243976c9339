# The two set-up commands of the README: `make demo` (main job) and `make test`.
# Both create .venv on first use and install the pinned requirements and rnnkit (editable).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench

$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

demo: $(VENV)/.installed
	$(BIN)/rnnkit demo

test: $(VENV)/.installed
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/python -m pytest -q
	# the engine again on its fallbacks (torch.mm, no fused kernels), as on other machines
	RNNKIT_MATMUL=torch RNNKIT_KERNELS=off $(BIN)/python -m pytest -q tests/test_cells.py tests/test_layers.py

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_rnn.py
