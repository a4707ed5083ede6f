"""PersonaModel: data-driven personas as a scikit-learn style clustering estimator, two methods.

``method="markov"`` (the default): a mixture of first-order Markov chains over the
users' journeys (:mod:`journeylens.personas.markov`), with channel and device
emissions when the log has them. Each persona is a way of moving through the
touchpoints: where journeys start, what follows what, where they stop.

``method="features"``: k-means (mini-batch above ``minibatch_above`` users) or
HDBSCAN on the per-user feature table (:func:`~journeylens.personas.features.user_features`).

Why the sequence model is the default (measured in ``tests/test_personas_markov.py``
and ``benchmarks/bench_personas.py``): on planted mixtures of Markov chains with
short journeys (3–6 events) and shared channels, its adjusted Rand index is within
0.05 of the Bayes-optimal assignment, with the right k, where the feature table
(event and bigram shares of a handful of events) loses most of the order that
tells the personas apart; it needs no choice of columns, and its parameters are a
description in themselves (first touchpoints, transitions, exits).

**Choosing k, markov** (``k="auto"``): on a seeded sample of up to
``sample_size`` users (20,000 by default), every k of ``k_range`` is fitted
(``n_init`` restarts, the best log-likelihood kept), and the sample is also cut
into two random halves, each fitted on its own. ``scores_`` has, per k:
``loglik``; ``bic`` = −2·loglik + p·ln(n) with p the free parameters on the
observed support (first states seen − 1, outcomes seen per source state − 1,
codes seen per emission − 1, per persona, plus k − 1 weights); ``icl`` = BIC +
2·entropy of the responsibilities (shown, not used); ``heldout_loglik``: mean
log-likelihood per user of each half under the other half's fit; ``stability``:
adjusted Rand index between the two halves' partitions of the whole sample. The
chosen k is the **lowest BIC among the stable ks** (stability ≥
:data:`~journeylens.personas.markov.STABILITY`, 0.5); when no k is stable, the
lowest BIC. The final model is then refined by EM on all users from the sample's
fit.

**Choosing k, features** (``k="auto"``): prediction strength (Tibshirani & Walther,
2005) on halves of ``sample_size`` users (3,000 by default): the largest k whose
prediction strength is within :data:`PS_TOLERANCE` of the best (see
:func:`prediction_strength`). ``scores_``: ``k, prediction_strength, silhouette, chosen``.

**Small personas** (both methods): a persona with fewer than ``min_size`` users (a
fraction of all users, 1% by default, or a count) is dissolved: its users go to
their next most likely persona (the mixture is refitted by EM without it; k-means
reassigns to the nearest remaining centre), until every persona is large enough.
``merged_`` says how many were dissolved.

**Features method input**: the default columns are the shares (``channel:``,
``device:``, ``stage:``, ``event:``, ``bigram:``), one volume feature
(``n_events``) and ``median_gap_s``, the latter two log1p-compressed; outcome
events are not among them (``include_goal=False``). A missing value (no gap for a
single-event user) is imputed with the column's median over the users fitted, so
it marks nobody as a persona of its own.

Personas are numbered by size, largest first. A fitted model keeps no log and no
feature table: describe the personas with ``jl.profile(log, model.personas(), goal=...)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.protocol import JourneyLog
from ..core.params import choice, fraction, positive_int
from ..engine.kernels import distinct
from ..errors import ParameterError
from ..estimator import Estimator
from . import markov
from .features import TOP_EVENTS, check_per, excluded_codes, outcome_events, user_features

#: methods of :class:`PersonaModel`
METHODS = ("markov", "features")
#: column prefixes of count-like features, compressed with log1p before scaling
_COUNTS = ("n_events", "n_sessions", "active_days", "tenure_days", "recency_days",
           "events_per_active_day", "median_gap_s", "mean_gap_s")
#: k-means restarts per fit while scanning k, and for the sample that starts the final fit
_SCAN_INIT = 4
_FINAL_INIT = 10
#: ks whose prediction strength is this close to the best count as reproducible; the largest is chosen
PS_TOLERANCE = 0.02
#: default feature columns (prefixes) of the features method: shares, one volume feature and the tempo
DEFAULT_FEATURES = ("n_events", "median_gap_s", "channel:", "device:", "stage:", "event:", "bigram:")
#: users that choose k, by method, when ``sample_size`` is None
SAMPLE_SIZE = {"markov": 20_000, "features": 3_000}


class PersonaModel(Estimator):
    """Derive personas from behaviour (see the module docstring for the methods and the choice of k).

    ``fit`` takes a log (in memory or held by an engine) for both methods;
    ``method="features"`` also takes a per-user feature table indexed by user id
    (:func:`user_features`). After fitting: ``labels_`` (persona per user, 0 =
    largest; -1 = HDBSCAN noise), ``users_`` (their ids: the users with at least
    one behaviour event), ``k_``, ``scores_`` (with ``k="auto"``, else None),
    ``merged_``; markov: ``weights_``, ``states_``, ``loglik_``, ``n_iter_``,
    ``converged_`` and :meth:`transitions`; features: ``feature_names_in_``,
    ``centers_`` (in scaled feature space), ``estimator_``.

    ``predict`` gives the persona of each user of a log (markov: most likely
    persona; features: nearest centre), ``predict_proba`` the mixture's
    probabilities (markov), :meth:`personas` the labels by user id for ``by=``.

    >>> import journeylens as jl
    >>> log = jl.datasets.make_event_log(n_customers=2000, seed=0)
    >>> model = jl.PersonaModel(k=4, goal="order_placed", random_state=0).fit(log)
    >>> model.k_, len(model.personas()), model.states_[:3]
    (4, 2000, ('account_created', 'app_install', 'cart'))
    >>> profiles = jl.profile(log, model.personas(), goal="order_placed")
    >>> int(profiles.to_frame()["users"].sum())
    2000
    """

    _fitted_attribute = "labels_"

    _estimator_type = "clusterer"

    def __init__(
        self,
        k: int | str = "auto",
        *,
        method: str = "markov",
        goal: str | Sequence[str] | None = None,
        lost: str | Sequence[str] | None = None,
        include_goal: bool = False,
        k_range: tuple[int, int] = (2, 8),
        min_size: float | int = 0.01,
        sample_size: int | None = None,
        per: str = "user",
        emissions: Sequence[str] = markov.EMISSIONS,
        top_events: int = TOP_EVENTS,
        smoothing: float = 0.5,
        n_init: int = 4,
        tol: float = 1e-5,
        max_iter: int = 300,
        features: Sequence[str] | None = None,
        algorithm: str = "kmeans",
        n_repeats: int = 4,
        minibatch_above: int = 100_000,
        random_state: int | None = 0,
    ) -> None:
        self.k = k
        self.method = method
        self.goal = goal
        self.lost = lost
        self.include_goal = include_goal
        self.k_range = k_range
        self.min_size = min_size
        self.sample_size = sample_size
        self.per = per
        self.emissions = emissions
        self.top_events = top_events
        self.smoothing = smoothing
        self.n_init = n_init
        self.tol = tol
        self.max_iter = max_iter
        self.features = features
        self.algorithm = algorithm
        self.n_repeats = n_repeats
        self.minibatch_above = minibatch_above
        self.random_state = random_state

    def _fitted(self) -> None:
        self._check_fitted()

    def _check(self) -> tuple[int | None, float]:
        """Every parameter checked before any work; the fixed k (None for "auto") and the sample size."""
        choice(self.method, "method", METHODS)
        k = None if isinstance(self.k, str) and self.k == "auto" else positive_int(self.k, "k")
        bad_range = not (isinstance(self.k_range, (tuple, list)) and len(self.k_range) == 2
                         and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in self.k_range)
                         and (1 if self.method == "markov" else 2) <= self.k_range[0] <= self.k_range[1])
        if bad_range:
            low = 1 if self.method == "markov" else 2
            raise ParameterError(f"k_range must be (low, high) with {low} ≤ low ≤ high, not {self.k_range!r}",
                                 "k_range")
        if isinstance(self.min_size, (float, np.floating)):
            fraction(self.min_size, "min_size", high=0.5)
        else:
            positive_int(self.min_size, "min_size", minimum=0)
        positive_int(self.sample_size, "sample_size", minimum=4, allow_none=True)
        choice(self.per, "per", ("user", "session"))
        if isinstance(self.emissions, str) or not set(self.emissions) <= set(markov.EMISSIONS):
            raise ParameterError(f"emissions must be a list out of {list(markov.EMISSIONS)}, not {self.emissions!r}",
                                 "emissions")
        positive_int(self.top_events, "top_events")
        for name in ("smoothing", "tol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not value > 0:
                raise ParameterError(f"{name} must be a positive number, not {value!r}", name)
        positive_int(self.n_init, "n_init")
        positive_int(self.max_iter, "max_iter")
        choice(self.algorithm, "algorithm", ("kmeans", "minibatch_kmeans", "hdbscan"))
        positive_int(self.n_repeats, "n_repeats")
        positive_int(self.minibatch_above, "minibatch_above")
        if not isinstance(self.include_goal, (bool, np.bool_)):
            raise ParameterError(f"include_goal must be True or False, not {self.include_goal!r}", "include_goal")
        return k, self.sample_size or SAMPLE_SIZE[self.method]

    def _min_users(self, n: int) -> int:
        """Users a persona needs (at least one: an empty persona is always dissolved)."""
        size = np.ceil(self.min_size * n) if isinstance(self.min_size, (float, np.floating)) else self.min_size
        return max(1, int(size))

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "PersonaModel":
        """Find the personas of the users of ``X`` (a log; or a feature table with ``method="features"``)."""
        k, sample_size = self._check()
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("_")]:
            delattr(self, name)  # a refit never keeps attributes of an earlier fit
        if self.method == "markov":
            self._fit_markov(X, k, sample_size)
        else:
            self._fit_features(X, k, sample_size)
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def _log(self, X: Any) -> JourneyLog:
        if not isinstance(X, JourneyLog):
            raise ParameterError("method='markov' fits journeys: pass the log (any engine), "
                                 f"not a {type(X).__name__}", "X")
        return X

    def _fit_markov(self, X: Any, k: int | None, sample_size: int) -> None:
        log = self._log(X)
        check_per(self.per, log)
        goals, losts = outcome_events(log, self.goal, self.lost)
        excluded = excluded_codes(log, goals, losts, self.include_goal)
        counts = markov.counts(log, int(self.top_events), excluded, self.per, self.emissions)
        if counts.n < 2:
            raise ParameterError(f"need at least 2 users with behaviour events to find personas, got {counts.n}", "X")
        rng = np.random.default_rng(self.random_state)
        sample = counts if counts.n <= sample_size else counts.rows(np.sort(rng.choice(counts.n, sample_size,
                                                                                        replace=False)))
        options = (float(self.smoothing), float(self.tol), int(self.max_iter))
        if k is None:
            lo, hi = self.k_range
            ks = range(lo, min(hi, sample.n // 2) + 1)
            if not len(ks):
                raise ParameterError(f"too few users ({counts.n}) to choose k in {self.k_range}: give k", "k")
            k, scores, fits = markov.choose_k(sample, ks, rng, int(self.n_init), *options)
            fit = fits[k]
        else:
            if k > counts.n:
                raise ParameterError(f"k={k} is more than the {counts.n} users", "k")
            scores, fit = None, markov.fit_mixture(sample, k, rng, int(self.n_init), *options)
        if sample is not counts:
            fit = markov.em(counts, fit.mixture, *options)
        fit, merged = markov.dissolve_small(counts, fit, self._min_users(counts.n), *options)
        order = _by_size(fit.labels)
        self.mixture_ = fit.mixture.keep(order)
        self.labels_ = np.argsort(order)[fit.labels]
        self.users_ = pd.Index(log.users[counts.users].astype(str), name="user_id")
        self.k_, self.scores_, self.merged_ = len(order), scores, merged
        self.weights_ = np.exp(self.mixture_.log_w)
        self.states_ = counts.states
        self.loglik_, self.n_iter_, self.converged_ = fit.loglik, fit.n_iter, fit.converged
        self._vocab, self._once = counts.vocab, counts.once

    def _markov_counts(self, X: Any) -> tuple[markov.Counts, JourneyLog]:
        log = self._log(X)
        check_per(self.per, log)
        goals, losts = outcome_events(log, self.goal, self.lost)
        excluded = excluded_codes(log, goals, losts, self.include_goal)
        return markov.counts(log, self.states_, excluded, self.per, list(self._vocab), self._vocab, self._once), log

    def transitions(self) -> pd.DataFrame:
        """Each persona's transition probabilities: ``persona, source, target, probability`` (target
        ``(end)``: the journey stops), persona labels as :meth:`personas` names them."""
        self._fitted()
        table = markov.transitions(self.mixture_, self.states_)
        table["persona"] = "persona " + (table["persona"] + 1).astype(str)
        return table

    # -- the features method ------------------------------------------------------------------------
    def _table(self, X: Any) -> pd.DataFrame:
        if isinstance(X, JourneyLog):
            return user_features(X, goal=self.goal, lost=self.lost, include_goal=self.include_goal,
                                 top_events=self.top_events)
        if isinstance(X, pd.DataFrame):
            return X
        raise ParameterError("PersonaModel(method='features') takes a log or a per-user feature DataFrame, "
                             f"not a {type(X).__name__}", "X")

    def _select(self, table: pd.DataFrame) -> list[str]:
        prefixes = tuple(self.features) if self.features is not None else DEFAULT_FEATURES
        cols = [c for c in table.columns if c.startswith(prefixes) and pd.api.types.is_numeric_dtype(table[c])]
        if not cols:
            raise ParameterError(f"no feature columns match {list(prefixes)} (columns: {list(table.columns)[:10]})",
                                 "features")
        return cols

    def _matrix(self, table: pd.DataFrame) -> np.ndarray:
        """A new float matrix of the fitted feature columns (0 where the table lacks one), count-like
        ones log1p-compressed, missing values still NaN. Filled column by column (a loop over features,
        not users): no copy of the whole table on the way, and the caller's table is never touched."""
        values = np.zeros((len(table), len(self.feature_names_in_)))
        for j, name in enumerate(self.feature_names_in_):
            if name in table.columns:
                column = table[name].to_numpy(dtype=np.float64)
                values[:, j] = np.log1p(np.maximum(column, 0)) if name.startswith(_COUNTS) else column
        return values

    def _scaled(self, table: pd.DataFrame) -> np.ndarray:
        """The fitted columns of ``table``, missing values imputed, standardised as at fit time."""
        Z = self._matrix(table)
        missing = np.isnan(Z)
        if missing.any():
            Z[missing] = np.broadcast_to(self.impute_, Z.shape)[missing]
        Z -= self.mean_
        Z /= self.scale_
        return Z

    def _fit_features(self, X: Any, k: int | None, sample_size: int) -> None:
        table = self._table(X)
        self.feature_names_in_ = np.asarray(self._select(table), dtype=object)
        if len(table) < 2:
            raise ParameterError(f"need at least 2 users to find personas, got {len(table)}", "X")
        Z = self._matrix(table)  # standardised in place below: one users × features matrix in memory
        missing = np.isnan(Z)
        with np.errstate(all="ignore"):
            self.impute_ = np.nan_to_num(np.nanmedian(Z, axis=0)) if missing.any() else np.zeros(Z.shape[1])
        Z[missing] = np.broadcast_to(self.impute_, Z.shape)[missing]
        del missing
        self.mean_ = Z.mean(axis=0)
        sd = Z.std(axis=0)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z -= self.mean_
        Z /= self.scale_
        rng = np.random.default_rng(self.random_state)
        if self.algorithm == "hdbscan":
            k, scores = None, None
        elif k is None:
            k, scores = self._choose_k(Z, rng, sample_size)
        else:
            if k > len(Z):
                raise ParameterError(f"k={k} is more than the {len(Z)} users", "k")
            scores = None
        self.estimator_ = self._cluster(Z, rng, k, sample_size)
        raw_labels = np.asarray(self.estimator_.labels_)
        if not (raw_labels >= 0).any():
            raise ParameterError("HDBSCAN put every user in noise: use k-means or more users", "algorithm")
        centers = np.vstack([Z[raw_labels == j].mean(axis=0) for j in np.unique(raw_labels[raw_labels >= 0])])
        labels = np.where(raw_labels >= 0, np.searchsorted(distinct(raw_labels[raw_labels >= 0]), raw_labels), -1)
        labels, centers, merged = _dissolve_centres(Z, labels, centers, self._min_users(len(Z)))
        order = _by_size(labels)
        rank = np.argsort(order)
        self.labels_ = np.where(labels >= 0, rank[np.maximum(labels, 0)], -1)
        self.centers_ = centers[order]
        self.k_, self.scores_, self.merged_ = len(order), scores, merged
        self.users_ = pd.Index(table.index.astype(str), name="user_id")

    def _estimator(self, k: int, n: int, seed: int, n_init: int, init: Any = "k-means++"):
        from sklearn.cluster import KMeans, MiniBatchKMeans

        if self.algorithm == "minibatch_kmeans" or n > self.minibatch_above:
            return MiniBatchKMeans(n_clusters=k, init=init, batch_size=4096, n_init=min(n_init, 3), random_state=seed)
        return KMeans(n_clusters=k, init=init, n_init=n_init, random_state=seed)

    def _cluster(self, Z: np.ndarray, rng: np.random.Generator, k: int | None, sample_size: int):
        """The clustering of every user. k-means starts from the centres of a k-means with 10 restarts
        on a sample: one refinement pass over millions of users, not 10 restarts, and mini-batch k-means
        cannot drift into a poor optimum from a poor start."""
        from sklearn.cluster import HDBSCAN, KMeans
        from threadpoolctl import threadpool_limits

        if self.algorithm == "hdbscan":
            return HDBSCAN(min_cluster_size=max(5, len(Z) // 100), copy=False).fit(Z)  # euclidean: Z untouched
        sample = Z[rng.choice(len(Z), size=min(len(Z), max(sample_size, k)), replace=False)]
        with threadpool_limits(1):
            start = KMeans(k, n_init=_FINAL_INIT, random_state=int(rng.integers(2**31))).fit(sample)
        return self._estimator(k, len(Z), int(rng.integers(2**31)), 1, start.cluster_centers_).fit(Z)

    def _choose_k(self, Z: np.ndarray, rng: np.random.Generator, sample_size: int) -> tuple[int, pd.DataFrame]:
        """k by prediction strength (module docstring), and the scores of every k tried."""
        from sklearn.metrics import silhouette_score
        from threadpoolctl import threadpool_limits

        lo, hi = self.k_range
        half = min(len(Z), sample_size) // 2
        # the same halves for every k, so that ks are compared on equal terms
        splits = [rng.choice(len(Z), size=2 * half, replace=False) for _ in range(self.n_repeats)]
        rows = []
        with threadpool_limits(1):  # small fits: threads gain little and oversubscribed cores lose ~10x
            for k in range(lo, min(hi, half // 2) + 1):  # k ≤ half/2: some cluster of a half has two members
                strength, silhouette = [], []
                for order in splits:
                    halves = Z[order[:half]], Z[order[half:]]
                    fits = [self._estimator(k, half, int(rng.integers(2**31)), _SCAN_INIT).fit(h) for h in halves]
                    for j in (0, 1):  # each half's clusters, judged by the other half's centres
                        own = fits[j].labels_
                        strength.append(prediction_strength(own, fits[1 - j].predict(halves[j])))
                        silhouette.append(silhouette_score(halves[j], own) if len(np.unique(own)) > 1 else -1.0)
                rows.append({"k": k, "prediction_strength": float(np.mean(strength)),
                             "silhouette": float(np.mean(silhouette))})
        if not rows:
            raise ParameterError(f"too few users ({len(Z)}) to choose k in {self.k_range}: "
                                 f"need at least {4 * lo} or give k", "k")
        scores = pd.DataFrame(rows)
        close = scores["prediction_strength"] >= scores["prediction_strength"].max() - PS_TOLERANCE
        chosen = int(scores.loc[close, "k"].max())
        scores["chosen"] = scores["k"] == chosen
        return chosen, scores

    # -- predicting ------------------------------------------------------------------------------
    def predict(self, X: Any) -> np.ndarray:
        """Persona of each user of ``X`` (markov: a log, users with behaviour events in user order, the
        most likely persona; features: a log or feature table, the nearest persona centre)."""
        self._fitted()
        if self.method == "markov":
            return self.predict_proba(X).argmax(axis=1)
        from sklearn.metrics import pairwise_distances_argmin

        return pairwise_distances_argmin(self._scaled(self._table(X)), self.centers_)  # memory-bounded chunks

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probability of each persona for each user of the log ``X`` (markov; users as :meth:`predict`)."""
        self._fitted()
        if self.method != "markov":
            raise ParameterError("predict_proba needs the mixture: PersonaModel(method='markov')", "method")
        counts, _ = self._markov_counts(X)
        return markov.posterior(self.mixture_, counts)[0]

    def personas(self, X: Any = None, name: str = "persona") -> pd.Series:
        """Persona label per user id (``"persona 1"`` … by size), ready for ``by=`` everywhere.

        Without ``X``: the fitted users; with a log (or a feature table, features method): predicted.
        """
        self._fitted()
        if X is None:
            labels, users = self.labels_, self.users_
        elif self.method == "markov":
            counts, log = self._markov_counts(X)
            labels = markov.posterior(self.mixture_, counts)[0].argmax(axis=1)
            users = pd.Index(log.users[counts.users].astype(str), name="user_id")
        else:
            table = self._table(X)
            labels, users = self.predict(table), pd.Index(table.index.astype(str), name="user_id")
        text = np.where(labels >= 0, np.char.add("persona ", (labels + 1).astype(str)), "noise")
        return pd.Series(text, index=users, name=name)


def prediction_strength(own: np.ndarray, predicted: np.ndarray) -> float:
    """Smallest share, over the clusters of ``own`` with at least two members, of their pairs
    of members that ``predicted`` (another clustering of the same users) also puts together.

    >>> prediction_strength(np.array([0, 0, 0, 1, 1]), np.array([5, 5, 7, 7, 7]))  # 1 of 3 pairs; 1 of 1
    0.3333333333333333
    """
    from sklearn.metrics.cluster import contingency_matrix

    C = contingency_matrix(own, predicted)  # own clusters × predicted clusters
    size = C.sum(axis=1)
    big = size >= 2
    return float(((C * (C - 1)).sum(axis=1)[big] / (size[big] * (size[big] - 1))).min())


def _dissolve_centres(Z: np.ndarray, labels: np.ndarray, centers: np.ndarray,
                      min_users: int) -> tuple[np.ndarray, np.ndarray, int]:
    """While the smallest cluster has fewer than ``min_users``, drop its centre, move every clustered
    user to the nearest remaining centre and recompute the centres; how many were dropped."""
    from sklearn.metrics import pairwise_distances_argmin

    dropped, clustered = 0, labels >= 0
    while len(centers) > 1:
        sizes = np.bincount(labels[clustered], minlength=len(centers))
        if sizes.min() >= min_users:
            break
        centers = np.delete(centers, int(np.argmin(sizes)), axis=0)
        labels = np.where(clustered, -1, labels)
        labels[clustered] = pairwise_distances_argmin(Z[clustered], centers)
        centers = np.vstack([Z[labels == j].mean(axis=0) if (labels == j).any() else centers[j]
                             for j in range(len(centers))])
        dropped += 1
    return labels, centers, dropped


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Cluster ids (noise -1 left out) from largest to smallest; ties by the first user in the cluster."""
    ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    return ids[np.lexsort((first, -counts))]


