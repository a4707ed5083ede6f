"""The bundled sample analysed in plain pandas, independently of journeylens' readers and kernels.

The smoke tests (also run on the minimum versions) and the wheel test compare
journeylens' results on ``data/samples/retail_journeys.csv`` with these.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "retail_journeys.csv"
GAP = pd.Timedelta(minutes=30)
INACTIVITY = pd.Timedelta(days=7)
GOAL = "order_placed"
FUNNEL = ["product_page", "cart", "checkout", "order_placed"]


@lru_cache(maxsize=1)
def accepted() -> pd.DataFrame:
    """Rows with a customer and a parsable time, exact copies dropped, in (user, time, file) order."""
    raw = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    raw = raw[raw["Customer Ref"] != ""]
    raw = raw.assign(time=_utc(raw["When"]))
    raw = raw[raw["time"].notna()]
    raw = raw[~raw.duplicated(subset=["Customer Ref", "When", "Touchpoint", "Medium", "Device Type", "Campaign"])]
    frame = raw.rename(columns={"Customer Ref": "user", "Touchpoint": "event"})[["user", "time", "event"]]
    return frame.sort_values(["user", "time"], kind="stable", ignore_index=True)


def _utc(text: pd.Series) -> pd.Series:
    """ISO 8601 text as UTC instants, naive values being UTC; anything else is NaT.

    Values with and without an offset are parsed apart: pandas 2 applies the
    offset of an earlier value to the naive ones when they are parsed together.
    """
    aware = text.str.contains(r"(?:Z|[+-]\d{2}:\d{2})$")
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    for part, utc in ((aware, True), (~aware, False)):
        parsed = pd.to_datetime(text[part], format="ISO8601", utc=utc, errors="coerce")
        out[part] = parsed if utc else parsed.dt.tz_localize("UTC")
    return out


def counts() -> dict[str, int]:
    """Rows read, accepted, quarantined; users; sessions at a 30-minute gap."""
    rows = len(pd.read_csv(SAMPLE, dtype=str, keep_default_na=False))
    df = accepted()
    new_session = (df["user"] != df["user"].shift()) | (df["time"].diff() > GAP)
    return {"rows_read": rows, "rows_accepted": len(df), "rows_quarantined": rows - len(df),
            "users": df["user"].nunique(), "sessions": int(new_session.sum())}


def dfg() -> dict[tuple[str, str], int]:
    """Directly-follows counts within each user's whole journey."""
    df = accepted()
    same = df["user"] == df["user"].shift(-1)
    pairs = pd.DataFrame({"source": df["event"][same], "target": df["event"].shift(-1)[same]})
    return {k: int(v) for k, v in pairs.value_counts().items()}


def variants(top: int) -> list[tuple[tuple[str, ...], int]]:
    """The ``top`` most frequent journeys, ties ordered by the sequence."""
    journeys = accepted().groupby("user", sort=False)["event"].agg(tuple)
    ranked = journeys.value_counts().rename_axis("variant").reset_index(name="count")
    ranked = ranked.sort_values(["count", "variant"], ascending=[False, True], kind="stable")
    return [(tuple(v), int(c)) for v, c in ranked.head(top).itertuples(index=False)]


def funnel() -> list[int]:
    """Users reaching each step of :data:`FUNNEL` in order (each step after the previous one)."""
    reached = [0] * len(FUNNEL)
    for _, events in accepted().groupby("user", sort=False)["event"]:
        step = 0
        for event in events:
            if step < len(FUNNEL) and event == FUNNEL[step]:
                reached[step] += 1
                step += 1
    return reached


def dropoffs() -> dict[str, int]:
    """Last touchpoint of the customers who never reached :data:`GOAL` and were inactive for 7 days."""
    df = accepted()
    end = df["time"].max()
    users = df.groupby("user", sort=False).agg(last_time=("time", "last"), last_event=("event", "last"),
                                               converted=("event", lambda e: bool((e == GOAL).any())))
    left = users[~users["converted"] & (end - users["last_time"] >= INACTIVITY)]
    return {k: int(v) for k, v in left["last_event"].value_counts().items()}
