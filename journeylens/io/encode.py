"""Integer codes for id and name columns, worked out on the distinct values.

A column is hashed once (:func:`factorize`); text conversion, blank checks,
sorting and channel aliases then run on its distinct values only, and the row
codes are composed with the result in one gather (:func:`recode`). Codes are
``int32`` with ``-1`` for a missing value; after :func:`recode` they point
into sorted labels, so a code's order is its label's order.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import is_float_dtype, is_object_dtype

from ..engine.backends import duckdb as duck


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Code of each row's value (-1 where missing) and the distinct values.

    Object columns are compared as text (``1`` and ``True`` would hash alike).
    Arrow-backed text is hashed on its Arrow data: by DuckDB when most values
    differ (ids), by Arrow otherwise (names).
    """
    if is_object_dtype(values.dtype):
        values = values.astype("string")
    arrow_text = isinstance(values.dtype, pd.StringDtype) and values.dtype.storage in ("pyarrow", "pyarrow_numpy")
    if arrow_text:  # ("pyarrow_numpy": pandas 2.2's str)
        data = pa.array(values.array)  # no copy
        codes, distinct = _duckdb_factorize(data) if _mostly_distinct(data) else _arrow_factorize(data)
        return codes, pd.Series(distinct.to_pandas())
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), pd.Series(uniques)


_SAMPLE = 1 << 16  # rows looked at to tell ids (mostly distinct) from names


def _mostly_distinct(data: pa.Array | pa.ChunkedArray) -> bool:
    """Whether a quarter or more of the first rows are distinct values."""
    return len(data) > _SAMPLE and len(pc.unique(data.slice(0, _SAMPLE))) * 4 > _SAMPLE


def _arrow_factorize(data: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array | pa.ChunkedArray]:
    """Arrow's dictionary encoding (pandas would widen its int32 codes to int64 first)."""
    encoded = pc.dictionary_encode(data)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()  # cheap: the chunks share one dictionary
    return encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), encoded.dictionary


def _duckdb_factorize(data: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array | pa.ChunkedArray]:
    """Codes into the sorted distinct values, from DuckDB.

    With a million distinct ids, Arrow's single hash table misses the cache on
    every row; DuckDB partitions its hash tables, uses every core, and sorts the
    distinct values on the way, which the sorted labels need anyway.
    """
    con = duck.connection()
    con.register("jl_rows", pa.table({"i": np.arange(len(data)), "v": data}))
    try:
        distinct = duck.to_arrow(con.sql("SELECT DISTINCT v FROM jl_rows WHERE v IS NOT NULL ORDER BY v")).column("v")
        con.register("jl_distinct", pa.table({"v": distinct, "c": np.arange(len(distinct), dtype=np.int32)}))
        hits = duck.to_arrow(con.sql("SELECT i, c FROM jl_rows JOIN jl_distinct USING (v)"))
    finally:
        con.unregister("jl_rows")
        con.unregister("jl_distinct")
    codes = np.full(len(data), -1, dtype=np.int32)
    codes[hits.column("i").to_numpy()] = hits.column("c").to_numpy()
    return codes, distinct


def recode(codes: np.ndarray, labels: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Row codes into the sorted distinct ``labels`` (one label per distinct value; NA → -1)."""
    new, sorted_labels = pd.factorize(labels, sort=True)
    lookup = np.append(new, -1).astype(np.int32)  # code -1 picks the trailing -1
    return lookup[codes], sorted_labels


def text_ids(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids/names as text plus a 'missing' mask (NaN, None, empty or blank)."""
    missing = values.isna().to_numpy()
    if is_float_dtype(values.dtype):
        # 1.0 → "1": float ids come from integer columns that had gaps.
        whole = values.dropna()
        if len(whole) and (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("string")
    blank = (text.str.strip() == "").fillna(True).to_numpy()
    return text, missing | blank


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes of ids/names as text (-1 where missing or blank) and the sorted texts."""
    codes, distinct = factorize(values)
    text, missing = text_ids(distinct)
    return recode(codes, text.mask(missing))


def categorical(codes: np.ndarray, labels: pd.Index) -> pd.Categorical:
    """Codes as a categorical over the labels they use, still sorted (unused labels dropped)."""
    used = np.zeros(len(labels) + 1, dtype=bool)
    used[codes] = True  # code -1 marks the extra last slot
    used = used[:-1]
    if not used.all():
        lookup = np.append(np.cumsum(used) - 1, -1).astype(np.int32)
        codes, labels = lookup[codes], labels[used]
    # str labels: Arrow-backed like a pandas 3 text column (object without pyarrow strings)
    return pd.Categorical.from_codes(codes, categories=pd.Index(labels).astype(str))


def sorted_categorical(text: pd.Series) -> pd.Categorical:
    """Text → categorical with sorted categories: code order = sorted id order."""
    codes, labels = pd.factorize(text, sort=True)
    return categorical(codes, labels)
