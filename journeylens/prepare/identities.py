"""Identity resolution: one person behind several ids (cookies, devices, accounts).

Links are pairs of ids known to belong to the same person. Every id of the
log and of the links is a node; each link an edge; each connected component
is one person. The component's canonical id is chosen without regard to link
order: the smallest (as text) of its preferred ids (by default, ids that appear
on the right side of a link, e.g. customer ids), else its smallest id.
"""

from __future__ import annotations

from typing import Any, Callable, Collection

import numpy as np
import pandas as pd

from ..core.protocol import JourneyLog
from ..engine.sql import run
from ..errors import ValidationError, preview
from ..io.build import _text_ids
from .sessions import require_log, sessionize

Prefer = str | Collection[Any] | Callable[[pd.Series], Any] | None


def stitch(
    log: JourneyLog,
    links: Any,
    left: str | None = None,
    right: str | None = None,
    prefer: Prefer = "right",
    max_component: int | None = None,
) -> JourneyLog:
    """A new log where every id linked (directly or through a chain) to another shares one ``user_id``.

    ``links``: a DataFrame (``left``/``right`` name its two id columns, default its
    first two) or a sequence of ``(id, id)`` pairs; pairs with a missing id are
    ignored and counted. ``prefer`` picks the canonical id of each component among:
    ``"right"`` (ids in the right column, default), ``"left"``, a collection of ids,
    a function of a string Series returning a boolean mask, or ``None`` (no
    preference); ties and components without a preferred id take the smallest id.
    The original id is kept in ``original_user_id`` (through repeated stitching,
    the id the source had). ``max_component`` raises instead of merging more
    ids than that into one person (a sign of a shared id such as a test account).
    A log sessionized before is sessionized again with the same parameters.
    The report is in ``log.parameters["stitch"]``; see also :func:`identity_map`.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.identities import stitch
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["cookie1", "cookie2", "cust9"],
    ...     "time": ["2024-01-01", "2024-01-02", "2024-01-03"], "event": ["ad", "visit", "buy"]}))
    >>> links = pd.DataFrame({"cookie": ["cookie1", "cookie2"], "customer": ["cust9", "cust9"]})
    >>> stitch(log, links).to_pandas()["user_id"].tolist()
    ['cust9', 'cust9', 'cust9']
    """
    require_log(log, "stitch")
    a, b = _link_columns(links, left, right)
    ignored = a.isna().to_numpy() | b.isna().to_numpy()
    a, b = a[~ignored], b[~ignored]

    # Nodes: log ids first, then ids only known from links; codes in sorted text order.
    log_ids = pd.Series(np.asarray(log.users, dtype=object), dtype="string")
    ids, ids_index = pd.factorize(pd.concat([log_ids, a, b], ignore_index=True), sort=True)
    n_nodes, n_log, n_links = len(ids_index), len(log_ids), len(a)
    la, lb = ids[n_log : n_log + n_links], ids[n_log + n_links :]
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(n_links, dtype=np.int8), (la, lb)), shape=(n_nodes, n_nodes))
    n_comp, label = connected_components(graph, directed=False)

    preferred = _preferred(prefer, pd.Series(ids_index, dtype="string"), la, lb)
    # smallest preferred id, else smallest id: codes are already in text order
    key = np.arange(n_nodes, dtype=np.int64) + np.where(preferred, 0, n_nodes)
    best = np.full(n_comp, 2 * n_nodes, dtype=np.int64)
    np.minimum.at(best, label, key)
    canonical = best % n_nodes
    size = np.bincount(label, minlength=n_comp)
    largest = int(np.argmax(size)) if n_comp else 0
    if max_component is not None and n_comp and size[largest] > max_component:
        members = ids_index[label == largest][:3]
        raise ValidationError(
            f"stitch: {size[largest]:,} ids would merge into {ids_index[canonical[largest]]!r} "
            f"(more than max_component={max_component}); e.g. {preview(list(members))}"
        )

    # New user of each log id: its component's canonical id, coded among the canonical ids
    new_of_user = ids_index.take(canonical[label[ids[:n_log]]])
    new_users, new_codes = np.unique(np.asarray(new_of_user, dtype=object).astype(str), return_inverse=True)
    log_label = label[ids[:n_log]]
    log_ids_per_comp = np.bincount(log_label, minlength=n_comp)
    record = {
        "links": int(n_links),
        "links_ignored": int(ignored.sum()),
        "prefer": prefer if prefer is None or isinstance(prefer, str) else type(prefer).__name__,
        "users_before": int(n_log),
        "users_after": int(len(new_users)),
        "components_merged": int((log_ids_per_comp > 1).sum()),
        "ids_merged": int((new_of_user != log_ids.to_numpy()).sum()),
        "largest_component": int(size[largest]) if n_comp else 0,
        "largest_component_id": str(ids_index[canonical[largest]]) if n_comp else None,
    }
    out = log.with_users(new_codes, pd.Index(new_users.tolist()), {"stitch": record})
    if "sessionize" in log.parameters:
        again = log.parameters["sessionize"]
        out = sessionize(out, gap=again["gap"], max_duration=again["max_duration"])
    return out


def identity_map(log: JourneyLog) -> pd.DataFrame:
    """Each original id of a stitched log → its ``user_id``, with its ``events``; sorted by original id.

    >>> import pandas as pd, journeylens as jl
    >>> from journeylens.prepare.identities import stitch, identity_map
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["c1", "c2"], "time": ["2024-01-01", "2024-01-02"],
    ...     "event": ["ad", "buy"]}))
    >>> identity_map(stitch(log, [("c1", "c2")], prefer=None)).values.tolist()
    [['c1', 'c1', 1], ['c2', 'c1', 1]]
    """
    require_log(log, "identity_map")
    if not log.has("original_user_id"):
        raise ValidationError("the log has no original_user_id: call jl.stitch(log, links) first")
    ev = log.journeys(window=False, columns=("original_user_id",))
    pairs = run("SELECT c_original_user_id AS o, u, count(*) AS n FROM ev GROUP BY o, u ORDER BY o, u", {"ev": ev})
    return pd.DataFrame(
        {
            "original_user_id": pd.array(log.names("original_user_id").take(pairs["o"].astype(np.int64)), dtype="string"),
            "user_id": pd.array(log.users.take(pairs["u"].astype(np.int64)), dtype="string"),
            "events": pairs["n"].astype(np.int64),
        }
    )


def _link_columns(links: Any, left: str | None, right: str | None) -> tuple[pd.Series, pd.Series]:
    """The two id columns of ``links`` as text (missing ids as NA)."""
    if isinstance(links, pd.DataFrame):
        frame = links
    else:
        try:
            frame = pd.DataFrame(list(links), columns=["left", "right"])
        except (TypeError, ValueError):
            raise ValidationError(
                f"stitch: links must be a DataFrame or a list of (id, id) pairs, got {preview([links], 1)}"
            ) from None
    if frame.shape[1] < 2:
        raise ValidationError(f"stitch: links need two id columns, got {list(map(str, frame.columns))}")
    names = [left or frame.columns[0], right or frame.columns[1]]
    for name in names:
        if name not in frame.columns:
            raise ValidationError(f"stitch: links have no column {name!r}; columns: {preview(list(frame.columns), 6)}")
    out = []
    for name in names:
        text, missing = _text_ids(frame[name].reset_index(drop=True))
        out.append(text.mask(missing))
    return out[0], out[1]


def _preferred(prefer: Prefer, ids: pd.Series, la: np.ndarray, lb: np.ndarray) -> np.ndarray:
    """Boolean mask over the node ids: which may be chosen as canonical first."""
    n = len(ids)
    if prefer is None:
        return np.zeros(n, dtype=bool)
    if isinstance(prefer, str):
        if prefer not in ("left", "right"):
            raise ValidationError(
                f"stitch: prefer={prefer!r}; use 'left', 'right', None, a collection of ids or a function"
            )
        mask = np.zeros(n, dtype=bool)
        mask[la if prefer == "left" else lb] = True
        return mask
    if callable(prefer):
        mask = np.asarray(prefer(ids.copy()), dtype=bool)
        if mask.shape != (n,):
            raise ValidationError(f"stitch: prefer(ids) must return one boolean per id ({n}), got shape {mask.shape}")
        return mask
    return ids.isin([str(v) for v in prefer]).to_numpy()
