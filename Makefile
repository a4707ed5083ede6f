# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SAMPLE := data/samples/retail_journeys.csv
MAP    := data/samples/retail_map.yaml

.PHONY: install demo test bench clean

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

bench: install
	bash benchmarks/peers_env.sh
	$(PY) benchmarks/run.py
	$(PY) benchmarks/bench_mining.py
	$(PY) benchmarks/bench_personas.py

clean:
	rm -rf out .pytest_cache .hypothesis
