# Musterrolle: `make run` serves the demo, `make test` runs the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock | cut -c1-16)
HOST ?= 127.0.0.1
PORT ?= 8000

# Bytecode caching makes every Django start ~3x faster; some shells switch it off.
unexport PYTHONDONTWRITEBYTECODE

DEV_ENV := DJANGO_DEBUG=1 MUSTERROLLE_RELAX_MFA=1 MUSTERROLLE_SITE_URL=http://$(HOST):$(PORT)

.PHONY: help install run test bench drills lint format messages lock clean

help:
	@echo "make run    install, migrate, load demo data, serve on http://$(HOST):$(PORT)"
	@echo "make test   the whole test suite"
	@echo "make bench  board pages against a synthetic register (BENCH_MEMBERS=500000)"
	@echo "make drills load, Redis outage, worker kill, database restart, backup/restore, upgrade"
	@echo "make lint   ruff check, ruff format --check, makemigrations --check, import contracts"

$(STAMP): requirements.lock
	@test -x $(PY) || "$$(scripts/find-python)" -m venv $(VENV)
	@echo "Installing the locked dependencies into $(VENV) ..."
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

run: install
	$(DEV_ENV) $(PY) manage.py migrate --noinput
	$(DEV_ENV) $(PY) manage.py seed_demo
	@echo
	@echo "  Musterrolle runs on http://$(HOST):$(PORT)/  (demo password: musterrolle-demo)"
	@echo "  E-mails it sends are written to var/mail/ (one .txt file each)"
	@echo
	$(DEV_ENV) $(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# Board pages and batch jobs against synthetic registers in PostgreSQL (scripts/bench): the
# pages at BENCH_SMALL_MEMBERS (20000) and BENCH_MEMBERS (500000), everything at the latter.
# Without DATABASE_URL throwaway servers are started, their data kept in $(BENCH_PG)-<size>.
BENCH_PG ?= /tmp/musterrolle-bench-pg
bench: install
	BENCH_PG=$(BENCH_PG) scripts/bench

# Production drills (scripts/drills): each starts its own PostgreSQL, Redis, gunicorn and
# workers, prints one `DRILL <name> …` line and fails when the drill does. DRILLS=quick runs the
# small load drill and the Redis and worker drills (CI).
drills: install
	scripts/drills/run $(DRILLS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DJANGO_DEBUG=1 $(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Needs GNU gettext (msgfmt); the compiled .mo files are committed so `make run` does not.
messages: install
	DJANGO_DEBUG=1 $(PY) manage.py makemessages -l de --no-obsolete --ignore=.venv --ignore=var
	DJANGO_DEBUG=1 $(PY) manage.py compilemessages -l de --ignore=.venv

# Regenerate the hash-pinned lock file after changing pyproject.toml (needs uv).
lock:
	uv pip compile pyproject.toml --group dev --universal --generate-hashes --python-version 3.12 -o requirements.lock

clean:
	rm -rf $(VENV) var
