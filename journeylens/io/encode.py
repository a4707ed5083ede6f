"""Integer codes for id and name columns, worked out on the distinct values.

A column is hashed once (:func:`factorize`); text conversion, blank checks,
sorting and channel aliases then run on its distinct values only, and the row
codes are composed with the result in one gather (:func:`text_codes`). Codes
are ``int32`` with ``-1`` for a missing value; they point into sorted labels,
so a code's order is its label's order.

Ids and names are text, by one rule on every reader and engine
(:func:`id_text`; :mod:`journeylens.engine.ingest` spells it in SQL):

* text loses surrounding ASCII whitespace; empty text is missing, and so is a
  value equal to one of ``na_values`` (none unless given);
* integers are their digits, booleans ``true``/``false``;
* a float is its digits when it holds a whole number below 2**53 in magnitude
  (``1``, ``1.0`` and ``"1"`` are one user); NaN is missing; any other float
  (``1.5``, ``1e20``, whose digits a float cannot hold exactly) is **invalid**;
* a decimal is its digits when whole, else invalid;
* bytes are UTF-8 text; bytes that are not UTF-8, and text holding lone
  surrogates (which no file can store), are **undecodable**;
* anything else (a list, an object, a timestamp) is invalid.
"""

from __future__ import annotations

import decimal
import math
from typing import Any, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_float_dtype,
    is_integer_dtype,
    is_object_dtype,
    is_timedelta64_dtype,
)

from ..engine.sql import query, run
from .timestamps import WHITESPACE

#: status of an id or name value
OK, MISSING, INVALID, UNDECODABLE = 0, 1, 2, 3
#: the largest magnitude below which every whole float is an exact integer
EXACT_FLOAT = 2.0 ** 53


#: rows whose distinct values tell whether a text column has many (Arrow's hashing is fast on few)
_SAMPLE = 65_536


def factorize(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Code of each row's value (-1 where missing) and the distinct values, in no particular order.

    Arrow-backed text is hashed on its Arrow data. Arrow's dictionary encoding runs on one core and is
    fast while the distinct values are few; a column of many (user ids) is hashed by the engine on
    every core instead: the distinct values, then each row's among them through a join on the row's
    position. Object columns must be made text first (:func:`id_text`): ``1`` and ``True`` hash alike.
    """
    if isinstance(values.dtype, pd.StringDtype) and values.dtype.storage in ("pyarrow", "pyarrow_numpy"):
        text = pa.array(values.array)  # no copy ("pyarrow_numpy": pandas 2.2's str)
        if len(pc.unique(text[:_SAMPLE])) * 8 < min(len(text), _SAMPLE):
            encoded = pc.dictionary_encode(text)
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.combine_chunks()  # cheap: the chunks share one dictionary
            codes, distinct = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), encoded.dictionary
        else:
            rows = {"v": text, "i": np.arange(len(text))}
            distinct = query("SELECT DISTINCT v FROM src WHERE v IS NOT NULL", {"src": rows}).column("v")
            distinct = distinct.cast(pa.large_string() if distinct.nbytes >= 2**31 else pa.string())
            found = run("SELECT i, k FROM src JOIN d USING (v)",
                        {"src": rows, "d": {"v": distinct, "k": np.arange(len(distinct), dtype=np.int32)}})
            codes = np.full(len(text), -1, dtype=np.int32)
            codes[found["i"]] = found["k"]
        return codes, pd.Series(distinct.to_pandas(types_mapper=pd.ArrowDtype), dtype="string[pyarrow]")
    codes, uniques = pd.factorize(values)
    return codes.astype(np.int32), pd.Series(uniques)


# -- the text rule ----------------------------------------------------------------------


def is_temporal(values: pd.Series) -> bool:
    """Whether a column holds timestamps or durations (never ids or names)."""
    return is_datetime64_any_dtype(values.dtype) or is_timedelta64_dtype(values.dtype)


def id_text(values: pd.Series, na_values: Iterable[str] = ()) -> tuple[pd.Series, np.ndarray]:
    """Each value as id text (NA unless usable) and its status (:data:`OK` … :data:`UNDECODABLE`).

    >>> text, status = id_text(pd.Series([1, "1", 1.0, 1.5, None, b"caf\\xc3\\xa9", b"\\xe9", [1], " x "], dtype=object))
    >>> text.tolist(), status.tolist()
    (['1', '1', '1', <NA>, <NA>, 'café', <NA>, <NA>, 'x'], [0, 0, 0, 2, 1, 0, 3, 2, 0])
    """
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        text, status = id_text(pd.Series(values.cat.categories), na_values)
        codes = values.cat.codes.to_numpy()
        pick = np.append(np.arange(len(text)), -1)[codes]
        out = pd.Series(pd.array(np.asarray(text.array, dtype=object)[pick], dtype="string"), index=values.index)
        out[codes < 0] = pd.NA
        return out, np.append(status, MISSING).astype(np.int8)[pick]
    if is_bool_dtype(dtype):
        missing = values.isna().to_numpy()
        truth = values.fillna(False).to_numpy(dtype=bool)
        text = pd.Series(np.where(truth, "true", "false"), index=values.index, dtype="string").mask(missing)
        return text, np.where(missing, MISSING, OK).astype(np.int8)
    if is_integer_dtype(dtype):
        missing = values.isna().to_numpy()
        text = values.astype("string") if not missing.any() else values.astype("Int64").astype("string")
        return text, np.where(missing, MISSING, OK).astype(np.int8)
    if is_float_dtype(dtype):
        return _float_text(values)
    if is_temporal(values):
        return pd.Series(pd.NA, index=values.index, dtype="string"), np.full(len(values), INVALID, dtype=np.int8)
    if is_object_dtype(dtype) and infer_dtype(values, skipna=True) not in ("string", "empty"):
        return _object_text(values, na_values)
    return _string_text(values, na_values)


def _float_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    x = values.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(x)
    exact = ~missing & (np.abs(x) < EXACT_FLOAT) & (np.floor(x) == x)
    ints = pd.array(np.where(exact, x, 0).astype(np.int64), dtype="Int64")
    text = pd.Series(ints, index=values.index).astype("string").mask(~exact)
    status = np.where(missing, MISSING, np.where(exact, OK, INVALID)).astype(np.int8)
    return text, status


def _string_text(values: pd.Series, na_values: Iterable[str]) -> tuple[pd.Series, np.ndarray]:
    try:
        arrow = pa.array(values.array if not is_object_dtype(values.dtype) else values.to_numpy(),
                         type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # lone surrogates: element by element
        return _object_text(values, na_values)
    trimmed = pc.utf8_trim(arrow, WHITESPACE)
    missing = pc.fill_null(pc.equal(trimmed, ""), True)
    na = list(na_values)
    if na:
        missing = pc.or_(missing, pc.fill_null(pc.is_in(trimmed, pa.array(na, pa.large_string())), False))
    text = pc.if_else(missing, None, trimmed)
    out = pd.Series(pd.array(text.cast(pa.string()).to_pandas(types_mapper=pd.ArrowDtype), dtype="string[pyarrow]"),
                    index=values.index)
    missing = missing.to_numpy(zero_copy_only=False)
    return out, np.where(missing, MISSING, OK).astype(np.int8)


def _object_text(values: pd.Series, na_values: Iterable[str]) -> tuple[pd.Series, np.ndarray]:
    """The rule value by value (mixed JSON values, bytes, text with lone surrogates)."""
    na = set(na_values)
    items = values.to_numpy(dtype=object)
    text = np.empty(len(items), dtype=object)
    status = np.empty(len(items), dtype=np.int8)
    for k, v in enumerate(items):
        text[k], status[k] = one_id_text(v, na)
    return pd.Series(pd.array(text, dtype="string"), index=values.index), status


def one_id_text(v: Any, na: set[str] | frozenset[str] = frozenset()) -> tuple[Any, int]:
    """The rule for one value: ``(text or NA, status)``."""
    if isinstance(v, (bytes, bytearray, memoryview)):
        try:
            v = bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            return pd.NA, UNDECODABLE
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return pd.NA, UNDECODABLE
        t = v.strip(WHITESPACE)
        return (pd.NA, MISSING) if not t or t in na else (t, OK)
    if v is None or v is pd.NA or v is pd.NaT:
        return pd.NA, MISSING
    if isinstance(v, (bool, np.bool_)):
        return ("true" if v else "false"), OK
    if isinstance(v, (int, np.integer)):
        return str(int(v)), OK
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return pd.NA, MISSING
        return (str(int(f)), OK) if abs(f) < EXACT_FLOAT and f.is_integer() else (pd.NA, INVALID)
    if isinstance(v, decimal.Decimal):
        if v.is_nan():
            return pd.NA, MISSING
        return (str(int(v)), OK) if v.is_finite() and v == v.to_integral_value() else (pd.NA, INVALID)
    return pd.NA, INVALID


def decoded(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Bytes in an object column as UTF-8 text (other values as they are), and which bytes are not UTF-8."""
    if not is_object_dtype(values.dtype) or infer_dtype(values, skipna=True) not in ("bytes", "mixed"):
        return values, np.zeros(len(values), dtype=bool)
    items = values.to_numpy(dtype=object).copy()
    bad = np.zeros(len(items), dtype=bool)
    for k, v in enumerate(items):
        if isinstance(v, (bytes, bytearray, memoryview)):
            try:
                items[k] = bytes(v).decode("utf-8")
            except UnicodeDecodeError:
                items[k], bad[k] = None, True
    return pd.Series(items, index=values.index, dtype=object), bad


def text_ids(values: pd.Series, na_values: Iterable[str] = ()) -> tuple[pd.Series, np.ndarray]:
    """Ids/names as text plus a 'not usable' mask (missing, invalid or undecodable)."""
    text, status = id_text(values, na_values)
    return text, status != OK


def text_codes(values: pd.Series, na_values: Iterable[str] = ()) -> tuple[np.ndarray, pd.Index]:
    """Codes of ids/names as text into the sorted texts; a value that is not usable gets ``-status``
    (-1 missing, -2 invalid, -3 undecodable)."""
    if is_object_dtype(values.dtype) and infer_dtype(values, skipna=True) not in ("string", "empty"):
        text, status = id_text(values, na_values)  # mixed values: the rule first, then the hash
        codes, labels = pd.factorize(text, sort=True)
        codes = codes.astype(np.int32)
        return np.where(status == OK, codes, -status.astype(np.int32)).astype(np.int32), pd.Index(labels)
    codes, distinct = factorize(values)
    text, status = id_text(distinct, na_values)
    new, labels = sorted_codes(text)
    lookup = np.append(np.where(status == OK, new, -status.astype(np.int64)), -1).astype(np.int32)
    return lookup[codes], pd.Index(labels)


def sorted_codes(text: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(text, sort=True)`` for text that is mostly distinct (the distinct values of a
    column): the engine sorts it on every core (five times faster for a million user ids), and equal
    neighbours share a code. Text orders by code point, in pandas as in the engine (UTF-8 bytes).

    >>> codes, labels = sorted_codes(pd.Series(["b", None, "a", "b"], dtype="string"))
    >>> codes.tolist(), labels.tolist()
    ([1, -1, 0, 1], ['a', 'b'])
    """
    arrow = pa.array(text.array)
    order = query("SELECT j FROM t WHERE v IS NOT NULL ORDER BY v",
                  {"t": {"v": arrow, "j": np.arange(len(text))}}).column("j").to_numpy()
    ranked = arrow.take(order)
    new = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        new[1:] = pc.invert(pc.equal(ranked[1:], ranked[:-1])).to_numpy(zero_copy_only=False)
    codes = np.full(len(text), -1, dtype=np.int64)
    codes[order] = np.cumsum(new) - 1
    return codes, pd.Index(text.array.take(order[new]))


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


# -- the same rule in SQL, for engine-held sources (journeylens.engine.ingest) -----------

#: kinds of held source columns (``held.py`` tells them from the engine's types)
KINDS = ("text", "binary", "integer", "float", "decimal", "boolean", "timestamp", "other")


def sql_trim(expr: str, dialect: str) -> str:
    """``expr`` (a column, read once per test) without surrounding ASCII whitespace (:data:`WHITESPACE`).

    Values that neither start nor end with whitespace, nearly all, skip the trim (which costs 7x more).
    """
    chars = ", ".join(["' '", *(f"chr({ord(c)})" for c in WHITESPACE[1:])])
    joined = " || ".join(["' '", *(f"chr({ord(c)})" for c in WHITESPACE[1:])])
    trimmed = f"trim(BOTH {joined} FROM {expr})" if dialect == "spark" else f"trim({expr}, {joined})"
    return f"(CASE WHEN left({expr}, 1) IN ({chars}) OR right({expr}, 1) IN ({chars}) THEN {trimmed} ELSE {expr} END)"


def sql_decoded(expr: str, dialect: str) -> str:
    """Bytes as UTF-8 text; NULL where they are not UTF-8."""
    return f"try_validate_utf8(CAST({expr} AS STRING))" if dialect == "spark" else f"try(decode({expr}))"


def id_text_layers(expr: str, kind: str, dialect: str, p: str) -> list[list[str]]:
    """Layers :func:`id_text_sql` reads for a column of ``kind``: the decoded bytes (``{p}_b``), then the
    trimmed text (``{p}_tr``), each computed once."""
    if kind == "binary":
        return [[f"{sql_decoded(expr, dialect)} AS {p}_b"], [f"{sql_trim(f'{p}_b', dialect)} AS {p}_tr"]]
    if kind == "text":
        return [[], [f"{sql_trim(f'CAST({expr} AS {{text}})', dialect)} AS {p}_tr"]]
    return [[], []]


def id_text_sql(expr: str, kind: str, dialect: str, p: str, na_values: Iterable[str] = ()) -> tuple[str, str]:
    """SQL for :func:`id_text` of a column of ``kind`` (over the layers of :func:`id_text_layers` named ``p``):
    the text (NULL unless usable) and the status, an integer: :data:`OK`, :data:`MISSING`, :data:`INVALID` or
    :data:`UNDECODABLE`."""
    from ..engine.sql import literal

    if kind in ("text", "binary"):
        trimmed = f"{p}_tr"
        na = list(na_values)
        blank = f"{trimmed} = ''" + (f" OR {trimmed} IN ({', '.join(literal(v, dialect) for v in na)})" if na else "")
        undecodable = f"WHEN {p}_b IS NULL THEN {UNDECODABLE} " if kind == "binary" else ""
        status = f"(CASE WHEN {expr} IS NULL THEN {MISSING} {undecodable}WHEN {blank} THEN {MISSING} ELSE {OK} END)"
        return f"(CASE WHEN {status} = {OK} THEN {trimmed} END)", status
    if kind == "integer":
        return f"CAST({expr} AS {{text}})", f"(CASE WHEN {expr} IS NULL THEN {MISSING} ELSE {OK} END)"
    if kind == "float":
        exact = f"abs({expr}) < {int(EXACT_FLOAT)} AND {expr} = floor({expr})"
        status = f"(CASE WHEN {expr} IS NULL OR isnan({expr}) THEN {MISSING} WHEN {exact} THEN {OK} ELSE {INVALID} END)"
        return f"CAST(CAST(CASE WHEN {status} = {OK} THEN {expr} END AS BIGINT) AS {{text}})", status
    if kind == "decimal":
        status = f"(CASE WHEN {expr} IS NULL THEN {MISSING} WHEN {expr} = floor({expr}) THEN {OK} ELSE {INVALID} END)"
        return f"CAST(CAST(CASE WHEN {status} = {OK} THEN {expr} END AS DECIMAL(38, 0)) AS {{text}})", status
    if kind == "boolean":
        return (f"(CASE WHEN {expr} THEN 'true' WHEN NOT {expr} THEN 'false' END)",
                f"(CASE WHEN {expr} IS NULL THEN {MISSING} ELSE {OK} END)")
    return "CAST(NULL AS {text})", f"(CASE WHEN {expr} IS NULL THEN {MISSING} ELSE {INVALID} END)"
