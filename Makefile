# CardiacLGE: set-up, demo and tests. Each target creates .venv when it is missing.
#   make demo   - set up, then run the main job on example data the project generates itself
#   make test   - set up, then run the whole test suite (pytest + slicer-core, no Slicer app needed)
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
# torch 2.13.0: the CPU build on this project's machines; override TORCH_SPEC elsewhere if needed.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.cardiaclge-installed
DEMO_DIR ?= demo_output

.PHONY: setup demo test lint bench clean-venv

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet "$(TORCH_SPEC)"
	$(VPY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(VPY) scripts/demo.py --out $(DEMO_DIR)

test: setup
	$(VPY) -m pytest -q

lint: setup
	$(VPY) -m ruff check .

bench: setup
	$(VPY) benchmarks/bench_ti_correction.py
	$(VPY) benchmarks/bench_lge_qa.py
	$(VPY) benchmarks/bench_dicom_examine.py

clean-venv:
	rm -rf $(VENV)
