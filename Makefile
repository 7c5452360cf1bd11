# The two commands of the quick start: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
PC := $(VENV)/bin/privacy-center
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint chromium wheel bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev,scan,postgresql]'
	touch $@

run: $(VENV)/.installed
	$(PC) init-db
	$(PC) demo --origin http://$(HOST):$(PORT) --server-url http://$(HOST):$(PORT)
	$(PC) serve --host $(HOST) --port $(PORT)

# Debian's Chromium (no browser downloads work here) and, checked on its own, a Japanese font:
# without it the screenshots show empty boxes for Japanese. Only what is missing is installed.
chromium:
	@missing=; \
	test -x /usr/bin/chromium || missing=chromium; \
	dpkg-query -W -f='$${Status}' fonts-ipafont-gothic 2>/dev/null | grep -q 'ok installed' || \
	  missing="$$missing fonts-ipafont-gothic"; \
	if [ -n "$$missing" ]; then \
	  echo installing $$missing && $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

# A wheel for deployment, with the widget built into it (setup.py), from a clean build folder.
wheel: $(VENV)/.installed
	rm -rf build dist
	$(PY) -m pip wheel -q --no-deps -w dist .
	@ls dist/*.whl

# Lint, format and type checks; .ci/run runs them before the suite. mypy's settings (which
# modules are strict) are in pyproject.toml.
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Two legs at once, one per core: the whole suite on SQLite, and on PostgreSQL (each test on a
# database of its own, tests/support.py). .ci/postgresql starts PostgreSQL (installs it on a
# Debian machine without it); if it still does not answer, one line says that only the SQLite
# leg runs. The PostgreSQL leg's output goes to build/test-postgresql.log, printed at the end.
test: $(VENV)/.dev chromium
	@mkdir -p build; \
	if bash .ci/postgresql; then \
	  PRIVACY_CENTER_TEST_ENGINE=postgresql $(PY) -m pytest -q -p no:cacheprovider \
	    >build/test-postgresql.log 2>&1 & pg=$$!; \
	else pg=; fi; \
	echo "== SQLite leg"; $(PY) -m pytest -q -p no:cacheprovider; sqlite=$$?; \
	if [ -n "$$pg" ]; then \
	  wait $$pg; postgresql=$$?; echo "== PostgreSQL leg"; cat build/test-postgresql.log; \
	else postgresql=0; echo "== PostgreSQL leg: not run (PostgreSQL does not answer)"; fi; \
	[ $$sqlite = 0 ] && [ $$postgresql = 0 ]

bench: $(VENV)/.dev
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq wrk >/dev/null; }
	$(PY) bench/decisions.py

clean:
	rm -rf $(VENV) build dist *.egg-info
