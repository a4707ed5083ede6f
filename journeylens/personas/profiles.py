"""Persona profiles in numbers and words, and statistical comparison of segments.

Every user counts once: rates, effect sizes and tests are over users, not rows.

* **Effect sizes** (``Profiles.effects``): per persona and feature of the per-user
  table, the mean inside and outside the persona and Cohen's d with the pooled
  standard deviation (missing values, such as the gap of a single-event user, left
  out). d is finite by construction: a feature that does not vary within either
  group gets ``±D_CAP`` when the means differ (0 when they do not), every d is
  capped at ``±D_CAP`` (10: beyond it the groups do not overlap at all), a group
  of fewer than two users with a value gets 0, and ``only_in_persona`` flags a
  feature that no user outside the persona has (mean 0 outside, above 0 inside).
* **Typical path**: the medoid of the persona's journeys under the cosine distance
  between their vectors of event and directly-follows counts. The medoid minimises
  the summed distance to all the persona's journeys, each journey counted once per
  user (so frequent journeys weigh by their frequency); for unit vectors that is
  the journey closest to the sum of the persona's vectors, one sparse product over
  all journeys, whatever the number of distinct ones, and unaffected by the order
  of event names or codes.
* **Description**: size, outcome against everyone, where the persona's journeys
  start and what it does more than the others (event shares with their ratio to
  the others'), its channels and devices, where it leaves (the drop-off point, a
  ``lost`` event never counts as one), and its main loop.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.protocol import JourneyLog
from ..engine.features import first_events, journey_vectors, user_journeys
from ..engine.kernels import key_ranks, positions, summed_matrix
from ..errors import ParameterError
from .features import outcome_events, user_features, window_rows

#: the largest |Cohen's d| reported: beyond it two groups do not overlap at all
D_CAP = 10.0
#: steps of the typical path shown before it is cut short
_SHOWN_STEPS = 8
#: columns that are outcomes, reported on their own rather than as distinguishing behaviour
_OUTCOMES = ("converted", "lost")
#: a share feature must reach this mean inside a persona to be named as something it does more
_NOTABLE_SHARE = 0.02


@dataclass(frozen=True)
class Profiles:
    """One row per persona (``table``), the effect sizes behind it (``effects``) and the mean
    standardised features (``z``) behind the heatmap."""

    table: pd.DataFrame
    effects: pd.DataFrame
    z: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """``persona, users, share, conversion_rate, lost_rate, top_channels, top_devices, distinguishing,
        does_more, typical_path, main_dropoff, main_loop, description``.

        ``distinguishing``: the features whose mean differs most from the other users',
        with Cohen's d (see the module docstring); ``does_more``: the event shares most
        above the others'; ``typical_path``: the medoid journey; ``main_dropoff``: the
        touchpoint most drop-offs leave after (with a goal); ``main_loop``: the loop
        most of the persona's users make, self loops aside (in-memory logs).
        """
        return self.table.copy()

    def plot(self, top: int = 25):
        """Heatmap: personas × the ``top`` most distinguishing features (mean z-score)."""
        import plotly.express as px

        from ..viz.text import plain

        spread = self.z.abs().max(axis=0).sort_values(ascending=False)
        cols = spread.index[:top]
        shown = self.z[cols].set_axis([plain(c) for c in cols], axis=1).set_axis([plain(p) for p in self.z.index])
        return px.imshow(shown, color_continuous_scale="RdBu_r", zmin=-2, zmax=2, aspect="auto",
                         title="Personas: mean standardised feature (z) vs all customers")

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.table["description"])
        return f"<div><strong>{len(self.table)} personas</strong><ul>{items}</ul>{self.table.to_html(index=False, escape=True)}</div>"


def effect_sizes(x: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per column of ``x`` (users × features, NaN = no value): mean inside and outside the group
    ``inside``, finite Cohen's d (module docstring) and whether only the group has the feature.

    >>> x = np.array([[1.0, 0.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0], [0.0, np.nan]])
    >>> [a.tolist() for a in effect_sizes(x, np.array([True, True, False, False, False]))]
    [[1.0, 1.0], [0.0, 0.0], [10.0, 1.0], [True, True]]
    """
    return GroupSums(x, np.where(inside, 0, -1), 1).effects(0)


class GroupSums:
    """Per group ``0 … k-1`` of the users (``group``, -1: none) and per column of ``x`` (users × features,
    NaN = no value), over the group and over all the other users: the values, their sum, and the sums of
    their deviations and squared deviations from the column's mean. One matrix product each, with no copy
    of ``x`` per group. Variances come from the deviations, which a large mean does not swamp; means from
    the plain sums, so a group whose values are all 0 has mean 0 exactly.
    """

    def __init__(self, x: np.ndarray, group: np.ndarray, k: int) -> None:
        seen = ~np.isnan(x)
        together = np.zeros((2 * k, len(x)))
        member = np.flatnonzero(group >= 0)
        together[group[member], member] = 1.0
        together[k:] = 1.0 - together[:k]  # row k + j: everyone outside group j
        self.k = k
        self.n = together @ seen
        values = np.where(seen, x, 0.0)
        self.sum = together @ values
        counted = seen.sum(axis=0)
        values -= values.sum(axis=0) / np.maximum(counted, 1)  # deviations from the column's mean …
        values[~seen] = 0.0  # … and 0 where there is no value
        self.dev = together @ values
        values *= values
        self.dev2 = together @ values
        with np.errstate(all="ignore"):  # the spread over all users (ddof 0); NaN without values
            self.std = np.sqrt(np.where(counted > 0, values.sum(axis=0) / np.maximum(counted, 1), np.nan))

    def mean(self, row: int) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.where(self.n[row] > 0, self.sum[row] / np.maximum(self.n[row], 1), np.nan)

    def var(self, row: int, ddof: int = 1) -> np.ndarray:
        """Variance from the deviations; a remainder at rounding level (a constant group) is 0."""
        n, s, q = self.n[row], self.dev[row], self.dev2[row]
        with np.errstate(all="ignore"):
            spread = q - s * s / np.maximum(n, 1)
            spread = np.where(spread > 1e-12 * np.maximum(q, 1e-300), spread, 0.0)
            return np.where(n > ddof, spread / (n - ddof), np.nan)

    def effects(self, j: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:func:`effect_sizes` of group ``j`` against all the other users."""
        na, nb = self.n[j], self.n[self.k + j]
        ma, mb = self.mean(j), self.mean(self.k + j)
        with np.errstate(all="ignore"):
            pooled = np.sqrt(((na - 1) * self.var(j) + (nb - 1) * self.var(self.k + j)) / (na + nb - 2))
            diff = ma - mb
            diff = np.where(np.abs(diff) > 1e-12 * np.maximum(np.abs(ma), np.abs(mb)), diff, 0.0)
            d = np.where(pooled > 0, diff / pooled, np.sign(diff) * D_CAP)
        comparable = (na >= 2) & (nb >= 2) & np.isfinite(diff)
        d = np.where(comparable, np.clip(np.nan_to_num(d), -D_CAP, D_CAP), 0.0)
        only = comparable & (mb == 0) & (ma > 0)
        return ma, mb, d, only


def profile(
    log: JourneyLog,
    personas: pd.Series,
    *,
    goal: str | Sequence[str] | None = None,
    lost: str | Sequence[str] | None = None,
    features: pd.DataFrame | None = None,
    top_features: int = 3,
) -> Profiles:
    """Describe each persona: size, outcomes, channels, distinguishing features, typical path, exit and loop.

    ``personas``: label per user id (``PersonaModel.personas()``); users without a
    label are left out. ``features``: the per-user table to compare on
    (:func:`user_features` with ``goal`` and ``lost`` when omitted). The log is
    read through the window pass of its journeys and the results of
    :func:`~journeylens.dropoffs` (with a goal); the main loop needs an in-memory log.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": list("aabbcc"), "time": pd.date_range("2024-01-01", periods=6,
    ...     freq="h"), "event": ["home", "buy", "home", "buy", "home", "faq"]}))
    >>> p = jl.profile(log, pd.Series({"a": "p1", "b": "p1", "c": "p2"}), goal="buy")
    >>> p.to_frame()[["persona", "users", "conversion_rate", "typical_path"]].values.tolist()
    [['p1', 2, 1.0, 'home › buy'], ['p2', 1, 0.0, 'home › faq']]
    """
    goals, losts = outcome_events(log, goal, lost)
    if not isinstance(personas, pd.Series):
        raise ParameterError("personas must be a pandas Series of labels indexed by user id", "personas")
    top_features = int(top_features)
    table = features if features is not None else user_features(log, goal=goals or None, lost=losts or None)
    labels = personas[~personas.index.duplicated(keep="last")]
    labels.index = labels.index.astype(str)
    labels = labels.reindex(table.index.astype(str))
    if labels.isna().all():
        raise ParameterError("the persona labels share no user id with the log", "personas")
    numeric = table.select_dtypes("number")
    x = numeric.to_numpy(dtype=np.float64)
    outcome = np.isin(numeric.columns, _OUTCOMES)
    names = sorted(labels.dropna().unique(), key=_natural)
    ev, events = window_rows(log)
    group = pd.Index(names).get_indexer(labels.to_numpy())  # per row of the table
    persona = np.append(group, -1)[positions(log.users.astype(str), labels.index)]  # per user of the log
    paths, firsts = _typical_paths(ev, events, persona, names)
    loops = _main_loops(log, labels, names)
    losses = _main_dropoffs(log, labels, goals, losts)
    overall = {c: float(numeric[c].mean()) for c in _OUTCOMES if c in numeric}
    sums = GroupSums(x, group, len(names))
    rows, zs, effects = [], {}, []
    for at, name in enumerate(names):
        inside = group == at
        ma, mb, d, only = sums.effects(at)
        effects.append(pd.DataFrame({"persona": name, "feature": numeric.columns, "mean": ma, "mean_others": mb,
                                     "cohens_d": d, "only_in_persona": only})[~outcome])
        # mean z-score of the persona's values (0 for a column it has no value of)
        with np.errstate(all="ignore"):
            zs[name] = np.nan_to_num(sums.dev[at] / sums.n[at] / np.where(sums.std > 0, sums.std, 1))
        ranked = np.where(outcome, -1.0, np.abs(d))
        best = [j for j in np.argsort(-ranked, kind="stable")[:top_features] if ranked[j] > 0]
        row = {
            "persona": name,
            "users": int(inside.sum()),
            "share": float(inside.mean()),
            "conversion_rate": float(numeric.loc[inside, "converted"].mean()) if "converted" in numeric else np.nan,
            "lost_rate": float(numeric.loc[inside, "lost"].mean()) if "lost" in numeric else np.nan,
            "top_channels": _top_shares(numeric[inside], "channel:"),
            "top_devices": _top_shares(numeric[inside], "device:"),
            "distinguishing": "; ".join(_effect_text(numeric.columns[j], d[j], only[j]) for j in best),
            "does_more": _does_more(numeric.columns, ma, mb),
            "typical_path": _show(paths.get(name, ())),
            "starts_at": firsts.get(name),
            "main_dropoff": losses.get(name),
            "main_loop": loops.get(name),
        }
        row["description"] = _describe(row, overall)
        rows.append(row)
    z = pd.DataFrame(zs, index=numeric.columns).T
    return Profiles(table=pd.DataFrame(rows), effects=pd.concat(effects, ignore_index=True), z=z)


def _typical_paths(ev: Any, events: list[str], persona: np.ndarray, names: list) -> tuple[dict, dict]:
    """The medoid journey of each persona (module docstring) as event names, and the event most of
    the persona's journeys start with. ``persona``: the persona index of each user code, -1 for none."""
    from scipy import sparse

    counts, pairs = journey_vectors(ev)
    n, E = len(persona), len(events)
    key = pairs["a"].astype(np.int64) * E + pairs["b"].astype(np.int64)
    pair, column = key_ranks(key, E * E)
    rows = np.concatenate([counts["u"], pairs["u"]]).astype(np.int64)
    cols = np.concatenate([counts["e"].astype(np.int64), E + column])
    X = summed_matrix(np.concatenate([counts["n"], pairs["n"]]).astype(np.float64), rows, cols, (n, E + len(pair)))
    norm = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = sparse.diags(np.where(norm > 0, 1 / np.where(norm > 0, norm, 1), 0)) @ X
    member = persona >= 0
    indicator = sparse.csr_matrix((np.ones(member.sum()), (persona[member], np.flatnonzero(member))),
                                  shape=(len(names), n))
    closeness = np.asarray((X @ (indicator @ X).T).todense()) if len(names) else np.zeros((n, 0))
    score = np.where(member, closeness[np.arange(n), np.maximum(persona, 0)], -np.inf)
    medoid = {}
    for j in range(len(names)):  # one argmax per persona, not per user
        inside = np.flatnonzero(persona == j)
        if len(inside):
            medoid[j] = int(inside[np.argmax(score[inside])])
    journeys = user_journeys(ev, list(medoid.values()))
    paths = {names[j]: tuple(events[e] for e in journeys.get(u, [])) for j, u in medoid.items()}
    return paths, _first_events(ev, persona, names, events)


def _first_events(ev: Any, persona: np.ndarray, names: list, events: list[str]) -> dict:
    """The event most of each persona's journeys start with."""
    first = first_events(ev)
    p = persona[first["u"].astype(np.int64)]
    keep = p >= 0
    if not keep.any():
        return {}
    table = pd.crosstab(p[keep], first["e"][keep].astype(np.int64))
    return {names[j]: events[int(table.loc[j].idxmax())] for j in table.index}


def _main_loops(log: JourneyLog, labels: pd.Series, names: list) -> dict:
    """The loop (two to four steps, self loops aside) most of each persona's users make."""
    from ..mining.loops import loops

    by = labels.dropna().rename("persona")
    out = {}
    for name in names:  # one loop search per persona, on the log's engine
        found = loops(log.filter(by=by, segments=[name]), max_length=4).to_frame()
        found = found[found["kind"] != "self"]
        if len(found):
            out[name] = found["loop"].iloc[0]
    return out


def _main_dropoffs(log: JourneyLog, labels: pd.Series, goals: Sequence[str], losts: Sequence[str]) -> dict:
    """Each persona's most frequent last touchpoint before dropping off (:func:`~journeylens.dropoffs`,
    ``lost`` journeys apart)."""
    if not goals:
        return {}
    from ..outcomes.dropoffs import dropoffs

    by = labels.dropna().rename("persona")
    table = dropoffs(log, list(goals), lost=list(losts) or None, by=by).table
    return table.sort_values("rank").groupby("persona", sort=False)["event"].first().to_dict()


def _effect_text(name: str, d: float, only: bool) -> str:
    return f"{name} (only in this persona)" if only else f"{name} (d={d:+.2f})"


def _does_more(columns: pd.Index, inside: np.ndarray, others: np.ndarray, n: int = 2) -> str:
    """The event shares most above the others' (ratio), among those of at least 2% inside."""
    share = np.asarray([c.startswith("event:") and c != "event:(other)" for c in columns])
    with np.errstate(all="ignore"):
        ratio = np.where(share & (inside >= _NOTABLE_SHARE) & (inside > others), inside / others, 0.0)
    ratio = np.nan_to_num(ratio, posinf=np.inf)
    best = [j for j in np.argsort(-ratio, kind="stable")[:n] if ratio[j] > 1.2]
    return ", ".join(f"{columns[j][6:]} ({inside[j]:.0%} of events vs {others[j]:.0%})" for j in best)


def _show(path: tuple) -> str:
    shown = " › ".join(path[:_SHOWN_STEPS])
    return shown if len(path) <= _SHOWN_STEPS else f"{shown} … ({len(path)} steps)"


def _natural(label: Any) -> tuple:
    text = str(label)
    digits = "".join(ch for ch in text if ch.isdigit())
    return (text.rstrip("0123456789"), int(digits) if digits else -1, text)


def _top_shares(block: pd.DataFrame, prefix: str, n: int = 2) -> str:
    cols = [c for c in block.columns if c.startswith(prefix)]
    if not cols:
        return ""
    mean = block[cols].mean().sort_values(ascending=False, kind="stable")[:n]
    return ", ".join(f"{c[len(prefix):]} {v:.0%}" for c, v in mean.items() if v > 0)


def _describe(row: dict, overall: dict) -> str:
    """The persona in sentences a marketer can act on: who, how they behave, where to reach and fix."""
    parts = [f"{row['persona']}: {row['users']:,} customers ({row['share']:.0%})"]
    if not np.isnan(row["conversion_rate"]):
        gap = 100 * (row["conversion_rate"] - overall["converted"])
        parts.append(f"convert {row['conversion_rate']:.0%} against {overall['converted']:.0%} overall "
                     f"({gap:+.0f} points)")
    if not np.isnan(row["lost_rate"]):
        parts.append(f"lost {row['lost_rate']:.0%} against {overall['lost']:.0%}")
    if row["starts_at"]:
        parts.append(f"usually start at {row['starts_at']}")
    if row["does_more"]:
        parts.append(f"do more {row['does_more']}")
    elif row["distinguishing"]:
        parts.append(f"stand out by {row['distinguishing']}")
    reach = " and ".join(r for r in (row["top_channels"], row["top_devices"]) if r)
    if reach:
        parts.append(f"reach them on {reach}")
    if row["typical_path"]:
        parts.append(f"typical journey {row['typical_path']}")
    if row["main_loop"]:
        parts.append(f"they go round {row['main_loop']}")
    if row["main_dropoff"]:
        parts.append(f"those who leave mostly leave after {row['main_dropoff']}: the place to act")
    return "; ".join(parts) + "."
