# Botyard: `make run` starts it zero-config with demo data; `make test` runs the suite on PostgreSQL and Redis.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/botyard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
PORT ?= 8000
# Processes for the zero-config suite (pytest-xdist): it shares nothing between tests, so it can use every core.
TEST_WORKERS ?= auto

.PHONY: install run test test-zero-config lint services worker beat

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

## Zero-config: SQLite, a local-memory cache and inline tasks, with a demo tenant to log in to.
run: install
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py install_periodic_tasks
	DEBUG=true $(BIN)/python manage.py seed_demo
	DEBUG=true $(BIN)/python manage.py aggregate_kpis
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

## The test suite against PostgreSQL and Redis (started if they are not up), with a real Celery worker.
test: install services
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(BIN)/python -m pytest

## The same suite with nothing configured (SQLite, local memory); integration tests skip themselves. The browser
## tests drive the same pages in `make test` (a minute of CI's 20 on a slow machine).
test-zero-config: install
	env -u DATABASE_URL -u REDIS_URL -u CELERY_BROKER_URL $(BIN)/python -m pytest -m "not browser" -n $(TEST_WORKERS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/python manage.py makemigrations --check --dry-run --settings=config.test_settings

services:
	.ci/ensure-browser
	.ci/ensure-services

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO

beat: install
	$(BIN)/celery -A config beat --loglevel=INFO
