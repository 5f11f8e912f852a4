# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench bench-webhooks bench-matching chaos doctor help

help:
	@echo "make run     start everything (embedded MongoDB + Redis, web, worker) on http://127.0.0.1:8000"
	@echo "make test    run the test suite"
	@echo "make lint    check formatting and lint (ruff)"
	@echo "make bench   print per-photo timings of the face pipeline"
	@echo "make bench-webhooks  print webhook acknowledgement latency (p50/p90/p99)"
	@echo "make bench-matching  print time from a sighting photo to its candidate in the queue (p50/p95)"
	@echo "make chaos   200 conversations over the webhooks while the worker, Redis and MongoDB are killed: lost, stuck, duplicated"
	@echo "make doctor  check the install"

# The pinned dependencies, then the project itself (editable, for the `homeward` command).
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(PY) -m infra.supervisor

test: $(STAMP)
	$(PY) -m pytest

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
