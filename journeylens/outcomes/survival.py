"""Time to convert: the cumulative share of journeys converted by time since their first event.

Each journey's clock starts at its first event. A converted journey's time is
its first goal event; a lost journey's is its first lost event (the first
terminal event wins, see :mod:`journeylens.outcomes.common`); every other
journey is right-censored at ``observation_end``, until when it was observable.

Loss is a *competing* outcome, not censoring: a lost journey will never
convert, whereas a censored one still might. Censoring the lost journeys in a
Kaplan–Meier estimate would pretend they could convert later and overstate
conversion. The curve is therefore the **Aalen–Johansen** estimate of the
cumulative incidence of conversion: with ``n`` journeys at risk just before
time ``t`` (journeys censored at ``t`` still count), ``c`` conversions and
``l`` losses at ``t``, and ``S`` the Kaplan–Meier probability of having had no
outcome before ``t``,

    F_conversion(t) = Σ_{s ≤ t} S(s−) · c(s) / n(s),   S(t) = Π_{s ≤ t} (1 − (c(s) + l(s)) / n(s)),

and ``F_loss`` likewise with ``l``. Without ``lost`` it equals ``1 − S``, the
Kaplan–Meier cumulative conversion.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd

from ..core.protocol import By, JourneyLog
from ..engine.outcomes import outcome_durations
from .common import outcome_journeys

CURVE_COLUMNS = ["time_s", "at_risk", "conversions", "losses", "censored", "cumulative_conversion", "cumulative_loss"]


@dataclass(frozen=True)
class TimeToConvert:
    """The cumulative incidence of conversion (``curve``) and the median time to convert (``medians``) per segment."""

    curve: pd.DataFrame
    medians: pd.DataFrame
    segment: str | None
    per: str

    def to_frame(self) -> pd.DataFrame:
        """The curve: ``[segment,] time_s, at_risk, conversions, losses, censored, cumulative_conversion,
        cumulative_loss``, one row per distinct time."""
        return self.curve.copy()

    def plot(self):
        """Step curves of cumulative conversion (and loss, dotted, when there is any) by days since the first event."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        fig = go.Figure()
        groups = self.curve.groupby(self.segment, sort=True) if self.segment else [("all", self.curve)]
        for label, c in groups:
            name = plain(label)
            days = np.r_[0.0, c["time_s"] / 86_400]
            converted, lost = np.r_[0.0, c["cumulative_conversion"]], np.r_[0.0, c["cumulative_loss"]]
            shown = visible_steps(days, converted, lost)
            fig.add_trace(go.Scatter(x=days[shown], y=converted[shown], mode="lines", line_shape="hv",
                                     name=f"{name}: converted"))
            if (c["losses"] > 0).any():
                fig.add_trace(go.Scatter(x=days[shown], y=lost[shown], mode="lines", line_shape="hv",
                                         line_dash="dot", name=f"{name}: lost"))
        fig.update_layout(title="Time to convert (Aalen–Johansen; censored journeys included, loss competing)",
                          xaxis_title="days since first event", yaxis_title="share of journeys",
                          yaxis_tickformat=".0%")
        return fig

    def _repr_html_(self) -> str:
        return (f"<div><strong>Time to convert</strong> (per {html.escape(self.per)})"
                f"{self.medians.to_html(index=False, escape=True)}</div>")


def visible_steps(x: np.ndarray, *ys: np.ndarray, points: int = 2_000) -> np.ndarray:
    """Indices of the steps of non-decreasing step curves ``ys`` over ascending ``x`` that a plot can show.

    Cut the ranges of x and of each y into ``points`` bins; of each run of steps within the same bins, only
    the last is kept (and the first step). Drawn as steps, the thinned curve is never more than one bin away
    from the full one: a log with a million distinct times draws a few thousand points, not a million.

    >>> visible_steps(np.arange(10.0), np.r_[0.0, np.repeat(0.5, 8), 1.0], points=4).tolist()
    [0, 2, 4, 6, 8, 9]
    """
    n = len(x)
    if n <= 2:
        return np.arange(n)
    change = np.zeros(n, dtype=bool)
    for v in (x, *ys):
        span = float(v[-1] - v[0]) if v is x else float(np.max(v) - np.min(v))
        if span > 0:
            bins = np.floor((v - v.min()) / span * points)
            change[:-1] |= bins[1:] != bins[:-1]
    change[0] = change[-1] = True
    return np.flatnonzero(change)


def time_to_convert(
    log: JourneyLog,
    goal: str | Sequence[str],
    *,
    lost: str | Sequence[str] | None = None,
    per: Literal["user", "session"] = "user",
    by: By = None,
    observation_end: Any = None,
) -> TimeToConvert:
    """Cumulative share converted by time since the first event, with censoring and loss as a competing outcome.

    ``goal``/``lost``, ``per``, ``by`` and ``observation_end`` as in
    :func:`~journeylens.outcomes.dropoffs.dropoffs`; the estimator is in the
    module docstring. ``medians`` has per segment the journeys (``users`` or
    ``sessions``), ``converted``, ``lost``, ``median_s`` (the first time the
    cumulative conversion reaches one half; NaN when it never does) and
    ``median_note``: the median in words, or why there is none ("not reached:
    17% converted", the final cumulative conversion). Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c", "c"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-04",
    ...                             "2024-01-01", "2024-01-03"]),
    ...     "event": ["home", "buy", "home", "home", "home", "declined"]}))
    >>> t = jl.time_to_convert(log, "buy", lost="declined")
    >>> t.to_frame()[["time_s", "at_risk", "cumulative_conversion", "cumulative_loss"]].round(4).values.tolist()
    [[86400.0, 3.0, 0.3333, 0.0], [172800.0, 2.0, 0.3333, 0.3333], [259200.0, 1.0, 0.3333, 0.3333]]
    >>> t.medians[["users", "converted", "lost", "median_note"]].values.tolist()
    [[3, 1, 1, 'not reached: 33% converted']]
    """
    j = outcome_journeys(log, goal, lost, per=per, by=by, observation_end=observation_end, inactivity="1us")
    d = outcome_durations(j.jo, j.end_us)
    seg = d["s"].astype(np.int64)
    curves, medians = [], []
    for s in range(len(j.labels)):
        mine = seg == s
        curve = aalen_johansen(d["d"][mine].astype(np.int64), d["converted"][mine].astype(np.int64),
                               d["lost"][mine].astype(np.int64), d["censored"][mine].astype(np.int64))
        curve.insert(0, "segment", s)
        curves.append(curve)
        n = int(curve["at_risk"].iloc[0]) if len(curve) else 0
        median, note = _median(curve)
        medians.append({"segment": s, j.unit: n, "converted": int(curve["conversions"].sum()),
                        "lost": int(curve["losses"].sum()), "median_s": median, "median_note": note})
    curve = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=["segment", *CURVE_COLUMNS])
    return TimeToConvert(curve=j.name_segments(curve), medians=j.name_segments(pd.DataFrame(medians)),
                         segment=j.segment, per=j.per)


def aalen_johansen(d_us: np.ndarray, converted: np.ndarray, lost: np.ndarray, censored: np.ndarray) -> pd.DataFrame:
    """The cumulative incidences of conversion and loss at each distinct time ``d_us`` (sorted, µs), from
    the journeys converting, lost and censored there (the module docstring has the estimator)."""
    leaving = converted + lost + censored
    at_risk = int(leaving.sum()) - np.r_[0, np.cumsum(leaving)[:-1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        h_conv, h_lost = converted / at_risk, lost / at_risk
    survival = np.cumprod(1.0 - (h_conv + h_lost))
    before = np.r_[1.0, survival[:-1]]
    return pd.DataFrame({"time_s": d_us / 1e6, "at_risk": at_risk.astype(np.int64), "conversions": converted,
                         "losses": lost, "censored": censored, "cumulative_conversion": np.cumsum(before * h_conv),
                         "cumulative_loss": np.cumsum(before * h_lost)}, columns=CURVE_COLUMNS)


def _median(curve: pd.DataFrame) -> tuple[float, str]:
    """The first time cumulative conversion reaches 1/2, and the median in words (or why there is none)."""
    if curve.empty:
        return float("nan"), "no journeys"
    reached = curve.loc[curve["cumulative_conversion"] >= 0.5 - 1e-12, "time_s"]
    if len(reached):
        return float(reached.iloc[0]), _words(float(reached.iloc[0]))
    return float("nan"), f"not reached: {curve['cumulative_conversion'].iloc[-1]:.0%} converted"


def _words(seconds: float) -> str:
    """A duration as people say it: ``45 s``, ``12 min``, ``3.5 h``, ``2.0 days``."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"
