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
