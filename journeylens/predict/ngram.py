"""The back-off n-gram over prefixes: the next event given the last events of a journey.

For a prefix, the context of length j is its last j input codes (padded with
BOS before the journey's first event, so a short context also says "the journey
started here"). The model counts, for every context of length 0 … ``order``, how
often each target followed it in training. A prefix is predicted from its longest
context seen at least ``min_count`` times, backing off to shorter ones (length 0,
the overall target frequencies, always answers). The distribution is that
context's relative frequencies (ties between targets are broken by the caller).

Counting is a group-by of integer keys per context length (a context of length j
is one int64: its codes in base ``size``), so fitting is ``order + 1`` sorts of
the rows, and predicting ``order`` binary searches per prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .prefixes import Prefixes


@dataclass(frozen=True)
class _Level:
    """The contexts of one length seen at least ``min_count`` times: sorted keys, counts per target."""

    keys: np.ndarray
    counts: object  # scipy.sparse.csr_matrix, contexts × targets
    total: np.ndarray


class BackoffNgram:
    """Back-off n-gram counts (see the module docstring); ``size`` codes of inputs and targets."""

    def __init__(self, order: int, min_count: int, size: int) -> None:
        self.order, self.min_count, self.size = order, min_count, size

    def keys(self, p: Prefixes, rows: np.ndarray):
        """Context keys of ``rows`` for lengths 0, 1, …, order (yielded in that order)."""
        bos = self.size - 1  # the vocabulary's padding code
        key = np.zeros(len(rows), dtype=np.int64)
        yield key
        weight = 1
        for j in range(self.order):
            key = key + p.lag(rows, j, bos) * weight
            weight *= self.size
            yield key

    def fit(self, p: Prefixes, rows: np.ndarray) -> "BackoffNgram":
        from scipy.sparse import csr_matrix

        y = p.y[rows]
        self.levels_: list[_Level] = []
        for j, key in enumerate(self.keys(p, rows)):
            pair, n = np.unique(key * self.size + y, return_counts=True)
            ctx_key, target = np.divmod(pair, self.size)
            keys, ctx = np.unique(ctx_key, return_inverse=True)
            counts = csr_matrix((n, (ctx, target)), shape=(len(keys), self.size))
            total = np.asarray(counts.sum(axis=1)).ravel()
            keep = total >= self.min_count if j else np.ones(len(keys), dtype=bool)
            self.levels_.append(_Level(keys[keep], counts[keep], total[keep]))
        return self

    def lookup(self, p: Prefixes, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each row, the context length used and that context's index in its level."""
        level = np.zeros(len(rows), dtype=np.int64)
        index = np.zeros(len(rows), dtype=np.int64)
        for j, key in enumerate(self.keys(p, rows)):
            if j == 0:
                continue
            keys = self.levels_[j].keys
            at = np.minimum(np.searchsorted(keys, key), max(len(keys) - 1, 0))
            found = keys[at] == key if len(keys) else np.zeros(len(rows), dtype=bool)
            level[found], index[found] = j, at[found]  # longer contexts overwrite shorter ones
        return level, index

    def proba(self, p: Prefixes, rows: np.ndarray) -> np.ndarray:
        """The distribution over targets of each row (rows × ``size``)."""
        level, index = self.lookup(p, rows)
        out = np.zeros((len(rows), self.size))
        for j, lv in enumerate(self.levels_):
            at = np.flatnonzero(level == j)
            if len(at):
                out[at] = lv.counts[index[at]].toarray() / lv.total[index[at], None]
        return out

