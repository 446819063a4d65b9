# Two commands matter: `make demo` and `make test`. Everything they need is installed from here.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench clean-data

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

.env:
	$(PYTHON) -m hub.envfile .env

## demo: install, migrate, start web + worker + scheduler + simulators, seed, push sample orders
demo: $(VENV)/.runtime .env
	$(PY) manage.py demo

## test: the whole suite (DATABASE_URL / REDIS_URL from the environment, else SQLite + embedded Redis)
test: $(VENV)/.dev /usr/bin/chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's chromium for the admin's browser test (Playwright never downloads a browser here)
/usr/bin/chromium:
	apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

## clean-data: forget the demo's database and embedded Redis (keeps .env and its keys)
clean-data:
	-$(PY) -c "from pathlib import Path; from hub import embedded_redis as r; r.stop(Path('data'))"
	rm -rf data

## bench: measure the mapping engine and the simulators; figures go to bench/RESULTS.md
bench: $(VENV)/.dev
	command -v wrk >/dev/null || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	$(PY) bench/run.py
