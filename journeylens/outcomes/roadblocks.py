"""Roadblocks: touchpoints after which journeys are abandoned more often than after the others.

A *visit* is an occurrence of a touchpoint on the way to the journey's outcome:
before its first goal or lost event (terminal events are outcomes, never
roadblocks), and not the last event of a censored journey, whose next step is
not known yet. A visit is an *exit* when the journey dropped off right after it
(it is the last event of a dropped-off journey; see
:mod:`journeylens.outcomes.common`). Per touchpoint:

* ``exit_rate``: exits / visits (the web-analytics exit rate: what share of the
  visits were the journey's last);
* ``baseline_exit_rate``: the exit rate of all the *other* touchpoints' visits
  pooled, in the same stage when the log has stages (``jl.assign_stages``),
  else among all non-terminal touchpoints of the segment;
* ``exit_lift`` = ``exit_rate / baseline_exit_rate``: above 1, customers leave
  after this touchpoint more often than after the others (friction); below 1,
  less. It is a rate per visit, so a touchpoint seen by everyone (a home page,
  a catalog) is not a roadblock for its traffic alone. Undefined (NaN) when the
  other touchpoints have no visits or no exits;
* ``exit_p_value``: one-sided exact binomial test of that many exits or more
  in that many visits at the baseline rate (evidence, where the lift is size);
* ``error_follow_share``: share of visits directly followed by an error-like
  event (``error_pattern``; goal and lost events excluded);
* descriptive: ``dwell_median_s`` (median time to the next observed event),
  ``visits_per_journey`` (repeats) and ``conversion_rate`` (the share of the
  journeys that passed the touchpoint, outcome known, which then converted).

``score``, the ranking: the mean of the percentile ranks of ``exit_lift`` and
``error_follow_share`` among the segment's touchpoints with at least
``min_journeys`` journeys (a signal that is the same for all of them carries no
information and is left out). Rank 1 is the strongest roadblock; ties go to the
higher ``exit_lift``, then to more visits.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ..core.params import positive_int
from ..core.protocol import By, JourneyLog
from ..engine.outcomes import roadblock_signals
from ..errors import ParameterError
from .common import decode, outcome_journeys

#: event names that look like failures, for ``error_follow_share``
ERROR_PATTERN = r"error|fail|declin|denied|timeout|time_out|invalid|reject|problem|complain|cancel|bug"
#: the signals ``score`` ranks on
SIGNALS = ("exit_lift", "error_follow_share")


@dataclass(frozen=True)
class Roadblocks:
    """Touchpoints ranked by friction per segment (see the module docstring for every column)."""

    table: pd.DataFrame
    segment: str | None
    per: str
    baseline: str  # "stage": other touchpoints of the same stage; "all": all other touchpoints

    def to_frame(self) -> pd.DataFrame:
        """``[segment,] event, [stage,] <users|sessions>, visits, exits, exit_rate, baseline_exit_rate,
        exit_lift, exit_p_value, error_follow_share, dwell_median_s, visits_per_journey, conversion_rate,
        score, rank``."""
        return self.table.copy()

    def plot(self, top: int = 10):
        """Bars of the exit lift of the ``top`` roadblocks per segment (1 = as often as elsewhere)."""
        import plotly.express as px

        from ..viz.text import plain

        t = self.table[self.table["rank"] <= top].copy()
        t["event"] = [plain(e) for e in t["event"]]
        if self.segment:
            t[self.segment] = [plain(s) for s in t[self.segment]]
        fig = px.bar(t, x="exit_lift", y="event", orientation="h", facet_col=self.segment,
                     hover_data=["exit_rate", "baseline_exit_rate", "error_follow_share", "visits"],
                     title="Roadblocks: how much more often journeys end after a touchpoint than after the others")
        fig.add_vline(x=1.0, line_dash="dot")
        fig.update_yaxes(autorange="reversed")
        return fig

    def _repr_html_(self) -> str:
        return (f"<div><strong>Roadblocks</strong> (per {html.escape(self.per)}, baseline: "
                f"{html.escape(self.baseline)}){self.table.head(20).to_html(index=False, escape=True)}</div>")


def roadblocks(
    log: JourneyLog,
    goal: str | Sequence[str],
    *,
    lost: str | Sequence[str] | None = None,
    per: Literal["user", "session"] = "user",
    by: By = None,
    observation_end: Any = None,
    inactivity: Any = "7d",
    min_journeys: int = 20,
    error_pattern: str = ERROR_PATTERN,
) -> Roadblocks:
    """Rank touchpoints by friction on the way to ``goal``, per segment (see the module docstring).

    ``goal``/``lost``, ``per``, ``by``, ``observation_end`` and ``inactivity`` as in
    :func:`~journeylens.outcomes.dropoffs.dropoffs`. ``per="session"`` judges
    each session: a checkout error shows as the sessions that hit it and then
    leave. Touchpoints of fewer than ``min_journeys`` journeys are left out of
    the table (their visits still count in the others' baseline). Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> rows = [(f"u{k}", e) for k in range(40) for e in ["home", "pay"] + (["buy"] if k % 4 else [])]
    >>> rows += [(f"v{k}", e) for k in range(40) for e in ["home", "cart", "home"] + (["buy"] if k % 10 else [])]
    >>> frame = pd.DataFrame(rows + [("z", "home")], columns=["user", "event"])
    >>> minutes = frame.groupby("user").cumcount() + 60 * 24 * 30 * (frame["user"] == "z")
    >>> frame["time"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min")
    >>> t = jl.roadblocks(jl.from_pandas(frame), "buy").to_frame()
    >>> t[["event", "visits", "exits", "exit_rate", "baseline_exit_rate", "exit_lift", "rank"]].values.tolist()
    [['pay', 40, 10, 0.25, 0.025, 10.0, 1], ['home', 120, 4, 0.03333333333333333, 0.125, 0.26666666666666666, 2], \
['cart', 40, 0, 0.0, 0.0875, 0.0, 3]]
    """
    min_journeys = positive_int(min_journeys, "min_journeys")
    try:
        pattern = re.compile(error_pattern, re.IGNORECASE)
    except (re.error, TypeError) as exc:
        raise ParameterError(f"error_pattern={error_pattern!r} is not a regular expression ({exc})",
                             "error_pattern") from None
    is_error = [pattern.search(name) is not None for name in log.event_names.astype(str)]  # the dictionary
    j = outcome_journeys(log, goal, lost, per=per, by=by, observation_end=observation_end, inactivity=inactivity,
                         stage=True)
    errors = np.setdiff1d(np.flatnonzero(np.asarray(is_error, dtype=bool)), np.r_[j.goal_codes, j.lost_codes])
    raw = roadblock_signals(j.ev, j.jo, j.end_us, errors, stage=j.stage)
    t = pd.DataFrame({k: raw[k] for k in ("s", "e", "stage", "visits", "journeys", "exits", "errors", "resolved",
                                          "converted")}).astype(np.int64)
    t["dwell_median_s"] = raw["dwell_us"].astype(np.float64) / 1e6
    t = _signals(t, j.stage)
    t = t[t["journeys"] >= min_journeys].copy()
    t["score"] = _score(t)
    t = t.sort_values(["s", "score", "exit_lift", "visits", "e", "stage"],
                      ascending=[True, False, False, False, True, True], na_position="last", kind="stable")
    t["rank"] = t.groupby("s").cumcount() + 1
    table = pd.DataFrame({"segment": t["s"].to_numpy(), "event": decode(log.event_names, t["e"].to_numpy())})
    if j.stage:
        table["stage"] = decode(log.names("stage"), t["stage"].to_numpy())
    table[j.unit] = t["journeys"].to_numpy()
    for c in ("visits", "exits", "exit_rate", "baseline_exit_rate", "exit_lift", "exit_p_value", "error_follow_share",
              "dwell_median_s", "visits_per_journey", "conversion_rate", "score", "rank"):
        table[c] = t[c].to_numpy()
    return Roadblocks(table=j.name_segments(table), segment=j.segment, per=j.per,
                      baseline="stage" if j.stage else "all")


def _signals(t: pd.DataFrame, stage: bool) -> pd.DataFrame:
    """Rates, the pooled baseline of the other touchpoints of the same segment (and stage), lifts."""
    from scipy.stats import binom

    keys = ["s", "stage"] if stage else ["s"]
    total = t.groupby(keys)[["exits", "visits"]].transform("sum")
    others_visits = total["visits"] - t["visits"]
    with np.errstate(divide="ignore", invalid="ignore"):
        t["exit_rate"] = t["exits"] / t["visits"]
        base = np.where(others_visits > 0, (total["exits"] - t["exits"]) / others_visits.clip(lower=1), np.nan)
        t["baseline_exit_rate"] = base
        t["exit_lift"] = np.where(base > 0, t["exit_rate"] / np.where(base > 0, base, 1.0), np.nan)
        t["exit_p_value"] = np.where(np.isnan(base), np.nan,
                                     binom.sf(t["exits"] - 1, t["visits"], np.nan_to_num(base)))
        t["error_follow_share"] = t["errors"] / t["visits"]
        t["visits_per_journey"] = t["visits"] / t["journeys"]
        t["conversion_rate"] = np.where(t["resolved"] > 0, t["converted"] / t["resolved"].clip(lower=1), np.nan)
    return t


def _score(t: pd.DataFrame) -> pd.Series:
    """Mean percentile rank of the informative signals among each segment's touchpoints."""
    ranks = []
    for signal in SIGNALS:
        by_segment = t.groupby("s")[signal]
        informative = by_segment.transform("nunique") > 1
        ranks.append(by_segment.rank(pct=True, method="average").where(informative))
    return pd.concat(ranks, axis=1).mean(axis=1, skipna=True)
