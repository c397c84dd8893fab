# Two set-up-and-go commands: `make demo` and `make test`. Each creates .venv if missing.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Extras to install: `make test EXTRAS=dev,chem,dmc` adds RDKit and dm_control (CI does, see .ci/run).
EXTRAS ?= dev

.PHONY: demo test test-slow lint format install clean

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "$(TORCH)"
	$(PIP) install -q -e ".[$(EXTRAS)]"
	touch $@

install: $(VENV)/.installed-$(EXTRAS)

demo: install
	$(VENV)/bin/replab sweep tunnel --preset demo --seeds 5

lint: install
	$(VENV)/bin/ruff check replab tests benchmarks
	$(VENV)/bin/ruff format --check replab tests benchmarks

format: install
	$(VENV)/bin/ruff check --fix replab tests benchmarks
	$(VENV)/bin/ruff format replab tests benchmarks

# The suite runs twice (issue 17): with 2 torch threads per test and this CPU's kernels, then with 1 thread
# and the kernels of an older x86-64 CPU (ATen's portable code instead of AVX2/AVX-512, MKL's SSE4.2 and
# oneDNN's SSE4.1 paths). REPLAB_TEST_THREADS is read by tests/conftest.py (unset: torch's default, the
# number of cores, in every xdist worker too). A test comparing two different computations bit for bit, or
# with a tolerance tighter than their round-off, fails here rather than on a user's CPU. Both passes run the
# whole suite: the second costs about as much CPU as the first (≈ 2 min each on 2 cores at load 3-4, with
# the extras and 500 tests; 3.1 and 6.8 min beside other work at load 6-12, 696 tests).
OTHER_CPU := ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41
test: lint
	REPLAB_TEST_THREADS=2 $(VENV)/bin/pytest -n 2 -rs
	REPLAB_TEST_THREADS=1 $(OTHER_CPU) $(VENV)/bin/pytest -n 2 -rs

test-slow: install
	$(VENV)/bin/pytest -m slow

clean:
	rm -rf $(VENV) runs .pytest_cache

# SSL benchmark (issue 9): timm and lightly need torchvision, which does not import beside the CPU torch
# build of .venv, so they get their own environment with a matching torch/torchvision pair.
BENCH_SSL_VENV := build/venv-bench-ssl

$(BENCH_SSL_VENV)/.installed: pyproject.toml
	test -x $(BENCH_SSL_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_SSL_VENV)
	$(BENCH_SSL_VENV)/bin/pip install -q "torch==2.14.1" "torchvision==0.29.1" "timm==1.0.31" "lightly==1.6.0"
	$(BENCH_SSL_VENV)/bin/pip install -q -e .
	touch $@

.PHONY: bench-ssl
bench-ssl: $(BENCH_SSL_VENV)/.installed
	$(BENCH_SSL_VENV)/bin/python benchmarks/ssl_bench.py

# GFlowNet benchmark against torchgfn, which needs numpy<2: its own environment (build/venv-gfn, git-ignored).
VENV_GFN := build/venv-gfn
.PHONY: bench-gfn

$(VENV_GFN)/.installed:
	test -x $(VENV_GFN)/bin/python || $(PYTHON) -m venv $(VENV_GFN)
	$(VENV_GFN)/bin/pip install -q "$(TORCH)" "numpy<2" torchgfn==2.4.1
	touch $@

bench-gfn: $(VENV_GFN)/.installed
	$(VENV_GFN)/bin/python benchmarks/gfn.py --iters 100 --repeats 5
