# Two commands do all set-up on a fresh machine:
#   make run    create .venv, install everything, start the chat UI on the embedded model
#   make test   create .venv, install everything, run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK = 1
# llama.cpp's AMX kernels segfault on the first decode on virtualized Sapphire Rapids CPUs (ggml-org/llama.cpp
# #20824), which these machines are: on x86_64 llama-cpp-python is built for this CPU without them (-mno-amx-*
# wins over -march=native whatever the order), once per machine, into a wheel folder that later venvs (and CI on the
# same machine) reuse. pip's own wheel cache is bypassed for that build: it would hand back a build made before.
LLAMA_VERSION := 0.3.36
WHEELHOUSE    ?= $(HOME)/.cache/apprentice/wheels
# the build is native: keyed by this CPU's feature flags, so another CPU builds its own
CPU_ID        := $(shell grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | md5sum | cut -c1-10)
# (a compiler too old to know AMX, GCC < 11, builds without it anyway and refuses the flags)
ifeq ($(shell uname -m)$(shell echo 'int x;' | $${CC:-cc} -mno-amx-tile -x c -c -o /dev/null - 2>/dev/null && echo ok),x86_64ok)
LLAMA_FLAGS   := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
LLAMA_WHEELS  := $(WHEELHOUSE)/llama-noamx-$(CPU_ID)
else
LLAMA_FLAGS   :=
LLAMA_WHEELS  := $(WHEELHOUSE)/llama-native-$(CPU_ID)
endif

.PHONY: install run test bench clean postgres

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip wheel setuptools
	# torch is pinned to the 2.13.0 CPU build in pyproject.toml; llama-cpp-python compiles once (~5 min)
	ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl > /dev/null 2>&1 || \
	  CFLAGS="$(LLAMA_FLAGS)" CXXFLAGS="$(LLAMA_FLAGS)" CMAKE_ARGS="-DGGML_NATIVE=ON" \
	    $(PY) -m pip wheel --quiet --no-cache-dir --no-deps -w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_VERSION)
	$(PY) -m pip install --quiet --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl
	$(PY) -m pip install --quiet --find-links $(LLAMA_WHEELS) -e '.[all,test]'
	$(PY) -m apprentice.setup_check
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/apprentice chat

# tests/test_postgres.py starts a real PostgreSQL server: Debian's postgresql package, installed here when it is
# missing and this is root on Debian (elsewhere its tests skip, and fail under CI)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || command -v initdb > /dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null && \
	    { apt-get install -y -qq postgresql > /dev/null 2>&1 || \
	      { apt-get update -qq > /dev/null && apt-get install -y -qq postgresql > /dev/null; }; }; } || \
	  echo "note: PostgreSQL is not installed (the postgresql package): its tests skip"

test: install postgres
	$(PY) -m pytest -q -p no:cacheprovider

bench: install
	$(PY) benchmarks/decode_speed.py
	$(PY) benchmarks/step_overhead.py --out benchmarks/results/step_overhead.txt
	$(PY) benchmarks/student_speed.py
	$(PY) benchmarks/batch_scaling.py

clean:
	rm -rf $(VENV) build *.egg-info
