# skysieve — the two commands: `make run` (default pipeline) and `make test`.
# Both create .venv with the pinned dependencies on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
# Keep every tool quiet and inside the repo or the temp dir.
export MLFLOW_ENABLE_TELEMETRY := false
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export DVC_NO_ANALYTICS := 1
export GX_ANALYTICS_ENABLED := False
export MPLCONFIGDIR := $(abspath .cache/matplotlib)
export KERAS_HOME := $(abspath .cache/keras)
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test install repro bench clean help

help:
	@echo "make run    set up .venv if needed, then run the default pipeline (dvc repro)"
	@echo "make test   set up .venv if needed, then run the test suite"
	@echo "make bench  run the benchmark scripts (figures go to docs/benchmarks.md by hand)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

$(STAMP): $(BIN)/python requirements.lock pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@test -d .dvc || $(BIN)/dvc init --quiet
	$(BIN)/dvc repro
	@echo
	@echo "Done. Results:"
	@echo "  data and maps:        data/sz/  (dvc status; dvc metrics show)"
	@echo "  validation report:    data/sz/validation.md"
	@echo "  models:               models/"
	@echo "  plots (PNG):          reports/"
	@echo "Open the MLflow UI with:"
	@echo "  $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --default-artifact-root ./mlartifacts"
	@echo "and each search's training runs there (MLflow 3 opens its GenAI pages unless told otherwise):"
	@$(BIN)/skysieve server links | sed 's/^/  /'

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf .pytest_cache .cache
