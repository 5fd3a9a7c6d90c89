# Smartcard Route: `make run` to start it, `make test` to test it. Both install what they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PYTEST_WORKERS ?= auto

.PHONY: run test lint audit setup deps clean help

help:
	@echo "make run   - install, migrate, load demo data and serve on http://127.0.0.1:8000 (with a Celery worker)"
	@echo "make test  - install and run the whole test suite"
	@echo "make lint  - ruff, mypy and the migrations check"
	@echo "make audit - known vulnerabilities in both Python locks (pip-audit) and the npm lock (npm audit)"

# Python dependencies, pinned: requirements.lock (production) and requirements-dev.lock (test and lint
# tools, which includes the first); reinstalled only when a lock changes.
$(BIN)/.installed: requirements.lock requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	@touch $@

# NHS.UK frontend (with sass to compile it, and axe-core for the accessibility tests), pinned in
# package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# NHS.UK frontend's CSS, compiled from its Sass with our settings (scss/) into static/build/ (not in
# git): `npm run build:css` (package.json), which the Dockerfile runs too. Rebuilt when they change.
NHSUK_CSS := static/build/nhsuk-frontend.css
$(NHSUK_CSS): node_modules/.installed $(wildcard scss/*.scss)
	npm run --silent build:css

deps: $(BIN)/.installed node_modules/.installed

setup: deps $(NHSUK_CSS)
	@mkdir -p var

# Migrates, loads the demo data (idempotent) and serves: see scripts/run-local.
run: setup
	@bash scripts/run-local

test: setup
	bash scripts/test

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	DJANGO_SETTINGS_MODULE=smartcard_route.test_settings $(PY) manage.py makemigrations --check --dry-run

# Known vulnerabilities in the pinned dependencies (docs/security.md, "Dependency audit"). Not part of
# `make test`: it needs the advisory services (PyPI's JSON API per release, npm's bulk advisory
# endpoint), not only the package indexes. --strict fails when a package could not be checked.
audit: deps
	$(BIN)/pip-audit --strict --disable-pip --no-deps -r requirements.lock
	$(BIN)/pip-audit --strict --disable-pip --no-deps -r requirements-dev.lock
	npm audit --audit-level=low

clean:
	rm -rf var/broker var/static static/build
