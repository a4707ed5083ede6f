"""Persona profiles in numbers and words, and statistical comparison of segments.

Every user counts once: rates and tests are over users, not rows.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..core.eventlog import EventLog
from ..core.segments import By, add_segment
from ..errors import JourneyLensError
from .features import user_features

#: the typical path is the medoid of this many most frequent variants of a persona
MEDOID_OF = 50
#: steps of the typical path shown before it is cut short
_SHOWN_STEPS = 8


@dataclass(frozen=True)
class Profiles:
    """One row per persona (``table``) and the mean standardised features (``z``) behind the heatmap."""

    table: pd.DataFrame
    z: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        """``persona, users, share, conversion_rate, top_channels, top_devices, distinguishing,
        typical_path, main_dropoff, main_loop, description``.

        ``distinguishing``: the features whose mean differs most from the other users',
        with Cohen's d; ``typical_path``: the medoid variant (:func:`medoid_variant`);
        ``main_dropoff``: the touchpoint most drop-offs leave after (with a goal);
        ``main_loop``: the loop most of the persona's users make, self loops aside.
        """
        return self.table.copy()

    def plot(self, top: int = 25):
        """Heatmap: personas × the ``top`` most distinguishing features (mean z-score)."""
        import plotly.express as px

        spread = self.z.abs().max(axis=0).sort_values(ascending=False)
        cols = spread.index[:top]
        return px.imshow(self.z[cols], color_continuous_scale="RdBu_r", zmin=-2, zmax=2, aspect="auto",
                         title="Personas: mean standardised feature (z) vs all customers")

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(d)}</li>" for d in self.table["description"])
        return f"<div><strong>{len(self.table)} personas</strong><ul>{items}</ul>{self.table.to_html(index=False, escape=True)}</div>"


def _cohens_d(x: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """Standardised mean difference of every column, inside vs the rest (pooled SD)."""
    a, b = x[inside], x[~inside]
    if len(a) < 2 or len(b) < 2:
        return np.zeros(x.shape[1])
    pooled = np.sqrt(((len(a) - 1) * a.var(axis=0, ddof=1) + (len(b) - 1) * b.var(axis=0, ddof=1)) / (len(a) + len(b) - 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (a.mean(axis=0) - b.mean(axis=0)) / pooled
    return np.nan_to_num(d)


def profile(
    log: EventLog,
    personas: pd.Series,
    goal: str | Sequence[str] | None = None,
    features: pd.DataFrame | None = None,
    top_features: int = 3,
) -> Profiles:
    """Describe each persona: size, conversion, channels, distinguishing features, typical path, loss point.

    ``personas``: label per user id (``PersonaModel.personas()``). ``features``:
    the per-user table to compare on (computed when omitted).

    >>> import journeylens as jl
    >>> log = jl.datasets.make_event_log(n_customers=300, seed=0)       # doctest: +SKIP
    >>> model = jl.PersonaModel(k=4).fit(log)                            # doctest: +SKIP
    >>> jl.profile(log, model.personas(), goal="order_placed").to_frame()  # doctest: +SKIP
    """
    from ..mining.loops import loops
    from ..mining.variants import variants
    from ..outcomes.dropoffs import dropoffs

    table = features if features is not None else user_features(log, goal=goal)
    labels = personas.reindex(table.index.astype(str))
    if labels.isna().all():
        raise JourneyLensError("the persona labels share no user id with the log")
    numeric = table.select_dtypes("number")
    x = numeric.to_numpy(dtype=np.float64)
    sd = x.std(axis=0)
    z_all = (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1)
    tagged = add_segment(log, labels.dropna(), "persona")
    losses = (dropoffs(tagged, goal, by="persona").table.query("rank == 1").set_index("persona")["event"]
              if goal is not None else pd.Series(dtype=object))
    outcome = (numeric.columns == "converted")
    overall = float(numeric["converted"].mean()) if "converted" in numeric else float("nan")
    rows, zs = [], {}
    for name in sorted(labels.dropna().unique(), key=_natural):
        inside = (labels == name).to_numpy()
        d = _cohens_d(x, inside)
        zs[name] = z_all[inside].mean(axis=0)
        d[outcome] = 0.0  # conversion is reported on its own, not as a "distinguishing" behaviour
        best = np.argsort(-np.abs(d), kind="stable")[:top_features]
        members = tagged._frame["persona"].to_numpy() == name
        sub = tagged._derive(tagged._frame.loc[members])
        path = medoid_variant(variants(sub, top=MEDOID_OF).table)
        loop = loops(sub).table if len(sub) else pd.DataFrame()
        loop = loop[loop["kind"] != "self"]["loop"] if "kind" in loop else pd.Series(dtype=object)
        row = {
            "persona": name,
            "users": int(inside.sum()),
            "share": float(inside.mean()),
            "conversion_rate": float(numeric.loc[inside, "converted"].mean()) if "converted" in numeric else np.nan,
            "top_channels": _top_shares(numeric[inside], "channel:"),
            "top_devices": _top_shares(numeric[inside], "device:"),
            "distinguishing": "; ".join(f"{numeric.columns[j]} (d={d[j]:+.2f})" for j in best),
            "typical_path": _show(path),
            "main_dropoff": losses.get(name),
            "main_loop": loop.iloc[0] if len(loop) else None,
        }
        row["description"] = _describe(row, overall)
        rows.append(row)
    z = pd.DataFrame(zs, index=numeric.columns).T
    return Profiles(table=pd.DataFrame(rows), z=z)


def levenshtein(sequences: Sequence[Sequence[int]]) -> np.ndarray:
    """Edit distances (unit insertions, deletions, substitutions) between every pair of integer sequences.

    Every pair is computed at once, one row of the dynamic programme per position
    of the first sequence; within a row the chain of insertions is a running
    minimum, ``D[i, j] = j + min over l ≤ j of (T[l] - l)``, with ``T`` the best of
    deleting and substituting.

    >>> levenshtein([[1, 2, 3], [1, 3], []]).tolist()
    [[0, 1, 3], [1, 0, 2], [3, 2, 0]]
    """
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    n, width = len(lengths), int(lengths.max(initial=0))
    padded = np.full((n, width), -1, dtype=np.int64)  # padding is never compared within the lengths
    padded[np.arange(width) < lengths[:, None]] = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]
                                                                 + [np.zeros(0, dtype=np.int64)])
    a, b = np.triu_indices(n, k=1)
    first, second = padded[a], padded[b]
    cols = np.arange(width + 1)
    row = np.broadcast_to(cols, (len(a), width + 1))  # D[0, j] = j
    dist = lengths[b].copy()  # right when the first sequence is empty; set below otherwise
    for i in range(1, width + 1):
        best = np.empty_like(row)
        best[:, 0] = i
        best[:, 1:] = np.minimum(row[:, 1:] + 1, row[:, :-1] + (first[:, i - 1, None] != second))
        row = np.minimum.accumulate(best - cols, axis=1) + cols
        done = lengths[a] == i
        dist[done] = row[done, lengths[b][done]]
    out = np.zeros((n, n), dtype=np.int64)
    out[a, b] = out[b, a] = dist
    return out


def medoid_variant(table: pd.DataFrame) -> tuple:
    """Among the variants of ``table`` (``variant``, ``count``), the one with the smallest
    count-weighted sum of edit distances to the others; ties go to the earlier row.

    The most frequent variant is often a short fragment; the medoid is the path
    the persona's journeys are closest to as a whole.

    >>> t = pd.DataFrame({"variant": [("x", "y", "z"), ("a", "b", "c"), ("a", "b")], "count": [4, 3, 2]})
    >>> medoid_variant(t)
    ('a', 'b', 'c')
    """
    if not len(table):
        return ()
    paths = list(table["variant"])
    codes, _ = pd.factorize(np.concatenate([np.asarray(p, dtype=object) for p in paths]))
    cuts = np.cumsum([len(p) for p in paths])[:-1]
    cost = levenshtein(np.split(codes, cuts)) @ table["count"].to_numpy(dtype=np.float64)
    return tuple(paths[int(np.argmin(cost))])


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


def _describe(row: dict, overall: float) -> str:
    parts = [f"{row['persona']}: {row['share']:.0%} of customers"]
    if row["top_channels"]:
        parts.append(f"mostly on {row['top_channels']}")
    if not np.isnan(row["conversion_rate"]):
        parts.append(f"converts {row['conversion_rate']:.0%} (all customers: {overall:.0%})")
    parts.append(f"stands out by {row['distinguishing']}")
    if row["typical_path"]:
        parts.append(f"typical path {row['typical_path']}")
    if row["main_loop"]:
        parts.append(f"loops {row['main_loop']}")
    if row["main_dropoff"]:
        parts.append(f"most often leaves after {row['main_dropoff']}")
    return "; ".join(parts) + "."


def compare_segments(log: EventLog, by: By, goal: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Per-segment metrics with tests of each segment against the rest, one observation per user.

    Columns: ``users``, ``conversion_rate`` with ``conversion_p`` (chi-square on the
    2×2 table segment/rest × converted/not), and for ``events_per_user`` and
    ``journey_days`` the median with a Mann–Whitney U test ``*_p`` vs the rest.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": list("aabbc"), "time": ["2024-01-01"] * 5,
    ...     "event": ["x", "buy", "x", "x", "x"], "tier": list("ggnnn")}))
    >>> jl.compare_segments(log, "tier", goal="buy")["users"].tolist()
    [1, 2]
    """
    features = user_features(log, goal=goal, bigrams=0)
    seg_of_user, labels, name = log.segments(by)
    present = log.users.astype(str).get_indexer(features.index)
    seg = seg_of_user[present]
    events = features["n_events"].to_numpy()
    days = features["tenure_days"].to_numpy()
    converted = features["converted"].to_numpy() if "converted" in features else None
    rows = []
    for s, label in enumerate(labels):
        inside = seg == s
        row: dict[str, Any] = {name: label, "users": int(inside.sum())}
        if converted is not None:
            row["conversion_rate"] = float(converted[inside].mean()) if inside.any() else np.nan
            table = np.array([[converted[inside].sum(), (1 - converted[inside]).sum()],
                              [converted[~inside].sum(), (1 - converted[~inside]).sum()]])
            row["conversion_p"] = (float(stats.chi2_contingency(table)[1])
                                   if (table.sum(axis=0) > 0).all() and (table.sum(axis=1) > 0).all() else np.nan)
        for metric, values in (("events_per_user", events), ("journey_days", days)):
            row[metric] = float(np.median(values[inside])) if inside.any() else np.nan
            row[f"{metric}_p"] = (float(stats.mannwhitneyu(values[inside], values[~inside]).pvalue)
                                  if inside.any() and (~inside).any() else np.nan)
        rows.append(row)
    return pd.DataFrame(rows)
