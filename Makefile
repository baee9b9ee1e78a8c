# The two commands the README starts with: `make dev` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: dev test faults lint fmt bench bench-provision bench-fleet bench-migrations install worker api migrate clean browser

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,test]'
	touch $(STAMP)

# Swagger UI 5 for /docs, from the npm registry (FastAPI's default loads it from a CDN).
SWAGGER_UI_VERSION := 5.35.0
DOCS_ASSETS := api/docs_assets/swagger-ui-bundle.js
$(DOCS_ASSETS):
	@command -v npm >/dev/null || { echo "npm not found: /docs will load Swagger UI from its CDN"; exit 0; }
	mkdir -p api/docs_assets
	cd api/docs_assets && npm pack --silent swagger-ui-dist@$(SWAGGER_UI_VERSION) >/dev/null \
	  && tar -xzf swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz --strip-components=1 \
	     package/swagger-ui-bundle.js package/swagger-ui.css package/favicon-32x32.png \
	  && rm swagger-ui-dist-$(SWAGGER_UI_VERSION).tgz

install: $(STAMP) $(DOCS_ASSETS)

## Debian's Chromium for the browser tests (test tools' own browser downloads cannot work here).
browser: $(CHROMIUM)
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver

## Start the whole stack on embedded defaults (Temporal dev server + Web UI, PostgreSQL, worker, API).
dev: $(STAMP) $(DOCS_ASSETS)
	$(BIN)/python -m devstack

## Lint, type-check, then run the whole test suite against real Temporal and PostgreSQL.
test: $(STAMP) $(DOCS_ASSETS) $(CHROMIUM) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The fault-injection suite at full size (docs/reliability.md); `make test` runs it small.
faults: $(STAMP)
	FAULTS_SCALE=full $(BIN)/python -m pytest tests/faults -m faults $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Benchmarks (scripts, not tests): provisioning speed, SSE delivery, a 10,000-tenant fleet,
## schema rollouts;
## docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m bench.provision
	$(BIN)/python -m bench.sse
	$(BIN)/python -m bench.fleet
	$(BIN)/python -m bench.migrations

bench-fleet: $(STAMP)
	$(BIN)/python -m bench.fleet $(BENCH_ARGS)

bench-provision: $(STAMP)
	$(BIN)/python -m bench.provision $(BENCH_ARGS)

bench-migrations: $(STAMP)
	$(BIN)/python -m bench.migrations $(BENCH_ARGS)

## Components on their own, against an existing Temporal cluster and PostgreSQL (DATABASE_URL).
migrate: $(STAMP)
	$(BIN)/python -m core.setup

worker: $(STAMP)
	$(BIN)/python -m workflows.worker

api: $(STAMP)
	$(BIN)/python -m api

clean:
	rm -rf $(VENV) .data
