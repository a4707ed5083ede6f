"""Value where the log has one (``value=`` when reading): per customer, per path, per segment, per channel.

A customer's value is the sum of the values on their events (missing values
count as nothing). Per customer: the total, the value per customer and per paying
customer (value > 0). Per path: customers grouped by their first ``depth``
events. Per segment (``by=``, e.g. personas) and per channel: the value recorded
on the events of each channel, with the customers behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.params import positive_int
from ..core.protocol import By, JourneyLog
from ..engine.users import first_codes, user_summary
from ..engine.value import value_by_code
from ..errors import ParameterError

COLUMNS = ["dimension", "key", "users", "value", "value_per_user", "share_of_value"]


@dataclass(frozen=True)
class ValueBreakdown:
    """``table``: one row per (``dimension``, ``key``): ``users``, ``value``, ``value_per_user``,
    ``share_of_value``; dimensions ``all`` (keys ``all customers`` and ``paying customers``), ``path``,
    the segment's name (with ``by``) and ``channel`` (when the log has channels). ``per_user``: each
    customer's value (user id → value)."""

    table: pd.DataFrame
    per_user: pd.Series
    depth: int

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self):
        """Bars of value per customer, one panel per dimension (paths, segments, channels)."""
        from plotly.subplots import make_subplots
        import plotly.graph_objects as go

        from ..viz.text import plain

        dims = [d for d in self.table["dimension"].unique() if d != "all"]
        fig = make_subplots(rows=1, cols=max(len(dims), 1), subplot_titles=[plain(f"per {d}") for d in dims])
        for k, d in enumerate(dims, start=1):
            t = self.table[self.table["dimension"] == d].head(10).iloc[::-1]
            fig.add_trace(go.Bar(x=t["value_per_user"], y=[plain(v) for v in t["key"]], orientation="h",
                                 customdata=t["users"], name=plain(d),
                                 hovertemplate="%{y}: %{x:,.2f} per customer (%{customdata:,} customers)"
                                               "<extra></extra>"),
                          row=1, col=k)
        total = self.table[(self.table["dimension"] == "all") & (self.table["key"] == "all customers")]
        head = f"{float(total['value'].iloc[0]):,.2f}" if len(total) else "0"
        fig.update_layout(title=f"Value per customer (total {head})", showlegend=False)
        return fig

    def _repr_html_(self) -> str:
        return f"<div><strong>Value</strong>{self.table.to_html(index=False, escape=True)}</div>"


def _rows(dimension: str, keys, users, value, total: float) -> pd.DataFrame:
    out = pd.DataFrame({"dimension": dimension, "key": list(keys), "users": np.asarray(users, dtype=np.int64),
                        "value": np.asarray(value, dtype=np.float64)})
    out["value_per_user"] = np.where(out["users"] > 0, out["value"] / out["users"].where(out["users"] > 0), np.nan)
    out["share_of_value"] = out["value"] / total if total else np.nan
    return out


def value_breakdown(log: JourneyLog, *, by: By = None, depth: int = 4, top: int = 20) -> ValueBreakdown:
    """Value per customer, per path (first ``depth`` events), per segment (``by``) and per channel; the
    ``top`` paths by value. Runs on every engine (per-user sums and paths in the engine; the grouping of the
    per-user numbers in pandas).

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.outcomes.value import value_breakdown
    >>> log = jl.from_pandas(pd.DataFrame({"user": list("aabc"), "time": pd.date_range("2024-01-01", periods=4),
    ...     "event": ["ad", "buy", "ad", "web"], "amount": [None, 30.0, None, 10.0]}), value="amount")
    >>> t = value_breakdown(log, depth=1).to_frame()
    >>> t[t["dimension"] != "path"][["key", "users", "value", "value_per_user"]].values.tolist()
    [['all customers', 3, 40.0, 13.333333333333334], ['paying customers', 2, 40.0, 20.0]]
    """
    if not log.has("value"):
        raise ParameterError("the log has no value: read it with value=<column> (e.g. revenue)", "log")
    depth = positive_int(depth, "depth")
    top = positive_int(top, "top")
    ev = log.journeys(window=False, columns=("value",) + (("channel",) if log.has("channel") else ()))
    summary = user_summary(ev, value=True)
    users = summary["u"].astype(np.int64)
    value = np.nan_to_num(np.asarray(summary["value"], dtype=np.float64), nan=0.0)
    total = float(value.sum())
    paying = value > 0
    parts = [_rows("all", ["all customers", "paying customers"], [len(users), int(paying.sum())],
                   [total, float(value[paying].sum())], total)]

    owners, offsets, codes = first_codes(ev, depth)
    names = np.asarray(log.event_names.astype(str), dtype=object)
    paths = pd.Series([" > ".join(names[codes[offsets[k]:offsets[k + 1]]]) for k in range(len(owners))],
                      index=owners)
    per_path = pd.DataFrame({"path": paths.reindex(users).to_numpy(), "value": value}).groupby("path")
    by_path = pd.DataFrame({"users": per_path.size(), "value": per_path["value"].sum()})
    by_path = by_path.sort_values(["value", "users"], ascending=False, kind="stable").head(top)
    parts.append(_rows("path", by_path.index, by_path["users"], by_path["value"], total))

    if by is not None:
        seg_of_user, labels, seg_name = log.segments(by)
        grouped = pd.DataFrame({"s": seg_of_user[users], "value": value}).groupby("s")
        seg = pd.DataFrame({"users": grouped.size(), "value": grouped["value"].sum()})
        parts.append(_rows(seg_name, labels[seg.index.to_numpy()], seg["users"], seg["value"], total))
    if log.has("channel"):
        found = value_by_code(ev, "c_channel", log.backend.dialect)
        channels = np.asarray(log.names("channel").astype(str), dtype=object)
        ch = pd.DataFrame({"key": channels[found["c"].astype(np.int64)], "users": found["users"],
                           "value": found["value"]}).sort_values(["value", "key"], ascending=[False, True])
        parts.append(_rows("channel", ch["key"], ch["users"], ch["value"], total))
    table = pd.concat(parts, ignore_index=True)[COLUMNS]
    ids = np.asarray(log.users.astype(str), dtype=object)[users]
    return ValueBreakdown(table=table, per_user=pd.Series(value, index=pd.Index(ids, name="user_id"), name="value"),
                          depth=depth)
