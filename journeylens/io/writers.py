"""Writers for result tables: CSV safe to open in a spreadsheet, and Parquet.

CSV safety has two parts:

* a text cell starting with ``= + - @``, tab or CR would be evaluated as a
  formula: it gets a leading apostrophe (:func:`neutralise_formulas`);
* a cell holding a line break must never end a record: records end in CRLF
  (RFC 4180), and the writer quotes every cell that holds a CR or an LF, so a
  bare CR inside a value (``"\\r=1+1"``) cannot start a record with a formula.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
from pandas.api.types import is_numeric_dtype

# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: every CSV record ends with this; the csv module quotes any cell holding one of its characters
LINE_END = "\r\n"


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Copy of ``frame`` whose text cells cannot start a spreadsheet formula.

    Text starting with ``= + - @``, tab or CR gets a leading apostrophe, the
    convention spreadsheets display as literal text. Numeric columns are kept.

    >>> neutralise_formulas(pd.DataFrame({"e": ["=HYPERLINK(1)", "ok"], "n": [-1, 2]}))["e"].tolist()
    ["'=HYPERLINK(1)", 'ok']
    """
    out = frame.copy()
    for col in out.columns:
        if is_numeric_dtype(out[col].dtype) or str(out[col].dtype).startswith("datetime"):
            continue
        text = out[col].astype("string")
        risky = text.str.startswith(_FORMULA_START).fillna(False)
        if risky.any():
            out[col] = text.where(~risky, "'" + text)
    safe_names = ["'" + c if str(c).startswith(_FORMULA_START) else c for c in map(str, out.columns)]
    out.columns = safe_names
    return out


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str = "csv") -> Path:
    """Write ``frame`` as formula-safe CSV (``fmt="csv"``, see the module docstring) or Parquet; returns the path.

    >>> import tempfile, pathlib
    >>> out = write_table(pd.DataFrame({"event": ["\\r=1+1", "home"]}), pathlib.Path(tempfile.mkdtemp()) / "e.csv")
    >>> out.read_bytes()
    b'event\\r\\n"\\'\\r=1+1"\\r\\nhome\\r\\n'
    """
    path = Path(path)
    if fmt == "parquet":
        path = path.with_suffix(".parquet")
        frame.to_parquet(path, index=False)
    else:
        # 15 significant digits: what was computed, without the noise of binary fractions (0.07200000000000001)
        neutralise_formulas(frame).to_csv(path, index=False, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL,
                                          float_format="%.15g")
    return path
