# After `git clone`: `make run` trains the reference experiment, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# A Python 3.9 that runs (a pyenv shim for an unselected version is found but does not run).
PYTHON39 ?= $(shell for p in $$(command -v python3.9) $$HOME/.pyenv/versions/3.9*/bin/python; do \
  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 9))' 2>/dev/null && echo $$p && break; done)

.PHONY: run test bench bench-sweep setup data platforms clean codalab-cli codalab-server beat-env

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

# Two test processes (pytest-xdist), each test file whole on one of them: most of the suite waits on
# servers, containers and subprocesses. TEST_WORKERS=0 runs it in one process. The 30 slowest tests are
# listed at the end: where the suite's time goes on the machine that ran it.
TEST_WORKERS ?= 2

test: data codalab-cli beat-env
	$(BIN)/python -m pytest -ra -n $(TEST_WORKERS) --dist loadfile --durations=30

bench: data
	$(BIN)/python benchmarks/bench_reference.py $(BENCH_ARGS)

bench-sweep: data
	$(BIN)/python benchmarks/bench_sweep.py $(BENCH_ARGS)

# The CodaLab CLI installs only on Python 3.9 and conflicts with TensorFlow: it gets its own venv, with the
# server-only packages the wheel's own server needs (the tests start the genuine server: tests/codalab_genuine.py;
# mysqlclient builds against Debian's default-libmysqlclient-dev and needs build-essential and pkg-config).
CODALAB_PACKAGES := codalab==1.7.5 mysqlclient==1.4.1 gunicorn==20.0.4 alembic==1.4.3

codalab-cli: .codalab-venv/.installed

.codalab-venv/.installed:
	@test -n "$(PYTHON39)" || { echo "the CodaLab CLI needs Python 3.9: install it (e.g. pyenv install 3.9) or pass PYTHON39=/path/to/python3.9"; exit 1; }
	@test -x .codalab-venv/bin/python || $(PYTHON39) -m venv .codalab-venv
	.codalab-venv/bin/python -m pip install -q $(CODALAB_PACKAGES) || { echo "the CodaLab server packages need \
	  build tools: sudo apt-get install build-essential pkg-config default-libmysqlclient-dev"; exit 1; }
	touch $@

# The genuine CodaLab server on loopback (MariaDB, REST, bundle manager, a Docker worker) until Ctrl-C;
# needs root, Debian's mariadb-server and a Docker engine (see docs/platforms/codalab.md).
codalab-server: setup codalab-cli
	PORTABILITY_DOCKER_OFFLINE=1 $(BIN)/portability setup docker
	$(BIN)/python tests/codalab_genuine.py

# BEAT's packages run on Python 3.11 only (3.12 removed `imp`), need setuptools < 81 (pkg_resources) and
# pin jsonschema 3.2: they get their own venv, with TensorFlow beside them (the local executor runs the
# blocks in that Python), at the versions of requirements.txt.
PYTHON311 ?= $(shell for p in $(PYTHON) $$(command -v python3.11) $$HOME/.pyenv/versions/3.11*/bin/python; do \
  $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null && echo $$p && break; done)
BEAT_PACKAGES := setuptools==80.10.2 beat.core==1.13.5 beat.backend.python==1.7.15 beat.cmdline==1.10.3 \
  tensorflow-cpu keras numpy h5py pyyaml pillow pandas==3.1.1  # pandas: the seed-style scripts import it

beat-env: .beat-venv/.installed

.beat-venv/.installed: requirements.txt
	@test -n "$(PYTHON311)" || { echo "BEAT needs Python 3.11: install it (e.g. pyenv install 3.11) or pass PYTHON311=/path/to/python3.11"; exit 1; }
	$(PYTHON311) -m venv .beat-venv
	.beat-venv/bin/python -m pip install -q $(BEAT_PACKAGES) -c requirements.txt
	touch $@

clean:
	rm -rf $(VENV) .beat-venv *.egg-info
