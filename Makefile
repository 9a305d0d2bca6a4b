# The two commands of the README's quick start. Each installs what it needs into .venv.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# `make demo` ends by serving the dashboard on demo.duckdb; `make demo DASHBOARD=0` stops after the sync.
DASHBOARD ?= 1
PORT ?= 8501

.PHONY: demo dashboard test lint bench clean browser

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) -m scripts.demo
ifneq ($(DASHBOARD),0)
	@echo "dashboard: http://localhost:$(PORT) (Ctrl-C to stop)"
	MERGELENS_DB=demo.duckdb $(PY) -m streamlit run dashboard/app.py --server.headless true \
		--server.port $(PORT) --browser.gatherUsageStats false
endif

dashboard: $(VENV)/.installed
	$(PY) -m streamlit run dashboard/app.py --server.headless true --server.port $(PORT) \
		--browser.gatherUsageStats false

# The dashboard's browser test drives Debian's Chromium (Playwright's own browser download is
# never used); installed when missing.
browser:
	@bash scripts/install-chromium.sh

test: $(VENV)/.installed browser
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(PY) -m ruff check .

bench: $(VENV)/.installed
	$(PY) -m benchmarks.sync_speed
	$(PY) -m benchmarks.dashboard_speed

clean:
	rm -rf $(VENV) demo.duckdb demo.duckdb.wal
