"""Writers for result tables: CSV safe to open in a spreadsheet, and Parquet."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pandas.api.types import is_numeric_dtype

# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    """Write ``frame`` as formula-safe CSV (``fmt="csv"``) or Parquet; returns the path written."""
    path = Path(path)
    if fmt == "parquet":
        path = path.with_suffix(".parquet")
        frame.to_parquet(path, index=False)
    else:
        neutralise_formulas(frame).to_csv(path, index=False)
    return path
