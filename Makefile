# After `git clone`: `make run` trains the reference experiment, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# A Python 3.9 that runs (a pyenv shim for an unselected version is found but does not run).
PYTHON39 ?= $(shell for p in $$(command -v python3.9) $$HOME/.pyenv/versions/3.9*/bin/python; do \
  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 9))' 2>/dev/null && echo $$p && break; done)

.PHONY: run test bench setup data platforms clean codalab-cli

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

test: data codalab-cli
	$(BIN)/python -m pytest -ra

bench: data
	$(BIN)/python benchmarks/bench_reference.py $(BENCH_ARGS)

# The CodaLab CLI installs only on Python 3.9 and conflicts with TensorFlow: it gets its own venv.
codalab-cli: .codalab-venv/bin/cl

.codalab-venv/bin/cl:
	@test -n "$(PYTHON39)" || { echo "the CodaLab CLI needs Python 3.9: install it (e.g. pyenv install 3.9) or pass PYTHON39=/path/to/python3.9"; exit 1; }
	$(PYTHON39) -m venv .codalab-venv
	.codalab-venv/bin/python -m pip install -q codalab==1.7.5

clean:
	rm -rf $(VENV) *.egg-info
