"""Writers for result tables: CSV safe to open in a spreadsheet, and Parquet.

CSV safety has two parts:

* a text cell starting with ``= + - @``, tab or CR would be evaluated as a
  formula: it gets a leading apostrophe (:func:`neutralise_formulas`);
* a cell holding a line break must never end a record: records end in CRLF
  (RFC 4180), and the writer quotes every cell that holds a CR or an LF, so a
  bare CR inside a value (``"\\r=1+1"``) cannot start a record with a formula.

The bytes are those of pandas' ``to_csv`` (minimal quoting, CRLF, floats to 15
significant digits, timestamps as pandas prints them). Columns of the common
kinds (numbers, booleans, text, categories of text, naive or UTC timestamps) are
turned into text and joined into records with Arrow, column by column, which
is several times faster than pandas on tables of a million rows; a table with
any other kind of column is written by pandas.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (infer_dtype, is_bool_dtype, is_float_dtype, is_integer_dtype, is_numeric_dtype,
                              is_object_dtype, is_string_dtype)

# A spreadsheet evaluates a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: every CSV record ends with this; the csv module quotes any cell holding one of its characters
LINE_END = "\r\n"
# 15 significant digits: what was computed, without the noise of binary fractions (0.07200000000000001)
FLOAT = "%.15g"
_BATCH = 1 << 18  # records joined at a time, so that the text of one batch is what is held
_QUOTE_IF = '[,"\r\n]'  # what the csv module quotes with QUOTE_MINIMAL: the delimiter, the quote, line ends
_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


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
        safe = neutralise_formulas(frame)
        fields = [_cell_text(safe[c]) for c in safe.columns]
        if any(f is None for f in fields):
            safe.to_csv(path, index=False, lineterminator=LINE_END, quoting=csv.QUOTE_MINIMAL, float_format=FLOAT)
        else:
            with open(path, "wb") as out:
                _write_records(out, [pa.array([str(c)]) for c in safe.columns], len(fields))
                for start in range(0, len(safe), _BATCH):
                    _write_records(out, [f.slice(start, _BATCH) for f in fields], len(fields))
    return path



def _write_records(out: BinaryIO, fields: list[pa.Array], width: int) -> None:
    """Write one record per row of the ``fields`` (one text array per column), quoted as the csv module does."""
    quoted = []
    for text in fields:
        needs = pc.match_substring_regex(text, _QUOTE_IF)
        if width == 1:  # a record of one empty field is written "" so that it is not an empty line
            needs = pc.or_(needs, pc.equal(text, ""))
        if pc.any(needs).as_py():
            text = pc.if_else(needs, pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', ""),
                              text)
        quoted.append(text.cast(pa.large_string()))  # 64-bit offsets: a batch of long texts cannot overflow
    comma, end, nothing = (pa.scalar(v, pa.large_string()) for v in (",", LINE_END, ""))  # the fields' type
    records = pc.binary_join_element_wise(pc.binary_join_element_wise(*quoted, comma), end, nothing)
    offsets = np.frombuffer(records.buffers()[1], dtype=np.int64)
    if len(records):
        out.write(memoryview(records.buffers()[2])[offsets[records.offset]:offsets[records.offset + len(records)]])


def _cell_text(values: pd.Series) -> pa.Array | None:
    """Each cell as the text pandas' ``to_csv`` writes for it ("" when missing), no nulls; None for a kind
    of column left to pandas."""
    dtype = values.dtype
    try:
        if isinstance(dtype, pd.CategoricalDtype):
            if infer_dtype(dtype.categories, skipna=True) not in ("string", "empty"):
                return None
            codes = values.cat.codes.to_numpy()
            text = pa.array(np.asarray(dtype.categories, dtype=object), type=pa.string()).take(
                pa.array(codes, mask=codes < 0))
        elif is_bool_dtype(dtype):
            text = pc.if_else(pa.array(values.array, type=pa.bool_()), "True", "False")
        elif is_integer_dtype(dtype):
            text = pc.cast(pa.array(values.array), pa.string())
        elif is_float_dtype(dtype) and isinstance(dtype, np.dtype):
            text = pa.array(["" if v != v else FLOAT % v for v in values.to_numpy().tolist()], type=pa.string())
        elif dtype.kind == "M":  # naive and zoned timestamps
            text = _timestamp_text(values)
        elif is_string_dtype(dtype) and (not is_object_dtype(dtype) or infer_dtype(values, skipna=True) in
                                         ("string", "empty")):
            text = pa.array(values.array if not is_object_dtype(dtype) else values.to_numpy(), type=pa.string(),
                            from_pandas=True)
        else:
            return None
    except (pa.ArrowException, UnicodeError):  # text Arrow cannot hold (lone surrogates): pandas writes it
        return None
    if text is None:
        return None
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    return text.fill_null("") if text.null_count else text


def _timestamp_text(values: pd.Series) -> pa.Array | None:
    """Timestamps as pandas prints a column of them: the fraction of a second to the finest digit any value
    needs (none, 3, 6 or 9), naive columns of whole days as dates; UTC ends in +00:00. None for other zones."""
    tz = getattr(values.dt, "tz", None)
    if tz is not None and str(tz) != "UTC":
        return None
    raw = (values.dt.tz_localize(None) if tz is not None else values).to_numpy()
    unit, _ = np.datetime_data(raw.dtype)
    if unit not in _SECOND:
        return None
    present = ~np.isnat(raw)
    ticks = raw.view(np.int64)[present]
    within = ticks % _SECOND[unit]
    if tz is None and not (ticks % (86_400 * _SECOND[unit])).any():
        text = pc.cast(pa.array(raw, mask=~present).cast(pa.date32()), pa.string())
    else:
        shown = next((u for u in ("s", "ms", "us") if _SECOND[u] <= _SECOND[unit]
                      and not (within % (_SECOND[unit] // _SECOND[u])).any()), unit)
        text = pc.cast(pa.array(raw, mask=~present).cast(pa.timestamp(shown)), pa.string())
    return pc.binary_join_element_wise(text, "+00:00", "") if tz is not None else text
