# tirta: every target creates .venv itself when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: demo demo-build test bench lint venv clean system-packages

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,postgres,dask,wastewater]'
	touch $(STAMP)

venv: $(STAMP)

# builds the demo city (reused when already built), then serves it on 127.0.0.1 and replays its
# telemetry live until Ctrl-C; `make demo-build` only builds
demo: $(STAMP)
	$(BIN)/tirta demo

demo-build: $(STAMP)
	$(BIN)/tirta demo --no-serve

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks deploy
	$(BIN)/ruff format --check src tests benchmarks deploy
	$(BIN)/mypy src/tirta

# PostgreSQL, mosquitto and Chromium, which the tests start themselves: apt-installed when missing
# (as root), else make stops and prints the command to run
system-packages:
	@sh tests/system_packages.sh

test: $(STAMP) system-packages
	$(BIN)/ruff check src tests benchmarks deploy
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py --json bench-results/engine.json
	$(BIN)/python benchmarks/leaks.py --json bench-results/leaks.json
	$(BIN)/python benchmarks/telemetry.py --json bench-results/telemetry.json
	$(BIN)/python benchmarks/web.py --json bench-results/web.json
	$(BIN)/python benchmarks/scale.py --json bench-results/scale.json
	$(BIN)/python benchmarks/landgem.py --json bench-results/landgem.json
	$(BIN)/python benchmarks/planning.py --json bench-results/planning.json
	$(BIN)/python benchmarks/quality.py --json bench-results/quality.json
	$(BIN)/python benchmarks/wastewater.py $(if $(EXPOSAN_PY),--exposan-python $(EXPOSAN_PY)) --json bench-results/wastewater.json
	$(BIN)/python benchmarks/live.py --json bench-results/live.json

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
