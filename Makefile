# The two commands: `make run` and `make test`. Everything they need is installed from the
# hash-locked files in requirements/, into .venv, so every install is reproducible.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 5000

# What the PostgreSQL + Redis run of the suite talks to (CI sets the same values).
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/0

.PHONY: translations run init test test-services test-faults lint typecheck audit lock check-locks clean bench bench-growth wrk chromium apache interop

run: $(VENV)/.installed-main translations
	$(BIN)/authserver init
	$(BIN)/authserver serve --host $(HOST) --port $(PORT)

init: $(VENV)/.installed-main
	$(BIN)/authserver init

# The suite runs in TEST_WORKERS processes (pytest-xdist), each given whole files, so a file's
# live server or browser starts once. TEST_WORKERS=0 runs it in this one process (a debugger,
# a print): `make test TEST_WORKERS=0`.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

test: $(VENV)/.installed-test translations chromium apache interop lint typecheck
	$(PYTEST)

# The tests that use PostgreSQL or Redis (.ci/run starts them when they are down): their
# postgresql and redis variants, and tests that need a service. Everything else would run exactly
# as in `make test`, so it is deselected (--services-only, tests/conftest.py); `make test` then
# `make test-services` runs every test once. For the whole suite with the services, set the two
# variables and run .venv/bin/pytest.
test-services: $(VENV)/.installed-test translations chromium interop
	AUTHSERVER_TEST_DATABASE_URL=$(TEST_DATABASE_URL) AUTHSERVER_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(PYTEST) --services-only

# The fault suite (tests/faults: two live instances on PostgreSQL + Redis, the services stopped
# and started under load, slow clients) and the bounded fuzzer (tests/fuzz). Not part of
# `make test`: they restart the machine's PostgreSQL and take minutes. .ci/run runs them. Each
# scenario's figures (requests, answers by status, latency in and outside the fault) are printed
# at the end and written to fault-figures/ in pytest's base temporary folder.
# The scenarios run one at a time in one process (each is timed, and some stop services); the
# fuzzer, which only reads and writes its own SQLite files and live server, runs afterwards in
# TEST_WORKERS processes (its in-process requests are in shards).
test-faults: $(VENV)/.installed-test translations
	AUTHSERVER_TEST_DATABASE_URL=$(TEST_DATABASE_URL) AUTHSERVER_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -p no:cacheprovider tests/faults
	AUTHSERVER_TEST_DATABASE_URL=$(TEST_DATABASE_URL) AUTHSERVER_TEST_REDIS_URL=$(TEST_REDIS_URL) \
		$(BIN)/pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist load tests/fuzz

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

# Known vulnerabilities in every locked dependency (pip-audit, from requirements/audit.txt, in a
# venv of its own). It asks a vulnerability database on the internet, so CI does not run it:
# run it before a release and when an advisory is published. --strict: a package it could not
# check is a failure, never a silent pass.
AUDIT_VENV := .venv-audit
AUDITED    := requirements/build.txt requirements/main.txt requirements/test.txt requirements/bench.txt
audit: $(AUDIT_VENV)/.installed
	@status=0; for locked in $(AUDITED); do \
		echo "== pip-audit $$locked"; \
		$(AUDIT_VENV)/bin/pip-audit --strict --require-hashes --disable-pip --progress-spinner off \
			-r $$locked 2>$(AUDIT_VENV)/last.log && continue; \
		status=1; grep -v -e '^Traceback' -e '^During handling' -e '^  ' -e '^$$' $(AUDIT_VENV)/last.log | tail -n 1; \
		echo "make audit: $$locked did not pass. Vulnerabilities are listed above; any other" \
			"error means pip-audit could not reach its vulnerability database (it needs the" \
			"internet). Full log: $(AUDIT_VENV)/last.log"; \
		break; \
	done; exit $$status

$(AUDIT_VENV)/.installed: requirements/pip.txt requirements/audit.txt
	$(PYTHON) -m venv $(AUDIT_VENV)
	$(AUDIT_VENV)/bin/python -m pip --disable-pip-version-check install --require-hashes \
		-r requirements/pip.txt
	$(AUDIT_VENV)/bin/python -m pip --disable-pip-version-check install --require-hashes \
		-r requirements/audit.txt
	touch $@

# Benchmarks (bench/, BENCHMARKS.md). Never part of `make test` or CI: speed is measured by load,
# not by timed tests. PostgreSQL + Redis are added when AUTHSERVER_TEST_DATABASE_URL /
# AUTHSERVER_TEST_REDIS_URL are set (as for `make test-services`).
BENCH_ARGS ?=
GROWTH_ARGS ?=
bench: $(VENV)/.installed-bench wrk
	$(BIN)/python -m bench $(BENCH_ARGS)

# The growth run: PostgreSQL with 10^3, then 10^6 users, refresh tokens and audit rows.
bench-growth: $(VENV)/.installed-bench wrk
	AUTHSERVER_TEST_DATABASE_URL=$${AUTHSERVER_TEST_DATABASE_URL:-$(TEST_DATABASE_URL)} \
		$(BIN)/python -m bench.growth $(GROWTH_ARGS)

wrk:
	command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)

# The browser tests (tests/browser) drive Debian's Chromium through Playwright, which never
# downloads a browser of its own. Without it they fail rather than skip.
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# The gateway recipe's test (tests/gateway, docs/gateways.md) runs Debian's Apache httpd with
# mod_auth_openidc under a configuration of its own on loopback ports. The package's postinst
# would start the system Apache on port 80 with /etc/apache2: a server nobody asked for, left
# running after the install. Stopping it afterwards could stop one the machine's owner runs, so
# nothing is started at all: a policy-rc.d that forbids every start (exit 101, Debian's
# invoke-rc.d policy interface, which deb-systemd-invoke honours too) is in place for the
# install, and removed afterwards only when this target made it (a container may ship its own).
POLICY_RC_D    := /usr/sbin/policy-rc.d
OPENIDC_MODULE := /usr/lib/apache2/modules/mod_auth_openidc.so
apache:
	@if [ -x /usr/sbin/apache2 ] && [ -e $(OPENIDC_MODULE) ]; then exit 0; fi; \
	made=; \
	if [ ! -e $(POLICY_RC_D) ]; then \
		printf '#!/bin/sh\nexit 101\n' >$(POLICY_RC_D) && chmod 755 $(POLICY_RC_D) && made=1; \
	fi; \
	trap 'if [ -n "$$made" ]; then rm -f $(POLICY_RC_D); fi' EXIT; \
	set -x; apt-get update && apt-get install -y apache2 libapache2-mod-auth-openidc

# The interoperability tests (tests/e2e/test_*_interop.py) drive openid-client, a Node
# relying party we did not write, through tests/interop/client.mjs. `npm ci` installs exactly
# the committed lock file (its entries carry integrity hashes and no download addresses: npm
# takes the packages from the registry it is configured with). Node 20 or newer; Debian's
# nodejs and npm packages are installed when node is missing.
INTEROP := tests/interop
interop: $(INTEROP)/node_modules/.installed

$(INTEROP)/node_modules/.installed: $(INTEROP)/package.json $(INTEROP)/package-lock.json
	command -v npm >/dev/null || (apt-get update && apt-get install -y nodejs npm)
	cd $(INTEROP) && npm ci --no-audit --no-fund
	touch $@

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --require-hashes -r requirements/pip.txt

# The page languages (authserver/web/languages.py): each catalog's .po is the source, kept in git;
# the compiled .mo the server reads is made here (and in the Dockerfile), never committed.
CATALOGS := $(wildcard authserver/translations/*/LC_MESSAGES/messages.po)
translations: $(CATALOGS:.po=.mo)
%/LC_MESSAGES/messages.mo: %/LC_MESSAGES/messages.po $(VENV)/.installed-main
	$(BIN)/pybabel compile --statistics -i $< -o $@

$(VENV)/.installed-main: requirements/build.txt requirements/main.txt setup.cfg | $(BIN)/python
	$(PIP) install --require-hashes -r requirements/build.txt
	$(PIP) install --require-hashes -r requirements/main.txt
	$(PIP) install --no-deps --no-build-isolation -e .
	touch $@

# The verifier kit (verifier/, a distribution of its own) is tested with the server; its two
# dependencies, PyJWT and cryptography, are already locked in test.txt, so nothing else comes in.
$(VENV)/.installed-test: $(VENV)/.installed-main requirements/test.txt verifier/pyproject.toml
	$(PIP) install --require-hashes -r requirements/test.txt
	$(PIP) install --no-deps --no-build-isolation -e verifier
	touch $@

$(VENV)/.installed-bench: $(VENV)/.installed-main requirements/bench.txt
	$(PIP) install --require-hashes -r requirements/bench.txt
	touch $@

# Re-resolve the lock files after changing dependencies in setup.cfg (needs pip-tools).
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-find-links --no-emit-index-url
lock: | $(BIN)/python
	$(PIP) install pip-tools
	$(PIP_COMPILE) -o requirements/pip.txt requirements/pip.in
	$(PIP_COMPILE) -o requirements/build.txt requirements/build.in
	$(PIP_COMPILE) -c requirements/build.txt -o requirements/main.txt setup.cfg
	$(PIP_COMPILE) -c requirements/main.txt --extra test -o requirements/test.txt setup.cfg
	$(PIP_COMPILE) -c requirements/main.txt --extra bench -o requirements/bench.txt setup.cfg
	$(PIP_COMPILE) -o requirements/audit.txt requirements/audit.in

# Every lock file installs into a brand-new venv (CI runs this): a lock that only installs on
# top of another, or only with the pip some machine happens to have, fails here first. Each venv
# gets the locked pip first, exactly as the targets above do.
LOCKS := requirements/build.txt requirements/main.txt requirements/test.txt \
	requirements/bench.txt requirements/audit.txt
check-locks:
	@scratch=$$(mktemp -d); trap 'rm -rf "$$scratch"' EXIT; \
	for locked in $(LOCKS); do \
		echo "== $$locked into a new venv"; \
		rm -rf "$$scratch/venv" && $(PYTHON) -m venv "$$scratch/venv" || exit 1; \
		"$$scratch/venv/bin/python" -m pip --disable-pip-version-check -q install \
			--require-hashes -r requirements/pip.txt || exit 1; \
		"$$scratch/venv/bin/python" -m pip --disable-pip-version-check -q install \
			--require-hashes -r $$locked || exit 1; \
		"$$scratch/venv/bin/python" -m pip --disable-pip-version-check check || exit 1; \
	done

clean:
	rm -rf $(VENV) $(AUDIT_VENV) *.egg-info verifier/src/*.egg-info .pytest_cache .mypy_cache .ruff_cache \
		$(INTEROP)/node_modules
