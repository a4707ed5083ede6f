"""PersonaModel: data-driven personas as a scikit-learn clustering estimator.

Pipeline: per-user features (:func:`user_features`) → count-like columns
``log1p`` → standard scaling → k-means (mini-batch k-means above
``minibatch_above`` users) or HDBSCAN.

Choosing k (``k="auto"``), the stated criterion: **prediction strength**
(Tibshirani & Walther, 2005). ``n_repeats`` times, draw two disjoint random
halves of ``sample_size / 2`` users each (all users split in two when there are
fewer; seeded) and cluster each half with k-means. For every cluster of one
half's own clustering with at least two members, take the share of its pairs of
members that the other half's centres also put in one cluster. The prediction
strength of k is the smallest of these shares (each half judged by the other),
averaged over the repeats. A k that splits a real group is not reproduced by an
independent half, so its weakest cluster scores low.

Coarser clusterings are reproducible too (one cluster always is: a split that
merges personas can score as high as the real structure), so, as in Tibshirani
& Walther's rule of the largest k whose prediction strength is high enough, the
chosen k is the **largest k whose prediction strength is within**
:data:`PS_TOLERANCE` (0.02) **of the best**. "High enough" is relative to the
best k rather than their fixed 0.8–0.9, which admits extra splits of behavioural
data (around 0.93 on the generator's personas, where the real k scores 0.96–0.98
and a merging k = 2 up to 0.97).

``scores_`` has one row per k tried: ``k``, ``prediction_strength``,
``silhouette`` (of each half's own clustering, averaged; shown for information,
not used to choose) and ``chosen``. Only the halves are clustered while
scanning, so choosing k costs the same for a thousand or a million users.

Personas are numbered by size, largest first, so labels do not depend on the
clustering library's internal order.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin, silhouette_score
from sklearn.metrics.cluster import contingency_matrix
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from ..core.eventlog import EventLog
from ..core.protocol import JourneyLog
from ..errors import JourneyLensError, ValidationError
from .features import user_features
from .profiles import Profiles, profile

#: column prefixes of count-like features, compressed with log1p before scaling
_COUNTS = ("n_events", "n_sessions", "active_days", "tenure_days", "recency_days",
           "events_per_active_day", "median_gap_s", "mean_gap_s", "event:")
#: k-means restarts per fit while scanning k, and for the sample that starts the final fit
_SCAN_INIT = 4
_FINAL_INIT = 10
#: ks whose prediction strength is this close to the best count as reproducible; the largest is chosen
PS_TOLERANCE = 0.02
#: default feature groups (prefixes); ``converted`` and recency are outcomes/timing, not behaviour
DEFAULT_FEATURES = ("n_events", "n_sessions", "active_days", "tenure_days", "events_per_active_day",
                    "median_gap_s", "channel:", "device:", "stage:", "event:", "bigram:")


class PersonaModel(ClusterMixin, BaseEstimator):
    """Derive personas from behaviour (see the module docstring for the method and the choice of k).

    ``fit`` takes an :class:`EventLog` (features are computed with ``goal``) or a
    feature table indexed by user id (:func:`user_features`). After fitting:
    ``labels_`` (persona per user, 0 = largest, -1 = HDBSCAN noise), ``users_``
    (their ids), ``k_``, ``scores_`` (with ``k="auto"``, else None),
    ``centers_`` (in scaled feature space), ``features_`` (the table used),
    ``feature_names_in_`` and ``profiles_``: the :class:`Profiles` of the
    personas, computed with ``goal`` on first access and cached. ``profiles_``
    needs the log, so the model keeps a reference to the log it was fitted on;
    after fitting on a feature table it is None (call :func:`profile` with the log).

    ``predict`` assigns each user to the nearest persona centre (HDBSCAN noise
    is never predicted). HDBSCAN clusters every user at once: keep it below
    about 100,000 users; k-means scales to millions.

    >>> import journeylens as jl
    >>> log = jl.datasets.make_event_log(n_customers=2000, seed=0)
    >>> model = jl.PersonaModel(k="auto", goal="order_placed", random_state=0).fit(log)
    >>> model.k_, model.scores_.columns.tolist()
    (4, ['k', 'prediction_strength', 'silhouette', 'chosen'])
    >>> len(model.personas()), len(model.profiles_.to_frame())
    (2000, 4)
    """

    def __init__(
        self,
        k: int | str = "auto",
        algorithm: str = "kmeans",
        features: Sequence[str] | None = None,
        goal: str | Sequence[str] | None = None,
        k_range: tuple[int, int] = (2, 8),
        sample_size: int = 3000,
        n_repeats: int = 4,
        minibatch_above: int = 100_000,
        random_state: int | None = 0,
    ) -> None:
        self.k = k
        self.algorithm = algorithm
        self.features = features
        self.goal = goal
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_repeats = n_repeats
        self.minibatch_above = minibatch_above
        self.random_state = random_state

    # -- data ------------------------------------------------------------------
    def _table(self, X: Any) -> pd.DataFrame:
        if isinstance(X, JourneyLog):  # a held log's features are computed by its engine
            return user_features(X, goal=self.goal)
        if isinstance(X, pd.DataFrame):
            return X
        raise JourneyLensError("PersonaModel takes an EventLog, a TableLog or a per-user feature DataFrame")

    def _select(self, table: pd.DataFrame) -> list[str]:
        prefixes = tuple(self.features) if self.features is not None else DEFAULT_FEATURES
        cols = [c for c in table.columns if c.startswith(prefixes) and pd.api.types.is_numeric_dtype(table[c])]
        if not cols:
            raise ValidationError(f"no feature columns match {list(prefixes)} (columns: {list(table.columns)[:10]})")
        return cols

    def _matrix(self, table: pd.DataFrame) -> np.ndarray:
        """A new float matrix of the fitted feature columns (0 where the table lacks one), count-like
        ones log1p-compressed. Filled column by column (a loop over features, not users): no copy of
        the whole table on the way, and later in-place steps never touch the caller's table."""
        values = np.zeros((len(table), len(self.feature_names_in_)))
        for j, name in enumerate(self.feature_names_in_):
            if name in table.columns:
                column = np.nan_to_num(table[name].to_numpy(dtype=np.float64))
                values[:, j] = np.log1p(np.maximum(column, 0)) if name.startswith(_COUNTS) else column
        return values

    # -- clustering ---------------------------------------------------------------
    def _estimator(self, k: int, n: int, seed: int, n_init: int, init: Any = "k-means++"):
        if self.algorithm == "minibatch_kmeans" or n > self.minibatch_above:
            return MiniBatchKMeans(n_clusters=k, init=init, batch_size=4096, n_init=min(n_init, 3), random_state=seed)
        return KMeans(n_clusters=k, init=init, n_init=n_init, random_state=seed)

    def _cluster(self, Z: np.ndarray, rng: np.random.Generator):
        """The fitted clustering of every user. k-means starts from the centres of a k-means with
        10 restarts on a sample: one refinement pass over millions of users, not 10 restarts, and
        mini-batch k-means cannot drift into a poor optimum from a poor start."""
        if self.algorithm == "hdbscan":
            return HDBSCAN(min_cluster_size=max(5, len(Z) // 100), copy=False).fit(Z)  # euclidean: Z untouched
        sample = Z[rng.choice(len(Z), size=min(len(Z), max(self.sample_size, self.k_)), replace=False)]
        with threadpool_limits(1):
            start = KMeans(self.k_, n_init=_FINAL_INIT, random_state=int(rng.integers(2**31))).fit(sample)
        return self._estimator(self.k_, len(Z), int(rng.integers(2**31)), 1, start.cluster_centers_).fit(Z)

    def _choose_k(self, Z: np.ndarray, rng: np.random.Generator) -> tuple[int, pd.DataFrame]:
        """k by prediction strength (module docstring), and the scores of every k tried."""
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise ValidationError(f"k_range must be (low, high) with 2 ≤ low ≤ high, not {self.k_range!r}")
        if self.n_repeats < 1:
            raise ValidationError(f"n_repeats must be at least 1, not {self.n_repeats!r}")
        half = min(len(Z), self.sample_size) // 2
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
            raise ValidationError(f"too few users ({len(Z)}) to choose k in {self.k_range}: "
                                  f"need at least {4 * lo} or give k")
        scores = pd.DataFrame(rows)
        close = scores["prediction_strength"] >= scores["prediction_strength"].max() - PS_TOLERANCE
        chosen = int(scores.loc[close, "k"].max())
        scores["chosen"] = scores["k"] == chosen
        return chosen, scores

    def fit(self, X: Any, y: Any = None) -> "PersonaModel":
        """Compute features (for a log), choose k if asked, cluster all users."""
        if self.algorithm not in ("kmeans", "minibatch_kmeans", "hdbscan"):
            raise ValidationError(f"algorithm must be 'kmeans', 'minibatch_kmeans' or 'hdbscan', not {self.algorithm!r}")
        table = self._table(X)
        self.feature_names_in_ = np.asarray(self._select(table), dtype=object)
        Z = self._matrix(table)
        if len(Z) < 2:
            raise ValidationError(f"need at least 2 users to find personas, got {len(Z)}")
        self.scaler_ = StandardScaler(copy=False).fit(Z)  # in place: the matrix can be millions of rows
        Z = self.scaler_.transform(Z)
        rng = np.random.default_rng(self.random_state)
        if self.algorithm == "hdbscan":
            self.k_, self.scores_ = None, None
        elif self.k == "auto":
            self.k_, self.scores_ = self._choose_k(Z, rng)
        elif isinstance(self.k, (int, np.integer)) and 1 <= self.k <= len(Z):
            self.k_, self.scores_ = int(self.k), None
        else:
            raise ValidationError(f"k must be 'auto' or an integer between 1 and the number of users, not {self.k!r}")
        self.estimator_ = self._cluster(Z, rng)
        raw = np.asarray(self.estimator_.labels_)
        order = _by_size(raw)
        if not len(order):
            raise ValidationError("HDBSCAN put every user in noise: use k-means or more users")
        rank = np.full(int(raw.max()) + 1, -1, dtype=np.int64)
        rank[order] = np.arange(len(order))
        self.labels_ = np.where(raw >= 0, rank[np.maximum(raw, 0)], -1)
        self.k_ = len(order)
        if self.algorithm == "hdbscan":  # predict by nearest persona centre; noise (-1) stays -1
            self.centers_ = np.vstack([Z[self.labels_ == j].mean(axis=0) for j in range(self.k_)])
        else:
            self.centers_ = self.estimator_.cluster_centers_[order]
        self.users_ = pd.Index(table.index.astype(str), name="user_id")
        self.features_ = table
        self._log = X if isinstance(X, EventLog) else None
        self._profiles: Profiles | None = None
        return self

    @property
    def profiles_(self) -> Profiles | None:
        """Profiles of the fitted personas (computed once, with ``goal``); None after fitting on a feature table."""
        if not hasattr(self, "labels_"):
            raise AttributeError("this PersonaModel is not fitted yet: call fit(log) first")
        if self._log is not None and self._profiles is None:
            self._profiles = profile(self._log, self.personas(), goal=self.goal, features=self.features_)
        return self._profiles

    def predict(self, X: Any) -> np.ndarray:
        """Persona of each user of ``X`` (a log or a feature table): the nearest persona centre."""
        if not hasattr(self, "centers_"):
            raise JourneyLensError("this PersonaModel is not fitted yet: call fit(log) first")
        Z = self.scaler_.transform(self._matrix(self._table(X)))
        return pairwise_distances_argmin(Z, self.centers_)  # works through Z in memory-bounded chunks

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X).labels_

    def personas(self, X: Any = None, name: str = "persona") -> pd.Series:
        """Persona label per user id (``"persona 1"`` … by size), ready for ``by=`` everywhere.

        Without ``X``: the fitted users; with a log or feature table: predicted.
        """
        if X is None:
            labels, users = self.labels_, self.users_
        else:
            labels, users = self.predict(X), pd.Index(self._table(X).index.astype(str), name="user_id")
        text = np.where(labels >= 0, np.char.add("persona ", (labels + 1).astype(str)), "noise")
        return pd.Series(text, index=users, name=name)


def prediction_strength(own: np.ndarray, predicted: np.ndarray) -> float:
    """Smallest share, over the clusters of ``own`` with at least two members, of their pairs
    of members that ``predicted`` (another clustering of the same users) also puts together.

    >>> prediction_strength(np.array([0, 0, 0, 1, 1]), np.array([5, 5, 7, 7, 7]))  # 1 of 3 pairs; 1 of 1
    0.3333333333333333
    """
    C = contingency_matrix(own, predicted)  # own clusters × predicted clusters
    size = C.sum(axis=1)
    big = size >= 2
    return float(((C * (C - 1)).sum(axis=1)[big] / (size[big] * (size[big] - 1))).min())


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Raw cluster ids (noise -1 left out) from largest to smallest; ties by the first user in the cluster."""
    ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
    return ids[np.lexsort((first, -counts))]
