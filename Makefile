# Caudal: two commands on a fresh machine (Python 3.11, make, Debian's packages).
#   make demo   installs everything, builds the demo utility and serves it at http://127.0.0.1:8000
#   make test   runs every check and test, on SQLite and on a throwaway PostgreSQL server
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
CAUDAL := $(VENV)/bin/caudal
DEMO_ARGS ?=
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: demo test install system-deps system-deps-test assets lint serve clean

demo: install
	$(CAUDAL) migrate --noinput
	$(CAUDAL) demo --fresh $(DEMO_ARGS)
	$(CAUDAL) serve

test: install system-deps-test
	bash scripts/test.sh

install: system-deps $(VENV)/.installed assets

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python $(PYTHON)
	touch $@

assets: node_modules/.caudal-vendor/.installed

node_modules/.caudal-vendor/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the app itself needs: Node.js/npm (front-end assets from the npm registry
# at install time) and gettext (compiling Spanish translations).
system-deps:
	@bash scripts/system-deps.sh base

# What the test command needs on top: PostgreSQL server binaries and Chromium.
system-deps-test:
	@bash scripts/system-deps.sh test

lint: install
	bash scripts/test.sh lint

serve: install
	$(CAUDAL) serve

clean:
	rm -rf $(VENV) $(TOOLS) node_modules var
