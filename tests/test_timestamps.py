"""Timestamp parsing: hand-computed UTC instants for each supported shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeylens.errors import InputError
from journeylens.io.timestamps import epoch_unit, parse_timestamps


def utc(*values: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(v, tz="UTC") for v in values]


def test_mixed_offsets_and_naive_are_utc():
    s = pd.Series(["2011-10-11 13:45:40.276+02:00", "2011-12-06T13:41:31Z", "2011-12-06 13:41:31-05:00", "2011-12-06 08:00"])
    got = parse_timestamps(s).tolist()
    assert got == utc("2011-10-11 11:45:40.276", "2011-12-06 13:41:31", "2011-12-06 18:41:31", "2011-12-06 08:00")


def test_naive_values_in_a_given_zone_with_dst():
    s = pd.Series(["2024-01-15 12:00", "2024-07-15 12:00", "2024-07-15 12:00+00:00"])
    got = parse_timestamps(s, tz="Europe/Amsterdam").tolist()
    # winter: UTC+1, summer: UTC+2; an explicit offset wins over tz
    assert got == utc("2024-01-15 11:00", "2024-07-15 10:00", "2024-07-15 12:00")


def test_date_only_and_non_iso_formats():
    assert parse_timestamps(pd.Series(["2006-07-24", "2006-12-05"])).tolist() == utc("2006-07-24", "2006-12-05")
    sepsis = pd.Series(["2014/10/22 11:15:41.000", "2014/10/22 11:27:00.000"])
    assert parse_timestamps(sepsis).tolist() == utc("2014-10-22 11:15:41", "2014-10-22 11:27:00")
    dutch = pd.Series(["22-10-2014 11:15", "03-11-2014 09:00"])
    assert parse_timestamps(dutch, time_format="%d-%m-%Y %H:%M").tolist() == utc("2014-10-22 11:15", "2014-11-03 09:00")


@pytest.mark.parametrize(
    "values, unit",
    [([1709287200, 1709290800], "s"), ([1709287200000, 1709290800000], "ms"), ([1709287200000000, 1709290800000000], "us")],
)
def test_epoch_numbers_detect_their_unit(values, unit):
    assert epoch_unit(np.array(values, dtype=float)) == unit
    got = parse_timestamps(pd.Series(values)).tolist()
    assert got == utc("2024-03-01 10:00", "2024-03-01 11:00")
    as_text = parse_timestamps(pd.Series([str(v) for v in values])).tolist()
    assert as_text == got


def test_unparsable_values_become_nat_not_errors():
    s = pd.Series(["2024-03-01 10:00", "not a date", "", None, "2024-13-45"])
    got = parse_timestamps(s)
    assert got.iloc[0] == pd.Timestamp("2024-03-01 10:00", tz="UTC")
    assert got.iloc[1:].isna().all()
    assert str(got.dtype) == "datetime64[us, UTC]"


def test_datetime_columns_naive_and_aware():
    naive = pd.Series(pd.to_datetime(["2024-03-01 10:00"]))
    aware = naive.dt.tz_localize("America/New_York")
    assert parse_timestamps(naive).tolist() == utc("2024-03-01 10:00")
    assert parse_timestamps(aware).tolist() == utc("2024-03-01 15:00")


def test_bad_options_are_clear_errors():
    with pytest.raises(InputError, match="time zone"):
        parse_timestamps(pd.Series(["2024-03-01 10:00"]), tz="Mars/Olympus")
    with pytest.raises(InputError, match="time_unit"):
        parse_timestamps(pd.Series([1, 2]), time_unit="fortnights")
