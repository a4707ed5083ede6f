"""The per-user feature kernel: one wide GROUP BY over the window pass by user.

Every feature is an aggregate of the user's rows (counts, conditional counts,
shares, distinct days, gap statistics), so the whole table is one query that an
engine computes where the data is; the caller names the columns. Only the
choice of bigram columns (the pairs done by most users) is a query of its own.
"""

from __future__ import annotations

from typing import Sequence

from .sql import Table, dialect_of, frame, query, quote, run

_DAY_US = 86_400_000_000
TOP_PAIRS_SQL = """
SELECT a, b FROM (SELECT DISTINCT u, e AS a, e2 AS b FROM ev WHERE e2 >= 0) d
GROUP BY a, b ORDER BY count(*) DESC, a, b LIMIT {top}
"""


def top_pairs(ev: Table, top: int) -> list[tuple[int, int]]:
    """The ``top`` directly-follows pairs done by most users (ties by pair codes), in pair order."""
    out = run(TOP_PAIRS_SQL.format(top=int(top)), {"ev": ev})
    return sorted(zip(out["a"].astype(int).tolist(), out["b"].astype(int).tolist()))


def feature_sql(ev: Table, levels: Sequence[tuple[str, str, Sequence[str]]], events: Sequence[str],
                pairs: Sequence[tuple[int, int]], goal: Sequence[int] | None, sessions: bool,
                stages: tuple[str, Sequence[str]] | None, user_table: bool) -> str:
    """The wide per-user query over the window pass ``ev(u, t, e, e2, gp, head, c_session, c_*)``.

    ``levels``: (code column, column prefix, names) whose shares to compute;
    ``stages``: the code column of stages (reached flags and furthest stage);
    ``user_table``: join ``users(code, name)`` for a ``user_id`` column, else keep ``u``.
    """
    d = dialect_of(ev)

    def col(name: str) -> str:
        return quote(name, d)

    end = "(SELECT max(t) FROM ev)"
    # rows are in time order within a user: a new day is a day unlike the previous row's (no DISTINCT)
    days = f"sum(CASE WHEN head = 1 OR div(t, {_DAY_US}) <> div(t - gp, {_DAY_US}) THEN 1 ELSE 0 END)"
    # Every feature is a DOUBLE; divisions cast first (a decimal literal makes Spark divide in DECIMAL).
    cols = ["CAST(count(*) AS DOUBLE) AS n_events"]
    if sessions:
        cols.append("CAST(count(DISTINCT c_session) AS DOUBLE) AS n_sessions")
    cols += [f"CAST({days} AS DOUBLE) AS active_days",
             f"CAST(max(t) - min(t) AS DOUBLE) / {_DAY_US} AS tenure_days",
             f"CAST({end} - max(t) AS DOUBLE) / {_DAY_US} AS recency_days",
             f"CAST(count(*) AS DOUBLE) / {days} AS events_per_active_day",
             "CAST(coalesce(median(gp) FILTER (WHERE head = 0), 0) AS DOUBLE) / 1000000 AS median_gap_s",
             "CAST(coalesce(avg(gp) FILTER (WHERE head = 0), 0) AS DOUBLE) / 1000000 AS mean_gap_s"]
    for code, prefix, names in levels:
        cols += [f"CAST(count(*) FILTER (WHERE {code} = {k}) AS DOUBLE) / count(*) AS {col(f'{prefix}:{n}')}"
                 for k, n in enumerate(names)]
    if stages is not None:
        code, names = stages
        cols += [f"CAST(count(*) FILTER (WHERE {code} = {k}) > 0 AS DOUBLE) AS {col(f'stage:{n}')}"
                 for k, n in enumerate(names)]
        cols.append(f"CAST(coalesce(max({code}) FILTER (WHERE {code} >= 0) + 1, 0) AS DOUBLE) AS stage_max")
    cols += [f"CAST(count(*) FILTER (WHERE e = {k}) AS DOUBLE) AS {col(f'event:{n}')}" for k, n in enumerate(events)]
    cols += [f"CAST(count(*) FILTER (WHERE e = {a} AND e2 = {b}) AS DOUBLE) / greatest(count(*) - 1, 1) "
             f"AS {col(f'bigram:{events[a]}>{events[b]}')}" for a, b in pairs]
    if goal is not None:
        codes = ", ".join(str(int(c)) for c in goal) or "-1"
        cols.append(f"CAST(count(*) FILTER (WHERE e IN ({codes})) > 0 AS DOUBLE) AS converted")
    body = f"SELECT u, {', '.join(cols)} FROM ev GROUP BY u"
    if not user_table:
        return body + " ORDER BY u"
    return f"SELECT users.name AS user_id, f.* FROM ({body}) f JOIN users ON f.u = users.code"


def user_feature_table(ev: Table, sql: str, users: Table | None = None):
    """Run :func:`feature_sql`'s query: Arrow with ``u`` (no ``users``), or a held table with ``user_id``."""
    if users is None:
        return query(sql, {"ev": ev})
    return frame(sql, {"ev": ev, "users": users})
