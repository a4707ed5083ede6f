"""Gradient boosting over prefix features, shared by the estimators: bounded, seeded, one thread.

The booster learns from at most ``max_prefixes`` prefixes drawn at random (seeded) and,
given held-out prefixes, stops when their log-loss has not improved for 10 rounds.
It runs on one thread: the fits are small, and processes sharing a few cores that
each start an OpenMP team ran 7x slower in our measurements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.params import fraction, positive_int
from ..errors import JourneyLensError, ParameterError

#: the largest input alphabet HistGradientBoosting takes as categorical codes (its 255 bins, less padding)
MAX_CLASSES = 250


def check_params(model: Any) -> None:
    """The parameters both estimators share, checked at the start of ``fit``."""
    positive_int(model.order, "order")
    if positive_int(model.max_classes, "max_classes") > MAX_CLASSES:
        raise ParameterError(f"max_classes must be at most {MAX_CLASSES}, not {model.max_classes!r}", "max_classes")
    positive_int(model.max_prefixes, "max_prefixes", minimum=100)
    if fraction(model.validation, "validation") == 0 or model.validation > 0.5:
        raise ParameterError(f"validation must be a share above 0 and at most 0.5, not {model.validation!r}",
                             "validation")
    positive_int(model.max_iter, "max_iter")
    if fraction(model.learning_rate, "learning_rate") == 0:
        raise ParameterError("learning_rate must be above 0 and at most 1", "learning_rate")
    if model.random_state is not None:
        positive_int(model.random_state, "random_state", minimum=0)


def sample(rows: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """At most ``size`` of ``rows``, drawn without replacement, in row order."""
    return rows if len(rows) <= size else np.sort(rng.choice(rows, size=size, replace=False))


def fit(X: np.ndarray, y: np.ndarray, categorical: np.ndarray, *, max_iter: int, learning_rate: float,
        rng: np.random.Generator, held: tuple[np.ndarray, np.ndarray] | None = None):
    """A fitted HistGradientBoostingClassifier; with ``held`` (features, targets) early stopping on them.
    The feature matrices are the caller's own: they may be changed in place."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if len(np.unique(y)) < 2:
        raise JourneyLensError("every training prefix has the same outcome: there is nothing to learn")
    # A feature that is NaN on every training row (no journey had a second gap, say) breaks the binning
    # of scikit-learn 1.9; as a constant it is simply never split on.
    empty = np.isnan(X).all(axis=0)
    X[:, empty] = 0
    kwargs: dict[str, Any] = {}
    if held is not None:
        known = np.isin(held[1], y)  # early stopping can only score outcomes seen in training
        if known.any():
            X_val = held[0][known]
            X_val[:, empty] = 0
            kwargs = {"X_val": X_val, "y_val": held[1][known]}
    booster = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=learning_rate, l2_regularization=1.0,  # l2: rare classes' steps stay finite
        categorical_features=categorical, early_stopping=bool(kwargs), n_iter_no_change=10,
        random_state=int(rng.integers(2**31)))
    with threadpool_limits(1):
        return booster.fit(X, y, **kwargs)


def best_iterations(booster: Any) -> int:
    """The number of boosting rounds that scored best on the held-out prefixes (at least 1); all of
    them when nothing was held out (early stopping could not run)."""
    scores = getattr(booster, "validation_score_", ())
    if not len(scores):
        return max(1, int(booster.n_iter_))
    return max(1, int(np.argmax(scores)))  # index 0: before the first round


def proba(booster: Any, X: np.ndarray, size: int) -> np.ndarray:
    """Class probabilities of ``X`` over codes ``0 … size-1`` (0 for classes never seen in training)."""
    from threadpoolctl import threadpool_limits

    out = np.zeros((len(X), size))
    with threadpool_limits(1):
        out[:, booster.classes_] = booster.predict_proba(X)
    return out
