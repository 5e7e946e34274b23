# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: run test check bench bench-scale lint format browser servers clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt requirements-deploy.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	$(PY) scripts/ensure_env.py
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap_local
	NOVISURF_PARENT_PID=$$PPID $(PY) scripts/supervise.py

test: $(VENV)/.dev-installed browser servers
	$(PY) scripts/ensure_env.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest
	@echo "== The suite again on PostgreSQL, Redis and S3, with the scale scenario =="
	$(PY) -m tests.servers -- $(PY) -m pytest $(REAL_SERVER_PYTEST)

# The fast loop: lint, the migration check and the SQLite suite without browsers. The suite holds
# the architecture's boundaries too (tests/system/test_architecture.py).
check: $(VENV)/.dev-installed
	$(PY) scripts/ensure_env.py
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -m "not browser" -p no:cacheprovider

# The second run leaves out the browser tests: they drive the same views that the view tests
# already run on these servers, and would double its time for nothing the servers change.
REAL_SERVER_PYTEST ?= -m "not browser" -p no:cacheprovider

bench: $(VENV)/.dev-installed servers
	$(PY) scripts/ensure_env.py
	$(PY) -m bench
	$(PY) -m bench --scale

# The scale benchmarks on PostgreSQL, Redis and S3, started for the run and stopped after it.
bench-scale: $(VENV)/.dev-installed servers
	$(PY) scripts/ensure_env.py
	$(PY) -m bench --scale

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The browser tests drive Debian's Chromium (Playwright cannot download its own here).
browser:
	@test -x /usr/bin/chromium || { \
		echo "Installing Chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-dejavu-core; }

# The real-server run starts PostgreSQL and Redis from Debian's packages (tests/servers.py).
# Without apt or root it goes on: the run then says loudly what is missing (and fails on CI).
servers:
	@{ ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 && command -v redis-server >/dev/null; } || { \
		echo "Installing PostgreSQL and Redis for the real-server run"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql redis-server; } \
		|| echo "Could not install PostgreSQL and Redis; the real-server run will say what is missing"; }

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
