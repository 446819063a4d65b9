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

## bench: the hub's benchmarks (ingest, end to end beside Node-RED, workers, growth); figures go to bench/RESULTS.md
# On the machine's PostgreSQL (database `bench`, created when missing) and Redis (db 14) when both answer, like
# .ci/run (BENCH_DATABASE_URL / BENCH_REDIS_URL choose others); else SQLite and an embedded Redis.
# BENCH_ONLY=ingest,e2e runs some sections only. WordNet is for Valentine's Cupid matcher (bench/suggest).
bench: $(VENV)/.dev bench/node_modules/.installed
	command -v wrk >/dev/null || (apt-get install -y wrk || (apt-get update && apt-get install -y wrk))
	dpkg -s wordnet-base wordnet-sense-index >/dev/null 2>&1 || (apt-get install -y wordnet-base wordnet-sense-index \
	  || (apt-get update && apt-get install -y wordnet-base wordnet-sense-index))
	if bash -c '(exec 3<>/dev/tcp/127.0.0.1/5432) && (exec 3<>/dev/tcp/127.0.0.1/6379)' 2>/dev/null; then \
	  DATABASE_URL=$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/bench} \
	  REDIS_URL=$${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14} $(PY) bench/run.py; \
	else env -u DATABASE_URL -u REDIS_URL $(PY) bench/run.py; fi

# Node-RED for the side-by-side end-to-end figure, from the npm registry into bench/node_modules (git-ignored)
bench/node_modules/.installed: bench/package.json
	command -v npm >/dev/null || (apt-get install -y npm || (apt-get update && apt-get install -y npm))
	npm install --prefix bench --no-audit --no-fund --loglevel=error
	touch $@
