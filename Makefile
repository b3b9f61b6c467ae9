# Two commands on a fresh machine: `make run` and `make test` (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: run test bench docs docs-site install install-test lab-cli frontend browser clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-base: requirements/base.txt | $(PY)
	$(PIP) install -q -r requirements/base.txt
	touch $@

$(VENV)/.installed-test: requirements/base.txt requirements/test.txt | $(PY)
	$(PIP) install -q -r requirements/test.txt
	touch $@ $(VENV)/.installed-base

# `.venv/bin/lab` (pyproject.toml's [project.scripts]): this checkout, editable, without dependencies (the
# pinned requirements bring them); reinstalled when the venv's labclient is another checkout's
lab-cli: | $(PY)
	@$(PY) -I -c "import labclient, pathlib, sys; sys.exit(pathlib.Path(labclient.__file__).resolve().parent != pathlib.Path('$(CURDIR)/labclient').resolve())" 2>/dev/null && [ -x $(VENV)/bin/lab ] \
	  || $(PIP) install -q --no-deps --no-build-isolation -e . 2>/dev/null || $(PIP) install -q --no-deps -e .

install: $(VENV)/.installed-base lab-cli
install-test: $(VENV)/.installed-test lab-cli

# the chart library comes from npm, pinned by frontend/package-lock.json
frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

frontend: $(if $(wildcard frontend/package-lock.json),frontend/node_modules/.installed,)

# browser tests drive Debian's chromium; never a browser downloaded by a test tool
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install frontend
	$(PY) -m webapp.lab run

test: install-test frontend browser
	@# pytest's exit 5 means "no tests collected": say so rather than fail
	@# LAB_TEST_STORAGE=s3: the same suite with the storage on a fresh bucket of moto's S3 server
	$(PY) -m webapp.lab exec -- $(if $(filter s3,$(LAB_TEST_STORAGE)),$(PY) -m tests.s3server --) \
	  $(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; exit $$rc
	@# the whole suite ran on the filesystem: the tests marked `stores` run again with the storage on S3
	$(if $(PYTEST_ARGS)$(LAB_TEST_STORAGE),,$(PY) -m webapp.lab exec -- $(PY) -m tests.s3server -- $(PY) -m pytest -m stores -q)
	@if [ -d frontend/tests ]; then node --test frontend/tests/; fi

$(VENV)/.installed-bench: requirements/bench-extra.txt | $(VENV)/.installed-test
	$(PIP) install -q --no-deps -r requirements/bench-extra.txt
	touch $@

bench: install-test $(VENV)/.installed-bench frontend
	$(PY) -m webapp.lab exec -- $(PY) -m bench $(BENCH)

# the generated tables of README.md and docs/ (params from the schemas, figures from bench/results/*.json)
docs: install
	$(PY) -m tools.gendocs

# docs/ as a site in site/ (MkDocs, installed with the test requirements)
docs-site: install-test docs
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf .lab/test-media bench/results/*.png site
