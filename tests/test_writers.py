"""Written tables: raw values a spreadsheet will not run, without the noise of binary fractions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeylens.io.writers import write_table


def test_csv_numbers_keep_their_value_without_float_noise(tmp_path):
    values = [0.1 + 0.2, 6.887313000000001, 1 / 3, 1e20, -2.5e-9]
    path = write_table(pd.DataFrame({"x": values}), tmp_path / "t.csv")
    text = path.read_text(encoding="utf-8")
    assert "0.30000000000000004" not in text and "6.887313000000001" not in text
    assert text.splitlines()[1:3] == ["0.3", "6.887313"]
    np.testing.assert_allclose(pd.read_csv(path)["x"].to_numpy(), values, rtol=1e-14)


# -- the Arrow path writes the bytes pandas writes -------------------------------------------------------

import csv  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

TEXT = st.text(alphabet=st.sampled_from(list('ab ,"\r\n=+-@\t\'é😀0.')), max_size=6)
EPOCH_US = st.integers(-62_000_000_000_000_000, 253_000_000_000_000_000)


def pandas_csv(frame: pd.DataFrame) -> bytes:
    from journeylens.io.writers import neutralise_formulas

    return neutralise_formulas(frame).to_csv(index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL,
                                             float_format="%.15g").encode("utf-8")


@st.composite
def columns(draw, n: int) -> pd.Series:
    kind = draw(st.sampled_from(["int", "Int64", "bool", "boolean", "float", "float32", "text", "string",
                                 "category", "naive", "utc", "days", "ms", "ns"]))
    missing = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind in ("int", "Int64"):
        v = pd.Series(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)), dtype="int64")
        return v if kind == "int" else v.astype("Int64").mask(missing)
    if kind in ("bool", "boolean"):
        v = pd.Series(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
        return v if kind == "bool" else v.astype("boolean").mask(missing)
    if kind.startswith("float"):
        width = 32 if kind == "float32" else 64
        return pd.Series(draw(st.lists(st.floats(width=width), min_size=n, max_size=n)), dtype=f"float{width}")
    if kind in ("text", "string", "category"):
        v = pd.Series(draw(st.lists(TEXT, min_size=n, max_size=n)), dtype=object).mask(missing)
        return v if kind == "text" else v.astype(kind)
    us = np.array(draw(st.lists(EPOCH_US, min_size=n, max_size=n)), dtype=np.int64)
    us -= us % {"days": 86_400_000_000, "ms": 1000}.get(kind, 1)
    # nanoseconds span 1677-2262: µs / 10^4 as ns keeps them inside
    t = pd.Series((us // 10**4).astype("datetime64[ns]") if kind == "ns" else us.astype("datetime64[us]"))
    t = t.mask(missing)
    return t.dt.tz_localize("UTC") if kind == "utc" else t


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 6))
    width = draw(st.integers(1, 4))
    names = draw(st.lists(TEXT, min_size=width, max_size=width, unique=True))
    return pd.DataFrame({name: draw(columns(n)).reset_index(drop=True) for name in names})


@settings(max_examples=300, deadline=None)
@given(frames())
def test_the_arrow_csv_writes_the_bytes_pandas_writes(tmp_path_factory, frame):
    from journeylens.io.writers import _cell_text

    assert all(_cell_text(frame[c]) is not None for c in frame.columns)  # not left to pandas
    path = write_table(frame, tmp_path_factory.mktemp("csv") / "t.csv")
    assert path.read_bytes() == pandas_csv(frame)


def test_large_tables_are_written_in_batches_with_the_bytes_pandas_writes(tmp_path):
    from journeylens.io import writers

    rng = np.random.default_rng(7)
    n = writers._BATCH * 2 + 17
    frame = pd.DataFrame({"user": pd.Categorical.from_codes(rng.integers(-1, 50, n), [f"u{k}" for k in range(50)]),
                          "x": rng.random(n), "t": pd.Series(rng.integers(0, 2**50, n).astype("datetime64[us]"))
                          .dt.tz_localize("UTC"), "k": rng.integers(0, 9, n)})
    assert write_table(frame, tmp_path / "t.csv").read_bytes() == pandas_csv(frame)
