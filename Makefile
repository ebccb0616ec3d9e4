# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1:8000

.PHONY: run test lint demo serve worker beat verify clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

## run: venv, install, migrate, demo data (Sakura preset), serve on http://$(HOST)
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py runserver $(HOST)

## test: the whole suite (SQLite unless DATABASE_URL names PostgreSQL), then a ledger check
test: $(VENV)/.installed-dev
	bash scripts/browser-ensure.sh
	$(BIN)/python -m pytest -q
	bash scripts/smoke.sh

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .

worker: $(VENV)/.installed
	$(BIN)/celery -A config worker -l info

beat: $(VENV)/.installed
	$(BIN)/celery -A config beat -l info

verify: $(VENV)/.installed
	$(BIN)/python manage.py verifyledger

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .hypothesis
