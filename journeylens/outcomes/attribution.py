"""Channel attribution: which touchpoints earn the conversions.

A log is cut into paths at each conversion (see :mod:`journeylens.engine.attribution`):
a conversion closes the path of the touches since the user's previous one, within
``lookback`` of it; what follows a user's last conversion is a path that did not
convert, a *null*, with the same window before the user's last event. The goal
event's own row is the outcome, not a touch (the channel a purchase is recorded on
earns nothing by it), and a run of consecutive touches of one touchpoint is one
touch (ten page views on ``web`` are one visit). Aggregated paths
(:func:`attribution_from_paths`) are taken as given, repeats included, as
ChannelAttribution does. The paths are aggregated in the engine that holds the log,
so only the distinct paths with their counts come to Python, where each model
shares every path's conversions among its touchpoints:

* ``first`` / ``last``: all of it to the first / last touch.
* ``linear``: equal shares to every touch (a touchpoint on a path twice gets two
  shares, as ChannelAttribution's ``linear_touch`` does).
* ``position``: 40 % to the first touch, 40 % to the last, 20 % split evenly over
  the touches between; a one-touch path gives it all to its touch, a two-touch
  path half to each.
* ``time_decay``: shares halving every ``half_life`` back from the conversion (on a
  log: in time, default 7 days, the usual default of time-decay attribution; on
  aggregated paths, which carry no times: in touches, default one).
* ``markov``: the removal effect of each touchpoint in the absorbing Markov chain of
  the paths, solved exactly (below); credits are the conversions times each removal
  effect over their sum.
* ``shapley``: the simplified Shapley value of Zhao et al. (2018). The worth of a set
  *S* of touchpoints is the conversions of the paths whose touchpoint set is inside
  *S*; that game is a sum of one unanimity game per observed set, so its Shapley value
  is exact in closed form for any number of touchpoints: each path's conversions are
  shared equally over the distinct touchpoints of its set. No sampling is needed (and
  on paths without repeats it equals ``linear``).

**Markov chain.** States are ``start``, the touchpoints (with ``order`` k > 1: the
tuple of the last k touches, shorter at the start of a path), ``conversion`` and
``null``; transition probabilities are the observed transition counts, each path
weighted by its conversions plus nulls. The probability of reaching ``conversion``
from ``start`` is one sparse linear solve. Removing a touchpoint removes every state
that contains it, its inflow going to ``null``; the removal effect is
``1 - P(conversion | removed) / P(conversion)``. With ``value``, the same solve with
each conversion weighted by its value gives ``removal_effect_value`` and the Markov
value credits.

Every model's credits add up to the conversions that have at least one touch
(``conversions``); conversions without a touch in their window are counted in
``unattributed``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core.params import choice, event_codes, event_names, micros, optional_micros, positive_int
from ..core.protocol import JourneyLog
from ..engine import attribution as kernel
from ..engine import sql
from ..errors import ParameterError

MODELS = ("first", "last", "linear", "time_decay", "position", "markov", "shapley")
#: columns of a log that are not touchpoints
_NOT_TOUCHPOINTS = {"user_id", "timestamp", "source_row", "i", "u", "t", "e", "c_channel", "c_device", "c_stage"}


@dataclass(frozen=True)
class Attribution:
    """Attributed conversions per touchpoint, for each model (see the module docstring).

    ``conversions``: the conversions shared out (every model's column adds up to it);
    ``unattributed``: conversions with no touch in their window; ``paths``: the distinct
    paths (``path`` as ``a > b``, ``conversions``, ``nulls``, and ``value`` with values);
    ``notes``: how each model was computed.
    """

    table: pd.DataFrame
    touchpoint: str
    models: tuple[str, ...]
    conversions: float
    unattributed: float
    paths: pd.DataFrame
    notes: Mapping[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per touchpoint (column named after the touchpoint, e.g. ``channel``), one column of
        attributed conversions per model, ``<model>_value`` with values, and ``removal_effect``
        (``removal_effect_value``) with the Markov model."""
        return self.table.copy()

    def plot(self):
        """Grouped bars: attributed conversions per touchpoint, one bar per model."""
        import plotly.graph_objects as go

        from ..viz.text import plain

        fig = go.Figure()
        names = [plain(n) for n in self.table[self.touchpoint].astype(str)]
        for model in self.models:
            fig.add_trace(go.Bar(name=model, x=names, y=self.table[model]))
        fig.update_layout(barmode="group", title=f"Attributed conversions per {plain(self.touchpoint)}",
                          xaxis_title=plain(self.touchpoint), yaxis_title="conversions")
        return fig

    def _repr_html_(self) -> str:
        head = (f"attribution of {self.conversions:,.0f} conversions per {self.touchpoint} "
                f"({self.unattributed:,.0f} without a touch), {len(self.paths):,} distinct paths")
        notes = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in self.notes.items())
        return (f"<div><strong>{html.escape(head)}</strong>{self.table.to_html(index=False, escape=True)}"
                f"<details><summary>models</summary><ul>{notes}</ul></details></div>")


@dataclass(frozen=True)
class _Paths:
    """Distinct paths: touchpoint ``codes`` end to end, ``lengths`` (≥ 1), counts and values per path."""

    codes: np.ndarray
    lengths: np.ndarray
    conversions: np.ndarray
    nulls: np.ndarray
    value: np.ndarray | None
    names: pd.Index

    @property
    def owner(self) -> np.ndarray:
        """The path of every touch."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    @property
    def position(self) -> np.ndarray:
        """Every touch's position in its path (0 = first)."""
        starts = np.cumsum(self.lengths) - self.lengths
        return np.arange(len(self.codes)) - np.repeat(starts, self.lengths)

    def strings(self) -> pd.Series:
        """The paths as text, ``a > b > c``."""
        offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int32)
        names = pa.array(np.asarray(self.names.astype(str), dtype=object), type=pa.string()).take(pa.array(self.codes))
        return pd.Series(pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), names), " > ").to_pylist(),
                         dtype=object)

    def frame(self, valued: bool) -> pd.DataFrame:
        out = pd.DataFrame({"path": self.strings(), "conversions": self.conversions, "nulls": self.nulls})
        if valued:
            out["value"] = self.value
        return out


def attribution(log: JourneyLog, *, goal: str | Sequence[str], touchpoint: str = "channel",
                models: str | Sequence[str] = MODELS, order: int = 1, lookback: Any = "30d",
                value: str | None = None, half_life: Any = "7d") -> Attribution:
    """Share the conversions of ``log`` among its touchpoints with each of ``models``.

    ``goal``: the conversion event(s). A user can convert several times: each conversion
    closes a path of the touches since the previous one, at most ``lookback`` before it
    (None: no limit); the touches after a user's last conversion make a path that did not
    convert. The goal rows are the outcome, not touches; a run of consecutive touches of
    one touchpoint counts once (at its last row's time). ``touchpoint``: ``"channel"``,
    ``"event"``, ``"device"``, ``"stage"`` or any other column of the log. ``order``: the
    Markov chain's order. ``value``: a numeric column whose value on the goal row is the
    conversion's value (adds ``<model>_value`` columns). ``half_life``: of the time-decay
    weights. Runs in the engine that holds the log (in memory, DuckDB or Spark); only the
    distinct paths come back.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.outcomes.attribution import attribution
    >>> log = jl.from_pandas(pd.DataFrame({
    ...     "user": ["a", "a", "a", "b", "b", "c"],
    ...     "time": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01", "2024-01-02",
    ...                             "2024-01-01"]),
    ...     "event": ["visit", "visit", "buy", "visit", "buy", "visit"],
    ...     "channel": ["ads", "email", "web", "email", "web", "ads"]}))
    >>> result = attribution(log, goal="buy", models=("first", "last", "markov"))
    >>> result.to_frame()
      channel  first  last    markov  removal_effect
    0     ads    1.0   0.0  0.666667             0.5
    1   email    1.0   2.0  1.333333             1.0
    >>> result.paths
              path  conversions  nulls
    0          ads            0      1
    1  ads > email            1      0
    2        email            1      0
    """
    chosen = _models(models)
    goals = event_names(goal, log.event_names, "goal")
    order = positive_int(order, "order")
    window = optional_micros(lookback, "lookback")
    half_life_us = micros(half_life, "half_life")
    ev, names, touch, valued = _journey_rows(log, touchpoint, value)
    codes = event_codes(goals, log.event_names)
    tp = kernel.touches(ev, codes, window, touch=touch, value=valued)
    counts = kernel.path_counts(tp)
    paths = _Paths(counts["codes"], counts["lengths"], counts["conversions"], counts["nulls"],
                   counts["value"] if value is not None else None, names)
    unattributed = kernel.goal_count(ev, codes) - float(paths.conversions.sum())
    decay = None
    if "time_decay" in chosen:
        d = kernel.decay_credits(tp, half_life_us)
        decay = (_per_code(d["e"], d["credit"], len(names)), _per_code(d["e"], d["value"], len(names)))
    notes = {"paths": f"cut at each conversion, lookback {_shown(lookback)}; a run of one touchpoint is one touch",
             "time_decay": f"half-life {_shown(half_life)} before the conversion"}
    return _result(paths, chosen, order, touchpoint, decay=decay, half_life=1.0, unattributed=unattributed,
                   notes=notes)


def attribution_from_paths(df: pd.DataFrame, *, path: str = "path", conversions: str = "total_conversions",
                           nulls: str | None = "total_null", value: str | None = None, sep: str = ">",
                           models: str | Sequence[str] = MODELS, order: int = 1, half_life: float = 1.0,
                           touchpoint: str = "channel") -> Attribution:
    """Attribution from aggregated paths, ChannelAttribution's format: one row per path (``a > b > c``)
    with its conversions, its non-converting journeys (``nulls``, optional) and conversion ``value``
    (optional). Names are split on ``sep`` and stripped of surrounding spaces; empty names are dropped.
    ``half_life`` of the time-decay weights counts touches (paths carry no times). ``touchpoint``
    names the result's first column.

    >>> import pandas as pd
    >>> from journeylens.outcomes.attribution import attribution_from_paths
    >>> paths = pd.DataFrame({"path": ["A > B > A > B > B > A", "A > B > B > A > A", "A > A"],
    ...                       "total_conversions": [1, 1, 1]})
    >>> attribution_from_paths(paths, nulls=None, models=("markov", "shapley")).to_frame()
      channel  markov  shapley  removal_effect
    0       A     2.0      2.0             1.0
    1       B     1.0      1.0             0.5
    """
    chosen = _models(models)
    order = positive_int(order, "order")
    if not isinstance(df, pd.DataFrame):
        raise ParameterError(f"df must be a DataFrame of aggregated paths, not {type(df).__name__}", "df")
    if not isinstance(sep, str) or not sep:
        raise ParameterError("sep must be a non-empty string, e.g. '>'", "sep")
    if isinstance(half_life, (bool, np.bool_)) or not isinstance(half_life, (int, float, np.number)) \
            or not half_life > 0:
        raise ParameterError(f"half_life must be a positive number of touches, not {half_life!r}", "half_life")
    for name, column in (("path", path), ("conversions", conversions), ("nulls", nulls), ("value", value)):
        if column is not None and column not in df.columns:
            raise ParameterError(f"{name}={column!r} is not a column of df (columns: "
                                 f"{', '.join(map(str, df.columns))})", name)
    paths, unattributed = _parse_paths(df, path, conversions, nulls, value, sep)
    return _result(paths, chosen, order, touchpoint, decay=None, half_life=float(half_life),
                   unattributed=unattributed, notes={"time_decay": f"half-life {half_life:g} touches"})


# -- reading the log ------------------------------------------------------------------------------

def _journey_rows(log: JourneyLog, touchpoint: str, value: str | None
                  ) -> tuple[Any, pd.Index, str, str | None]:
    """The rows ``i, u, t, e`` of the log with the touchpoint code and the value: the table, the
    touchpoint names, and the columns holding the code and the value. The one place that reads the log.

    Events and coded columns come with their codes; another touchpoint column (such as
    ``campaign``) is coded here by its trimmed text, in the engine, and the value read as a number.
    """
    for name, column in (("touchpoint", touchpoint), ("value", value)):
        if column is None and name == "value":
            continue
        if not isinstance(column, str):
            raise ParameterError(f"{name} must be a column name such as 'channel', not {column!r}", name)
        if (column, name) != ("event", "touchpoint") and (column in _NOT_TOUCHPOINTS | {"event"} or
                                                          not log.has(column)):
            shown = ", ".join(c for c in log.columns if c not in _NOT_TOUCHPOINTS)
            raise ParameterError(f"{name}={column!r} is not a column of the log (columns: {shown})", name)
    wanted = tuple(c for c in ((None if touchpoint == "event" else touchpoint), value) if c is not None)
    ev = log.journeys(window=False, columns=wanted)
    present = set(sql.columns_of(ev))
    if touchpoint == "event":
        touch, names = "e", log.event_names
    elif f"c_{touchpoint}" in present:
        touch, names = f"c_{touchpoint}", log.names(touchpoint)
    else:
        touch, names = "p", None  # a column the log does not code: coded here
    if touch != "p" and value is None:
        return ev, names, touch, None
    cols, tables, joins = ["ev.*"], {"ev": ev}, []
    if touch == "p":
        raw = f"x_{touchpoint}" if f"x_{touchpoint}" in present else f"v_{touchpoint}"
        text = f"trim(CAST(ev.{raw} AS {{text}}))"
        found = sql.run(f"SELECT DISTINCT {text} AS name FROM ev WHERE {text} <> ''", {"ev": ev})
        names = pd.Index(sorted(str(n) for n in found["name"] if n is not None))
        tables["dic"] = sql.ship({"name": np.asarray(names, dtype=object), "code": np.arange(len(names))}, ev)
        joins.append(f"LEFT JOIN dic ON {text} = dic.name")
        cols.append("coalesce(dic.code, -1) AS p")
    if value is not None:
        number = f"ev.v_{value}" if f"v_{value}" in present else f"try_cast(ev.x_{value} AS DOUBLE)"
        cols.append(f"{number} AS v")
    rows = sql.frame(f"SELECT {', '.join(cols)} FROM ev {' '.join(joins)}", tables, materialise=True)
    return rows, names, touch, ("v" if value is not None else None)


# -- aggregated paths -------------------------------------------------------------------------------

def _parse_paths(df: pd.DataFrame, path: str, conversions: str, nulls: str | None, value: str | None,
                 sep: str) -> tuple[_Paths, float]:
    """Paths split into coded touches (vectorised in Arrow); rows left without a touch are unattributed."""
    text = pa.array(df[path].astype("string").fillna(""), type=pa.string())
    parts = pc.split_pattern(text, sep)
    touches = pc.utf8_trim_whitespace(pc.list_flatten(parts)).to_numpy(zero_copy_only=False)
    owner = np.repeat(np.arange(len(df)), pc.list_value_length(parts).to_numpy(zero_copy_only=False))
    keep = touches != ""
    codes, names = pd.factorize(touches[keep], sort=True)
    lengths = np.bincount(owner[keep], minlength=len(df))
    conv = _numbers(df, conversions, "conversions")
    null = _numbers(df, nulls, "nulls") if nulls is not None else np.zeros(len(df), dtype=np.int64)
    val = _numbers(df, value, "value") if value is not None else None
    has = lengths > 0
    paths = _Paths(codes.astype(np.int64), lengths[has], conv[has], null[has], None if val is None else val[has],
                   pd.Index(names.astype(str)))
    return paths, float(conv[~has].sum())


def _numbers(df: pd.DataFrame, column: str, name: str) -> np.ndarray:
    values = pd.to_numeric(df[column], errors="coerce")
    if values.isna().any() or (values < 0).any():
        raise ParameterError(f"{name} column {column!r} must hold non-negative numbers", name)
    return values.to_numpy()


# -- the models -------------------------------------------------------------------------------------

def _result(paths: _Paths, models: tuple[str, ...], order: int, touchpoint: str, *,
            decay: tuple[np.ndarray, np.ndarray] | None, half_life: float, unattributed: float,
            notes: Mapping[str, str]) -> Attribution:
    n = len(paths.names)
    valued = paths.value is not None
    table = pd.DataFrame({touchpoint: np.asarray(paths.names.astype(str), dtype=object)})
    values: dict[str, np.ndarray] = {}
    removal: dict[str, np.ndarray] = {}
    for model in models:
        if model == "markov":
            effects = _removal_effects(paths, order, n)
            credit = _share_out(paths.conversions.sum(), effects[:, 0])
            removal["removal_effect"] = effects[:, 0]
            if valued:
                values[model] = _share_out(paths.value.sum(), effects[:, 1])
                removal["removal_effect_value"] = effects[:, 1]
        elif model == "time_decay" and decay is not None:
            credit = decay[0]
            if valued:
                values[model] = decay[1]
        else:
            shares = _SHARES[model](paths, half_life)
            credit = _credit(paths, shares, paths.conversions, n)
            if valued:
                values[model] = _credit(paths, shares, paths.value, n)
        table[model] = credit
    for model, v in values.items():
        table[f"{model}_value"] = v
    for name, v in removal.items():
        table[name] = v
    seen = np.bincount(paths.codes, minlength=n) > 0  # touchpoints of the dictionary never on a path: no row
    table = table[seen].reset_index(drop=True)
    described = {"markov": f"exact absorbing chain, order {order}",
                 "shapley": "simplified Shapley value (Zhao et al. 2018), exact",
                 "position": "40/20/40; one touch: 100; two touches: 50/50", **notes}
    return Attribution(table=table, touchpoint=touchpoint, models=models, conversions=float(paths.conversions.sum()),
                       unattributed=float(unattributed), paths=paths.frame(valued),
                       notes={k: v for k, v in described.items() if k in models or k == "paths"})


def _credit(paths: _Paths, shares: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    """Per touchpoint: the sum over touches of the touch's share of its path's ``weights``."""
    return np.bincount(paths.codes, weights=shares * weights[paths.owner], minlength=n)


def _first(paths: _Paths, half_life: float) -> np.ndarray:
    return (paths.position == 0).astype(np.float64)


def _last(paths: _Paths, half_life: float) -> np.ndarray:
    return (paths.position == paths.lengths[paths.owner] - 1).astype(np.float64)


def _linear(paths: _Paths, half_life: float) -> np.ndarray:
    return 1.0 / paths.lengths[paths.owner]


def _position(paths: _Paths, half_life: float) -> np.ndarray:
    length, pos = paths.lengths[paths.owner], paths.position
    ends = (pos == 0) | (pos == length - 1)
    middle = 0.2 / np.maximum(length - 2, 1)
    return np.select([length == 1, length == 2, ends], [1.0, 0.5, 0.4], default=middle)


def _decay(paths: _Paths, half_life: float) -> np.ndarray:
    back = paths.lengths[paths.owner] - 1 - paths.position  # touches before the conversion: 0 for the last
    w = np.exp2(-back / half_life)
    return w / np.bincount(paths.owner, weights=w)[paths.owner]


def _shapley(paths: _Paths, half_life: float) -> np.ndarray:
    """Each path's conversions split equally over its distinct touchpoints: the first occurrence of
    each touchpoint in a path gets ``1 / distinct``, repeats nothing."""
    owner = paths.owner
    _, first = np.unique(owner * len(paths.names) + paths.codes, return_index=True)
    distinct = np.bincount(owner[first], minlength=len(paths.lengths))
    shares = np.zeros(len(paths.codes))
    shares[first] = 1.0 / distinct[owner[first]]
    return shares


_SHARES = {"first": _first, "last": _last, "linear": _linear, "position": _position, "time_decay": _decay,
           "shapley": _shapley}


def _removal_effects(paths: _Paths, order: int, n: int) -> np.ndarray:
    """Removal effect of every touchpoint (column 0: on conversions, 1: on value) in the order-``order``
    absorbing chain of the paths (see the module docstring)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve

    weight = paths.conversions + paths.nulls
    used = np.repeat(weight > 0, paths.lengths)  # paths that nobody walked carry no transitions
    lengths = paths.lengths[weight > 0]
    conv, value = paths.conversions[weight > 0], (paths.value if paths.value is not None else paths.conversions)
    value, weight = value[weight > 0], weight[weight > 0]
    if not len(weight):
        return np.zeros((n, 2))
    codes = paths.codes[used]
    owner = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(len(codes)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # the state after a touch: the last ``order`` touches, -1 where the path is shorter
    window = np.full((len(codes), order), -1, dtype=np.int64)
    for back in range(order):
        ok = position >= back
        window[ok, back] = codes[np.flatnonzero(ok) - back]
    # number the distinct windows one column at a time: dense keys never overflow (np.unique(axis=0) is 10x slower)
    key = np.zeros(len(codes), dtype=np.int64)
    for back in range(order):  # dense ranks by hashing: np.unique sorts all touches, 4x slower
        key = pd.factorize(key * (n + 1) + window[:, back] + 1, sort=True)[0].astype(np.int64)
    seen = np.empty(int(key.max()) + 1, dtype=np.int64)
    seen[key[::-1]] = np.arange(len(key) - 1, -1, -1)  # the first touch of each state
    states = window[seen]  # the touches of each state
    state = key + 1  # 0 is start
    size = len(states) + 1
    first = np.cumsum(lengths) - lengths
    last = first + lengths - 1
    step = np.flatnonzero(np.diff(owner) == 0)  # touch -> next touch of the same path
    src = np.concatenate([np.zeros(len(lengths), dtype=np.int64), state[step]])
    dst = np.concatenate([state[first], state[step + 1]])
    flow = np.concatenate([weight, weight[owner[step]]])
    out = np.bincount(src, weights=flow, minlength=size) + np.bincount(state[last], weights=weight, minlength=size)
    q = sp.csc_matrix((flow / out[src], (src, dst)), shape=(size, size))
    exits = np.column_stack([np.bincount(state[last], weights=conv, minlength=size),
                             np.bincount(state[last], weights=value, minlength=size)]) / out[:, None]
    system = (sp.identity(size, format="csc") - q).tocsc()

    def reached(keep: np.ndarray) -> np.ndarray:
        solved = spsolve(system[keep][:, keep], exits[keep])
        return np.asarray(solved).reshape(-1, 2)[0]  # from start (index 0, always kept)

    base = reached(np.ones(size, dtype=bool))
    effects = np.zeros((n, 2))
    inside = np.zeros(size, dtype=bool)
    for code in np.unique(codes):  # one solve per touchpoint: the chain without it
        inside[1:] = (states == code).any(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            effects[code] = np.where(base > 0, 1.0 - reached(~inside) / base, 0.0)
    return effects


def _share_out(total: float, effects: np.ndarray) -> np.ndarray:
    """``total`` shared in proportion to ``effects`` (zeros when they are all zero)."""
    s = effects.sum()
    return total * effects / s if s > 0 else np.zeros_like(effects)


def _per_code(codes: np.ndarray, amounts: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, weights=amounts, minlength=n)


def _models(models: str | Sequence[str]) -> tuple[str, ...]:
    listed = (models,) if isinstance(models, str) else tuple(models) if isinstance(models, (list, tuple)) else None
    if not listed:
        raise ParameterError(f"models must be one or more of {', '.join(MODELS)}, not {models!r}", "models")
    return tuple(dict.fromkeys(choice(m, "models", MODELS) for m in listed))


def _shown(value: Any) -> str:
    return "none" if value is None else str(value)
