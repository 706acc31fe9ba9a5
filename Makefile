# One entry point. Every target installs what it needs on first use.
#   make test     run the whole suite (CI runs this)
#   make grade    grade the bundled sample submissions
#   make lab      JupyterLab on notebooks/
#   make release  regenerate notebooks/ from solutions/ (nbgrader generate_assignment)
#   make fixtures regenerate data/fixtures/ from autograder.reference
#   make bench    speed benchmarks, reported as ratios
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
PYTEST_ARGS ?=
# nbgrader shells out to tools installed beside it (alembic), so the venv's bin comes first.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup test lint lab release fixtures grade gradescope bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (nbgrader 0.9.6 requires it), found " + sys.version.split()[0] + ": run make PYTHON=python3.11")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

test: $(STAMP)
	MPLBACKEND=Agg $(PY) -m pytest -n $(JOBS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check rnncourse autograder tests solutions

# JupyterLab rooted at notebooks/, opening lesson 01. Root needs --allow-root.
LAB_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_FLAG) $(LAB_ARGS) notebooks/01_rnn_cell/01_rnn_cell.ipynb

release: $(STAMP)
	$(PY) -m autograder release

fixtures: $(STAMP)
	$(PY) -m autograder fixtures

grade: $(STAMP)
	$(PY) -m autograder grade $(ARGS)

gradescope: $(STAMP)
	$(PY) -m autograder gradescope $(ARGS)

bench: $(STAMP)
	MPLBACKEND=Agg $(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache gradebook.db grading_output
