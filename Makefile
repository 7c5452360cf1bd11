# The two commands of the quick start: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PC := $(VENV)/bin/privacy-center
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint chromium bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(PC) init-db
	$(PC) demo --origin http://$(HOST):$(PORT) --server-url http://$(HOST):$(PORT)
	$(PC) serve --host $(HOST) --port $(PORT)

# Debian's Chromium (no browser downloads work here), with a Japanese font for the screenshots.
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium \
	    fonts-ipafont-gothic >/dev/null; }

# Lint, format and type checks; .ci/run runs them before the suite. mypy's settings (which
# modules are strict) are in pyproject.toml.
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(VENV)/.dev chromium
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(VENV)/.dev
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/decisions.py

clean:
	rm -rf $(VENV) build
