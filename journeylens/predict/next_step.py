"""NextStepModel: what each customer does next, as a scikit-learn estimator over logs.

Candidates (``models=``), compared on a validation split taken from the training
log only:

* ``"ngram"``: the back-off n-gram over the last ``order`` events
  (:mod:`journeylens.predict.ngram`): a strong, fast baseline;
* ``"booster"``: scikit-learn's ``HistGradientBoostingClassifier`` on prefix
  features (:class:`~journeylens.predict.prefixes.FeatureSpec`): the last ``order``
  events as categorical codes, the position, event counts so far, seconds since the
  journey's start, since the previous event and the gap before that, and the
  channel of the last event when the log has channels;
* ``"booster_calendar"``: the same plus the hour and weekday of the last event.
  Calendar features help where work follows office hours and mislead where the
  calendar pattern of the training period does not last (BPIC 2013: see the benchmark).

The choice: users are ordered by their first event and the last ``validation``
share of the training users is held out (as :func:`split_by_time` does). Each
candidate is fitted on the rest and scored by accuracy on the same held-out
prefixes (all of them, or ``max_prefixes`` drawn at random); the best (ties to
the earlier in the list above) is refitted on the whole training log, the
booster with the number of boosting rounds early stopping found best on the
held-out prefixes. ``validation_`` records every score,
``model_`` the choice.

Bounds: the booster learns from at most ``max_prefixes`` prefixes drawn at
random (seeded; :mod:`journeylens.predict.boosting`); inputs keep the
``max_classes`` most frequent events and fold the rest into one "other" code.
Predictions name real events: the probability of "other" is shared out over the
rare training events by their frequency.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.params import choice, positive_int
from ..estimator import Estimator
from ..errors import JourneyLensError, ParameterError
from . import boosting
from .ngram import BackoffNgram
from .prefixes import END_NAME, MAX_COUNTED, Coded, Events, FeatureSpec, Vocabulary, read_events
from .split import training_rows

MODELS = ("ngram", "booster", "booster_calendar")
#: prefixes scored at a time: distributions stay small in memory
CHUNK = 100_000


class NextStepModel(Estimator):
    """Predict each journey's next event (or its end) from the events so far (see the module docstring).

    ``fit(log)`` learns from every prefix of every journey (``per="user"``: a user's whole
    history; ``"session"``: each session); then

    * ``predict_next(log, top=3)``: each user's most likely next events after their current
      journey's last event, with probabilities (``"<end>"``: the journey ends there);
    * ``predict_proba(log)`` / ``predict(log)``: the full distribution / the top event per user;
    * ``evaluate(test_log)``: one row per prefix of every journey of ``test_log`` (a journey of n
      events gives n rows): ``user_id, position`` (k: after the first k events), ``actual`` (event
      k + 1, or ``"<end>"``), ``predicted``, ``probability`` (of the predicted event);
    * ``score(test_log)``: the accuracy over those rows.

    After fitting: ``model_`` (the chosen candidate), ``validation_`` (accuracy of every
    candidate on the held-out training users), ``classes_`` (the events a prediction can name,
    and ``"<end>"``), ``n_prefixes_``.

    >>> import journeylens as jl
    >>> from journeylens.predict.next_step import NextStepModel
    >>> from journeylens.predict.split import split_by_time
    >>> log = jl.datasets.make_event_log(1500, seed=0)
    >>> train, test = split_by_time(log, train=2/3)
    >>> model = NextStepModel(models=("ngram",), random_state=0).fit(train)
    >>> round(model.score(test), 2)
    0.61
    >>> model.evaluate(test).columns.tolist()
    ['user_id', 'position', 'actual', 'predicted', 'probability']
    >>> model.predict_next(test, top=2).to_frame().columns.tolist()
    ['user_id', 'rank', 'next_event', 'probability']
    """

    _fitted_attribute = "estimator_"

    def __init__(self, *, models: Sequence[str] = MODELS, order: int = 4, min_count: int = 5, per: str = "user",
                 max_classes: int = 100, max_prefixes: int = 50_000, validation: float = 0.2,
                 max_iter: int = 200, learning_rate: float = 0.1, random_state: int | None = 0) -> None:
        self.models = models
        self.order = order
        self.min_count = min_count
        self.per = per
        self.max_classes = max_classes
        self.max_prefixes = max_prefixes
        self.validation = validation
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    # -- checks ------------------------------------------------------------------
    def _check_params(self) -> tuple[str, ...]:
        models = (self.models,) if isinstance(self.models, str) else tuple(self.models) \
            if isinstance(self.models, (list, tuple)) else None
        if not models:
            raise ParameterError(f"models must be a list of {', '.join(map(repr, MODELS))}, not {self.models!r}",
                                 "models")
        for name in models:
            choice(name, "models", MODELS)
        models = tuple(m for m in MODELS if m in models)  # ties in validation go to the simpler model
        boosting.check_params(self)
        positive_int(self.min_count, "min_count")
        choice(self.per, "per", ("user", "session"))
        return models

    def _read(self, log: Any, events: Events | None = None) -> Coded:
        if self.per == "session" and not log.has("session_id"):
            raise JourneyLensError("per='session' needs sessions: call jl.sessionize(log, gap=...) first")
        events = read_events(log) if events is None else events
        return Coded.of(events, self.vocab_, events.heads(self.per))

    # -- fitting -----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "NextStepModel":
        """Learn from every prefix of the journeys of log ``X``; choose between ``models``."""
        models = self._check_params()
        events = read_events(X)
        if not len(events):
            raise JourneyLensError("the log has no events to learn from")
        self.vocab_ = Vocabulary.fit(events, self.max_classes)
        if self.vocab_.size ** (self.order + 1) >= 2 ** 62:  # n-gram keys are int64
            raise ParameterError(f"order={self.order} is too long for {self.vocab_.n} event classes: "
                                 "lower order or max_classes", "order")
        log = self._read(X, events)
        rng = np.random.default_rng(self.random_state)
        channel = events.c is not None and 0 < len(self.vocab_.channels) <= boosting.MAX_CLASSES
        counted = min(self.vocab_.n, MAX_COUNTED)
        specs = {"booster": FeatureSpec(self.order, counted, timing=True, calendar=False, channel=channel),
                 "booster_calendar": FeatureSpec(self.order, counted, timing=True, calendar=True, channel=channel)}
        rows = np.arange(len(events))
        outputs = pd.Index(self.vocab_.output_names())
        scores, iterations = [], {}
        if models != ("ngram",):
            if len(np.unique(events.u)) < 2:
                raise JourneyLensError("choosing between models needs at least 2 users (one is held out): "
                                       "use models=('ngram',)")
            inner = training_rows(events, 1 - self.validation)
            fit_rows, held = rows[inner], rows[~inner]
            scored = boosting.sample(held, self.max_prefixes, rng)  # the same prefixes score every candidate
            actual = _actual(log, scored, outputs)
            for name in models:
                if name == "ngram":
                    estimator = BackoffNgram(self.order, self.min_count, self.vocab_.size).fit(log.p, fit_rows)
                else:
                    estimator = self._boost(specs[name], log, fit_rows, held, self.max_iter, rng)
                    iterations[name] = boosting.best_iterations(estimator)
                predicted, _ = self._top(estimator, specs.get(name), log, scored, 1)
                scores.append({"model": name, "accuracy": float(np.mean(predicted[:, 0] == actual)),
                               "prefixes": len(scored), "boosting_iterations": iterations.get(name)})
        best = max(scores, key=lambda s: s["accuracy"])["model"] if scores else "ngram"  # max: first of ties
        self.validation_ = pd.DataFrame(scores, columns=["model", "accuracy", "prefixes", "boosting_iterations"])
        self.validation_["chosen"] = self.validation_["model"] == best
        self.model_ = best
        self.spec_ = specs.get(best)
        if best == "ngram":
            self.estimator_ = BackoffNgram(self.order, self.min_count, self.vocab_.size).fit(log.p, rows)
        else:
            self.estimator_ = self._boost(self.spec_, log, rows, None, iterations[best], rng)
        self.classes_ = np.asarray(outputs, dtype=object)
        self.n_prefixes_ = len(rows)
        return self

    def _boost(self, spec: FeatureSpec, log: Coded, rows: np.ndarray, held: np.ndarray | None, max_iter: int,
               rng: np.random.Generator):
        """The booster on a sample of ``rows``; with ``held`` rows, early stopping on a sample of them."""
        train = boosting.sample(rows, self.max_prefixes, rng)
        stop = None
        if held is not None:
            val = boosting.sample(held, max(self.max_prefixes // 2, 1), rng)
            stop = (log.features(spec, val, self.vocab_), log.p.y[val])
        return boosting.fit(log.features(spec, train, self.vocab_), log.p.y[train], spec.categorical(self.vocab_),
                            max_iter=max_iter, learning_rate=self.learning_rate, rng=rng, held=stop)

    # -- prediction --------------------------------------------------------------
    def _proba(self, estimator: Any, spec: FeatureSpec | None, log: Coded, rows: np.ndarray) -> np.ndarray:
        """Distributions over codes (rows × vocabulary size) of the prefixes ending at ``rows``."""
        if isinstance(estimator, BackoffNgram):
            return estimator.proba(log.p, rows)
        return boosting.proba(estimator, log.features(spec, rows, self.vocab_), self.vocab_.size)

    def _top(self, estimator: Any, spec: FeatureSpec | None, log: Coded, rows: np.ndarray,
             k: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most probable outputs (indices into ``classes_``) of each row, and their probabilities."""
        parts = [self.vocab_.top(self._proba(estimator, spec, log, rows[i: i + CHUNK]), k)
                 for i in range(0, len(rows), CHUNK)]
        if not parts:
            return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
        return np.vstack([a for a, _ in parts]), np.vstack([b for _, b in parts])

    def _current(self, X: Any) -> tuple[Coded, np.ndarray]:
        """Log ``X`` coded, and the row of each user's last event (their current journey's state)."""
        self._check_fitted()
        log = self._read(X)
        return log, log.last_of_users()

    def predict_next(self, X: Any, top: int = 3) -> "NextSteps":
        """Each user's ``top`` most likely next events after their last one, with probabilities."""
        top = positive_int(top, "top")
        log, last = self._current(X)
        index, prob = self._top(self.estimator_, self.spec_, log, last, top)
        k = index.shape[1]
        table = pd.DataFrame({"user_id": np.repeat(log.users_of(last), k),
                              "rank": np.tile(np.arange(1, k + 1), len(last)),
                              "next_event": self.classes_[index.ravel()],
                              "probability": prob.ravel()})
        return NextSteps(table=table, model=self.model_)

    def predict_proba(self, X: Any) -> pd.DataFrame:
        """Each user's distribution over their next event (columns ``classes_``), indexed by user id."""
        log, last = self._current(X)
        parts = [self.vocab_.expand(self._proba(self.estimator_, self.spec_, log, last[i: i + CHUNK]))
                 for i in range(0, len(last), CHUNK)]
        values = np.vstack(parts) if parts else np.zeros((0, len(self.classes_)))
        return pd.DataFrame(values, index=log.users_of(last), columns=pd.Index(self.classes_, name="next_event"))

    def predict(self, X: Any) -> pd.Series:
        """Each user's most likely next event (``"<end>"``: the journey ends), indexed by user id."""
        log, last = self._current(X)
        index, _ = self._top(self.estimator_, self.spec_, log, last, 1)
        return pd.Series(self.classes_[index[:, 0]], index=log.users_of(last), name="next_event")

    # -- evaluation --------------------------------------------------------------
    def _scored(self, X: Any) -> tuple[Coded, pd.Index, np.ndarray, np.ndarray, np.ndarray]:
        """Every prefix of log ``X``: the names outputs are indices into, actual and predicted outputs and the
        predicted one's probability."""
        self._check_fitted()
        log = self._read(X)
        rows = np.arange(len(log.events))
        unknown = log.events.events.difference(pd.Index(self.classes_), sort=False)
        names = pd.Index([*self.classes_, *unknown])  # the model's classes, then events it never saw
        index, prob = self._top(self.estimator_, self.spec_, log, rows, 1)
        return log, names, _actual(log, rows, names), index[:, 0], prob[:, 0]

    def evaluate(self, X: Any) -> pd.DataFrame:
        """One row per prefix of every journey of log ``X`` (see the class docstring)."""
        log, names, actual, predicted, prob = self._scored(X)
        return pd.DataFrame({
            "user_id": pd.Categorical.from_codes(log.events.u, categories=log.events.users.astype(str)),
            "position": log.p.position,
            "actual": pd.Categorical.from_codes(actual, categories=names),
            "predicted": pd.Categorical.from_codes(predicted, categories=names),
            "probability": prob})

    def score(self, X: Any, y: Any = None) -> float:
        """Accuracy of the top prediction over every prefix of the journeys of log ``X``."""
        _, _, actual, predicted, _ = self._scored(X)
        return float(np.mean(actual == predicted)) if len(actual) else float("nan")


def _actual(log: Coded, rows: np.ndarray, outputs: pd.Index) -> np.ndarray:
    """The true next output of each row as an index into ``outputs`` (the classes, ``"<end>"`` last among
    them, then possibly more events; -1: an event not in ``outputs``)."""
    lookup = outputs.get_indexer(log.events.events)
    nxt = np.minimum(rows + 1, len(log.events) - 1)
    return np.where(log.p.is_last(rows), outputs.get_loc(END_NAME), lookup[log.events.e[nxt]])


@dataclass(frozen=True)
class NextSteps:
    """Each user's most likely next events: ``user_id, rank, next_event, probability``."""

    table: pd.DataFrame
    model: str

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars: how many users have each event as their most likely next step (plotly)."""
        import plotly.express as px

        first = self.table[self.table["rank"] == 1]
        counts = first["next_event"].value_counts().head(top).iloc[::-1]
        from ..viz.text import plain

        fig = px.bar(x=counts.to_numpy(), y=[plain(e) for e in counts.index.astype(str)], orientation="h",
                     labels={"x": "users", "y": "most likely next step"})
        fig.update_layout(title=f"Most likely next step ({self.model})", height=140 + 28 * len(counts))
        return fig

    def _repr_html_(self) -> str:
        users = self.table["user_id"].nunique()
        head = f"Next steps of {users:,} users ({html.escape(self.model)})"
        return f"<div><strong>{head}</strong>{self.table.head(30).to_html(index=False, escape=True)}</div>"
