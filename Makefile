# CardiacLGE: set-up, demo and tests. Each target creates its virtual environment when it is missing.
#   make demo   - the default install only (.venv-runtime: no torch, no slicer-core), then the main job on
#                 example data the project generates itself
#   make test   - the test profile (.venv: + torch, onnx, onnxscript, slicer-core), then the whole test suite
#                 (pytest + slicer-core, no Slicer app needed)
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
RUNTIME_VENV ?= .venv-runtime
RPY := $(RUNTIME_VENV)/bin/python
# torch 2.13.0: the CPU build on this project's machines; override TORCH_SPEC elsewhere if needed.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.cardiaclge-installed
RUNTIME_STAMP := $(RUNTIME_VENV)/.cardiaclge-installed
DEMO_DIR ?= demo_output

.PHONY: setup runtime demo test lint bench clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "CardiacLGE needs Python 3.10 or newer: $(PYTHON) is $$($(PYTHON) -V 2>&1). Give another with make PYTHON=python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "$(PYTHON) lacks the venv module (Debian/Ubuntu: apt install python3-venv)."; exit 1; }
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "$(TORCH_SPEC)"
	$(VPY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

$(RUNTIME_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "CardiacLGE needs Python 3.10 or newer: $(PYTHON) is $$($(PYTHON) -V 2>&1). Give another with make PYTHON=python3.11 ..."; exit 1; }
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { echo "$(PYTHON) lacks the venv module (Debian/Ubuntu: apt install python3-venv)."; exit 1; }
	test -x $(RPY) || $(PYTHON) -m venv $(RUNTIME_VENV)
	$(RPY) -m pip install --quiet --upgrade pip
	$(RPY) -m pip install --quiet -e .
	touch $(RUNTIME_STAMP)

setup: $(STAMP)

runtime: $(RUNTIME_STAMP)

demo: runtime
	$(RPY) scripts/demo.py --out $(DEMO_DIR)

test: setup
	$(VPY) -m pytest -q

lint: setup
	$(VPY) -m ruff check .

bench: setup
	$(VPY) benchmarks/bench_ti_correction.py
	$(VPY) benchmarks/bench_lge_qa.py
	$(VPY) benchmarks/bench_dicom_examine.py

clean-venv:
	rm -rf $(VENV) $(RUNTIME_VENV)
