# kubeplan: `make app` and `make test` do all the set-up from a fresh clone.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
# Where `make app` listens: loopback unless you mean to serve others (README "Running it
# for a team": set KUBEPLAN_BIND=0.0.0.0 only with sign-in configured).
KUBEPLAN_BIND ?= 127.0.0.1
KUBEPLAN_PORT ?= 8501
# Megabytes per uploaded file; Streamlit refuses larger uploads before they arrive.
KUBEPLAN_MAX_UPLOAD_MB ?= 10

.PHONY: app test install lock lint typecheck pytest ingest eval bench bench-full bench-deps browser-deps clean

app: install ingest
	$(VENV)/bin/streamlit run app.py --server.headless=true --browser.gatherUsageStats=false --client.toolbarMode=viewer \
		--server.address=$(KUBEPLAN_BIND) --server.port=$(KUBEPLAN_PORT) \
		--server.maxUploadSize=$(KUBEPLAN_MAX_UPLOAD_MB)

test: install browser-deps lint typecheck pytest

install: $(STAMP)

# Torch first, pinned to the CPU build on this disk: an unpinned torch pulls a CUDA build of
# several GB. The stamp makes a second `make install` a no-op until pyproject.toml changes.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev,fast]'
	touch $(STAMP)

# Pin what the venv resolved today (after a dependency change in pyproject.toml).
lock: install
	{ sed -n '1,3p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -iv '^torch=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# The browser test drives Debian's headless Chromium (never a downloaded browser).
browser-deps:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
		echo "installing chromium and chromium-driver (Debian packages) for the browser test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

lint: install
	$(VENV)/bin/ruff check assistant tests evals benchmarks app.py

typecheck: install
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
pytest: install
	@$(PY) -m pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

ingest: install
	$(VENV)/bin/kubeplan ingest

# The eval on the bundled corpus against the committed baseline (make test runs the same
# gate inside pytest, over a private store).
eval: install ingest
	$(VENV)/bin/kubeplan eval --baseline evals/baseline.json

# Minutes on two cores: ingest of 40 upstream files against the textbook pipeline, answer
# latency over a 5k-chunk ladder, cold start, 1-8 clients through a chroma server.
bench: install ingest bench-deps
	$(PY) -m benchmarks.bench_ingest --subset 40
	$(PY) -m benchmarks.bench_answer --ladder 2500,5000
	$(PY) -m benchmarks.bench_concurrency
	$(PY) -m benchmarks.bench_readers

# The textbook pipeline's packages (see the `bench` extra in pyproject.toml for --no-deps).
bench-deps: install
	$(PY) -m pip install -q --disable-pip-version-check --no-deps \
		'langchain-text-splitters>=1.1' 'langchain-huggingface>=1.2'

# The 210 EKS + Kubernetes concepts files, and the growth ladder to 100k chunks.
bench-full: install ingest bench-deps
	$(PY) -m benchmarks.bench_ingest --full
	$(PY) -m benchmarks.bench_answer --ladder 5000,20000,50000,100000
	$(PY) -m benchmarks.bench_concurrency

clean:
	rm -rf $(VENV) .kubeplan .mypy_cache .ruff_cache .pytest_cache
