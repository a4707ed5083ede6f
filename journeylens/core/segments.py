"""Segments: one label per user, for every ``by=`` that compares groups of customers.

A segment comes from a column of the log (the user's first non-missing value,
so a persona or cohort column works, and a per-event column such as channel
means "first channel") or from a mapping ``user_id → label`` such as the
personas a :class:`~journeylens.PersonaModel` predicted.
"""

from __future__ import annotations

from typing import Mapping, Union

import numpy as np
import pandas as pd

from ..errors import JourneyLensError
from .eventlog import EventLog

#: what ``by=`` accepts: a column name, or labels per user id (Series indexed by user id, or a dict)
By = Union[str, pd.Series, Mapping, None]

#: label of users a mapping does not cover, or whose column value is always missing
UNASSIGNED = "(none)"


def user_segments(log: EventLog, by: By) -> tuple[np.ndarray, pd.Index, str]:
    """Segment code per user code, the segment labels, and the name of the segment column.

    With ``by=None`` every user is in one segment labelled ``"all"``.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "a", "b"], "time": ["2024-01-01"] * 3,
    ...     "event": ["x", "y", "x"], "tier": [None, "gold", "new"]}))
    >>> codes, labels, name = user_segments(log, "tier")
    >>> [labels[c] for c in codes], name
    (['gold', 'new'], 'tier')
    """
    n_users = len(log.users)
    if by is None:
        return np.zeros(n_users, dtype=np.int64), pd.Index(["all"]), "segment"
    if isinstance(by, str):
        if by not in log.columns:
            raise JourneyLensError(f"by={by!r} is not a column of the log (columns: {', '.join(log.columns)})")
        values = log._frame[by]
        present = values.notna().to_numpy()
        first = pd.Series(values.to_numpy()[present], dtype=object).groupby(log.user_codes[present], sort=True).first()
        per_user = pd.Series(UNASSIGNED, index=pd.RangeIndex(n_users), dtype=object)
        per_user[first.index] = first.astype(str).to_numpy()
        name = by
    else:
        labels = pd.Series(by) if isinstance(by, Mapping) else by
        if not isinstance(labels, pd.Series):
            raise JourneyLensError("by= must be a column name, a pandas Series indexed by user id, or a dict")
        labels = labels[~labels.index.duplicated(keep="last")]
        labels.index = labels.index.astype(str)
        per_user = labels.reindex(log.users.astype(str)).astype(object).where(lambda s: s.notna(), UNASSIGNED)
        per_user = per_user.astype(str).reset_index(drop=True)
        name = str(labels.name) if labels.name is not None else "segment"
    codes, uniques = pd.factorize(per_user.to_numpy(), sort=True)
    return codes.astype(np.int64), pd.Index(uniques.astype(str)), name


def add_segment(log: EventLog, labels: pd.Series | Mapping, name: str = "segment") -> EventLog:
    """A new log with column ``name`` holding each event's user label (``(none)`` when unlabelled).

    Makes a per-user labelling (personas, test groups) a column that every
    ``by=`` accepts, including row-level analyses such as decision points.

    >>> import pandas as pd, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a", "b"], "time": ["2024-01-01"] * 2, "event": ["x", "y"]}))
    >>> jl.add_segment(log, {"a": "p1"}, "persona").to_pandas()["persona"].tolist()
    ['p1', '(none)']
    """
    codes, uniques, _ = user_segments(log, pd.Series(labels) if isinstance(labels, Mapping) else labels)
    column = pd.Categorical.from_codes(codes[log.user_codes], categories=uniques)
    return log._derive(log._frame.assign(**{name: column}))
