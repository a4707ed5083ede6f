"""``import journeylens`` stays light: the heavy libraries load where they are used, not at import."""

from __future__ import annotations

import subprocess
import sys


def test_import_loads_no_heavy_library():
    heavy = ["sklearn", "scipy.stats", "scipy.sparse", "plotly", "networkx", "pm4py", "pyspark"]
    code = ("import sys, journeylens; "
            f"print(','.join(m for m in {heavy!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "", f"import journeylens loaded {loaded}"
