# Two set-up commands: `make demo` and `make test`. Both create and reuse .venv themselves.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO_CONFIG := configs/rosenbrock.yaml

.PHONY: demo test bench lint examples clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/optiviz run $(DEMO_CONFIG) -o demo.gif
	@echo "wrote demo.gif"
	@echo "to use optiviz in this shell, activate the venv once:  . $(BIN)/activate"
	@echo "then try:  optiviz list   optiviz init > mine.yaml   optiviz run mine.yaml"

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n auto

# The HTML player's tests drive Debian's chromium headless (tests/headless_chromium.py): in CI
# (CI set) they fail without it, elsewhere they are skipped. apt-get only, no browser downloads.
chromium:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
		{ sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		  $$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium; }

# Benchmarks time the tool as installed: with its bytecode written (pip compiles an installed
# package; an editable install under PYTHONDONTWRITEBYTECODE never would).
bench: $(VENV)/.installed-test
	$(BIN)/python -m compileall -q optiviz
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/render.py
	$(BIN)/python bench/sampling.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/basins.py
	$(BIN)/python bench/torch_adapter.py
	$(BIN)/python bench/variational.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check optiviz tests bench

examples: $(VENV)/.installed
	$(BIN)/optiviz batch configs --out-dir examples/gallery -j 2
	$(BIN)/optiviz run configs/rosenbrock_adaptive.yaml -o examples/gallery/rosenbrock_adaptive.mp4 -q
	$(BIN)/optiviz run configs/rosenbrock_adaptive.yaml -o examples/gallery/rosenbrock_adaptive.html -q

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis demo.gif
