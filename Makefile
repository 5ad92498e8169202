# micrograd: `make test` and `make demo` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CC ?= gcc
CSRC := $(wildcard csrc/mg_*.c)
CTEST_FLAGS := -std=c99 -Wall -Wextra -Wconversion -O2 -ffp-contract=off -pthread -Icsrc
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer
PYTEST_ARGS ?=

.PHONY: venv build test test-core test-py test-deep ctest sanitize coverage bench demo wheel-test wheelhouse docs screenshots matrix clean
WT := build/wheel-test
PYVERSIONS ?= 3.9 3.10 3.11 3.12 3.13

$(VENV)/.installed: pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "setuptools>=77" "Cython>=3.0,<4" wheel
	$(PY) -m pip install -q --no-build-isolation -e ".[test,demo,viz]"
	touch $@

venv: $(VENV)/.installed

build: venv            ## regenerate the stubs' table-made lines, compile micrograd._core in place
	$(PY) tools/regen.py
	$(PY) setup.py -q build_ext --inplace

ctest: build/test_mg build/test_gemm   ## the C unit tests, on their own
	./build/test_mg
	./build/test_gemm

build/test_mg: $(CSRC) $(wildcard csrc/*.h csrc/*.def) csrc/test_mg.c
	mkdir -p build
	$(CC) $(CTEST_FLAGS) $(CSRC) csrc/test_mg.c -lm -o $@

build/test_gemm: csrc/mg_gemm.c csrc/mg_gemm.h csrc/test_gemm.c
	mkdir -p build
	$(CC) $(CTEST_FLAGS) csrc/mg_gemm.c csrc/test_gemm.c -lm -o $@

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
	$(CC) $(CTEST_FLAGS) -O1 -g $(SAN) csrc/mg_gemm.c csrc/test_gemm.c -lm -o build/test_gemm_san
	./build/test_gemm_san
	MICROGRAD_EXTRA_CFLAGS="$(SAN) -O1 -g" MICROGRAD_EXTRA_LDFLAGS="$(SAN)" \
	    $(PY) setup.py -q build_ext --inplace --force
	LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    $(PY) -m pytest -m "not slow" -p no:cacheprovider $(PYTEST_ARGS); \
	    status=$$?; $(PY) setup.py -q build_ext --inplace --force; exit $$status

coverage:              ## gcov lines and branches of the tape's C (mg_replay, mg_tape, mg_gemm, mg_interp) under tests/test_tape*.py, from a copy built in build/coverage
	$(PY) tools/coverage.py $(PYTEST_ARGS)

bench: build           ## the benchmarks, both backends in one run
	$(PY) -m micrograd bench

demo: build            ## train on two moons with a progress bar, draw moons.png
	$(PY) -m micrograd demo --plot moons.png

wheel-test: venv       ## sdist -> wheel -> fresh venv -> the suite, outside the source tree
	rm -rf dist $(WT)
	$(PY) -m pip install -q build
	$(PY) -m build --outdir dist .
	$(PY) tests/check_dist.py dist
	$(PYTHON) -m venv $(WT)/venv
	$(WT)/venv/bin/pip install -q "$$(ls dist/*.whl)[test,demo,viz]"
	mkdir -p $(WT)/run && cp -r tests pyproject.toml README.md $(WT)/run/
	cd $(WT)/run && MICROGRAD_REQUIRE_CORE=1 ../venv/bin/python -m pytest -p no:cacheprovider -q
	$(PYTHON) -m venv $(WT)/pure
	MICROGRAD_PUREPYTHON=1 $(WT)/pure/bin/pip install -q .
	cd $(WT) && pure/bin/python -m micrograd | tee pure.txt
	grep -q "backend  python (this is a pure-Python install" $(WT)/pure.txt
	test -z "$$(find $(WT)/pure -name '_core*.so')"

wheelhouse: venv       ## manylinux wheels for every CPython 3.9-3.13 here, each tested in a fresh venv
	$(PY) tools/install_extra.py wheelhouse
	$(PY) tools/wheelhouse.py $(WHEELHOUSE_ARGS)

docs: build            ## the documentation site into docs/_build/html (warnings are errors)
	$(PY) tools/install_extra.py docs
	$(PY) -m sphinx -W -n --keep-going -b html docs docs/_build/html

screenshots: docs      ## the landing, training, performance and API pages in headless Chromium, into build/screenshots
	$(PY) tools/screenshots.py

matrix:                ## build and test on every CPython 3.9-3.13 found here
	@for v in $(PYVERSIONS); do \
	  py=python$$v; $$py -c '' 2>/dev/null || py=$$(ls -d $$HOME/.pyenv/versions/$$v.*/bin/python$$v 2>/dev/null | tail -1); \
	  if [ -z "$$py" ] || ! $$py -c '' 2>/dev/null; then echo "matrix: python$$v is not installed here: skipped"; continue; fi; \
	  echo "matrix: python$$v ($$py)"; d=build/matrix/$$v; rm -rf $$d; \
	  $$py -m venv $$d && $$d/bin/pip install -q ".[test]" \
	    && mkdir -p $$d/run && cp -r tests pyproject.toml README.md $$d/run/ \
	    && (cd $$d/run && MICROGRAD_REQUIRE_CORE=1 ../bin/python -m pytest -q -m "not slow" -p no:cacheprovider) \
	    || { echo "matrix: python$$v FAILED"; exit 1; }; \
	done

clean:                 ## every build product
	rm -rf build dist *.egg-info micrograd/*.egg-info micrograd/_core.c micrograd/_core.html \
	    micrograd/_core_table.pxi docs/_build wheelhouse \
	    micrograd/_core*.so micrograd/_core*.pyd .pytest_cache .hypothesis .mypy_cache moons.png \
	    csrc/*.o
	find . -name __pycache__ -not -path "./.venv/*" -prune -exec rm -rf {} +
