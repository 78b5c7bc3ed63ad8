# Two commands do all set-up on a fresh machine:
#   make run    create .venv, install everything, start the chat UI on the embedded model
#   make test   create .venv, install everything, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK = 1
# llama.cpp's AMX kernels segfault on the first decode on virtualized Sapphire Rapids CPUs (ggml-org/llama.cpp
# #20824), which these machines are: on x86_64 llama-cpp-python is built with the portable AVX2 kernels instead,
# once per machine, into a wheel folder that later venvs (and CI on the same machine) reuse. pip's own wheel
# cache is bypassed for that build, since it would hand back a native (AMX) build made before.
LLAMA_VERSION := 0.3.36
WHEELHOUSE    ?= $(HOME)/.cache/apprentice/wheels
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE   := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS  := $(WHEELHOUSE)/llama-avx2
else
LLAMA_CMAKE   :=
LLAMA_WHEELS  := $(WHEELHOUSE)/llama-native
endif

.PHONY: install run test bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	# torch is pinned to the 2.13.0 CPU build in pyproject.toml; llama-cpp-python compiles once (~5 min)
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl > /dev/null 2>&1 || \
	  CMAKE_ARGS="$(LLAMA_CMAKE)" $(PY) -m pip wheel --quiet --no-cache-dir --no-deps -w $(LLAMA_WHEELS) \
	    llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[test]'
	$(PY) -m apprentice.setup_check
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/apprentice chat

test: install
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) benchmarks/decode_speed.py
	$(PY) benchmarks/step_overhead.py --out benchmarks/results/step_overhead.txt
	$(PY) benchmarks/student_speed.py
	$(PY) benchmarks/batch_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info
