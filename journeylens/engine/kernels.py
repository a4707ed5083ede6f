"""Kernels shared by every analysis, as SQL over the integer relation ``ev``.

Each function takes numpy arrays, runs one SQL statement on the engine and
returns numpy arrays. Row positions ``i`` make results independent of how
the engine schedules work: every ordering is total.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from .backends import backend_of
from .sql import Table, dialect_of, is_held, query, run
from .window import neighbours

SORT_SQL = "SELECT i, u, t FROM ev ORDER BY u, t, r, i"

# Sessions over the window pass by user (``engine/window.py``): a session starts at a
# user's first event or after a pause longer than the gap; with a maximum duration, a
# session is further cut into consecutive windows of that length from its first event.
GAP_SESSION_SQL = """
SELECT i, u, CASE WHEN head = 1 OR gp > {gap} THEN 1 ELSE 0 END AS start FROM ev
"""
SESSION_SQL = """
WITH s AS (
    SELECT i, u, t, sum(CASE WHEN head = 1 OR gp > {gap} THEN 1 ELSE 0 END)
                    OVER (PARTITION BY u ORDER BY i ROWS UNBOUNDED PRECEDING) AS k
    FROM ev
), p AS (
    SELECT i, u, k, div(t - min(t) OVER (PARTITION BY u, k), {span}) AS part FROM s
)
SELECT i, u,
       CASE WHEN lag(i) OVER w IS NULL OR lag(k) OVER w <> k OR lag(part) OVER w <> part THEN 1 ELSE 0 END AS start
FROM p WINDOW w AS (PARTITION BY u ORDER BY i)
"""


def sorted_events(user: np.ndarray, time_us: np.ndarray, row: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort events by user code, time, then source row: the permutation, the sorted user codes and times.

    The engine hands the sorted keys back with the permutation: cheaper than gathering them again.
    """
    n = len(user)
    out = run(SORT_SQL, {"ev": {"i": np.arange(n, dtype=np.int64), "u": user, "t": time_us, "r": row}})
    return out["i"].astype(np.int64, copy=False), out["u"], out["t"]


def sort_order(user: np.ndarray, time_us: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Permutation sorting events by user code, time, then source row."""
    return sorted_events(user, time_us, row)[0]


# Sessions numbered from 0 in (user, start) order, computed in the engine: a running
# count of starts per user plus the sessions of all users before (one row per user).
SESSION_ID_SQL = """
WITH st AS ({starts}),
k AS (SELECT i, u, sum(start) OVER (PARTITION BY u ORDER BY i ROWS UNBOUNDED PRECEDING) - 1 AS k FROM st),
per AS (SELECT u, max(k) + 1 AS n FROM k GROUP BY u),
off AS (SELECT u, sum(n) OVER (ORDER BY u ROWS UNBOUNDED PRECEDING) - n AS o FROM per)
SELECT i, CAST(o + k AS BIGINT) AS session_id FROM k JOIN off USING (u)
"""


def session_starts_sql(gap_us: int, max_us: int | None) -> str:
    """The kernel flagging session starts (``i, u, start``) over ``ev(i, u, t, gp, head)``: the
    window pass by user (:func:`~journeylens.engine.window.neighbours` with ``group="u"``)."""
    if not max_us:
        return GAP_SESSION_SQL.format(gap=int(gap_us))
    return SESSION_SQL.format(gap=int(gap_us), span=int(max_us))


def session_starts(user: np.ndarray, time_us: np.ndarray, gap_us: int, max_us: int | None,
                   steps: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """Boolean mask, in log order, of the events that open a session.

    The log must already be sorted by (user, time, source row); ``steps`` is its window pass by user
    (:func:`~journeylens.engine.window.neighbours`), made here when not given.
    """
    n = len(user)
    if n == 0:
        return np.zeros(0, dtype=bool)
    if steps is None:
        steps = neighbours({"u": user, "t": time_us}, group="u", codes=False)
    if not max_us:  # GAP_SESSION_SQL's rule as a mask over the pass (a query sorted the rows back by i)
        return (steps["head"] == 1) | (steps["gp"] > int(gap_us))
    ev = {"i": np.arange(n, dtype=np.int64), "u": user, "t": time_us, "gp": steps["gp"], "head": steps["head"]}
    out = run(session_starts_sql(gap_us, max_us) + "ORDER BY i", {"ev": ev})
    return out["start"].astype(bool)


# Directly-follows pairs inside each group (user or session) with the gap between
# them: a group-by over the window pass. Gaps are exact integers (µs). Distinct users
# per pair come from the engine when it holds the log; in memory, where each user's rows
# are contiguous, they are counted apart (count(DISTINCT) was 2/3 of the kernel's time).
DFG_SQL = """
SELECT s, a, b, n{users}, mean_us, {median} AS median_us, {p90} AS p90_us FROM (
    SELECT {s} AS s, e AS a, e2 AS b, count(*) AS n{distinct}, avg(dt) AS mean_us, {quantiles}
    FROM ev WHERE e2 >= 0 GROUP BY s, a, b
) d ORDER BY s, a, b
"""
#: the median and 90th percentile of ``dt`` per pair: DuckDB sorts a pair's gaps once for both
QUANTILES = {"duckdb": ("quantile_cont(dt, [0.5, 0.9]) AS q", "q[1]", "q[2]"),
             "spark": ("median(dt) AS q50, percentile_cont(0.9) WITHIN GROUP (ORDER BY dt) AS q90", "q50", "q90")}


ENDPOINTS_SQL = """
SELECT e, sum(head) AS starts, sum(CASE WHEN e2 < 0 THEN 1 ELSE 0 END) AS ends FROM ev GROUP BY e ORDER BY e
"""


# Variants with the number of distinct ones and of journeys, so that only the shown
# ones leave the engine.
VARIANTS_SQL = """
WITH var AS ({counted})
SELECT v, n, (SELECT count(*) FROM var) AS variants, (SELECT sum(n) FROM var) AS journeys
FROM var ORDER BY n DESC, v
"""
COUNTED_SQL = "SELECT v, count(*) AS n FROM (SELECT g, {seq_e} AS v FROM ev GROUP BY g) seq GROUP BY v"


def directly_follows_table(ev: Table, segmented: bool = False) -> dict[str, np.ndarray]:
    """Pairs (a, b) of consecutive codes within each journey of the window pass ``ev(e, e2, dt, u[, s])``,
    with counts, distinct users and gap statistics (µs); with ``segmented``, per segment ``s`` (a code
    per row), else every pair is in segment 0."""

    def count(cols: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        step = cols["e2"] >= 0
        s = cols["s"][step] if segmented else None
        key, width = pair_keys(cols["e"][step], cols["e2"][step], s)
        codes, users = users_per_code(cols["u"][step], key)
        first = 0 if s is None else s.min(initial=0)
        return {"s": codes // (width * width) + first, "a": codes // width % width, "b": codes % width,
                "users": users}

    users = users_per_key(ev, ("u", "e", "e2", *(["s"] if segmented else [])), count, ("s", "a", "b"))
    quantiles, median, p90 = QUANTILES[dialect_of(ev)]
    counted = users is not None
    out = run(DFG_SQL.format(s="s" if segmented else "0", users="" if counted else ", users", quantiles=quantiles,
                             distinct="" if counted else ", count(DISTINCT u) AS users", median=median, p90=p90),
              {"ev": ev})
    if counted:  # both ascending in (s, a, b), over the same pairs
        out["users"] = users["users"]
    return out


def users_per_key(ev: Table, columns: Sequence[str], count: Callable[[Mapping[str, np.ndarray]], dict[str, np.ndarray]],
                  keys: Sequence[str]) -> dict[str, np.ndarray] | None:
    """``count`` (``users`` per key from the int64 ``columns`` of rows of whole users, ascending by
    ``keys``) over ``ev``: at once in memory, summed over chunks of whole users on an engine that
    maps them (:meth:`~journeylens.engine.backends.Backend.map_groups`), None on one that runs the SQL
    instead (its own ``count(DISTINCT u)``)."""
    if not is_held(ev):
        return count({c: np.asarray(ev[c], dtype=np.int64) for c in columns})
    counted = backend_of({"ev": ev}).map_groups(
        ev, "u", lambda chunk: pa.table(count({c: np.asarray(chunk.column(c), dtype=np.int64) for c in columns})),
        columns)
    if counted is None:
        return None
    by = ", ".join(keys)
    return run(f"SELECT {by}, CAST(sum(users) AS BIGINT) AS users FROM c GROUP BY {by} ORDER BY {by}", {"c": counted})


def pair_keys(a: np.ndarray, b: np.ndarray, segment: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """One int64 key per pair of codes (a, b), ascending as (segment, a, b) are, and the width ``w`` of a
    code: ``key = (segment * w + a) * w + b``, segments counted from the smallest."""
    width = int(max(a.max(initial=0), b.max(initial=0))) + 1
    key = a * width + b
    if segment is not None:
        key += (segment - segment.min(initial=0)) * width * width
    return key, width


def run_starts(values: np.ndarray) -> np.ndarray:
    """Whether each element starts a run of equal values (the first one always does).

    >>> run_starts(np.array([4, 4, 2, 2, 4])).tolist()
    [True, False, True, False, True]
    """
    head = np.ones(len(values), dtype=bool)
    head[1:] = values[1:] != values[:-1]
    return head


def user_order(u: np.ndarray, i: np.ndarray) -> np.ndarray | None:
    """The permutation putting rows in (user ``u``, log position ``i``) order; None when they already are,
    as a log's journey table in memory is (an engine's result may come in any order)."""
    if len(u) > 1 and ((u[1:] < u[:-1]) | ((u[1:] == u[:-1]) & (i[1:] <= i[:-1]))).any():
        return np.lexsort((i, u))
    return None


def positions(values: Any, known: Any) -> np.ndarray:
    """Each of the texts ``values`` as its position among the distinct texts ``known``, -1 where absent.

    Arrow hashes ``known`` once, in a third of the time ``pandas.Index.get_indexer`` takes on
    a million ids; text Arrow cannot hold (lone surrogates) goes to pandas.

    >>> positions(pd.Index(["b", "z", "a"]), pd.Index(["a", "b"])).tolist()
    [1, -1, 0]
    """
    values, known = (x if isinstance(x, pd.Index) else pd.Index(np.asarray(x, dtype=object), dtype=object)
                     for x in (values, known))
    try:
        text = [pa.array(x.to_numpy() if x.dtype == object else x.array, type=pa.large_string(), from_pandas=True)
                for x in (values, known)]
    except (pa.ArrowException, UnicodeError):
        return known.get_indexer(values).astype(np.int64)
    import pyarrow.compute as pc

    return pc.index_in(text[0], value_set=text[1]).fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of a 1-d array, by one sort.

    ``np.unique`` without ``return_*`` hashes first since numpy 2.3, which on millions of distinct
    integers is some 50 times slower than sorting.

    >>> distinct(np.array([3, 1, 3, 2])).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(np.asarray(values).ravel())
    return ordered[run_starts(ordered)]


def summed_matrix(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int],
                  dtype: Any = None):
    """A CSR matrix whose entry (r, c) is the sum of the ``values`` given at (r, c): one stored entry
    per cell, columns sorted within rows."""
    from scipy import sparse

    matrix = sparse.csr_matrix((values, (rows, cols)), shape=shape, dtype=dtype)
    matrix.sum_duplicates()  # scipy before 1.15 keeps repeated (r, c) entries as they were given
    return matrix


def users_per_code(u: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The codes (ascending) that rows carry and how many distinct users ``u`` carry each."""
    if not len(code):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # the users of a chunk are a range of codes: count over that range only (one pass, one new array)
    u = np.subtract(u, np.int64(u.min()), dtype=np.int64)
    width, users = int(code.max()) + 1, int(u.max()) + 1
    if users * width <= 4 * len(code):  # few codes: a users × codes bitmap is smaller than the rows
        seen = np.zeros(users * width, dtype=bool)
        seen[u * width + code] = True
        counts = np.count_nonzero(seen.reshape(users, width), axis=0)
        found = np.flatnonzero(counts)
        return found, counts[found].astype(np.int64)
    # a boolean sparse matrix users × codes sums repeated (user, code) rows away
    done = summed_matrix(np.ones(len(code), dtype=bool), u, code, (users, width))
    return key_counts(done.indices, width)


def key_counts(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (integers in ``[0, size)``), ascending, and how many times each occurs.

    >>> [a.tolist() for a in key_counts(np.array([5, 1, 5]), 8)]
    [[1, 5], [1, 2]]
    """
    if size > 4 * len(keys):  # a sparse key space (pairs of thousands of events): count by sorting
        found, counts = np.unique(keys, return_counts=True)
        return found.astype(np.int64, copy=False), counts.astype(np.int64, copy=False)
    counts = np.bincount(keys, minlength=size)
    found = np.flatnonzero(counts)
    return found, counts[found].astype(np.int64, copy=False)


def key_ranks(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (integers in ``[0, size)``), ascending, and each key's position among them.

    >>> [a.tolist() for a in key_ranks(np.array([5, 1, 5]), 8)]
    [[1, 5], [1, 0, 1]]
    """
    if size > 4 * len(keys):  # a sparse key space: rank by sorting
        found, rank = np.unique(keys, return_inverse=True)
        return found.astype(np.int64, copy=False), rank.ravel()
    seen = np.zeros(size, dtype=bool)
    seen[keys] = True
    found = np.flatnonzero(seen)
    return found, (np.cumsum(seen) - 1)[keys]


def journey_steps(g: np.ndarray, i: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """The permutation putting rows in (journey ``g``, log position ``i``) order (None when they already
    are) and, in that order, each row's step: 1 for a journey's first row, 2 for the next, …

    >>> order, step = journey_steps(np.array([7, 7, 3]), np.array([0, 1, 2]))
    >>> order.tolist(), step.tolist()
    ([2, 0, 1], [1, 1, 2])
    """
    order = user_order(g, i)
    g = g if order is None else g[order]
    starts = np.flatnonzero(run_starts(g))
    step = np.arange(1, len(g) + 1) - np.repeat(starts, np.diff(np.append(starts, len(g))))
    return order, step


def endpoints_table(ev: Table) -> dict[str, np.ndarray]:
    """Journeys starting (``starts``) and ending (``ends``) at each code ``e``, over the window pass."""
    return run(ENDPOINTS_SQL, {"ev": ev})


def variants(ev: Table, top: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Distinct code sequences of the groups of ``ev(i, g, e)``, most frequent first (ties in sequence order).

    Returns the ``top`` sequences (all when None) flat — sequence ``k`` is
    ``codes[offsets[k]:offsets[k + 1]]`` — their counts, the number of distinct
    sequences and the number of groups (journeys).
    """
    limit = f"LIMIT {int(top)}" if top else ""  # decode only what is returned
    counted = None if is_held(ev) else counted_sequences(np.asarray(ev["g"]), np.asarray(ev["e"]))
    order = None if counted is None else sequence_order(counted["v"], counted["n"])
    if order is not None:
        offsets, codes = picked_sequences(counted["v"], order[:top])
        return offsets, codes, counted["n"][order[:top]], len(order), int(counted["n"].sum())
    merged = None if counted is not None else backend_of({"ev": ev}).map_groups(ev, "g", _chunk_sequences, ("e",))
    if merged is not None:  # a journey is in one chunk: its sequence is counted once
        summed = "SELECT v, CAST(sum(n) AS BIGINT) AS n FROM c GROUP BY v"
        table = query(VARIANTS_SQL.replace("{counted}", summed) + limit, {"c": merged})
    elif counted is None:
        table = query(VARIANTS_SQL.replace("{counted}", COUNTED_SQL) + limit, {"ev": ev})
    else:  # only the ordering is left to the engine
        table = query(VARIANTS_SQL.replace("{counted}", "SELECT v, n FROM var_in") + limit, {"var_in": {"v": counted["v"], "n": counted["n"]}})
    if table.num_rows == 0:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(1, dtype=np.int64), empty, empty, 0, 0
    totals = (int(table.column(c)[0].as_py()) for c in ("variants", "journeys"))
    seqs = table.column("v").combine_chunks()
    return (seqs.offsets.to_numpy().astype(np.int64), seqs.values.to_numpy().astype(np.int64),
            table.column("n").to_numpy(), *totals)


def picked_sequences(sequences: pa.LargeListArray, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and codes of ``sequences[picked]``, flat (a numpy gather: Arrow's list ``take`` is 8x slower).

    >>> s = pa.LargeListArray.from_arrays(np.array([0, 2, 3]), np.array([5, 6, 7]))
    >>> [a.tolist() for a in picked_sequences(s, np.array([1, 0]))]
    [[0, 1, 3], [7, 5, 6]]
    """
    bounds = sequences.offsets.to_numpy().astype(np.int64)
    offsets, rows = run_rows(bounds[picked], np.diff(bounds)[picked])
    return offsets, sequences.values.to_numpy().astype(np.int64)[rows]


def run_rows(starts: np.ndarray, size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the runs ``starts[k] : starts[k] + size[k]`` one after another, and the offsets of
    each run among them.

    >>> [a.tolist() for a in run_rows(np.array([4, 0]), np.array([2, 1]))]
    [[0, 2, 3], [4, 5, 0]]
    """
    offsets = np.zeros(len(size) + 1, dtype=np.int64)
    np.cumsum(size, out=offsets[1:])
    return offsets, np.repeat(starts - offsets[:-1], size) + np.arange(offsets[-1])


def _chunk_sequences(chunk: pa.Table) -> pa.Table:
    """The distinct sequences ``v`` and their counts ``n`` in a chunk of whole groups ``g`` (in ``i`` order)."""
    g, e = np.asarray(chunk.column("g")), np.asarray(chunk.column("e"), dtype=np.int64)
    counted = counted_sequences(g, e)
    if counted is None:  # two sequences share a hash (or no rows): the embedded engine groups them
        return query(COUNTED_SQL, {"ev": {"g": g, "e": e, "i": np.asarray(chunk.column("i"))}})
    return pa.table({"v": counted["v"], "n": counted["n"]})


def counted_sequences(g: np.ndarray, e: np.ndarray) -> dict[str, Any] | None:
    """The distinct code sequences ``v`` (an Arrow list column) of the contiguous groups ``g``, how many
    groups follow each (``n``) and the sequence of each group in order (``of``); None if two different
    sequences share a hash (then the engine groups them).

    A group's sequence hashes to a polynomial in a 64-bit odd constant (wrapping), its length mixed
    in; every group after the first of its hash is then compared with that one, code by code, so the result
    is exact.
    """
    n = len(g)
    if n == 0:
        return None
    starts = np.flatnonzero(run_starts(g))
    lengths = np.diff(np.append(starts, n))
    position = np.arange(n)
    position -= np.repeat(starts, lengths)
    powers = np.cumprod(np.full(int(lengths.max()), 0x9E3779B97F4A7C15, dtype=np.uint64))
    terms = e.astype(np.uint64)  # a fresh array, worked in place
    terms += np.uint64(1)
    with np.errstate(over="ignore"):
        terms *= powers[position]
    hashes = np.add.reduceat(terms, starts) ^ lengths.astype(np.uint64)
    variant, distinct = pd.factorize(hashes)
    first = np.empty(len(distinct), dtype=np.int64)
    first[variant[::-1]] = np.arange(len(variant) - 1, -1, -1)  # the first group of each hash
    model = first[variant]
    # only a group after the first of its hash is compared with that one, code by code
    later = np.flatnonzero(model != np.arange(len(model)))
    if (lengths[model[later]] != lengths[later]).any():
        return None
    mine, theirs = (run_rows(starts[groups], lengths[later])[1] for groups in (later, model[later]))
    if (e[mine] != e[theirs]).any():
        return None
    offsets, rows = run_rows(starts[first], lengths[first])
    sequences = pa.LargeListArray.from_arrays(offsets, e[rows].astype(np.int64))
    return {"v": sequences, "n": np.bincount(variant).astype(np.int64), "of": variant.astype(np.int64)}


#: most 64-bit words of packed codes per sequence :func:`sequence_order` sorts on, times sequences
_PACKED_WORDS = 30_000_000


def sequence_order(sequences: pa.LargeListArray, counts: np.ndarray) -> np.ndarray | None:
    """Positions of ``sequences`` by descending ``counts``, ties in sequence order (as SQL orders lists),
    or None when the packed keys would be too large (long sequences: the engine sorts them then).

    Codes + 1 are packed, most significant first, into 63-bit words of a fixed number of codes, so
    that comparing the words compares the sequences, a shorter prefix first (its missing codes are 0).
    """
    offsets = sequences.offsets.to_numpy().astype(np.int64)
    codes = sequences.flatten().to_numpy().astype(np.int64) + 1
    lengths = np.diff(offsets)
    if not len(codes):
        return None
    bits = int(codes.max()).bit_length()
    per_word = 63 // bits
    words = -(-int(lengths.max()) // per_word)
    if words * len(lengths) > _PACKED_WORDS:
        return None
    position = np.arange(len(codes)) - np.repeat(offsets[:-1], lengths)
    parts = codes << ((per_word - 1 - position % per_word) * bits)
    first = np.flatnonzero(position % per_word == 0)  # a word's first code; a word's codes are contiguous
    keys = np.zeros((words, len(lengths)), dtype=np.int64)
    keys[position[first] // per_word, np.repeat(np.arange(len(lengths)), lengths)[first]] = np.add.reduceat(parts, first)
    return np.lexsort((*keys[::-1], -counts))


# One group-by per session: its first row, time span, size, first/last code and
# its set of tag codes (e.g. channels; -1 = none) as a bit mask, decoded to the
# names joined in name order; beyond 62 tags the names are joined by the engine.
SESSION_SUMMARY_SQL = """
SELECT g, min(i) AS i0, min(u) AS u, min(t) AS t0, max(t) AS t1, count(*) AS n,
       min_by(e, i) AS first, max_by(e, i) AS last, {tags} AS tags{label}
FROM (SELECT *, {code} AS c FROM ev) ev {join}
GROUP BY g ORDER BY g
"""
MASK_TAGS = "coalesce(bit_or(CASE WHEN c >= 0 THEN CAST(1 AS BIGINT) << c END), 0)"
NAMED_TAGS = "{tag_names}"


def session_summary(ev: Table, tag_names: np.ndarray, tags: str | None = None,
                    label: str | None = None) -> dict[str, np.ndarray]:
    """Per group (session) of ``ev(i, g, u, t, e)``: first row ``i0``, user ``u``, first/last time
    ``t0``/``t1`` (µs), rows ``n``, first/last code, the sorted distinct ``tag_names`` of the
    codes in column ``tags`` (e.g. channels) joined by ``|`` (None when it has none, or no ``tags``)
    and, with ``label``, that column's value on the group's first row.
    """
    names = np.asarray(tag_names, dtype=object)
    masked = len(names) <= 62  # bits 0..62 of a signed 64-bit integer
    sql = SESSION_SUMMARY_SQL.format(code=tags or "-1", label=f", min_by({label}, i) AS label" if label else "",
        tags=MASK_TAGS if masked else NAMED_TAGS, join="" if masked else "LEFT JOIN tag USING (c)"
    )
    tables = {"ev": ev}
    if not masked:
        tables["tag"] = {"c": np.arange(len(names), dtype=np.int64), "name": names}
    out = run(sql, tables)
    if masked:  # few distinct sets: decode each once
        out["tags"] = _decode_masks(out["tags"].astype(np.int64), names)
    return out


def _decode_masks(masks: np.ndarray, names: np.ndarray) -> np.ndarray:
    """Bit masks over ``names`` → sorted names joined by ``|`` (None for an empty mask)."""
    distinct, inverse = np.unique(masks, return_inverse=True)
    order = np.argsort(names.astype(str), kind="stable")
    text = np.array(
        ["|".join(str(names[k]) for k in order if m >> int(k) & 1) or None for m in distinct], dtype=object
    )
    return text[inverse]


EVENT_COUNTS_SQL = "SELECT e, count(*) AS events, count(DISTINCT u) AS users FROM ev GROUP BY e ORDER BY e"


def event_counts(ev: Table) -> dict[str, np.ndarray]:
    """Per code ``e`` of ``ev(e, u)``: its rows (``events``) and distinct users (``users``)."""
    return run(EVENT_COUNTS_SQL, {"ev": ev})
