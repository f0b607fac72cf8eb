# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch 2.13.0 (CPU build) first, then the project.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
RUNS ?= runs
PROFILE ?= quick

.PHONY: demo test lint env clean gpu-dry-run

$(BIN)/bench: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[dev,downstream]'
	touch $(BIN)/bench

env: $(BIN)/bench

# Two cells at a time, one torch thread each: 0.82x of one process's time on 2 cores (README, Performance).
# --downstream: the tissue-segmentation score (ANTs Atropos, the 'downstream' extra); report.html is written too.
demo: env
	$(BIN)/bench run --methods all --dataset demo --scale 2x2x2 --profile $(PROFILE) --runs-dir $(RUNS) \
		--executor local --workers 2 --threads 1 --downstream
	$(BIN)/bench report --runs-dir $(RUNS)

# tests/install_slurm.sh installs a single-node Slurm for tests/test_slurm_real.py where it can (root, apt-get);
# tests/install_browser.sh installs Chromium and its driver for tests/test_html_report_browser.py.
# Two pytest workers (pytest-xdist), one test file each at a time, one thread each: 2 cores busy.
test: env
	tests/install_slurm.sh
	tests/install_browser.sh
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile tests

lint: env
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The GPU paper-profile script (benchmarks/gpu_paper_run.py) end to end on the CPU: tiny sizes, 5 minutes.
gpu-dry-run: env
	$(BIN)/python benchmarks/gpu_paper_run.py --dry-run --minutes 5 --out $(RUNS)/gpu-dry-run --work $(RUNS)/gpu-dry-run-work

clean:
	rm -rf $(VENV) $(RUNS)
