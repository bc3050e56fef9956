# Everything runs from the project's own virtualenv, .venv, which the first target that needs it
# creates and fills from pyproject.toml (only python3, make and the package registry are assumed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := test
.PHONY: install redis-server test test-fast lint format typecheck demo docs bench bench-distributed bench-instructions clean distclean

# Re-runs whenever pyproject.toml changes (new dependency, new extra).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(STAMP)

# The distributed-mode tests start a real redis-server on loopback: install it when it is missing
# and we may (root, as in CI); otherwise say how. The tests fail (never skip) without it in CI.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (apt-get)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (e.g. sudo apt-get install redis-server)" >&2; exit 1; \
	  fi; }

test: $(STAMP) redis-server
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	HYPOTHESIS_PROFILE=ci $(BIN)/pytest

# The quick loop: every test but the docs, Redis and stateful ones, at the dev profile.
test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/pytest -m "not docs and not redis and not stateful and not bench"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

# The main job: the bundled outage scenario on a virtual clock, its timeline and a plot.
demo: $(STAMP)
	$(BIN)/failover simulate --plot timeline.png

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

BENCH_STAMP := $(VENV)/.bench-installed

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/machine.py
	@echo
	$(BIN)/python benchmarks/overhead.py
	@echo
	$(BIN)/python benchmarks/coordinator.py

# Noise-free figures (callgrind instruction counts; needs valgrind; ~11 minutes).
bench-instructions: $(BENCH_STAMP)
	$(BIN)/python benchmarks/instructions.py
	@echo
	$(BIN)/python benchmarks/request_instructions.py

# Redis commands per guarded call and trip propagation between processes (needs redis-server).
bench-distributed: $(BENCH_STAMP) redis-server
	$(BIN)/python benchmarks/distributed.py

clean:
	rm -rf build dist site timeline.png .hypothesis .mypy_cache .pytest_cache .ruff_cache *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

# clean, and the virtualenv too: the next target rebuilds it from nothing.
distclean: clean
	rm -rf $(VENV)
