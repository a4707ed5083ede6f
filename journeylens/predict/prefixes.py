"""Journeys as integer-coded prefixes, and the features of a prefix.

A *prefix* is a journey cut after its k-th event (k = 1 … n). Every event of a
log is the last event of exactly one prefix, so a prefix is named by its row:
row r stands for "the journey so far, up to and including event r", and its
target is the journey's next event, or the end of the journey after its last.

:func:`read_events` is the one place that reads a log (through the engine's
feature table; a held log's code columns are brought into memory, 32 bytes an
event). Everything else is vectorised numpy over the codes.

Inputs are folded to a fixed alphabet learnt at fit time (:class:`Vocabulary`):
the ``max_classes`` most frequent training events keep their own code, rarer
ones and events unseen in training share ``OTHER``; ``BOS`` pads contexts that
reach back before the journey's first event and ``END`` is the target after
its last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import sql
from ..engine.kernels import run_starts
from ..core.protocol import JourneyLog
from ..errors import JourneyLensError

#: the target after a journey's last event, as the results name it
END_NAME = "<end>"
#: count features are kept for at most this many of the most frequent events
MAX_COUNTED = 32
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000


@dataclass(frozen=True)
class Events:
    """A log's events as codes, in log order (user, time, source row)."""

    u: np.ndarray  # user code (position in ``users``)
    e: np.ndarray  # event code (position in ``events``)
    t: np.ndarray  # epoch microseconds, UTC
    s: np.ndarray  # session of each row (0 without sessions)
    c: np.ndarray | None  # channel code (-1 missing), None when the log has no channel
    users: pd.Index
    events: pd.Index
    channels: pd.Index | None

    def __len__(self) -> int:
        return len(self.u)

    def heads(self, per: str = "user") -> np.ndarray:
        """True on the first row of each journey: a new user, or with ``per="session"`` a new session."""
        return run_starts(self.u) | run_starts(self.s) if per == "session" else run_starts(self.u)


def read_events(log: JourneyLog) -> Events:
    """The coded events of ``log`` (any engine), in log order."""
    channel, sessions = log.has("channel"), log.has("session_id")
    ev = log.journeys(window=False, columns=(("session",) if sessions else ()) + (("channel",) if channel else ()))
    columns = "u, t, e" + (", c_session AS s" if sessions else ", 0 AS s") + (", c_channel" if channel else "")
    rows = sql.run(f"SELECT {columns} FROM ev ORDER BY i", {"ev": ev})
    return Events(u=np.asarray(rows["u"], dtype=np.int64), e=np.asarray(rows["e"], dtype=np.int64),
                  t=np.asarray(rows["t"], dtype=np.int64), s=np.asarray(rows["s"]),
                  c=np.asarray(rows["c_channel"], dtype=np.int64) if channel else None,
                  users=pd.Index(log.users), events=pd.Index(log.event_names).astype(str),
                  channels=pd.Index(log.names("channel")).astype(str) if channel else None)


@dataclass(frozen=True)
class Vocabulary:
    """The input alphabet and the output classes, learnt from the training events.

    Codes ``0 … n-1`` are the kept events, most frequent first (ties by name);
    ``OTHER = n`` the rest; ``BOS = END = n + 1`` (padding as an input, the end as a
    target). Predictions of ``OTHER`` are shared out over the rare training events
    in proportion to their training counts, so every predicted name is a real one.
    """

    kept: pd.Index
    rare: pd.Index
    rare_share: np.ndarray
    channels: pd.Index

    @classmethod
    def fit(cls, events: Events, max_classes: int) -> "Vocabulary":
        if END_NAME in events.events:
            raise JourneyLensError(f"an event is named {END_NAME!r}, the name predictions give the end of a "
                                   "journey: rename it")
        counts = np.bincount(events.e, minlength=len(events.events))
        present = np.flatnonzero(counts)
        names = events.events[present]
        order = np.lexsort((names.to_numpy(dtype=str), -counts[present]))  # most frequent first, ties by name
        ranked, ranked_counts = names[order], counts[present][order]
        rare_counts = ranked_counts[max_classes:].astype(np.float64)
        share = rare_counts / rare_counts.sum() if len(rare_counts) else rare_counts
        channels = events.channels if events.channels is not None else pd.Index([], dtype=str)
        return cls(kept=ranked[:max_classes], rare=ranked[max_classes:], rare_share=share, channels=channels)

    @property
    def n(self) -> int:
        return len(self.kept)

    @property
    def other(self) -> int:
        return self.n

    @property
    def end(self) -> int:
        return self.n + 1

    bos = end

    @property
    def size(self) -> int:
        """Codes of inputs and targets alike: kept events, OTHER and BOS/END."""
        return self.n + 2

    def codes(self, events: Events) -> np.ndarray:
        """The input code of every row of ``events`` (OTHER for events this vocabulary does not keep)."""
        lookup = self.kept.get_indexer(events.events)
        lookup = np.where(lookup < 0, self.other, lookup)
        return lookup[events.e] if len(events.events) else np.zeros(0, dtype=np.int64)

    def channel_codes(self, events: Events) -> np.ndarray:
        """The training channel code of every row as floats, NaN where missing or unknown."""
        if events.c is None or not len(self.channels):
            return np.full(len(events), np.nan)
        lookup = self.channels.get_indexer(events.channels).astype(np.float64)
        lookup[lookup < 0] = np.nan
        return np.where(events.c >= 0, lookup[np.maximum(events.c, 0)], np.nan)

    def output_names(self) -> list[str]:
        """The classes of a distribution over outputs: kept events, rare events, then ``<end>``."""
        return [*map(str, self.kept), *map(str, self.rare), END_NAME]

    def expand(self, p: np.ndarray) -> np.ndarray:
        """Distributions over codes (rows × ``size``) as distributions over :meth:`output_names`."""
        return np.hstack([p[:, : self.n], p[:, [self.other]] * self.rare_share[None, :], p[:, [self.end]]])

    def top(self, p: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable outputs of each row (indices into :meth:`output_names`) and their
        probabilities; ties go to the earlier output (the more frequent event, ``<end>`` last)."""
        m = min(k, len(self.rare))
        q = np.hstack([p[:, : self.n], p[:, [self.other]] * self.rare_share[None, :m], p[:, [self.end]]])
        index = np.r_[np.arange(self.n + m), self.n + len(self.rare)]  # the columns of q as outputs
        best = np.argsort(-q, axis=1, kind="stable")[:, :k]
        return index[best], np.take_along_axis(q, best, axis=1)


@dataclass(frozen=True)
class Prefixes:
    """Every prefix of every journey: input codes, where its journey starts, and its target."""

    x: np.ndarray  # input code of each row
    start: np.ndarray  # row of the journey's first event
    y: np.ndarray  # target: the next row's input code, END after a journey's last row

    @classmethod
    def of(cls, x: np.ndarray, heads: np.ndarray, end: int) -> "Prefixes":
        n = len(x)
        start = np.maximum.accumulate(np.where(heads, np.arange(n), 0)) if n else np.zeros(0, dtype=np.int64)
        tail = np.ones(n, dtype=bool)
        tail[:-1] = heads[1:]
        y = np.full(n, end, dtype=np.int64)
        y[:-1] = x[1:]
        y[tail] = end
        return cls(x=x, start=start, y=y)

    @property
    def position(self) -> np.ndarray:
        """k: how many events the prefix holds (1 on a journey's first event)."""
        return np.arange(len(self.x)) - self.start + 1

    def is_last(self, rows: np.ndarray) -> np.ndarray:
        """Whether each row is its journey's last event."""
        nxt = np.minimum(rows + 1, len(self.x) - 1)
        return (rows == len(self.x) - 1) | (self.start[nxt] != self.start[rows])

    def lag(self, rows: np.ndarray, j: int, bos: int) -> np.ndarray:
        """The input code ``j`` events before each row's last (``bos`` before the journey's start)."""
        src = rows - j
        return np.where(src >= self.start[rows], self.x[np.maximum(src, 0)], bos)


@dataclass(frozen=True)
class Coded:
    """A log ready for a model: its events, their prefixes under a vocabulary, and channel codes."""

    events: Events
    p: Prefixes
    channel: np.ndarray  # the vocabulary's channel code of each row, NaN where missing

    @classmethod
    def of(cls, events: Events, vocab: Vocabulary, heads: np.ndarray) -> "Coded":
        return cls(events, Prefixes.of(vocab.codes(events), heads, vocab.end), vocab.channel_codes(events))

    def features(self, spec: "FeatureSpec", rows: np.ndarray, vocab: Vocabulary) -> np.ndarray:
        return spec.matrix(self.p, self.events.t, self.channel, rows, vocab)

    def users_of(self, rows: np.ndarray) -> pd.Index:
        """The user id of each row."""
        return pd.Index(self.events.users[self.events.u[rows]].astype(str), name="user_id")

    def last_of_users(self) -> np.ndarray:
        """The row of each user's last event: the state of their current journey."""
        u = self.events.u
        return np.flatnonzero(np.r_[u[1:] != u[:-1], True]) if len(u) else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class FeatureSpec:
    """Which features a prefix row has, in column order (see :meth:`names`).

    * sequence: the last ``order`` input codes (categorical, BOS-padded), the
      position k, and how often each of the ``counted`` most frequent events occurred so far;
    * ``timing``: seconds since the journey's first event, since the previous
      event, and the previous gap (NaN where there is none);
    * ``calendar``: hour of day (UTC, fractional) and weekday (Monday 0) of the last event;
    * ``channel``: the channel of the last event (categorical, NaN when missing).
    """

    order: int
    counted: int
    timing: bool
    calendar: bool
    channel: bool

    def names(self, vocab: Vocabulary) -> list[str]:
        out = [f"last_{j}" for j in range(self.order)] + ["position"]
        out += [f"count:{name}" for name in vocab.kept[: self.counted]]
        out += ["elapsed_s", "gap_s", "previous_gap_s"] if self.timing else []
        out += ["hour", "weekday"] if self.calendar else []
        return out + (["channel"] if self.channel else [])

    def categorical(self, vocab: Vocabulary) -> np.ndarray:
        names = self.names(vocab)
        return np.array([n.startswith("last_") or n == "channel" for n in names])

    def matrix(self, p: Prefixes, t: np.ndarray, channel: np.ndarray, rows: np.ndarray,
               vocab: Vocabulary) -> np.ndarray:
        """The features of the prefixes ending at ``rows`` (float32, one row each)."""
        out = np.empty((len(rows), len(self.names(vocab))), dtype=np.float32)
        for j in range(self.order):
            out[:, j] = p.lag(rows, j, vocab.bos)
        col = self.order
        start = p.start[rows]
        out[:, col] = rows - start + 1
        col += 1
        for code in range(self.counted):  # cumulative counts: one pass over the rows per counted event
            seen = np.concatenate([[0], np.cumsum(p.x == code)])
            out[:, col] = seen[rows + 1] - seen[start]
            col += 1
        if self.timing:
            first = rows > start
            out[:, col] = (t[rows] - t[start]) / 1e6
            out[:, col + 1] = np.where(first, (t[rows] - t[np.maximum(rows - 1, 0)]) / 1e6, np.nan)
            second = rows - 1 > start
            out[:, col + 2] = np.where(second, (t[np.maximum(rows - 1, 0)] - t[np.maximum(rows - 2, 0)]) / 1e6, np.nan)
            col += 3
        if self.calendar:
            out[:, col: col + 2] = _calendar(t[rows])
            col += 2
        if self.channel:
            out[:, col] = channel[rows]
        return out

    def extend(self, X: np.ndarray, t: np.ndarray, code: int, gap_us: int, channel: float,
               vocab: Vocabulary) -> np.ndarray:
        """The features of the prefixes ``X`` (whose last events happened at ``t``) extended by one
        more event ``code`` ``gap_us`` later, on ``channel`` (NaN for none)."""
        out = X.copy()
        out[:, 1: self.order] = X[:, : self.order - 1]
        out[:, 0] = code
        col = self.order
        out[:, col] += 1
        col += 1
        if code < self.counted:
            out[:, col + code] += 1
        col += self.counted
        if self.timing:
            out[:, col] = X[:, col] + gap_us / 1e6
            out[:, col + 1] = gap_us / 1e6
            out[:, col + 2] = X[:, col + 1]
            col += 3
        if self.calendar:
            out[:, col: col + 2] = _calendar(t + gap_us)
            col += 2
        if self.channel:
            out[:, col] = channel
        return out


def _calendar(t: np.ndarray) -> np.ndarray:
    """Hour of day (fractional) and weekday (Monday 0; 1970-01-01 was a Thursday) of epoch µs, UTC."""
    hour = (t % _DAY_US) / _HOUR_US
    weekday = (t // _DAY_US + 3) % 7
    return np.column_stack([hour, weekday])
