"""A mixture of first-order Markov chains over journeys, fitted by EM (Cadez et al., 2003).

Each persona ``j`` has a weight ``w_j``, first-state probabilities ``π_j``, a
transition matrix ``A_j`` over the states plus an *end* state (so how journeys
stop is part of the behaviour), and optionally emission probabilities of the
channel and of the device of each event. A user's journeys (one per user, or one
per session with ``per="session"``) are scored as

    log p(user | j) = Σ first(a)·log π_j(a) + Σ steps(a→b)·log A_j(a, b) + Σ emitted(c)·log φ_j(c)

so a user is summarised by sparse counts: the first states, the transition pairs
(``→ end`` included) and the emitted codes, each a group-by over the window pass of
the journeys (:func:`journeylens.engine.features.journey_counts`), never a loop over
events or users. EM works in log space on those counts with scipy.sparse matrix
products: the E-step is ``counts @ log(parameters).T`` (users × personas, dense),
the M-step is ``counts.T @ responsibilities``. Parameters are MAP estimates under a
symmetric Dirichlet prior of ``smoothing`` pseudo-counts per cell, so a transition
never seen in a persona keeps a small probability.

States are the ``top_events`` behaviour events done by most users and one
``(other)`` state for the rest, so the parameters stay small (``k × S × (S + 1)``)
with thousands of event types; an event unseen at fit time is ``(other)`` when
predicting. Outcome events (``goal``, ``lost``) are no states: their rows are
dropped before the window pass (``a > purchase > b`` is the step ``a → b``).

Restarts: ``n_init`` seeded starts, alternately from a k-means clustering of the
users' normalised counts and from random responsibilities, each refined by EM to
convergence (the mean log-likelihood per user gains less than ``tol``); the one
with the best log-likelihood wins.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..engine.features import journey_counts as count_journeys
from ..engine.features import top_events as ranked_events
from ..engine.kernels import distinct, summed_matrix
from .features import OTHER, feature_rows, journey_rows

#: emissions a log can carry, by the name of their code column in :func:`feature_rows`
EMISSIONS = ("channel", "device")


@dataclass(frozen=True)
class Counts:
    """Sparse sufficient statistics of every user with at least one behaviour event.

    ``X`` (users × columns) holds, side by side, the journeys starting in each state
    (block ``"first"``, S columns), the counts of the ``P`` transition pairs observed
    (block ``"steps"``; pair ``p`` is ``pair[p] = a·(S + 1) + b``, ``b = S`` the end) and
    the emitted codes of each emission (a block per name). ``users``: user codes of the
    log, one per row.
    """

    users: np.ndarray
    states: tuple[str, ...]
    pair: np.ndarray
    X: Any
    blocks: dict[str, slice]
    vocab: dict[str, tuple[str, ...]]
    once: tuple[str, ...] = ()  # emissions counted once per journey (their codes, not their rows)
    _t: list = field(default_factory=list, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.users)

    @property
    def S(self) -> int:
        return len(self.states)

    @property
    def emissions(self) -> tuple[str, ...]:
        return tuple(b for b in self.blocks if b not in ("first", "steps"))

    @property
    def XT(self):
        """``X`` transposed, as CSR (computed once: every M-step multiplies by it)."""
        if not self._t:
            self._t.append(self.X.T.tocsr())
        return self._t[0]

    def block(self, name: str):
        return self.X[:, self.blocks[name]]

    def rows(self, index: np.ndarray) -> "Counts":
        """The counts of a subset of users (positions ``index``), same states and pairs."""
        return Counts(self.users[index], self.states, self.pair, self.X[index], self.blocks, self.vocab, self.once)


def counts(log: Any, states: Sequence[str] | int, excluded: np.ndarray, per: str, emissions: Sequence[str],
           vocab: dict[str, tuple[str, ...]] | None = None, once: Sequence[str] | None = None) -> Counts:
    """The :class:`Counts` of ``log`` over ``states`` (an event outside them is ``(other)``; ``excluded``
    codes have no state). ``states`` given as a number N (at fit time): the N behaviour events done by
    most users, in name order, then ``(other)`` (kept even when empty, so that events unseen at fit time
    have a state when predicting). ``emissions``: the emission roles to count, those the log has;
    ``vocab`` and ``once``: as fitted (new codes are not counted), or None to take the log's codes and to
    choose which emissions are journey properties (:func:`journeylens.engine.features.journey_counts`)."""
    from scipy import sparse

    journeys = journey_rows(log, per)
    if isinstance(states, (int, np.integer)):
        ranked, _ = ranked_events(journeys, int(states), excluded)
        states = (*[str(n) for n in log.event_names[np.sort(ranked)]], OTHER)
    names = [str(n) for n in log.event_names]
    index = {s: j for j, s in enumerate(states)}
    state = np.array([index.get(n, index[OTHER]) for n in names], dtype=np.int64)  # one per event type
    state[np.asarray(excluded, dtype=np.int64)] = -1
    rows, level_names = feature_rows(log)
    present = [e for e in emissions if f"c_{e}" in level_names]
    raw = count_journeys(journeys, rows, state, len(states), [f"c_{e}" for e in present], per,
                         None if once is None else [f"c_{e}" for e in once])
    users = distinct(np.asarray(raw["first"]["u"], dtype=np.int64))  # every journey with a state has a first state
    n, S = len(users), len(states)
    row_of = np.zeros(int(users.max(initial=0)) + 1, dtype=np.int64)
    row_of[users] = np.arange(n)

    def matrix(table: dict, column: str, width: int, codes: np.ndarray | None = None):
        r = row_of[np.asarray(table["u"], dtype=np.int64)]
        c = np.asarray(table[column], dtype=np.int64) if codes is None else codes
        keep = c >= 0
        # repeated (user, column) rows add up
        return summed_matrix(table["n"][keep], r[keep], c[keep], (n, width), dtype=np.float64)

    steps = raw["steps"]
    key = np.asarray(steps["a"], dtype=np.int64) * (S + 1) + np.asarray(steps["b"], dtype=np.int64)
    seen = np.bincount(key, minlength=S * (S + 1)) > 0  # the observed pairs, without sorting the steps
    pair = np.flatnonzero(seen)
    column = (np.cumsum(seen) - 1)[key]
    blocks = {"first": matrix(raw["first"], "a", S), "steps": matrix(steps, "a", len(pair), column)}
    fitted = dict(vocab or {})
    for e in present:
        table = raw[f"c_{e}"]
        own = level_names[f"c_{e}"]
        if vocab is None:
            fitted[e] = tuple(own)
            codes = np.asarray(table["c"], dtype=np.int64)
        else:
            known = {c: j for j, c in enumerate(vocab.get(e, ()))}
            codes = np.array([known.get(c, -1) for c in own], dtype=np.int64)[np.asarray(table["c"], dtype=np.int64)]
        blocks[e] = matrix(table, "c", len(fitted.get(e, ())), codes)
    edges = np.cumsum([0] + [b.shape[1] for b in blocks.values()])
    return Counts(users, tuple(states), pair.astype(np.int64), sparse.hstack(list(blocks.values()), format="csr"),
                  {name: slice(int(a), int(b)) for name, a, b in zip(blocks, edges[:-1], edges[1:])},
                  {e: fitted[e] for e in present if e in fitted}, tuple(e for e in present if f"c_{e}" in raw["once"]))


@dataclass(frozen=True)
class Mixture:
    """Log-parameters of a fitted mixture: ``log_w`` (k), ``log_first`` (k × S), ``log_step``
    (k × S × (S + 1), the last column the end), ``log_emit[name]`` (k × codes)."""

    log_w: np.ndarray
    log_first: np.ndarray
    log_step: np.ndarray
    log_emit: dict[str, np.ndarray]

    @property
    def k(self) -> int:
        return len(self.log_w)

    def columns(self, c: Counts) -> np.ndarray:
        """The log-parameters of the columns of ``c.X`` (columns × k)."""
        k = self.k
        parts = [self.log_first, self.log_step.reshape(k, -1)[:, c.pair], *(self.log_emit[e] for e in c.emissions)]
        return np.ascontiguousarray(np.hstack(parts).T)

    def joint(self, c: Counts) -> np.ndarray:
        """``log w_j + log p(user | j)`` for every user and persona (users × k)."""
        out = c.X @ self.columns(c)
        out += self.log_w
        return out

    def keep(self, personas: np.ndarray) -> "Mixture":
        """The mixture of the given personas only, weights renormalised."""
        w = self.log_w[personas]
        return Mixture(w - _logsumexp(w[None, :])[0], self.log_first[personas], self.log_step[personas],
                       {k: v[personas] for k, v in self.log_emit.items()})


def _logsumexp(x: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of a users × k array, one column at a time (k is small, users many)."""
    top = x[:, 0].copy()
    for j in range(1, x.shape[1]):
        np.maximum(top, x[:, j], out=top)
    total = np.zeros_like(top)
    for j in range(x.shape[1]):
        total += np.exp(x[:, j] - top)
    return top + np.log(total)


def posterior(m: Mixture, c: Counts) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities (users × k) and each user's log-likelihood."""
    joint = m.joint(c)
    ll = _logsumexp(joint)
    joint -= ll[:, None]
    np.exp(joint, out=joint)
    return joint, ll


def _normalised(counts: np.ndarray, alpha: float) -> np.ndarray:
    """Log of the MAP probabilities along the last axis under a Dirichlet(alpha + 1) prior."""
    smoothed = counts + alpha
    return np.log(smoothed) - np.log(smoothed.sum(axis=-1, keepdims=True))


def m_step(c: Counts, R: np.ndarray, alpha: float) -> Mixture:
    """Parameters maximising the expected complete log-likelihood (plus the prior) given ``R``."""
    k, S = R.shape[1], c.S
    size = R.sum(axis=0)
    log_w = np.log(np.maximum(size, 1e-300) / max(size.sum(), 1e-300))
    N = (c.XT @ R).T  # k × columns: expected counts per persona
    step = np.zeros((k, S * (S + 1)))
    step[:, c.pair] = N[:, c.blocks["steps"]]
    return Mixture(log_w, _normalised(N[:, c.blocks["first"]], alpha),
                   _normalised(step.reshape(k, S, S + 1), alpha),
                   {e: _normalised(N[:, c.blocks[e]], alpha) for e in c.emissions})


def free_parameters(c: Counts, k: int) -> int:
    """Parameters on the observed support, per persona, plus k − 1 weights: first states seen − 1, per
    source state its seen outcomes − 1, per emission its seen codes − 1 (seen anywhere in ``c``)."""
    S = c.S
    seen = np.asarray(c.X.sum(axis=0)).ravel() > 0
    sources = np.bincount(c.pair // (S + 1), minlength=S)
    per = max(int(seen[c.blocks["first"]].sum()) - 1, 0) + int(np.maximum(sources - 1, 0).sum())
    per += sum(max(int(seen[c.blocks[e]].sum()) - 1, 0) for e in c.emissions)
    return k * per + k - 1


@dataclass(frozen=True)
class Fit:
    mixture: Mixture
    loglik: float  # total over users
    n_iter: int
    converged: bool
    labels: np.ndarray  # each user's most likely persona under ``mixture``


def em(c: Counts, start: Mixture, alpha: float, tol: float, max_iter: int) -> Fit:
    """EM from ``start`` until the mean log-likelihood per user gains less than ``tol`` (or ``max_iter``)."""
    m, before = start, -np.inf
    for it in range(1, max_iter + 1):
        R, ll = posterior(m, c)
        total = float(ll.sum())
        if total - before < tol * c.n:
            return Fit(m, total, it, True, R.argmax(axis=1))
        before = total
        m = m_step(c, R, alpha)
    R, ll = posterior(m, c)
    return Fit(m, float(ll.sum()), max_iter, False, R.argmax(axis=1))


def _start(c: Counts, k: int, seed: int, alpha: float, kind: str) -> Mixture:
    """A start for EM: one M-step from a seeded partition of the users.

    ``"kmeans"``: k-means (one run) on each user's counts, every block normalised to
    shares and the row to unit length; ``"random"``: nearly hard random responsibilities
    (Dirichlet 0.1). The two fail differently (k-means can lock onto one dense block
    such as the device; random starts can stall near the symmetric point), so
    restarts alternate between them.
    """
    rng = np.random.default_rng(seed)
    if kind == "random" or k == 1:
        return m_step(c, rng.dirichlet(np.full(k, 0.1), size=c.n), alpha)
    from scipy import sparse
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import normalize

    blocks = [normalize(c.block(b), norm="l1") for b, cols in c.blocks.items() if cols.stop > cols.start]
    X = normalize(sparse.hstack(blocks, format="csr"))
    labels = KMeans(k, n_init=1, random_state=seed).fit_predict(X)
    R = np.zeros((c.n, k))
    R[np.arange(c.n), labels] = 1.0
    return m_step(c, R, alpha)


def fit_mixture(c: Counts, k: int, rng: np.random.Generator, n_init: int, alpha: float, tol: float,
                max_iter: int) -> Fit:
    """The best (highest log-likelihood; the earliest on a tie) of ``n_init`` seeded starts, alternately
    k-means and random, each refined by EM to convergence (ranking starts after a few iterations picks
    the wrong ones).

    The starts run on every core, one thread each (their k-means on one core: many small fits gain
    nothing from more and lose much when the cores are oversubscribed). Their seeds are drawn first, in
    order, so the fit is the same as one start after the other; EM's sparse products leave the
    interpreter lock.
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    seeds = [int(rng.integers(2**31)) for _ in range(n_init)]

    def refined(r: int) -> Fit:
        return em(c, _start(c, k, seeds[r], alpha, "kmeans" if r % 2 == 0 else "random"), alpha, tol, max_iter)

    with threadpool_limits(1), ThreadPoolExecutor(max(1, min(n_init, os.cpu_count() or 1))) as pool:
        fits = list(pool.map(refined, range(n_init)))
    return max(fits, key=lambda fit: fit.loglik)  # max keeps the first of equal ones


def summary(m: Mixture, c: Counts) -> dict[str, float]:
    """Log-likelihood, BIC and ICL (both on the −2 log-likelihood scale: lower is better) of ``m`` on ``c``."""
    R, ll = posterior(m, c)
    loglik = float(ll.sum())
    bic = -2 * loglik + free_parameters(c, m.k) * np.log(c.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -float(np.nansum(R * np.log(R)))
    return {"loglik": loglik, "bic": bic, "icl": bic + 2 * entropy}


def transitions(m: Mixture, states: Sequence[str]) -> pd.DataFrame:
    """The transition probabilities of every persona (numbered from 0) as a long table."""
    k, S = m.k, len(states)
    targets = np.asarray([*states, "(end)"], dtype=object)
    j, a, b = np.meshgrid(np.arange(k), np.arange(S), np.arange(S + 1), indexing="ij")
    return pd.DataFrame({"persona": j.ravel(), "source": np.asarray(states, dtype=object)[a.ravel()],
                         "target": targets[b.ravel()], "probability": np.exp(m.log_step).ravel()})


#: a k whose partitions of two halves of the users agree less than this (adjusted Rand index) is not stable
STABILITY = 0.8


def choose_k(c: Counts, ks: Sequence[int], rng: np.random.Generator, n_init: int, alpha: float, tol: float,
             max_iter: int) -> tuple[int, pd.DataFrame, dict[int, Fit]]:
    """k by BIC among the stable ks (see :class:`~journeylens.personas.model.PersonaModel`), the scores
    table and the fit of every k tried on ``c``.

    The ks are fitted in increasing order until the BIC has risen above its best for two ks in a
    row; then stability is measured in increasing order of BIC until a stable k is found (the ks
    not needed for the choice have no stability, NaN).
    """
    from sklearn.metrics import adjusted_rand_score

    rows, fits = [], {}
    for k in ks:
        fits[k] = fit_mixture(c, k, rng, n_init, alpha, tol, max_iter)
        rows.append({"k": k, **summary(fits[k].mixture, c)})
        bic = [r["bic"] for r in rows]
        if len(bic) >= 3 and min(bic[-2:]) > min(bic[:-2]):
            break
    scores = pd.DataFrame(rows).assign(heldout_loglik=np.nan, stability=np.nan)
    order = rng.permutation(c.n)
    h = c.n // 2
    halves = c.rows(np.sort(order[:h])), c.rows(np.sort(order[h:2 * h]))
    chosen = None
    for i in scores["bic"].sort_values(kind="stable").index:
        k = int(scores.loc[i, "k"])
        half = [fit_mixture(part, k, rng, n_init, alpha, tol, max_iter) for part in halves]
        labels = [posterior(f.mixture, c)[0].argmax(axis=1) for f in half]
        held = posterior(half[0].mixture, halves[1])[1].sum() + posterior(half[1].mixture, halves[0])[1].sum()
        scores.loc[i, ["heldout_loglik", "stability"]] = [float(held) / (2 * h),
                                                         float(adjusted_rand_score(labels[0], labels[1]))]
        if scores.loc[i, "stability"] >= STABILITY:
            chosen = k
            break
    if chosen is None:  # no k is stable: the lowest BIC
        chosen = int(scores.loc[scores["bic"].idxmin(), "k"])
    scores["chosen"] = scores["k"] == chosen
    return chosen, scores, fits


def dissolve_small(c: Counts, fit: Fit, min_users: int, alpha: float, tol: float, max_iter: int) -> tuple[Fit, int]:
    """While the smallest persona (users assigned to it) has fewer than ``min_users``, drop it and refit
    EM from the others' parameters (its users go where they are next most likely); how many were dropped."""
    dropped = 0
    while fit.mixture.k > 1:
        sizes = np.bincount(fit.labels, minlength=fit.mixture.k)
        if sizes.min() >= min_users:
            break
        rest = np.delete(np.arange(fit.mixture.k), int(np.argmin(sizes)))
        fit = em(c, fit.mixture.keep(rest), alpha, tol, max_iter)
        dropped += 1
    return fit, dropped
