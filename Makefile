# The two commands of the README's quick start. Each installs what it needs into .venv:
# demo and dashboard the runtime set (requirements.txt), test, lint and bench the test and lint
# tools on top (requirements-dev.txt). Both are pinned with hashes (regenerate them with the
# pip-compile command at the top of requirements.in and requirements-dev.in). A merge run installs
# less: the fetcher's own part of the runtime set (requirements-fetcher.txt, no dashboard).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The DuckLake line (docs/ducklake.md): `--db ducklake:...` runs from its own venv.
LAKE_VENV ?= .venv-lake
# `make demo` ends by serving the dashboard on demo.duckdb; `make demo DASHBOARD=0` stops after the sync.
DASHBOARD ?= 1
PORT ?= 8501

.PHONY: demo dashboard test test-fast lint bench clean browser lake postgresql

PIP_INSTALL := $(PY) -m pip install --quiet --disable-pip-version-check --require-hashes

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP_INSTALL) -r requirements.txt -r requirements-dev.txt
	touch $@

# DuckDB 1.5 with the ducklake, httpfs, postgres and sqlite extensions as PyPI wheels
# (requirements-lake.txt): run mergelens on a DuckLake as $(LAKE_VENV)/bin/python -m fetcher.
$(LAKE_VENV)/.installed: requirements-lake.txt
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-lake.txt
	touch $@

lake: $(LAKE_VENV)/.installed

# Debian's PostgreSQL for the DuckLake tests (they start and stop their own cluster); installed when missing.
postgresql:
	@bash scripts/install-postgresql.sh

# The demo serves its PRs from tests/support/fake_github, whose GraphQL side needs graphql-core (a dev package).
demo: $(VENV)/.installed-dev
	$(PY) -m scripts.demo
ifneq ($(DASHBOARD),0)
	@echo "dashboard: http://localhost:$(PORT) (Ctrl-C to stop)"
	MERGELENS_DB=demo.duckdb $(PY) -m fetcher dashboard --server.port $(PORT)
endif

# A DuckLake (MERGELENS_DB=ducklake:...) is read by the DuckLake line's interpreter; anything else by .venv.
DASHBOARD_VENV := $(if $(filter ducklake:%,$(MERGELENS_DB)),$(LAKE_VENV),$(VENV))

# `python -m fetcher dashboard`: Streamlit headless on 127.0.0.1, no usage statistics (fetcher/commands/dashboard.py).
dashboard: $(DASHBOARD_VENV)/.installed
	$(DASHBOARD_VENV)/bin/python -m fetcher dashboard --server.port $(PORT)

# The dashboard's browser test drives Debian's Chromium (Playwright's own browser download is
# never used); installed when missing.
browser:
	@bash scripts/install-chromium.sh

# tests/test_storage_lake_location.py runs its DuckLake writers with $(LAKE_VENV)/bin/python (MERGELENS_LAKE_PYTHON).
# pytest-xdist runs the tests on one worker per core, each starting its own services (tests/README.md);
# --dist worksteal: a worker that runs out takes tests queued for the other, so a long test late in
# the order does not leave one worker idle.
PYTEST_WORKERS ?= auto
test: $(VENV)/.installed-dev browser lake postgresql
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal

# The same without the slow tests (kill -9 rounds, whole Actions runs): for a quick loop while working.
test-fast: $(VENV)/.installed-dev browser
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist worksteal -m "not slow"

lint: $(VENV)/.installed-dev
	$(PY) -m ruff check .

# lake_speed: the DuckLake against the file (its lake side on $(LAKE_VENV); its own PostgreSQL and S3 server).
# merge_run: a merge run's critical path (it installs both locks into fresh venvs under the system temp directory).
bench: $(VENV)/.installed-dev lake postgresql
	$(PY) -m benchmarks.sync_speed
	$(PY) -m benchmarks.merge_run
	$(PY) -m benchmarks.dashboard_speed
	MERGELENS_LAKE_PYTHON=$(LAKE_VENV)/bin/python $(PY) -m benchmarks.lake_speed

clean:
	rm -rf $(VENV) $(LAKE_VENV) demo.duckdb demo.duckdb.wal
