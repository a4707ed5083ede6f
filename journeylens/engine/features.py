"""Per-user kernels for personas: one wide GROUP BY for features, three narrow ones for journeys.

Every feature is an aggregate of the user's rows (counts, conditional counts,
shares, distinct days, gap statistics), so the whole table is one query that an
engine computes where the data is; the caller names the columns. The choice of
event columns (the events done by most users) and of bigram columns (the pairs
done by most users) are small queries of their own, so the width of the table
stays bounded however many event types a log has.

The journey counts of the sequence model (first events, transition pairs with
the end of the journey, emissions) are group-bys over the window pass of the
journeys, each a sparse ``(user, code, count)`` table.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .kernels import pair_keys, summed_matrix, users_per_code, users_per_key
from .sql import Table, dialect_of, frame, is_held, query, quote, run
from .window import neighbours

_DAY_US = 86_400_000_000
TOP_PAIRS_SQL = """
SELECT a, b, count(*) AS users
FROM (SELECT DISTINCT u, e AS a, e2 AS b FROM ev WHERE e2 >= 0 AND {keep_a} AND {keep_b}) d
GROUP BY a, b ORDER BY count(*) DESC, a, b LIMIT {top}
"""
TOP_EVENTS_SQL = """
SELECT e, count(*) AS users FROM (SELECT DISTINCT u, e FROM ev WHERE {keep}) d
GROUP BY e ORDER BY count(*) DESC, e {limit}
"""


def _keep(column: str, excluded: Sequence[int]) -> str:
    """The predicate "``column`` is not an excluded code" (always true without exclusions)."""
    return f"{column} NOT IN ({', '.join(str(int(c)) for c in excluded)})" if len(excluded) else "TRUE"


def _event_users(cols: Mapping[str, np.ndarray], out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event codes not in ``out`` and how many users of the rows ``cols`` did each."""
    u, e = cols["u"], cols["e"]
    keep = ~np.isin(e, out)
    return users_per_code(u[keep], e[keep])


def _pair_users(cols: Mapping[str, np.ndarray], out: np.ndarray) -> dict[str, np.ndarray]:
    """Directly-follows pairs (``a``, ``b``) with no end in ``out``, and how many users did each."""
    u, e, e2 = cols["u"], cols["e"], cols["e2"]
    keep = (e2 >= 0) & ~np.isin(e, out) & ~np.isin(e2, out)
    key, width = pair_keys(e[keep], e2[keep])
    codes, users = users_per_code(u[keep], key)
    return {"a": codes // width, "b": codes % width, "users": users}


def top_events(ev: Table, top: int | None, excluded: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` event codes done by most users (all when None), leaving ``excluded`` codes out,
    most users first (ties by code), and how many users did each."""
    out = np.asarray(excluded, dtype=np.int64)

    def count(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        codes, users = _event_users(cols, out)
        return {"e": codes, "users": users}

    summed = users_per_key(ev, ("u", "e"), count, ("e",))
    if summed is None:
        summed = run(TOP_EVENTS_SQL.format(keep=_keep("e", excluded), limit=f"LIMIT {int(top)}" if top else ""),
                     {"ev": ev})
    return _ranked(summed["e"].astype(np.int64), summed["users"].astype(np.int64), top)


def top_pairs(ev: Table, top: int, excluded: Sequence[int] = ()) -> list[tuple[int, int]]:
    """The ``top`` directly-follows pairs done by most users (ties by pair codes), in pair order;
    pairs with an ``excluded`` code at either end are left out."""
    out = np.asarray(excluded, dtype=np.int64)
    summed = users_per_key(ev, ("u", "e", "e2"), lambda cols: _pair_users(cols, out), ("a", "b"))
    if summed is None:
        sql = TOP_PAIRS_SQL.format(top=int(top), keep_a=_keep("e", excluded), keep_b=_keep("e2", excluded))
        summed = run(sql, {"ev": ev})
    return _top_of_pairs(summed, top)


def top_events_and_pairs(ev: Table, top: int, pairs: int, excluded: Sequence[int] = ()
                         ) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """:func:`top_events` (the codes) and :func:`top_pairs` in one pass over the rows where an engine
    maps chunks of users (one pass fewer over the window pass)."""
    out = np.asarray(excluded, dtype=np.int64)

    def count(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        codes, users = _event_users(cols, out)
        found = _pair_users(cols, out) if pairs else {k: np.zeros(0, dtype=np.int64) for k in ("a", "b", "users")}
        return {"a": np.concatenate([codes, found["a"]]),  # an event is the pair (e, -1)
                "b": np.concatenate([np.full(len(codes), -1, dtype=np.int64), found["b"]]),
                "users": np.concatenate([users, found["users"]])}

    summed = users_per_key(ev, ("u", "e", "e2"), count, ("a", "b"))
    if summed is None:
        return top_events(ev, top, excluded)[0], top_pairs(ev, pairs, excluded) if pairs else []
    a, b, users = (summed[c].astype(np.int64) for c in ("a", "b", "users"))
    event = b < 0
    codes = _ranked(a[event], users[event], top)[0]
    return codes, _top_of_pairs({"a": a[~event], "b": b[~event], "users": users[~event]}, pairs) if pairs else []


def _top_of_pairs(summed: Mapping[str, np.ndarray], top: int) -> list[tuple[int, int]]:
    """The ``top`` pairs of ``summed`` (a, b, users) with most users, ties by pair codes, in pair order."""
    a, b, users = (np.asarray(summed[c]).astype(np.int64) for c in ("a", "b", "users"))
    key, width = pair_keys(a, b)
    pairs, _ = _ranked(key, users, top)
    return sorted(zip((pairs // width).tolist(), (pairs % width).tolist()))


def _ranked(codes: np.ndarray, users: np.ndarray, top: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` codes with most users (all when None), ties by code."""
    order = np.lexsort((codes, -users))[:top]
    return codes[order].astype(np.int64), users[order].astype(np.int64)


def feature_sql(ev: Table, levels: Sequence[tuple[str, str, Sequence[str]]], events: Sequence[tuple[int, str]],
                other: bool, pairs: Sequence[tuple[int, int, str]], excluded: Sequence[int],
                outcomes: Sequence[tuple[str, Sequence[int]]], sessions: bool,
                stages: tuple[str, Sequence[str]] | None, user_table: bool) -> str:
    """The wide per-user query over the window pass ``ev(u, t, e, e2, gp, head, c_session, c_*)``.

    Shares (levels, events, bigrams) are over the user's *behaviour* rows: rows whose event
    is not ``excluded`` (the outcome events), and transitions with neither end excluded.

    ``levels``: (code column, column prefix, names) whose shares to compute;
    ``events``: (code, name) of the event columns; ``other``: add ``event:(other)``, the
    share of the remaining behaviour rows; ``pairs``: (code, code, column name) bigrams;
    ``outcomes``: (column name, codes) flags "the user did one of these";
    ``stages``: the code column of stages (reached flags and furthest stage);
    ``user_table``: join ``users(code, name)`` for a ``user_id`` column, else keep ``u``.
    A user with a single event has no gap: the gap columns are NULL, not 0.
    """
    d = dialect_of(ev)

    def col(name: str) -> str:
        return quote(name, d)

    end = "(SELECT max(t) FROM ev)"
    keep, keep_next = _keep("e", excluded), _keep("e2", excluded)
    # count_if, not count(*) FILTER: DuckDB then filters no rows per column (the wide query is 40% faster)
    rows = f"greatest(count_if({keep}), 1)"
    steps = f"greatest(count_if(e2 >= 0 AND {keep} AND {keep_next}), 1)"
    # rows are in time order within a user: a new day is a day unlike the previous row's (no DISTINCT)
    days = f"count_if(head = 1 OR div(t, {_DAY_US}) <> div(t - gp, {_DAY_US}))"
    # Every feature is a DOUBLE; divisions cast first (a decimal literal makes Spark divide in DECIMAL).
    cols = ["CAST(count(*) AS DOUBLE) AS n_events"]
    if sessions:
        # a user's sessions are numbered consecutively (journeys number them in user order): no DISTINCT
        cols.append("CAST(max(c_session) - min(c_session) + 1 AS DOUBLE) AS n_sessions")
    cols += [f"CAST({days} AS DOUBLE) AS active_days",
             f"CAST(max(t) - min(t) AS DOUBLE) / {_DAY_US} AS tenure_days",
             f"CAST({end} - max(t) AS DOUBLE) / {_DAY_US} AS recency_days",
             f"CAST(count(*) AS DOUBLE) / {days} AS events_per_active_day",
             "CAST(median(gp) FILTER (WHERE head = 0) AS DOUBLE) / 1000000 AS median_gap_s",
             "CAST(avg(gp) FILTER (WHERE head = 0) AS DOUBLE) / 1000000 AS mean_gap_s"]
    for code, prefix, names in levels:
        cols += [f"CAST(count_if({code} = {k} AND {keep}) AS DOUBLE) / {rows} AS {col(f'{prefix}:{n}')}"
                 for k, n in enumerate(names)]
    if stages is not None:
        code, names = stages
        cols += [f"CAST(count_if({code} = {k}) > 0 AS DOUBLE) AS {col(f'stage:{n}')}"
                 for k, n in enumerate(names)]
        cols.append(f"CAST(coalesce(max({code}) FILTER (WHERE {code} >= 0) + 1, 0) AS DOUBLE) AS stage_max")
    cols += [f"CAST(count_if(e = {k}) AS DOUBLE) / {rows} AS {col(f'event:{n}')}" for k, n in events]
    if other:
        shown = _keep("e", [k for k, _ in events])
        cols.append(f"CAST(count_if({keep} AND {shown}) AS DOUBLE) / {rows} AS {col('event:(other)')}")
    cols += [f"CAST(count_if(e = {a} AND e2 = {b}) AS DOUBLE) / {steps} AS {col(f'bigram:{name}')}"
             for a, b, name in pairs]
    for name, codes in outcomes:
        listed = ", ".join(str(int(c)) for c in codes) or "-1"
        cols.append(f"CAST(count_if(e IN ({listed})) > 0 AS DOUBLE) AS {col(name)}")
    body = f"SELECT u, {', '.join(cols)} FROM ev GROUP BY u"
    if not user_table:
        return body + " ORDER BY u"
    return f"SELECT users.name AS user_id, f.* FROM ({body}) f JOIN users ON f.u = users.code"


def user_feature_table(ev: Table, sql: str, users: Table) -> Any:
    """Run :func:`feature_sql`'s query (with ``user_table``) and keep the result where ``ev`` lives
    (lazily: what reads it computes what it reads)."""
    return frame(sql, {"ev": ev, "users": users})


#: cells of a users × codes block divided at once: numpy copies each block (8 MiB), not the whole matrix
_BLOCK_CELLS = 1 << 20


def user_feature_frame(ev: Table, levels: Sequence[tuple[str, str, Sequence[str]]], events: Sequence[tuple[int, str]],
                       other: bool, pairs: Sequence[tuple[int, int, str]], excluded: Sequence[int],
                       outcomes: Sequence[tuple[str, Sequence[int]]], sessions: bool,
                       stages: tuple[str, Sequence[str]] | None) -> pd.DataFrame:
    """:func:`feature_sql`'s table as pandas, a row per user in code order with its code in ``u``.

    Held tables run the query; in-memory ones, whose users' rows are contiguous, are
    counted in one pass of bincounts (75 filtered aggregates over every row cost
    DuckDB 5 s at 10M events); only the gap median and mean, exact in DuckDB, stay SQL.
    """
    args = (levels, events, other, pairs, excluded, outcomes, sessions, stages)
    if is_held(ev):
        return query(feature_sql(ev, *args, user_table=False), {"ev": ev}).to_pandas()
    ev = {c: np.asarray(v) for c, v in ev.items()}
    u, e, e2, t, gp = ev["u"], ev["e"], ev["e2"], ev["t"], ev["gp"]
    head = ev["head"] == 1
    starts = np.flatnonzero(head)
    user = np.cumsum(head) - 1  # index of each row's user among those present
    n = len(starts)

    def per_user(mask: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(user if mask is None else user[mask], minlength=n).astype(np.float64)

    def per_user_code(code: np.ndarray, width: int, mask: np.ndarray | None = None,
                      over: np.ndarray | None = None) -> np.ndarray:
        """(users × width) counts of ``code`` (0 ≤ code < width) over the rows in ``mask``, divided by
        each user's ``over`` when given.

        Rows out of the mask, or without a code, count in a spare last column that is dropped: no
        filtered copies of the rows, and the bins are written in row order (users are contiguous).
        Fresh pages are what this costs most, so one row-sized key is made and the counts are divided
        where they lie, a block of users at a time (numpy copies a whole overlapping operand first)."""
        counted = code >= 0 if mask is None else mask & (code >= 0)
        key = user * (width + 1)
        np.add(key, code, out=key, where=counted)
        np.add(key, width, out=key, where=~counted)
        counts = np.bincount(key, minlength=n * (width + 1)).reshape(n, width + 1)
        if over is None:
            return counts[:, :width]
        shares = counts.view(np.float64)
        block = max(1, _BLOCK_CELLS // (width + 1))
        for a in range(0, n, block):
            np.divide(counts[a:a + block], over[a:a + block, None], out=shares[a:a + block])
        return shares[:, :width]

    keep = ~np.isin(e, np.asarray(excluded, dtype=np.int64))
    keep_next = ~np.isin(e2, np.asarray(excluded, dtype=np.int64))
    rows = np.maximum(per_user(keep), 1)
    steps = np.maximum(per_user((e2 >= 0) & keep & keep_next), 1)
    count = per_user()
    day = _day(t)
    days = per_user(head | (day != np.roll(day, 1)))  # a user's rows are in time order
    ends = np.append(starts[1:], len(t)) - 1 if n else starts
    first, last = t[starts], t[ends]  # each user's rows are in time order
    out: dict[str, np.ndarray] = {"u": u[starts], "n_events": count}
    if sessions:
        out["n_sessions"] = _distinct_per_user(np.asarray(ev["c_session"]), user, n)
    gaps = run("SELECT u, median(gp) FILTER (WHERE head = 0) AS m, avg(gp) FILTER (WHERE head = 0) AS a "
               "FROM ev GROUP BY u ORDER BY u", {"ev": {"u": u, "gp": gp, "head": ev["head"]}})
    out.update({"active_days": days, "tenure_days": (last - first).astype(np.float64) / _DAY_US,
                "recency_days": ((t.max() if n else 0) - last).astype(np.float64) / _DAY_US,
                "events_per_active_day": count / days,
                "median_gap_s": gaps["m"].astype(np.float64) / 1_000_000,
                "mean_gap_s": gaps["a"].astype(np.float64) / 1_000_000})
    for code, prefix, names in levels:
        shares = per_user_code(np.asarray(ev[code]), len(names), keep, over=rows)
        out.update({f"{prefix}:{name}": shares[:, k] for k, name in enumerate(names)})
    if stages is not None:
        code, names = stages
        c = np.asarray(ev[code])
        reached = per_user_code(c, len(names)) > 0
        out.update({f"stage:{name}": reached[:, k].astype(np.float64) for k, name in enumerate(names)})
        out["stage_max"] = (np.maximum.reduceat(c, starts) + 1).astype(np.float64) if n else np.zeros(0)
    width = int(max(e.max(initial=-1), e2.max(initial=-1), *(max(a, b) for a, b, _ in pairs), 0)) + 1
    column = np.full(width, -1, dtype=np.int32)  # row-sized gathers below: half the fresh pages of int64
    column[[k for k, _ in events]] = np.arange(len(events))
    shares = per_user_code(column[e], len(events), over=rows)
    out.update({f"event:{name}": shares[:, j] for j, (_, name) in enumerate(events)})
    if other:
        out["event:(other)"] = per_user(keep & (column[e] < 0)) / rows
    if pairs:
        # each row's pair column through a small table: first events × second events of the pairs
        firsts, seconds = (np.unique([p[k] for p in pairs]) for k in (0, 1))
        f, s = len(firsts), len(seconds)
        # the spare f, s: in no pair (col[-1]: no next)
        row, col = np.full(width + 1, f, dtype=np.int32), np.full(width + 1, s, dtype=np.int32)
        row[firsts], col[seconds] = np.arange(f), np.arange(s)
        table = np.full((f + 1) * (s + 1), -1, dtype=np.int32)
        table[[row[a] * (s + 1) + col[b] for a, b, _ in pairs]] = np.arange(len(pairs))
        cell = row[e]
        cell *= s + 1
        cell += col[e2]
        hit = table[cell]
        shares = per_user_code(hit, len(pairs), over=steps)
        out.update({f"bigram:{name}": shares[:, j] for j, (_, _, name) in enumerate(pairs)})
    for name, codes in outcomes:
        out[name] = (per_user(np.isin(e, np.asarray(codes, dtype=np.int64))) > 0).astype(np.float64)
    return pd.DataFrame(out, copy=False)


def _day(t: np.ndarray) -> np.ndarray:
    """The SQL kernels' ``div(t, day)``: integer division truncating towards zero, as DuckDB and Spark do."""
    day = t // _DAY_US
    return day if t.min(initial=0) >= 0 else np.where(t < 0, -(-t // _DAY_US), day)


def _distinct_per_user(code: np.ndarray, user: np.ndarray, n: int) -> np.ndarray:
    """How many distinct codes each user's rows carry, for codes owned by one user (journey codes)."""
    owner = np.full(int(code.max(initial=-1)) + 1, -1, dtype=np.int64)
    owner[code] = user
    return np.bincount(owner[owner >= 0], minlength=n).astype(np.float64)


# -- journey counts for the sequence model -------------------------------------------------------
# ``st(e, s)`` maps an event code to its state (rare events share one); events without a
# state (the outcome events) are dropped before the window pass, so the step over them joins
# their neighbours: a > purchase > b counts as a > b.
STATES_SQL = "SELECT ev.i, ev.g, ev.u, ev.t, st.s AS e FROM ev JOIN st ON ev.e = st.e"
FIRST_SQL = "SELECT u, e AS a, count(*) AS n FROM ev WHERE head = 1 GROUP BY u, e"
STEPS_SQL = "SELECT u, e AS a, CASE WHEN e2 < 0 THEN {end} ELSE e2 END AS b, count(*) AS n FROM ev GROUP BY 1, 2, 3"
EMIT_SQL = """
SELECT ev.u, ev.{code} AS c, count(*) AS n FROM ev JOIN st ON ev.e = st.e WHERE ev.{code} >= 0 GROUP BY 1, 2
"""
# a code that is a property of the journey (the device of a session, say) is evidence once per journey
EMIT_ONCE_SQL = """
SELECT u, c, count(*) AS n FROM (SELECT DISTINCT ev.u, {journey} AS j, ev.{code} AS c
                                 FROM ev JOIN st ON ev.e = st.e WHERE ev.{code} >= 0) d GROUP BY 1, 2
"""
# the share of journeys with at least two coded rows whose rows all carry the same code
CONSTANT_SQL = """
SELECT CAST(count(*) FILTER (WHERE k = 1) AS DOUBLE) / greatest(count(*), 1) AS constant, count(*) AS journeys
FROM (SELECT ev.u, {journey} AS j, count(DISTINCT ev.{code}) AS k FROM ev JOIN st ON ev.e = st.e
      WHERE ev.{code} >= 0 GROUP BY 1, 2 HAVING count(*) >= 2) d
"""
#: a code constant along at least this share of journeys is counted once per journey, not per event
CONSTANT_SHARE = 0.9


def journey_counts(journeys: Table, rows: Table, states: np.ndarray, n_states: int, emissions: Sequence[str],
                   per: str, once: Sequence[str] | None = None) -> dict[str, Any]:
    """Sparse per-user counts of a first-order chain over ``states`` (state of each event code, -1 = dropped).

    ``journeys``: ``ev(i, g, e, u, t)`` without the window pass (``g`` the journey, ``i``
    the log position); ``rows``: ``ev(i, u, c_session, e, c_*)`` in log order, carrying the
    ``emissions`` code columns; ``per``: ``"user"`` or ``"session"``, the journey unit.
    Returns ``first`` (u, a, n: journeys starting in state ``a``), ``steps`` (u, a, b, n:
    steps ``a → b``, ``b = n_states`` for the end of a journey) and, per emission column,
    (u, c, n) counts of its codes on rows that have a state: per row, or once per journey
    for the columns in ``once``. With ``once=None`` a column is counted once per journey
    when it is constant along at least :data:`CONSTANT_SHARE` of the journeys with two
    coded rows or more (a device, say), and per event otherwise (a channel that changes);
    ``out["once"]`` lists the columns counted once. A (u, code) pair may come in several
    rows: their counts add up.

    Held tables run the group-bys in their engine; in-memory tables are counted with
    numpy and scipy.sparse (a row per event, summed per cell).
    """
    if not is_held(journeys):
        return _journey_counts_in_memory(journeys, rows, states, n_states, emissions, once)
    codes = np.flatnonzero(states >= 0)
    st = {"e": codes.astype(np.int64), "s": states[codes].astype(np.int64)}
    ev = neighbours(frame(STATES_SQL, {"ev": journeys, "st": st}))
    out: dict = {"first": run(FIRST_SQL, {"ev": ev}), "steps": run(STEPS_SQL.format(end=int(n_states)), {"ev": ev})}
    journey = "ev.u" if per == "user" else "ev.c_session"
    if once is None:
        once = [code for code in emissions if float(run(CONSTANT_SQL.format(code=code, journey=journey),
                                                        {"ev": rows, "st": st})["constant"][0]) >= CONSTANT_SHARE]
    for code in emissions:
        sql = EMIT_ONCE_SQL if code in once else EMIT_SQL
        out[code] = run(sql.format(code=code, journey=journey), {"ev": rows, "st": st})
    out["once"] = [code for code in emissions if code in once]
    return out


def _journey_counts_in_memory(journeys: dict, rows: dict, states: np.ndarray, n_states: int,
                              emissions: Sequence[str], once: Sequence[str] | None) -> dict[str, Any]:
    ev = neighbours(_in_states({c: np.asarray(journeys[c]) for c in ("i", "g", "u", "t", "e")}, states))
    u, g, e = ev["u"], ev["g"], ev["e"]
    head = ev["head"] == 1
    one = np.ones(len(e), dtype=np.int8)
    out: dict = {"first": {"u": u[head], "a": e[head], "n": one[head]},
                 "steps": {"u": u, "a": e, "b": np.where(ev["e2"] < 0, n_states, ev["e2"]), "n": one}}
    n_journeys = int(g.max()) + 1 if len(g) else 0
    user_of = np.zeros(n_journeys, dtype=np.int64)
    user_of[g] = u
    chosen = []
    for code in emissions:
        c = np.asarray(rows[code])[ev["i"]]
        kept = c >= 0
        per_journey = summed_matrix(one[kept], g[kept], c[kept], (n_journeys, int(c.max(initial=-1)) + 1),
                                    dtype=np.int64)  # journeys × codes
        if once is None:
            many = np.asarray(per_journey.sum(axis=1)).ravel() >= 2
            if many.any() and np.mean(np.diff(per_journey.indptr)[many] == 1) >= CONSTANT_SHARE:
                chosen.append(code)
        elif code in once:
            chosen.append(code)
        journey = np.repeat(np.arange(n_journeys), np.diff(per_journey.indptr))
        n = np.ones_like(per_journey.data) if code in chosen else per_journey.data
        out[code] = {"u": user_of[journey], "c": per_journey.indices, "n": n}
    out["once"] = chosen
    return out


def _in_states(ev: dict[str, np.ndarray], states: np.ndarray) -> dict[str, np.ndarray]:
    """In-memory journeys with events mapped to states (stateless rows dropped), each journey's
    rows contiguous and in log order, as the in-memory window pass needs."""
    state = np.asarray(states, dtype=np.int64)[ev["e"]]
    keep = state >= 0
    out = {c: v[keep] for c, v in ev.items()}
    out["e"] = state[keep]
    g = out["g"]
    runs = int(np.count_nonzero(g[1:] != g[:-1])) + 1 if len(g) else 0
    if runs != int(np.count_nonzero(np.bincount(g))):  # a journey in several runs: sessions interleave
        order = np.argsort(g, kind="stable")
        out = {c: v[order] for c, v in out.items()}
    return out


# -- journey vectors for typical paths ------------------------------------------------------------
EVENT_COUNTS_SQL = "SELECT u, e, count(*) AS n FROM ev GROUP BY u, e"
PAIR_COUNTS_SQL = "SELECT u, e AS a, e2 AS b, count(*) AS n FROM ev WHERE e2 >= 0 GROUP BY u, e, e2"
FIRST_EVENTS_SQL = "SELECT u, e FROM ev WHERE head = 1"
JOURNEY_SQL = "SELECT u, {seq_e} AS v FROM ev WHERE u IN ({users}) GROUP BY u ORDER BY u"


def journey_vectors(ev: Table) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per user of the window pass ``ev(u, e, e2)``: counts of each event (u, e, n) and of each
    directly-follows pair (u, a, b, n), ordered by user then code in memory (in any order from SQL).

    In memory, each table is a sparse matrix users × codes whose construction sums the repeated cells:
    a group-by without hashing or sorting the rows (but for sparse codes only when the pairs fit it).
    """
    if not is_held(ev):
        u, e, e2 = (np.asarray(ev[c]).astype(np.int64, copy=False) for c in ("u", "e", "e2"))
        width = int(max(e.max(initial=-1), e2.max(initial=-1))) + 1
        if width * width < 2**31:
            users = int(u.max(initial=-1)) + 1
            step = e2 >= 0
            events = summed_matrix(np.ones(len(u), dtype=np.int64), u, e, (users, width)).tocoo()
            pairs = summed_matrix(np.ones(int(step.sum()), dtype=np.int64), u[step], e[step] * width + e2[step],
                                  (users, width * width)).tocoo()
            return ({"u": events.row.astype(np.int64), "e": events.col.astype(np.int64), "n": events.data},
                    {"u": pairs.row.astype(np.int64), "a": pairs.col // width, "b": pairs.col % width,
                     "n": pairs.data})
    return run(EVENT_COUNTS_SQL, {"ev": ev}), run(PAIR_COUNTS_SQL, {"ev": ev})


def first_events(ev: Table) -> dict[str, np.ndarray]:
    """The first event ``e`` of each journey (with its user ``u``) of the window pass ``ev``."""
    return run(FIRST_EVENTS_SQL, {"ev": ev})


def user_journeys(ev: Table, users: Sequence[int]) -> dict[int, list[int]]:
    """The event codes of the journeys of ``users`` (codes), in order."""
    if not len(users):
        return {}
    out = query(JOURNEY_SQL.replace("{users}", ", ".join(str(int(u)) for u in users)), {"ev": ev})  # {seq_e} stays a hook
    return dict(zip(out.column("u").to_pylist(), out.column("v").to_pylist()))
