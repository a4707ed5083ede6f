#!/usr/bin/env bash
# Separate environment for peer tools that must not share the journeylens venv
# (retentioneering pins its own pandas/duckdb/gensim stack).
#   bash benchmarks/peers_env.sh            # creates benchmarks/.peers-venv once
#   PYTHON=python3.12 bash benchmarks/peers_env.sh
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${PEERS_VENV:-$HERE/.peers-venv}"
PYTHON="${PYTHON:-python3}"
RETENTIONEERING="${RETENTIONEERING:-retentioneering==5.2.4}"

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "$RETENTIONEERING"
# retentioneering reports usage to a remote service on import unless told not to.
RETENTIONEERING_NO_TRACK=1 "$VENV/bin/python" -c \
  "import retentioneering, pandas, duckdb; print('retentioneering', retentioneering.__version__, '| pandas', pandas.__version__, '| duckdb', duckdb.__version__)"
