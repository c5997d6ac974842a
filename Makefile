# One machine, zero configuration: `make run` serves, `make test` checks everything.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run run-emulated demo test lint typecheck imports clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,whisper,gcp]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/ingestion-pipeline migrate
	$(BIN)/ingestion-pipeline serve

run-emulated: install
	$(BIN)/ingestion-pipeline run-emulated

demo: install
	$(BIN)/ingestion-pipeline demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

test: lint typecheck imports
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Intake, mixed load, pipeline overhead and Whisper benchmarks (bench/), then one PASS/FAIL
# table against absolute targets (bench/RESULTS.md has the figures); a few minutes on 2 cores.
.PHONY: bench
bench: install
	$(BIN)/python -m bench.run

# The labelled calls and redaction cases (tests/eval/data) through the configured analyzer
# (PIPELINE_ANALYZER, default rules), the lead scoring and the redaction; prints the figures.
.PHONY: eval
eval: install
	$(BIN)/python -m tests.eval

# The Dockerfile built and run with no Docker engine (buildah, chroot isolation, a Debian base
# made with debootstrap): both extras sets build, the embedded image answers /health/ready and
# runs the demo 6/6. Needs root; 2-3 minutes on 2 cores. Not part of `make test`.
.PHONY: image-smoke
image-smoke:
	nice -n 10 deploy/image-smoke.sh
