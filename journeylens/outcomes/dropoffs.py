"""Where customers are lost, how long converting takes, and which touchpoints cause friction.

Censoring is explicit everywhere: a customer who has not reached the goal but
was active less than ``inactivity`` before the end of observation has not
dropped off; they are *censored* (still possibly on their way) and counted
apart. Only events up to ``observation_end`` (default: the log's last
timestamp) are observed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog
from ..core.params import micros
from ..core.segments import By
from ..errors import JourneyLensError

#: event names that look like failures (used by :func:`roadblocks`)
ERROR_PATTERN = r"error|fail|declin|denied|timeout|time_out|invalid|reject|problem|complain|cancel"

_NEVER = np.iinfo(np.int64).max


@dataclass(frozen=True)
class Outcomes:
    """Per user (one entry per observed user, in user-code order): where and how their journey ended."""

    user: np.ndarray  # user codes
    segment: np.ndarray  # segment code of each user
    labels: pd.Index  # segment labels
    segment_name: str
    first_row: np.ndarray  # log positions of each user's first and last observed event
    last_row: np.ndarray
    first_us: np.ndarray
    goal_us: np.ndarray  # time of the first goal event, _NEVER when not converted
    converted: np.ndarray
    dropped: np.ndarray
    censored: np.ndarray
    end_us: int
    observed: np.ndarray  # log positions of the observed rows (time ≤ observation end)


def _goal_codes(log: EventLog, goal: str | Sequence[str]) -> np.ndarray:
    names = [goal] if isinstance(goal, str) else list(goal)
    known = pd.Index(log.event_names.astype(str))
    missing = [n for n in names if n not in known]
    if not names or missing:
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        raise JourneyLensError(f"goal {missing[0] if missing else goal!r} is not an event of the log (events: {shown})")
    return known.get_indexer(names)


def outcomes(
    log: EventLog,
    goal: str | Sequence[str],
    by: By = None,
    observation_end: Any = None,
    inactivity: str | pd.Timedelta = "7d",
) -> Outcomes:
    """Classify every user as converted, dropped off or censored (see the module docstring)."""
    goal_codes = _goal_codes(log, goal)
    t_all = log.time_us
    if observation_end is None:
        end_us = int(t_all.max()) if len(t_all) else 0
    else:
        try:
            end = pd.Timestamp(observation_end)
        except (ValueError, TypeError):
            raise JourneyLensError(f"observation_end={observation_end!r} is not a timestamp") from None
        end = end.tz_localize("UTC") if end.tzinfo is None else end.tz_convert("UTC")
        end_us = int(end.value // 1_000)
    idle_us = micros(inactivity, "inactivity")
    observed = np.flatnonzero(t_all <= end_us)
    u, t, e = log.user_codes[observed], t_all[observed], log.event_codes[observed]
    if len(u) == 0:
        raise JourneyLensError("no events up to observation_end: nothing to analyse")
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    ends = np.r_[starts[1:], len(u)] - 1
    goal_us = np.minimum.reduceat(np.where(np.isin(e, goal_codes), t, _NEVER), starts)
    converted = goal_us < _NEVER
    dropped = ~converted & (end_us - t[ends] >= idle_us)
    seg_of_user, labels, name = log.segments(by)
    return Outcomes(
        user=u[starts], segment=seg_of_user[u[starts]], labels=labels, segment_name=name,
        first_row=observed[starts], last_row=observed[ends], first_us=t[starts], goal_us=goal_us,
        converted=converted, dropped=dropped, censored=~converted & ~dropped, end_us=end_us, observed=observed,
    )


def _name_segments(frame: pd.DataFrame, o: Outcomes, by: By) -> pd.DataFrame:
    frame["segment"] = o.labels[frame["segment"].to_numpy()]
    return frame.drop(columns="segment") if by is None else frame.rename(columns={"segment": o.segment_name})


# -- drop-off points ---------------------------------------------------------


@dataclass(frozen=True)
class DropOffs:
    """``table``: last event before leaving, per segment, ranked; ``summary``: converted/dropped/censored counts."""

    table: pd.DataFrame
    summary: pd.DataFrame
    segment: str | None

    def to_frame(self) -> pd.DataFrame:
        """``[segment,] event, [stage,] users, share_of_dropoffs, rank``."""
        return self.table.copy()

    def plot(self, top: int = 10):
        """Bars of the ``top`` drop-off points (per segment as facets)."""
        import plotly.express as px

        t = self.table[self.table["rank"] <= top]
        fig = px.bar(t, x="share_of_dropoffs", y="event", orientation="h", facet_col=self.segment,
                     hover_data=["users"], title="Where customers drop off (last event before leaving)")
        fig.update_yaxes(autorange="reversed")
        fig.update_xaxes(tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        return (f"<div><strong>Drop-off points</strong>{self.summary.to_html(index=False, escape=True)}"
                f"{self.table.head(20).to_html(index=False, escape=True)}</div>")


def dropoffs(
    log: EventLog,
    goal: str | Sequence[str],
    by: By = None,
    observation_end: Any = None,
    inactivity: str | pd.Timedelta = "7d",
) -> DropOffs:
    """The last touchpoints of customers who left without reaching ``goal``.

    A customer *dropped off* when they never reached ``goal`` and were inactive
    for at least ``inactivity`` before ``observation_end``; the others who have
    not converted are *censored* and never counted as drop-offs.
    ``summary`` has ``users, converted, dropped_off, censored, conversion_rate,
    dropoff_rate`` per segment (rates over all users of the segment).

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "user": ["a", "a", "b", "b", "c"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03", "2024-01-30"]),
    ...     "event": ["home", "cart", "home", "buy", "home"]}))
    >>> d = jl.dropoffs(log, goal="buy", inactivity="7d")
    >>> d.to_frame()[["event", "users"]].values.tolist(), int(d.summary["censored"].iloc[0])
    ([['cart', 1]], 1)
    """
    o = outcomes(log, goal, by, observation_end, inactivity)
    rows = o.last_row[o.dropped]
    frame = pd.DataFrame({"segment": o.segment[o.dropped], "event": np.asarray(log.event_codes)[rows]})
    keys = ["segment", "event"]
    if log.has("stage"):  # the stage of the last event (stages need not be ordered by events)
        frame["stage"] = log._frame["stage"].astype(object).to_numpy()[rows]
        keys.append("stage")
    table = frame.groupby(keys, dropna=False).size().rename("users").reset_index()
    table["event"] = log.event_names[table["event"].to_numpy()].astype(str)
    table["share_of_dropoffs"] = table["users"] / table.groupby("segment")["users"].transform("sum")
    table = table.sort_values(["segment", "users", "event"], ascending=[True, False, True], kind="stable")
    table["rank"] = table.groupby("segment").cumcount() + 1
    summary = _summary(o)
    return DropOffs(table=_name_segments(table.reset_index(drop=True), o, by),
                    summary=_name_segments(summary, o, by), segment=o.segment_name if by is not None else None)


def _summary(o: Outcomes) -> pd.DataFrame:
    n = len(o.labels)
    count = lambda mask: np.bincount(o.segment[mask], minlength=n)  # noqa: E731
    users = np.bincount(o.segment, minlength=n)
    out = pd.DataFrame({"segment": np.arange(n), "users": users, "converted": count(o.converted),
                        "dropped_off": count(o.dropped), "censored": count(o.censored)})
    out["conversion_rate"] = out["converted"] / out["users"].where(out["users"] > 0)
    out["dropoff_rate"] = out["dropped_off"] / out["users"].where(out["users"] > 0)
    return out


# -- time to convert ------------------------------------------------------------


@dataclass(frozen=True)
class TimeToConvert:
    """Kaplan–Meier cumulative conversion since first touch (``curve``) and its median per segment."""

    curve: pd.DataFrame
    medians: pd.DataFrame
    segment: str | None

    def to_frame(self) -> pd.DataFrame:
        """The curve: ``[segment,] time_s, at_risk, conversions, censored, cumulative_conversion``."""
        return self.curve.copy()

    def plot(self):
        """Step curves of cumulative conversion over days since first touch."""
        import plotly.graph_objects as go

        fig = go.Figure()
        groups = self.curve.groupby(self.segment, sort=True) if self.segment else [("all", self.curve)]
        for name, c in groups:
            fig.add_trace(go.Scatter(x=np.r_[0.0, c["time_s"] / 86_400], y=np.r_[0.0, c["cumulative_conversion"]],
                                     mode="lines", line_shape="hv", name=str(name)))
        fig.update_layout(title="Time to convert (Kaplan–Meier, censored customers included)",
                          xaxis_title="days since first touch", yaxis_title="converted", yaxis_tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        return f"<div><strong>Time to convert</strong>{self.medians.to_html(index=False, escape=True)}</div>"


def time_to_convert(
    log: EventLog, goal: str | Sequence[str], by: By = None, observation_end: Any = None
) -> TimeToConvert:
    """Cumulative share converted by time since first touch, with right-censoring.

    Each customer's clock starts at their first event. A converter's time is
    their first ``goal`` event; everyone else is censored at ``observation_end``
    (they were still observable until then). The curve is ``1 − S(t)`` of the
    Kaplan–Meier estimator; ``medians`` gives ``median_s`` (NaN when fewer than
    half ever convert), ``users``, ``converted``.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-04"]),
    ...     "event": ["home", "buy", "home", "home"]}))
    >>> float(jl.time_to_convert(log, "buy").medians["median_s"].iloc[0]) / 86400
    1.0
    """
    o = outcomes(log, goal, by, observation_end, inactivity="1us")
    duration = np.where(o.converted, o.goal_us - o.first_us, o.end_us - o.first_us)
    curves, medians = [], []
    for s in range(len(o.labels)):
        mine = o.segment == s
        curve = _kaplan_meier(duration[mine], o.converted[mine])
        curve.insert(0, "segment", s)
        curves.append(curve)
        reached = curve.loc[curve["cumulative_conversion"] >= 0.5 - 1e-12, "time_s"]
        medians.append({"segment": s, "users": int(mine.sum()), "converted": int(o.converted[mine].sum()),
                        "median_s": float(reached.iloc[0]) if len(reached) else float("nan")})
    curve = _name_segments(pd.concat(curves, ignore_index=True), o, by)
    return TimeToConvert(curve=curve, medians=_name_segments(pd.DataFrame(medians), o, by),
                         segment=o.segment_name if by is not None else None)


def _kaplan_meier(duration_us: np.ndarray, event: np.ndarray) -> pd.DataFrame:
    """Product-limit estimate at each distinct time; censored at t count as at risk at t."""
    times, inverse = np.unique(duration_us, return_inverse=True)
    conversions = np.bincount(inverse, weights=event, minlength=len(times)).astype(np.int64)
    leaving = np.bincount(inverse, minlength=len(times))
    at_risk = len(duration_us) - np.r_[0, np.cumsum(leaving)[:-1]]
    survival = np.cumprod(1.0 - conversions / at_risk)
    return pd.DataFrame({"time_s": times / 1e6, "at_risk": at_risk, "conversions": conversions,
                         "censored": leaving - conversions, "cumulative_conversion": 1.0 - survival})


# -- roadblocks ---------------------------------------------------------------------

SIGNALS = ("exit_lift", "dwell_lift", "attempts_per_user", "error_follow_share")


@dataclass(frozen=True)
class Roadblocks:
    """Touchpoints ranked by evidence of friction, each signal shown beside the combined ``score``."""

    table: pd.DataFrame
    segment: str | None

    def to_frame(self) -> pd.DataFrame:
        """``[segment,] event, users, exit_rate, exit_lift, dwell_median_s, dwell_lift, attempts_per_user,
        error_follow_share, score, rank``."""
        return self.table.copy()

    def plot(self, top: int = 8):
        """Heatmap of the friction signals (as percentile ranks) of the ``top`` touchpoints per segment."""
        import plotly.express as px

        t = self.table[self.table["rank"] <= top]
        label = t["event"] if self.segment is None else t[self.segment].astype(str) + " · " + t["event"]
        ranks = t[[f"{s}_pct" for s in SIGNALS] + ["score"]].set_axis(list(SIGNALS) + ["score"], axis=1)
        fig = px.imshow(ranks.set_index(label), color_continuous_scale="Reds", zmin=0, zmax=1, aspect="auto",
                        title="Roadblocks: friction signals (percentile among touchpoints)")
        return fig

    def _repr_html_(self) -> str:
        cols = [c for c in self.table.columns if not c.endswith("_pct")]
        return f"<div><strong>Roadblocks</strong>{self.table[cols].head(20).to_html(index=False, escape=True)}</div>"


def roadblocks(
    log: EventLog,
    goal: str | Sequence[str],
    by: By = None,
    observation_end: Any = None,
    inactivity: str | pd.Timedelta = "7d",
    min_users: int = 20,
    error_pattern: str = ERROR_PATTERN,
) -> Roadblocks:
    """Rank touchpoints by evidence of friction on the way to ``goal``, per segment.

    Signals per touchpoint (among users of the segment who had it):

    * ``exit_lift``: share of them who dropped off right after it (their last
      event; censored users are not drop-offs), over the segment's drop-off rate;
    * ``dwell_lift``: median time to the customer's next event, over the median
      of all events' next-event times in the segment;
    * ``attempts_per_user``: occurrences per user (repeated attempts, loops);
    * ``error_follow_share``: share of occurrences directly followed by an
      error-like event (``error_pattern``, case-insensitive).

    ``score`` is the mean of the signals' percentile ranks among the segment's
    touchpoints with at least ``min_users`` users (goal events excluded); rank 1
    is the strongest roadblock.

    >>> import journeylens as jl
    >>> log = jl.datasets.make_event_log(n_customers=500, seed=1)    # doctest: +SKIP
    >>> jl.roadblocks(log, goal="order_placed", by="persona").to_frame().head()   # doctest: +SKIP
    """
    o = outcomes(log, goal, by, observation_end, inactivity)
    rows = o.observed
    u, t, e = log.user_codes[rows], log.time_us[rows], log.event_codes[rows]
    seg_of_user = np.zeros(len(log.users), dtype=np.int64)
    seg_of_user[o.user] = o.segment
    seg = seg_of_user[u]
    same_next = np.r_[u[1:] == u[:-1], False]
    dwell = np.where(same_next, np.r_[t[1:], 0] - t, -1)
    try:
        is_error = np.asarray(log.event_names.astype(str).str.contains(error_pattern, case=False, regex=True), dtype=bool)
    except re.error as exc:
        raise JourneyLensError(f"error_pattern={error_pattern!r} is not a regular expression ({exc})") from None
    error_next = same_next & np.r_[is_error[e[1:]], False]
    exit_row = np.zeros(len(log), dtype=bool)
    exit_row[o.last_row[o.dropped]] = True
    frame = pd.DataFrame({"segment": seg, "event": e, "user": u, "exit": exit_row[rows],
                          "dwell_s": np.where(dwell >= 0, dwell / 1e6, np.nan), "error_next": error_next})
    grouped = frame.groupby(["segment", "event"], sort=True)
    table = pd.DataFrame({
        "users": grouped["user"].nunique(),
        "occurrences": grouped.size(),
        "exits": grouped["exit"].sum(),
        "dwell_median_s": grouped["dwell_s"].median(),
        "error_follow_share": grouped["error_next"].mean(),
    }).reset_index()
    summary = _summary(o).set_index("segment")
    base_dwell = frame.groupby("segment")["dwell_s"].median()
    table["exit_rate"] = table["exits"] / table["users"]
    table["exit_lift"] = table["exit_rate"] / summary["dropoff_rate"].reindex(table["segment"]).to_numpy()
    table["dwell_lift"] = table["dwell_median_s"] / base_dwell.reindex(table["segment"]).to_numpy()
    table["attempts_per_user"] = table["occurrences"] / table["users"]
    goal_codes = _goal_codes(log, goal)
    table = table[(table["users"] >= min_users) & ~table["event"].isin(goal_codes)].copy()
    for s in SIGNALS:
        table[f"{s}_pct"] = table.groupby("segment")[s].rank(pct=True, method="average").fillna(0.0)
    table["score"] = table[[f"{s}_pct" for s in SIGNALS]].mean(axis=1)
    table = table.sort_values(["segment", "score", "users"], ascending=[True, False, False], kind="stable")
    table["rank"] = table.groupby("segment").cumcount() + 1
    table["event"] = log.event_names[table["event"].to_numpy()].astype(str)
    order = ["segment", "event", "users", "exit_rate", "exit_lift", "dwell_median_s", "dwell_lift",
             "attempts_per_user", "error_follow_share", "score", "rank"] + [f"{s}_pct" for s in SIGNALS]
    return Roadblocks(table=_name_segments(table[order].reset_index(drop=True), o, by),
                      segment=o.segment_name if by is not None else None)
