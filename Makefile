# The mall's entry points. `make run` and `make test` are all a new machine needs (Python 3.11):
# both create .venv and install the requirements on first use.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY := .venv/bin/python

.PHONY: help bootstrap run test test-quick lint fix bench demo-data clean-venv

help:
	@echo "make run     run the mall: embedded PostgreSQL, demo data, API, admin, WeChat sandbox, worker, beat"
	@echo "make test    ruff, mypy, import-linter and the whole pytest suite on a real PostgreSQL"
	@echo "make test-quick  the inner loop: ruff and pytest without the slow tests (transactional tests, whole stories)"
	@echo "make lint    ruff, mypy and import-linter only"
	@echo "make bench   the benchmarks (bench/), then search quality and speed (bench/search.py)"
	@echo "make fix     ruff's safe autofixes"
	@echo "make demo-data  load the demo catalogue, members and orders (idempotent)"

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	@$(PY) scripts/run.py

test: bootstrap
	@bash scripts/install_browser.sh
	@bash scripts/install_redis.sh
	@bash scripts/install_ts_client.sh
	@bash scripts/test.sh

test-quick: bootstrap
	@bash scripts/install_ts_client.sh
	@bash scripts/test.sh --quick

lint: bootstrap
	@bash scripts/test.sh --lint-only

# Safe autofixes only (import order, unused noqa...); the code base does not adopt `ruff format`.
fix: bootstrap
	@.venv/bin/ruff check --fix .

# The generated month of events bench/analytics_month.py times the reports on (the issue's: 20000000).
ANALYTICS_MONTH_EVENTS ?= 2000000

bench: bootstrap
	@if [ -f bench/run.py ]; then $(PY) bench/run.py; \
	elif [ -f bench/__main__.py ]; then $(PY) -m bench && $(PY) -m bench.search \
		&& $(PY) -m bench.analytics_month --events $(ANALYTICS_MONTH_EVENTS); \
	else echo "make bench: no bench/run.py or bench/__main__.py yet" >&2; exit 1; fi

demo-data: bootstrap
	@$(PY) scripts/run.py --prepare-only

clean-venv:
	rm -rf .venv
