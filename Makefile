# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/samples/retail_journeys.csv
MAP    := data/samples/retail_map.yaml

# The minimum-versions lane: a venv (in build/, which git ignores) with exactly the declared floors
# (ci/constraints-min.txt), on the declared minimum Python 3.10 when this machine has it (else python3),
# running the smoke subset of the tests below.
MIN_VENV   ?= build/venv-min
MIN_PY     := $(MIN_VENV)/bin/python
MIN_STAMP  := $(MIN_VENV)/.installed-stamp
MIN_PYTHON ?= $(shell for p in python3.10 $$(ls -d $$HOME/.pyenv/versions/3.10*/bin/python3 2>/dev/null) python3; do \
                $$p -c 'import sys; assert sys.version_info >= (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
MIN_TESTS  := tests/test_min_versions.py tests/test_smoke.py tests/test_timestamps.py tests/test_datasets.py \
              tests/test_cli.py tests/test_kernels.py tests/test_memory_kernels.py tests/test_real_kernels.py

.PHONY: install demo test test-min bench clean

install: $(STAMP)

# Re-install only when the package metadata changes; the install is editable.
$(STAMP): pyproject.toml
	@command -v java >/dev/null 2>&1 || { echo "installing Java 17 for the Spark engine"; \
	  apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }
	@command -v chromium >/dev/null 2>&1 || { echo "installing Chromium for the report's browser test"; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/journeylens analyze $(SAMPLE) \
	  --user "Customer Ref" --time "When" --event "Touchpoint" --channel "Medium" --device "Device Type" \
	  --map $(MAP) --out out/demo
	@echo "outputs in out/demo/:"; ls out/demo

test: install
	$(PY) -m pytest

$(MIN_STAMP): pyproject.toml ci/constraints-min.txt
	rm -rf $(MIN_VENV)
	$(MIN_PYTHON) -m venv $(MIN_VENV)
	$(MIN_PY) -m pip install -q --upgrade pip
	$(MIN_PY) -m pip install -q -c ci/constraints-min.txt -e . pytest "hypothesis>=6.100"
	touch $(MIN_STAMP)

test-min: $(MIN_STAMP)
	@echo "minimum-versions lane: $$($(MIN_PY) --version), $$(grep -c '==' ci/constraints-min.txt) floors pinned"
	JOURNEYLENS_MIN_LANE=1 $(MIN_PY) -m pytest -m "not slow" $(MIN_TESTS)

bench: install
	bash benchmarks/peers_env.sh
	$(PY) benchmarks/run.py
	$(PY) benchmarks/bench_mining.py
	$(PY) benchmarks/bench_personas.py

clean:
	rm -rf out .pytest_cache .hypothesis $(MIN_VENV)
