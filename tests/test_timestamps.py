"""Timestamp parsing: hand-computed UTC instants for each supported shape."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeylens.errors import InputError, ParameterError
from journeylens.io.timestamps import (MISSING, OK, OUT_OF_RANGE, UNPARSABLE, days_from_civil, epoch_unit,
                                       format_grammar, parse_times, parse_timestamps)


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
    with pytest.raises(ParameterError, match="time zone"):
        parse_timestamps(pd.Series(["2024-03-01 10:00"]), tz="Mars/Olympus")
    with pytest.raises(ParameterError, match="time_unit"):
        parse_timestamps(pd.Series([1, 2]), time_unit="fortnights")
    for fmt, message in (("%Y-%j", "directive %j"), ("%H:%M", "a year, a month and a day"),
                         ("%Y-%m-%d %d", "reads the day twice"), ("%Y]%m]%d", "character ']'")):
        with pytest.raises(ParameterError, match=message):
            format_grammar(fmt)


# Hand-computed: the status and the instant (UTC) of each text, by the grammar in the module docstring.
ISO_CASES = [
    ("2024-03-01", OK, "2024-03-01 00:00"),
    ("2024-03-01T10", OK, "2024-03-01 10:00"),
    ("2024-03-01 10:05", OK, "2024-03-01 10:05"),
    ("\t2024-03-01T10:05:06Z\n", OK, "2024-03-01 10:05:06"),
    ("2024-03-01T10:05:06.1234569+02:30", OK, "2024-03-01 07:35:06.123456"),  # fraction cut, not rounded
    ("2024-03-01T10:05:06.5 -0100", OK, "2024-03-01 11:05:06.5"),
    ("2024-03-01T10+23", OK, "2024-02-29 11:00"),
    ("2024-03-01T10:00z", OK, "2024-03-01 10:00"),
    ("0001-01-01", OK, "0001-01-01 00:00"),
    ("9999-12-31T23:59:59.999999", OK, "9999-12-31 23:59:59.999999"),
    ("2000-02-29", OK, "2000-02-29 00:00"),
    ("0000-01-01", OUT_OF_RANGE, None),
    ("0001-01-01T00:00+00:01", OUT_OF_RANGE, None),
    ("9999-12-31T23:59-00:01", OUT_OF_RANGE, None),
    ("1900-02-29", UNPARSABLE, None),
    ("2024-03-01 24:00", UNPARSABLE, None),
    ("2024-03-01T10:00+24:00", UNPARSABLE, None),
    ("2024-03-01T10:00:60", UNPARSABLE, None),
    ("10000-01-01", UNPARSABLE, None),
    ("epoch", UNPARSABLE, None),
    ("now", UNPARSABLE, None),
    ("2024-03-01T10:00:00,5", UNPARSABLE, None),
    ("  ", MISSING, None),
]


@pytest.mark.parametrize("text, status, instant", ISO_CASES)
def test_the_iso_grammar_one_value_at_a_time(text, status, instant):
    got = parse_times(pd.Series([text]))
    assert got.status.tolist() == [status]
    if instant is not None:
        expected = np.datetime64(instant.replace(" ", "T"), "us").astype(np.int64)
        assert got.us.tolist() == [expected]


def test_the_iso_grammar_over_a_column_equals_each_value_alone():
    values = pd.Series([t for t, _, _ in ISO_CASES])
    together = parse_times(values)
    assert together.status.tolist() == [s for _, s, _ in ISO_CASES]
    alone = [parse_times(pd.Series([t])).us[0] for t, s, _ in ISO_CASES]
    ok = together.status == OK
    assert together.us[ok].tolist() == np.array(alone)[ok].tolist()


def test_days_from_civil_matches_numpy_dates():
    days = np.arange(-719162, 2932896, 997)  # 0001-01-01 … 9999-12-31, every 997th day
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(int) + 1970
    months = dates.astype("datetime64[M]").astype(int) % 12 + 1
    mdays = (dates - dates.astype("datetime64[M]")).astype(int) + 1
    np.testing.assert_array_equal(days_from_civil(years, months, mdays), days)


def test_epoch_units_are_guessed_from_every_value_not_the_median():
    ms = [1709287200000 + k for k in range(99)]
    with pytest.raises(InputError, match=r"several units \(1 look like s, 99 look like ms\); pass time_unit"):
        parse_times(pd.Series(ms + [1709287200]))
    got = parse_times(pd.Series(ms + [1709287200]), time_unit="ms")
    assert (got.status == OK).all()
    huge = parse_times(pd.Series([1709287200, 1e30, float("nan"), -1e300]))  # no unit is that big: out of range
    assert huge.status.tolist() == [OK, OUT_OF_RANGE, MISSING, OUT_OF_RANGE] and huge.unit == "s"


def test_epoch_arithmetic_whole_and_fractional():
    ns = parse_times(pd.Series([1_500, -1_500, 1709287200123456789]), time_unit="ns")
    assert ns.us.tolist() == [1, -1, 1709287200123456]  # cut towards zero
    halves = parse_times(pd.Series([0.0000025, -0.0000025, 1.4999994]), time_unit="s")
    assert halves.us.tolist() == [3, -3, 1499999]  # rounded, halves away from zero
    overflow = parse_times(pd.Series([9223372036854775807, 1]), time_unit="s")
    assert overflow.status.tolist() == [OUT_OF_RANGE, OK]


def test_guessed_and_given_formats_share_the_grammar():
    sepsis = parse_times(pd.Series(["2014/10/22 11:15:41.000", "2014-10-22T12:00:00Z", "2014/10/22 25:00:00.000"]))
    assert sepsis.status.tolist() == [OK, OK, UNPARSABLE]
    mail = parse_times(pd.Series(["Mon, 01 Jan 2024 10:00:00 +0100", "tue, 2 JAN 2024 09:00:00 Z"]),
                       time_format="%a, %d %b %Y %H:%M:%S %z")
    assert mail.series().tolist() == utc("2024-01-01 09:00", "2024-01-02 09:00")
    us = parse_times(pd.Series(["01/02/69 12:05 am", "01/02/68 12:05 PM", "01/02/68 13:05 PM"]),
                     time_format="%m/%d/%y %I:%M %p")
    assert us.series().tolist()[:2] == utc("1969-01-02 00:05", "2068-01-02 12:05")
    assert us.status.tolist()[2] == UNPARSABLE
