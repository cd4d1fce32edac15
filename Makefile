# After `git clone`: `make run` trains the reference experiment, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench setup data platforms clean

$(VENV)/.installed: requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python >= 3.11 is needed: run with PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

setup: $(VENV)/.installed

data: setup
	$(BIN)/portability data fetch

run: data
	$(BIN)/portability run --preset mnist-reference

test: data
	$(BIN)/python -m pytest -ra

bench: data
	$(BIN)/python benchmarks/bench_reference.py

clean:
	rm -rf $(VENV) *.egg-info
