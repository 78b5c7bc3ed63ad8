# Two commands do all set-up on a fresh machine:
#   make run    create .venv, install everything, start the chat UI on the embedded model
#   make test   create .venv, install everything, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	# torch is pinned to the 2.13.0 CPU build in pyproject.toml; llama-cpp-python compiles once (~5 min)
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m apprentice.setup_check
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/apprentice chat --model local

test: install
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) benchmarks/decode_speed.py
	$(PY) benchmarks/step_overhead.py --out benchmarks/results/step_overhead.txt
	$(PY) benchmarks/student_speed.py
	$(PY) benchmarks/batch_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info
