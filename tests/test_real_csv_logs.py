"""Every CSV process log of ../shared/data loads; counts equal the data README (rows = events, users = cases).

hospital_billing has one row without a case id (an empty field): it is read,
counted and quarantined as ``missing_user``, so rows read still equal the
README's events. sepsis names its cases with letters (``A`` … ``ZZ``), and one
case is ``NA`` (24 rows): a case id, not a null marker, since only empty fields
are missing (``io/build.py``). It is read as the 1,050th case, where the README,
counted by a parser that took ``NA`` for missing, says 1,049.
"""

from __future__ import annotations

import pytest

import journeylens as jl
from tests.conftest import shared_file

XES_NAMES: dict = {}
CASE_ACTIVITY_TIME = {"user": "case_id", "event": "activity", "time": "timestamp"}
LOGS = {  # file → (mapping, events, cases, activities, quarantined missing_user)
    "running-example.csv": (XES_NAMES, 42, 6, 8, 0),
    "roadtraffic100traces.csv": (XES_NAMES, 390, 100, 10, 0),
    "receipt.csv.gz": (XES_NAMES, 8_577, 1_434, 27, 0),
    "sepsis.csv.gz": ({"user": "Case ID", "event": "Activity", "time": "Complete Timestamp"}, 15_214, 1_050, 16, 0),
    "hospital.csv.gz": (CASE_ACTIVITY_TIME, 150_291, 1_143, 624, 0),
    "hospital_billing.csv.gz": (CASE_ACTIVITY_TIME, 49_951, 9_999, 16, 1),
    "traffic_fines.csv.gz": (CASE_ACTIVITY_TIME, 34_724, 10_000, 11, 0),
}


@pytest.mark.parametrize("name", sorted(LOGS))
def test_real_csv_counts_match_the_readme(name):
    mapping, events, cases, activities, no_case = LOGS[name]
    log = jl.read(shared_file("process", name), duplicates="keep", **mapping)
    s = log.summary()
    assert s["rows_read"] == events == s["rows_accepted"] + s["rows_quarantined"]
    assert (s["users"], s["event_types"]) == (cases, activities)
    assert s["quarantine_reasons"] == ({"missing_user": no_case} if no_case else {})


def test_sepsis_semicolons_and_timestamps():
    log = jl.read(shared_file("process", "sepsis.csv.gz"), user="Case ID", event="Activity", time="Complete Timestamp")
    assert log.parameters["csv"]["sep"] == ";"
    assert (log.to_pandas()["user_id"] == "NA").sum() == 24  # the case named NA
    ts = log.to_pandas()["timestamp"]
    assert str(ts.dt.tz) == "UTC" and ts.min().year >= 2013


def test_traffic_fines_ties_keep_file_order():
    path = shared_file("process", "traffic_fines.csv.gz")
    import pandas as pd

    raw = pd.read_csv(path, dtype=str)
    log = jl.read(path, duplicates="keep", **CASE_ACTIVITY_TIME).to_pandas(source_row=True)
    # within a case and a date, events appear in the order of the file
    same_day = log.groupby(["user_id", "timestamp"], observed=True)["source_row"].apply(lambda r: r.is_monotonic_increasing)
    assert same_day.all()
    first_case = raw["case_id"].iloc[0]
    assert log.loc[log["user_id"] == first_case, "event"].tolist() == raw.loc[raw["case_id"] == first_case, "activity"].tolist()
