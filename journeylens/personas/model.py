"""PersonaModel: data-driven personas as a scikit-learn clustering estimator.

Pipeline: per-user features (:func:`user_features`) → count-like columns
``log1p`` → standard scaling → k-means (mini-batch k-means above
``minibatch_above`` users) or HDBSCAN.

Choosing k (``k="auto"``), the stated criterion: for each k in ``k_range``,
fit on a seeded sample of at most ``sample_size`` users and compute

* ``silhouette``: mean silhouette on that sample;
* ``stability``: mean adjusted Rand index between the labels that models fit
  on ``n_bootstrap`` pairs of bootstrap resamples give the sample.

The chosen k has the highest silhouette among the ks with stability ≥
``min_stability`` (all ks if none is that stable). ``scores_`` keeps every
score. Personas are numbered by size, largest first, so labels do not depend
on the clustering library's internal order.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from ..errors import JourneyLensError, ValidationError
from ..log import EventLog
from .features import user_features

#: column prefixes of count-like features, compressed with log1p before scaling
_COUNTS = ("n_events", "n_sessions", "active_days", "tenure_days", "recency_days",
           "events_per_active_day", "median_gap_s", "mean_gap_s", "event:")
#: k-means restarts per fit while scanning k (the final fit uses 10)
_SCAN_INIT = 2
#: default feature groups (prefixes); ``converted`` and recency are outcomes/timing, not behaviour
DEFAULT_FEATURES = ("n_events", "n_sessions", "active_days", "tenure_days", "events_per_active_day",
                    "median_gap_s", "channel:", "device:", "stage:", "event:", "bigram:")


class PersonaModel(ClusterMixin, BaseEstimator):
    """Derive personas from behaviour (see the module docstring for the method).

    ``fit`` takes an :class:`EventLog` (features are computed with ``goal``) or a
    feature table indexed by user id. After fitting: ``labels_`` (persona per
    user, 0 = largest), ``users_`` (their ids), ``k_``, ``scores_`` (with
    ``k="auto"``), ``features_`` (the table used) and ``feature_names_in_``.

    >>> import journeylens as jl
    >>> log = jl.datasets.make_event_log(n_customers=300, seed=0)         # doctest: +SKIP
    >>> model = jl.PersonaModel(k="auto", random_state=0).fit(log)         # doctest: +SKIP
    >>> model.k_, model.scores_.columns.tolist()                           # doctest: +SKIP
    """

    def __init__(
        self,
        k: int | str = "auto",
        algorithm: str = "kmeans",
        features: Sequence[str] | None = None,
        goal: str | Sequence[str] | None = None,
        k_range: tuple[int, int] = (2, 8),
        sample_size: int = 3000,
        n_bootstrap: int = 3,
        min_stability: float = 0.8,
        minibatch_above: int = 100_000,
        random_state: int | None = 0,
    ) -> None:
        self.k = k
        self.algorithm = algorithm
        self.features = features
        self.goal = goal
        self.k_range = k_range
        self.sample_size = sample_size
        self.n_bootstrap = n_bootstrap
        self.min_stability = min_stability
        self.minibatch_above = minibatch_above
        self.random_state = random_state

    # -- data ------------------------------------------------------------------
    def _table(self, X: Any) -> pd.DataFrame:
        if isinstance(X, EventLog):
            return user_features(X, goal=self.goal)
        if isinstance(X, pd.DataFrame):
            return X
        raise JourneyLensError("PersonaModel takes an EventLog or a per-user feature DataFrame")

    def _select(self, table: pd.DataFrame) -> list[str]:
        prefixes = tuple(self.features) if self.features is not None else DEFAULT_FEATURES
        cols = [c for c in table.columns if c.startswith(prefixes) and pd.api.types.is_numeric_dtype(table[c])]
        if not cols:
            raise ValidationError(f"no feature columns match {list(prefixes)} (columns: {list(table.columns)[:10]})")
        return cols

    def _matrix(self, table: pd.DataFrame) -> np.ndarray:
        values = table.reindex(columns=self.feature_names_in_, fill_value=0.0).to_numpy(dtype=np.float64)
        values = np.nan_to_num(values)
        counts = [c.startswith(_COUNTS) for c in self.feature_names_in_]
        values[:, counts] = np.log1p(np.maximum(values[:, counts], 0))
        return values

    # -- clustering ---------------------------------------------------------------
    def _estimator(self, k: int, n: int, seed: int | None, n_init: int = 10):
        if self.algorithm == "hdbscan":
            return HDBSCAN(min_cluster_size=max(5, n // 100))
        if self.algorithm not in ("kmeans", "minibatch_kmeans"):
            raise ValidationError(f"algorithm must be 'kmeans', 'minibatch_kmeans' or 'hdbscan', not {self.algorithm!r}")
        if self.algorithm == "minibatch_kmeans" or n > self.minibatch_above:
            return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=min(n_init, 3), random_state=seed)
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed)

    def _choose_k(self, Z: np.ndarray, rng: np.random.Generator) -> tuple[int, pd.DataFrame]:
        lo, hi = self.k_range
        if not 2 <= lo <= hi:
            raise ValidationError(f"k_range must be (low, high) with 2 ≤ low ≤ high, not {self.k_range!r}")
        sample = Z[rng.choice(len(Z), size=min(len(Z), self.sample_size), replace=False)]
        rows = []
        for k in range(lo, min(hi, len(sample) - 1) + 1):
            seed = int(rng.integers(2**31))
            labels = self._estimator(k, len(sample), seed, n_init=_SCAN_INIT).fit_predict(sample)
            sil = silhouette_score(sample, labels) if len(set(labels)) > 1 else -1.0
            aris = []
            for _ in range(self.n_bootstrap):
                pair = [self._estimator(k, len(sample), int(rng.integers(2**31)), n_init=_SCAN_INIT).fit(
                    sample[rng.integers(0, len(sample), len(sample))]) for _ in range(2)]
                aris.append(adjusted_rand_score(pair[0].predict(sample), pair[1].predict(sample)))
            rows.append({"k": k, "silhouette": float(sil), "stability": float(np.mean(aris)) if aris else np.nan})
        scores = pd.DataFrame(rows)
        if scores.empty:
            raise ValidationError(f"too few users ({len(Z)}) to choose k in {self.k_range}")
        stable = scores[scores["stability"] >= self.min_stability]
        pool = stable if len(stable) else scores
        chosen = int(pool.sort_values(["silhouette", "k"], ascending=[False, True]).iloc[0]["k"])
        scores["chosen"] = scores["k"] == chosen
        return chosen, scores

    def fit(self, X: Any, y: Any = None) -> "PersonaModel":
        """Compute features (for a log), choose k if asked, cluster all users."""
        table = self._table(X)
        self.feature_names_in_ = np.asarray(self._select(table), dtype=object)
        raw = self._matrix(table)
        if len(raw) < 2:
            raise ValidationError(f"need at least 2 users to find personas, got {len(raw)}")
        self.scaler_ = StandardScaler().fit(raw)
        Z = self.scaler_.transform(raw)
        rng = np.random.default_rng(self.random_state)
        if self.algorithm == "hdbscan":
            self.k_, self.scores_ = None, None
        elif self.k == "auto":
            self.k_, self.scores_ = self._choose_k(Z, rng)
        elif isinstance(self.k, (int, np.integer)) and 1 <= self.k <= len(Z):
            self.k_, self.scores_ = int(self.k), None
        else:
            raise ValidationError(f"k must be 'auto' or an integer between 1 and the number of users, not {self.k!r}")
        self.estimator_ = self._estimator(self.k_ or 0, len(Z), int(rng.integers(2**31))).fit(Z)
        raw_labels = np.asarray(self.estimator_.labels_)
        self._order = self._size_order(raw_labels)
        self.labels_ = self._relabel(raw_labels)
        if self.algorithm == "hdbscan":  # predict by nearest persona centre; noise (-1) stays -1
            self.k_ = int(self.labels_.max()) + 1
            self.centers_ = np.vstack([Z[self.labels_ == j].mean(axis=0) for j in range(self.k_)])
        else:
            self.centers_ = self.estimator_.cluster_centers_[[self._inverse[j] for j in range(self.k_)]]
        self.users_ = pd.Index(table.index.astype(str), name="user_id")
        self.features_ = table
        return self

    def _size_order(self, labels: np.ndarray) -> dict[int, int]:
        """Raw cluster → persona number, by size (desc), ties by the first user in the cluster."""
        ids, first, counts = np.unique(labels[labels >= 0], return_index=True, return_counts=True)
        order = sorted(range(len(ids)), key=lambda j: (-counts[j], first[j]))
        mapping = {int(ids[j]): rank for rank, j in enumerate(order)}
        self._inverse = {rank: raw for raw, rank in mapping.items()}
        return mapping

    def _relabel(self, labels: np.ndarray) -> np.ndarray:
        lookup = np.full(int(labels.max()) + 2 if len(labels) else 1, -1, dtype=np.int64)
        for raw, rank in self._order.items():
            lookup[raw] = rank
        return np.where(labels >= 0, lookup[np.maximum(labels, 0)], -1)

    def predict(self, X: Any) -> np.ndarray:
        """Persona of each user of ``X`` (a log or a feature table), nearest persona centre."""
        if not hasattr(self, "centers_"):
            raise JourneyLensError("this PersonaModel is not fitted yet: call fit(log) first")
        Z = self.scaler_.transform(self._matrix(self._table(X)))
        out = np.empty(len(Z), dtype=np.int64)
        for lo in range(0, len(Z), 100_000):  # batches keep the distance matrix small
            block = Z[lo: lo + 100_000]
            d = ((block[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2)
            out[lo: lo + 100_000] = d.argmin(axis=1)
        return out

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
