# Two commands on a fresh machine:  make demo  |  make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# The CPU build of torch: an unpinned torch pulls several GB of CUDA packages.
PIP    := $(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt
STAMP  := $(VENV)/.installed

.PHONY: install demo test test-fast lint docs format bench browser-check clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) torch==2.13.0
	$(PIP) -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/shiftvae demo --out shiftvae-demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: $(STAMP)
	$(BIN)/python -c "from shiftvae.pipeline.options import options_markdown as m; print(m(), end='')" > docs/options.md

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Side-by-side speed benchmark against pyroVED, in its own environment (.venv-bench).
bench: $(STAMP)
	bash benchmarks/setup_bench_env.sh
	.venv-bench/bin/python benchmarks/bench_vs_pyroved.py --bf16

# Headless Chromium from Debian's packages, then a quick demo's report in it: every image
# loads, no console error, a click on a cell draws its patch, a slider changes the motif.
browser-check: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python benchmarks/check_report_renders.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache shiftvae-demo
