# Battery Lifecycle platform. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install demo up down test lint format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@# mdbtools (Debian) reads Arbin .res files; without it only .res files are refused, with that reason.
	@command -v mdb-export >/dev/null || { apt-get install -y -qq mdbtools >/dev/null 2>&1 || \
	  (apt-get update -qq && apt-get install -y -qq mdbtools) >/dev/null 2>&1 || \
	  echo "note: mdbtools not installed (apt-get install mdbtools): Arbin .res files cannot be read"; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python --quiet --no-deps -e .
	@# Bytecode for our own modules too: every Airflow task is a fresh interpreter.
	$(BIN)/python -m compileall -q plugins dags bench >/dev/null
	@touch $(STAMP)

install: $(STAMP) ## build .venv from requirements.lock (pinned) and install the project in it

demo: $(STAMP) ## embedded Postgres + real Airflow over the bundled samples; prints per-cell results
	$(BIN)/blc demo

up: $(STAMP) ## Airflow standalone (UI on :8080) with blc_watch unpaused, watching ./drops; Ctrl+C stops it
	@mkdir -p drops
	@$(BIN)/blc up

down: ## stop what make up started
	@if [ -x $(BIN)/blc ]; then $(BIN)/blc down; else echo "nothing running"; fi

test: $(STAMP) ## the whole suite (real Postgres, real Airflow, real GX)
	$(BIN)/python -m pytest -q

bench: $(STAMP) ## speed and memory vs the floor, one run (PEERS=1 adds BEEP); bench/results/latest.json
	$(BIN)/python bench/run.py $(if $(PEERS),--peers,)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check plugins dags tests bench
	$(BIN)/ruff format --check plugins dags tests bench
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff check --fix plugins dags tests bench
	$(BIN)/ruff format plugins dags tests bench

clean: ## remove .blc (embedded Postgres, Airflow home) and drops/
	rm -rf .blc drops
