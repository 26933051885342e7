# embharness: `make eval` and `make test` do all the set-up on a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
EMB := $(VENV)/bin/embharness
STAMP := $(VENV)/.installed
SWEEP ?= evals/jina.yaml
RESULTS ?= results
REPORTS ?= reports
# The gate's baseline for the venv's Python: the stdlib task's data is the interpreter's standard
# library (3,385 records on 3.11.7, 3,146 on 3.12.1), so each minor version has its own baseline.
BASELINE ?= results/baselines/offline-py$(shell $(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])').json
CI_RESULTS := .cache/ci/results
TOKENIZER := .cache/assets/tokenizer-qwen3/tokenizer.json
MANPAGES := .cache/assets/manpages.ok
CHROMIUM := .cache/assets/chromium.ok

.PHONY: eval test lint gate ci-gate report submit bench gpu-kit assets manpages chromium clean

# Tests, the CI gate and the benchmarks keep Hugging Face and mteb caches under .cache/, so they
# never touch ~/.cache; `make eval` and the other user targets use the user's caches.
test ci-gate bench: export HF_HOME := $(CURDIR)/.cache/huggingface
test ci-gate bench: export HF_HUB_CACHE := $(CURDIR)/.cache/huggingface/hub
test ci-gate bench: export HF_DATASETS_CACHE := $(CURDIR)/.cache/huggingface/datasets
test ci-gate bench: export MTEB_CACHE := $(CURDIR)/.cache/mteb

# (Re)create the venv when it is missing or when the pins changed.
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e '.[dev]'
	@touch $(STAMP)

$(TOKENIZER):
	bash scripts/fetch_qwen_tokenizer.sh $(dir $(TOKENIZER))

$(MANPAGES):
	bash scripts/ensure_manpages.sh
	@mkdir -p $(dir $@) && touch $@

$(CHROMIUM):
	bash scripts/ensure_chromium.sh || echo "chromium could not be installed: its test will skip"
	@mkdir -p $(dir $@) && touch $@

manpages: $(MANPAGES)
chromium: $(CHROMIUM)
assets: $(TOKENIZER) $(MANPAGES) $(CHROMIUM)

eval: $(STAMP) $(MANPAGES)
	$(EMB) run $(SWEEP) --results-dir $(RESULTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

# The regression gate on the offline suite, recomputed from scratch (empty results and cache).
ci-gate: $(STAMP) $(MANPAGES)
	rm -rf .cache/ci
	$(EMB) run evals/gate.yaml --results-dir $(CI_RESULTS) --cache-dir .cache/ci/embeddings --quiet
	$(EMB) gate --baseline $(BASELINE) --results $(CI_RESULTS) --mode significance

# Lint (mypy: about 80 s on one core from a cold cache) runs beside pytest, whose two workers
# leave a core partly idle while they wait on sweep subprocesses; its log follows pytest's.
# pytest: two workers, each file on one, slow files first (tests/conftest.py).
test: $(STAMP) assets
	@mkdir -p .cache && $(MAKE) --no-print-directory lint > .cache/lint.log 2>&1 & linting=$$!; \
	$(VENV)/bin/pytest -q -n 2 --dist loadfile --no-loadscope-reorder; tested=$$?; \
	wait $$linting; linted=$$?; cat .cache/lint.log; \
	test $$linted -eq 0 || echo "make lint failed (log above)"; \
	test $$tested -eq 0 -a $$linted -eq 0
	$(MAKE) ci-gate

gate: $(STAMP)
	$(EMB) gate --baseline $(BASELINE) --results $(RESULTS)

report: $(STAMP)
	$(EMB) report --results $(RESULTS) --out $(REPORTS)

submit: $(STAMP)
	@test -n "$(MODEL)" || { echo "usage: make submit MODEL=org/name [OUT=dir]"; exit 2; }
	$(EMB) submit --model $(MODEL) --results $(RESULTS) --out $(or $(OUT),.cache/submission)

bench: $(STAMP) $(MANPAGES)
	$(PY) benchmarks/run_all.py

# What benchmarks/bench_gpu.py needs on a GPU machine that reaches no registry: carry .cache/assets.
gpu-kit: $(STAMP) $(TOKENIZER)
	$(PY) benchmarks/bench_gpu.py --stage

clean:
	rm -rf .cache/ci $(REPORTS)/*
