# The two set-up commands of the README. Each creates .venv (once) from the repo's own files.
#   make render   -> renders/undock.mp4 (the default scene, simulated then rendered)
#   make test     -> the test suite (what CI runs, after `make check`)
#   make check    -> ruff, mypy and import-linter's layer contracts (all configured in pyproject.toml)
#   make docs     -> docs/api/issvis.html, the API reference from the docstrings (pdoc)
#   make cycles-env -> .venv-cycles, Blender as a Python module (bpy 5.0.1 needs Python 3.11 and
#                    numpy < 2, so it has its own environment) for `issvis render --engine cycles`
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
CYCLES_VENV ?= .venv-cycles
CYCLES_PYTHON ?= python3.11

.PHONY: render test check docs bench clean cycles-env

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

$(CYCLES_VENV)/.installed:
	$(CYCLES_PYTHON) -m venv $(CYCLES_VENV)
	$(CYCLES_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CYCLES_VENV)/bin/python -m pip install --quiet bpy==5.0.1 'numpy<2'
	touch $@

cycles-env: $(CYCLES_VENV)/.installed

render: $(VENV)/.installed
	$(VENV)/bin/issvis render

test: $(VENV)/.installed
	$(PY) -m pytest

check: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

docs: $(VENV)/.installed
	$(PY) docs/make_reference.py -o docs/api

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_simulation.py
	$(PY) benchmarks/bench_render.py
	$(PY) benchmarks/bench_sweep.py

clean:
	rm -rf $(VENV) renders/*.mp4 renders/*.npz renders/*.png
