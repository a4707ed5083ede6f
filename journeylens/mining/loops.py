"""Loops: where journeys go round — repeats, back-and-forth, and longer cycles."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.params import fraction, positive_int
from ..core.protocol import JourneyLog, check_per
from ..engine import mining as kernels
from ..engine.sql import run
from ..errors import ParameterError
from .dfg import Level, Per

KINDS = {1: "self", 2: "ping_pong"}
COLUMNS = ["loop", "events", "kind", "length", "occurrences", "entries", "users", "user_share", "median_repetitions"]
#: the longest cycle searched for (the kernel keeps one column per node)
MAX_LENGTH = 8


@dataclass(frozen=True)
class Loops:
    """One row per cycle: ``loop`` ("a > b > a", from its most frequent entry point), ``events``,
    ``kind`` (self, ping_pong, cycle), ``length``, ``occurrences`` (rounds), ``entries``, ``users``,
    ``user_share`` and ``median_repetitions`` (rounds per user who goes round it)."""

    table: pd.DataFrame
    n_users: int
    level: str
    per: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars of the share of users caught in each of the ``top`` loops (plotly)."""
        import plotly.express as px

        from ..viz.text import plain

        t = self.table.head(top).iloc[::-1].assign(loop=lambda d: d["loop"].map(plain))
        fig = px.bar(t, x="user_share", y="loop", color="kind", orientation="h",
                     hover_data=["occurrences", "entries", "median_repetitions"])
        fig.update_layout(title="Loops by share of users", xaxis_tickformat=".0%", height=140 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        body = self.table.drop(columns="events").head(20).to_html(index=False, escape=True)
        return f"<div><strong>{len(self.table)} loops</strong> ({html.escape(self.level)} level){body}</div>"


def loops(
    log: JourneyLog,
    *,
    level: Level = "event",
    per: Per = "user",
    max_length: int = 4,
    min_support: float = 0.01,
) -> Loops:
    """The cycles journeys go round, ranked by how many users go round them.

    A cycle is a closed walk over ``k ≤ max_length`` distinct nodes: ``self``
    (k = 1, "a > a"), ``ping_pong`` (k = 2, "a > b > a") or ``cycle``. A journey
    goes round it where k consecutive steps follow its edges; a *run* is a stretch
    of such steps covering at least one round, entered at its first event.
    x > y > z > x, y > z > x > y and z > x > y > z are one cycle and one row:

    * ``occurrences``: complete rounds in all runs (a > b > a > b > a is one run,
      two rounds); ``median_repetitions``: median rounds of a user who goes round;
    * ``entries``: runs (how often journeys entered the cycle);
    * ``loop``/``events``: the cycle written from its most frequent entry point
      (the event where most runs start; ties: the first name in sort order) back to it.

    Cycles gone round by fewer than ``min_support`` of the users (those with an
    event at ``level``) are left out. ``per`` is the journey: a user's history or
    each session. Counted in the engine, on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a"] * 4 + ["b"] * 4,
    ...     "time": pd.date_range("2024-01-01", periods=8, freq="h"),
    ...     "event": ["product", "compare", "product", "cart", "compare", "product", "compare", "cart"]}))
    >>> jl.loops(log).to_frame()[["loop", "kind", "occurrences", "entries", "users"]].values.tolist()
    [['compare > product > compare', 'ping_pong', 2, 2, 2]]
    """
    check_per(per)
    max_length = positive_int(max_length, "max_length")
    if max_length > MAX_LENGTH:
        raise ParameterError(f"max_length must be at most {MAX_LENGTH}, not {max_length!r}", "max_length")
    min_support = fraction(min_support, "min_support")
    ev = log.journeys(level=level, per=per, window=False)
    names = np.asarray(log.names(level).astype(str), dtype=object)
    n_users = int(run("SELECT count(DISTINCT u) AS n FROM ev", {"ev": ev})["n"][0])
    found = pd.DataFrame(kernels.loops(ev, max_length, math.ceil(min_support * n_users)))
    if found.empty:
        return Loops(table=pd.DataFrame(columns=COLUMNS), n_users=n_users, level=level, per=per)
    cs = [f"c{j}" for j in range(max_length)]
    found["entry_name"] = names[found["entry"].to_numpy(dtype=np.int64)]
    # the most frequent entry point of each cycle (ties: the first name)
    best = (found.sort_values([*cs, "entries", "entry_name"], ascending=[True] * max_length + [False, True],
                              kind="stable")
            .drop_duplicates(["k", *cs]))
    best = best.assign(entries=found.groupby(["k", *cs])["entries"].transform("sum").loc[best.index])
    cycle = best[cs].to_numpy(dtype=np.int64)
    k = best["k"].to_numpy(dtype=np.int64)
    start = np.argmax(cycle == best["entry"].to_numpy(dtype=np.int64)[:, None], axis=1)
    idx = (start[:, None] + np.arange(max_length + 1)[None, :]) % k[:, None]  # from the entry, back to it
    walk = names[np.take_along_axis(cycle, idx, axis=1)]
    events = [tuple(w[: n + 1]) for w, n in zip(walk.tolist(), k.tolist())]  # one per distinct loop
    users = best["users"].to_numpy(dtype=np.int64)
    table = pd.DataFrame({
        "loop": [" > ".join(e) for e in events],
        "events": events,
        "kind": [KINDS.get(n, "cycle") for n in k.tolist()],
        "length": k,
        "occurrences": best["occurrences"].to_numpy(dtype=np.int64),
        "entries": best["entries"].to_numpy(dtype=np.int64),
        "users": users,
        "user_share": users / n_users,
        "median_repetitions": best["median_reps"].to_numpy(dtype=float),
    }, columns=COLUMNS)
    table = table.sort_values(["users", "occurrences", "loop"], ascending=[False, False, True], kind="stable")
    return Loops(table=table.reset_index(drop=True), n_users=n_users, level=level, per=per)
