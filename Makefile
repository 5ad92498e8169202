# micrograd: `make test` and `make demo` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CC ?= gcc
CSRC := $(wildcard csrc/mg_*.c)
CTEST_FLAGS := -std=c99 -Wall -Wextra -Wconversion -O2 -ffp-contract=off -Icsrc
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
PYTEST_ARGS ?=

.PHONY: venv build test test-core test-py test-deep ctest sanitize bench demo clean

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" "Cython>=3.0,<4" wheel
	$(PY) -m pip install -q --no-build-isolation -e ".[test,demo,viz]"
	touch $@

venv: $(VENV)/.installed

build: venv            ## compile micrograd._core in place (incremental)
	$(PY) setup.py -q build_ext --inplace

ctest: build/test_mg   ## the C unit test, on its own
	./build/test_mg

build/test_mg: $(CSRC) csrc/mg_graph.h csrc/test_mg.c
	mkdir -p build
	$(CC) $(CTEST_FLAGS) $(CSRC) csrc/test_mg.c -lm -o $@

test: build ctest      ## C test, then the suite on the core and on the reference
	$(PY) -m pytest $(PYTEST_ARGS)
	MICROGRAD_PUREPYTHON=1 $(PY) -m pytest -m "not core" $(PYTEST_ARGS)

test-deep: build ctest ## the same with the deep hypothesis profile
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest $(PYTEST_ARGS)
	HYPOTHESIS_PROFILE=deep MICROGRAD_PUREPYTHON=1 $(PY) -m pytest -m "not core" $(PYTEST_ARGS)

test-py: venv          ## no compiler needed
	MICROGRAD_PUREPYTHON=1 $(PY) -m pytest -m "not core" $(PYTEST_ARGS)

sanitize: venv         ## C test and Python suite under AddressSanitizer + UBSan
	mkdir -p build
	$(CC) $(CTEST_FLAGS) -O1 -g $(SAN) $(CSRC) csrc/test_mg.c -lm -o build/test_mg_san
	./build/test_mg_san
	MICROGRAD_EXTRA_CFLAGS="$(SAN) -O1 -g" MICROGRAD_EXTRA_LDFLAGS="$(SAN)" \
	    $(PY) setup.py -q build_ext --inplace --force
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(PY) -m pytest -m "not slow" -p no:cacheprovider $(PYTEST_ARGS); \
	    status=$$?; $(PY) setup.py -q build_ext --inplace --force; exit $$status

bench: build           ## the benchmarks, both backends in one run
	$(PY) -m micrograd bench

demo: build            ## train on two moons with a progress bar, draw moons.png
	$(PY) -m micrograd demo --plot moons.png

clean:
	rm -rf build dist *.egg-info micrograd/_core.c micrograd/_core.html \
	    micrograd/_core*.so micrograd/_core*.pyd .pytest_cache .hypothesis
