# PostgreSQL Patterns Lab. Two commands for a fresh clone: `make lab` and `make test`.
# Every target installs only what is missing, so a second run starts at once.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.pglab-installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
export PLOOMBER_STATS_ENABLED := false
export JUPYTERLAB_SETTINGS_DIR := $(CURDIR)/.jupyter/lab/user-settings
export JUPYTERLAB_WORKSPACES_DIR := $(CURDIR)/.jupyter/lab/workspaces

.PHONY: test-browser reset-lesson lessons-changed claim-margins bench-first-run lab test html install prepare db-status db-stop db-clean drop-lessons test-pg15 lock notebooks notebook

LAB_ARGS ?=

lab: prepare  ## open JupyterLab on your copy of lesson 00 (my-lessons/: yours; notebooks/ stays as shipped)
	@$(PY) -m pglab copies
	cd my-lessons && ../$(VENV)/bin/jupyter lab 00_getting_started.ipynb $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

reset-lesson: install  ## your copy of one lesson as shipped again: make reset-lesson N=05 (the old copy is kept)
	@test -n "$(N)" || { echo "Which lesson? make reset-lesson N=05"; exit 2; }
	@$(PY) -m pglab reset $(N)

lessons-changed: install  ## which lessons were updated since your copy was made
	@$(PY) -m pglab changed

# Two at a time where there are two cores: it halves the time, and proves every claim with another lesson beside it.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(2 if (os.cpu_count() or 1) >= 2 else 0)")

test: prepare  ## the whole suite: package tests, exercises, every notebook (nbval), docker-compose.yml
	$(PY) -m pytest $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile)

html: prepare  ## run the shipped lessons (databases of their own) and write HTML to build/html; a failing one is named
	$(PY) scripts/lessons.py html
	@echo "Open build/html/00_getting_started.html"

notebooks: prepare  ## execute every lesson from its text source (notebooks/NN_*.md) and store the outputs
	$(PY) scripts/lessons.py execute

notebook: prepare  ## one lesson: make notebook N=05
	@test -n "$(N)" || { echo "Which lesson? make notebook N=05"; exit 2; }
	$(PY) scripts/lessons.py execute $(N)

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/install.py
	@$(PYTHON) scripts/install.py --venv $(VENV)
	@touch $(STAMP)

prepare: install  ## start the database (embedded unless DATABASE_URL is set) and build the dataset once
	@$(PY) -m pglab prepare

db-status: install
	$(PY) -m pglab status

db-stop: install  ## stop the embedded server (its data stays in .pglab/)
	$(PY) -m pglab stop

db-clean: install  ## stop the embedded server and delete .pglab/ (data, dataset); rebuilt on next use
	$(PY) -m pglab clean

drop-lessons: install  ## drop every lesson database the lab created (on this server)
	$(PY) -m pglab drop-lessons

test-browser: prepare  ## JupyterLab in headless Chromium, as a learner uses it (Debian's chromium, installed if missing)
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium and chromium-driver"; apt-get install -y -q chromium chromium-driver >/dev/null; \
	  else echo "make test-browser needs Chromium and its driver: sudo apt-get install chromium chromium-driver"; exit 2; fi; }
	PGLAB_BROWSER=1 $(PY) -m pytest -q tests/browser

test-pg15: install  ## the whole suite against PostgreSQL 15 (Debian's binaries), and the lessons on a bare 15 server
	PGLAB_TEST_BARE_SERVER=1 bash scripts/with-pg15.sh make test

claim-margins: prepare  ## every lesson RUNS times (10), two at a time: the margin of every timing claim, worst first
	$(PY) scripts/claim_margins.py --runs $(or $(RUNS),10)

bench-first-run:  ## a fresh clone, nothing cached: time to the first JupyterLab page, and make test (prints figures)
	$(PYTHON) scripts/bench_first_run.py

lock: install  ## re-pin requirements.lock from requirements.in: one version of each package for Python 3.10-3.13
	$(VENV)/bin/uv pip compile --quiet --universal --python-version 3.10 --fork-strategy fewest \
		--custom-compile-command "make lock" requirements.in -o requirements.lock
