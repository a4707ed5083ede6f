"""Step matrices: where journeys are at each step number, and how two segments differ there.

The *step matrix* has one row per event (or stage, or channel: ``level``) and one
column per step number 1 … ``depth``: the share of journeys whose k-th event it is.
The row ``(end)`` holds the journeys already over before step k, so every column
adds up to 1. The *differential step matrix* is segment A's matrix minus segment
B's: where one segment is ahead, behind or gone.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.params import choice, positive_int
from ..core.protocol import By, JourneyLog, check_per
from ..engine.sql import with_user_values
from ..engine.steps import step_counts
from ..errors import ParameterError

END = "(end)"
LEVELS = ("event", "stage", "channel")


@dataclass(frozen=True)
class StepMatrix:
    """Share of journeys at each name by step number (see the module docstring).

    ``matrix``: names × steps (1 … ``depth``); ``counts``: ``step, <level>, journeys`` (the journeys at each
    name and step, ``(end)`` included); ``journeys``: how many journeys there are.
    """

    matrix: pd.DataFrame
    counts: pd.DataFrame
    journeys: int
    depth: int
    level: str
    per: str
    segment: str | None = None
    label: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The matrix: index = names (``(end)`` last), columns = step numbers, values = shares."""
        return self.matrix.copy()

    def plot(self):
        """A heatmap of the matrix."""
        from ..viz.heatmap import matrix_figure

        of = f" ({self.segment} = {self.label})" if self.label is not None else ""
        return matrix_figure(self.matrix, title=f"Step matrix{of}: share of {self.journeys:,} journeys at each step",
                             x_title="step", y_title=self.level)

    def _repr_html_(self) -> str:
        return (f"<div><strong>Step matrix</strong> ({self.journeys:,} journeys per {html.escape(self.per)})"
                f"{self.matrix.to_html(escape=True, float_format=lambda v: f'{v:.0%}')}</div>")


@dataclass(frozen=True)
class StepMatrixDifference:
    """Segment ``a``'s step matrix minus segment ``b``'s (``first``, ``second``), on the union of their rows."""

    matrix: pd.DataFrame
    first: StepMatrix
    second: StepMatrix
    segment: str
    a: str
    b: str

    def to_frame(self) -> pd.DataFrame:
        """The difference: index = names, columns = step numbers, values = share in ``a`` − share in ``b``."""
        return self.matrix.copy()

    def plot(self):
        """A diverging heatmap of the difference (blue: more of segment a, red: more of segment b)."""
        from ..viz.heatmap import matrix_figure

        return matrix_figure(self.matrix, title=f"Differential step matrix: {self.segment} {self.a} − {self.b}",
                             x_title="step", y_title=self.first.level, diverging=True, colorbar="difference")

    def _repr_html_(self) -> str:
        head = html.escape(f"{self.segment}: {self.a} − {self.b}")
        return f"<div><strong>Differential step matrix</strong> {head}{self.matrix.to_html(escape=True)}</div>"


def _matrices(log: JourneyLog, depth: int, per: str, level: str, seg_of_user: np.ndarray | None):
    ev = log.journeys(level=level, per=per, window=False)
    if seg_of_user is not None:
        ev = with_user_values(ev, "s", seg_of_user)
    counts, totals = step_counts(ev, depth, segmented=seg_of_user is not None)
    names = np.asarray(log.names(level).astype(str), dtype=object)
    found = pd.DataFrame({"s": counts["s"].astype(np.int64), "step": counts["step"].astype(np.int64),
                          level: names[counts["e"].astype(np.int64)], "journeys": counts["journeys"].astype(np.int64)})
    return found, dict(zip(totals["s"].astype(np.int64).tolist(), totals["journeys"].astype(np.int64).tolist()))


def _one(found: pd.DataFrame, journeys: int, depth: int, level: str, per: str, **segment: Any) -> StepMatrix:
    steps = list(range(1, depth + 1))
    grid = found.pivot_table(index=level, columns="step", values="journeys", aggfunc="sum", fill_value=0)
    grid = grid.reindex(columns=steps, fill_value=0)
    grid.columns = pd.Index(steps, name="step")
    ended = journeys - grid.sum(axis=0)
    share = grid / journeys if journeys else grid.astype(np.float64)
    # rows in the order journeys meet them: by the step of their peak, then the peak's height, then name
    values = share.to_numpy(dtype=np.float64).reshape(len(share), depth)
    order = np.lexsort((share.index.to_numpy(dtype=object).astype(str), -values.max(axis=1, initial=0.0),
                        values.argmax(axis=1) if len(values) else np.zeros(0, dtype=np.int64)))
    share = share.iloc[order]
    end = (ended / journeys if journeys else ended.astype(np.float64)).rename(END)
    matrix = pd.concat([share, end.to_frame().T]).astype(np.float64)
    matrix.index.name = level
    counts = pd.concat([grid.iloc[order], ended.rename(END).to_frame().T])
    counts.index.name = level
    long = counts.reset_index().melt(id_vars=level, var_name="step", value_name="journeys")
    long = long[["step", level, "journeys"]].astype({"step": np.int64, "journeys": np.int64})
    return StepMatrix(matrix=matrix, counts=long.reset_index(drop=True), journeys=int(journeys), depth=depth,
                      level=level, per=per, **segment)


def step_matrix(log: JourneyLog, *, depth: int = 10, per: str = "user", level: str = "event") -> StepMatrix:
    """Share of journeys at each event by step number, the first ``depth`` steps (see the module docstring).

    ``per``: journeys are users' whole histories or sessions; ``level``: event, stage or channel.
    Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.mining.steps import step_matrix
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "b", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=6, freq="h"),
    ...     "event": ["home", "cart", "home", "home", "buy", "cart"]}))
    >>> step_matrix(log, depth=3).to_frame().round(2)  # doctest: +NORMALIZE_WHITESPACE
    step      1     2     3
    event
    home   0.67  0.33  0.00
    cart   0.33  0.33  0.00
    buy    0.00  0.00  0.33
    (end)  0.00  0.33  0.67
    """
    depth = positive_int(depth, "depth")
    per = check_per(per)
    level = choice(level, "level", LEVELS)
    found, totals = _matrices(log, depth, per, level, None)
    return _one(found.drop(columns="s"), totals.get(0, 0), depth, level, per)


def differential_step_matrix(log: JourneyLog, *, by: By, segments: Sequence[Any], depth: int = 10,
                             per: str = "user", level: str = "event") -> StepMatrixDifference:
    """The step matrix of segment ``segments[0]`` minus that of ``segments[1]`` (``by``: the user's segment).

    Both matrices are shares of their own segment's journeys, so the difference compares where the segments'
    journeys are at each step whatever their sizes; each column of the difference adds up to 0.
    Runs on every engine.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.mining.steps import differential_step_matrix
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b", "b", "c"],
    ...     "time": pd.date_range("2024-01-01", periods=5, freq="h"),
    ...     "event": ["home", "buy", "home", "cart", "cart"]}))
    >>> d = differential_step_matrix(log, by={"a": "new", "b": "new", "c": "old"}, segments=["new", "old"], depth=2)
    >>> d.to_frame()  # doctest: +NORMALIZE_WHITESPACE
    step     1    2
    event
    home   1.0  0.0
    buy    0.0  0.5
    cart  -1.0  0.5
    (end)  0.0 -1.0
    """
    depth = positive_int(depth, "depth")
    per = check_per(per)
    level = choice(level, "level", LEVELS)
    if isinstance(segments, str) or len(segments) != 2:
        raise ParameterError("segments must be the two segment labels to compare, e.g. ['test', 'control']",
                             "segments")
    seg_of_user, labels, name = log.segments(by)
    wanted = [str(s) for s in segments]
    missing = [s for s in wanted if s not in set(labels)]
    if missing or wanted[0] == wanted[1]:
        raise ParameterError(f"segments must be two different labels of {name} (labels: {', '.join(labels[:12])})"
                             + (f"; {missing[0]!r} is none" if missing else ""), "segments")
    codes = [int(labels.get_loc(s)) for s in wanted]
    found, totals = _matrices(log, depth, per, level, seg_of_user)
    first, second = (_one(found[found["s"] == c].drop(columns="s"), totals.get(c, 0), depth, level, per,
                          segment=name, label=s) for c, s in zip(codes, wanted))
    rows = list(dict.fromkeys([*first.matrix.index[:-1], *second.matrix.index[:-1], END]))
    diff = first.matrix.reindex(rows, fill_value=0.0) - second.matrix.reindex(rows, fill_value=0.0)
    diff.index.name = level
    return StepMatrixDifference(matrix=diff, first=first, second=second, segment=name, a=wanted[0], b=wanted[1])
