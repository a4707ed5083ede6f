"""ConversionModel: will a journey reach the goal soon, and which next touchpoint goes with a rise?

Journeys are cut at each conversion: a goal event ends its journey and the
user's next event starts a new one. Every prefix that has not converted yet (its
last event is not a goal) is a row; its label is whether the goal follows within
``within`` of the prefix's last event. A prefix whose window reaches past the
last event of the log is left out of fitting and evaluation: its label is not
known yet (censoring is explicit; keeping only its observed conversions would
bias the rate up).

The model is scikit-learn's ``HistGradientBoostingClassifier`` (log-loss, so its
probabilities are meant as probabilities) on the prefix features of
:class:`~journeylens.predict.prefixes.FeatureSpec`: the last ``order`` events,
the position, event counts, seconds since the journey's start and between the
last events, and the channel of the last event. Early stopping uses the last
``validation`` share of the training users (ordered by their first event); the
booster is then refitted on every training prefix with the rounds found best.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..core.params import event_codes, event_names, micros, positive_int
from ..estimator import Estimator
from ..errors import JourneyLensError
from . import boosting
from .prefixes import MAX_COUNTED, Coded, Events, FeatureSpec, Vocabulary, read_events
from .split import training_rows

#: what a next-best touchpoint is, and what it is not; shown with every result
OBSERVATIONAL = ("Observational, not causal: the rise is how the model's conversion probability differs between "
                 "journeys that continued with each touchpoint in the training data. Customers who got a touchpoint "
                 "differ from those who did not, so it is not the effect of sending it; test that with an experiment.")
#: prefixes scored at a time
CHUNK = 100_000


class ConversionModel(Estimator):
    """The probability that a journey reaches ``goal`` within ``within`` of its last event (see the
    module docstring).

    * ``fit(log)``; ``predict_proba(log)``: for each active user (whose current journey has not
      converted), the probability of converting within ``within`` after their last event;
    * ``evaluate(test_log)``: AUC, Brier score and a reliability table over every labelled prefix
      (:class:`ConversionReport`); ``score(test_log)``: the AUC;
    * ``next_best(log, top=3)``: for each active user, the next touchpoints whose extended prefix the
      model scores highest, with the **observational** rise over the current probability
      (:class:`NextBest`; associations, not effects).

    After fitting: ``goal_``, ``validation_`` (AUC and Brier on the held-out training users, the
    boosting rounds), ``base_rate_`` (share of training prefixes that converted), ``n_prefixes_``.

    >>> import journeylens as jl
    >>> from journeylens.predict.conversion import ConversionModel
    >>> from journeylens.predict.split import split_by_time
    >>> log = jl.datasets.make_event_log(3000, seed=0)
    >>> train, test = split_by_time(log, train=2/3)
    >>> model = ConversionModel(goal="order_placed", within="7d", random_state=0).fit(train)
    >>> report = model.evaluate(test)
    >>> report.auc > 0.75, report.to_frame().columns.tolist()
    (True, ['bin', 'mean_predicted', 'observed_rate', 'prefixes'])
    >>> model.next_best(test, top=1).to_frame().columns.tolist()
    ['user_id', 'rank', 'touchpoint', 'probability_now', 'probability_after', 'observational_rise']
    """

    _fitted_attribute = "estimator_"

    def __init__(self, *, goal: str | Sequence[str] | None = None, within: Any = None, order: int = 4,
                 max_classes: int = 100, max_prefixes: int = 50_000, validation: float = 0.2, max_iter: int = 200,
                 learning_rate: float = 0.1, random_state: int | None = 0) -> None:
        self.goal = goal
        self.within = within
        self.order = order
        self.max_classes = max_classes
        self.max_prefixes = max_prefixes
        self.validation = validation
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.random_state = random_state

    # -- reading -----------------------------------------------------------------
    def _read(self, log: Any, events: Events | None = None) -> tuple[Coded, np.ndarray]:
        """The coded log with journeys cut after each goal event, and which rows are goal events."""
        events = read_events(log) if events is None else events
        goal = np.isin(events.e, event_codes([g for g in self.goal_ if g in set(events.events)], events.events))
        heads = events.heads("user")
        heads[1:] |= goal[:-1]
        return Coded.of(events, self.vocab_, heads), goal

    def _labels(self, log: Coded, goal: np.ndarray, within_us: int) -> tuple[np.ndarray, np.ndarray]:
        """The rows that are labelled (not a goal, window observed) and whether each converts in time."""
        n = len(goal)
        tail = log.p.is_last(np.arange(n))
        # each row's journey end: the next tail at or after it
        end = np.minimum.accumulate(np.where(tail, np.arange(n), n)[::-1])[::-1] if n else np.zeros(0, int)
        t = log.events.t
        converted = goal[end] & (t[end] - t <= within_us)
        horizon = t.max(initial=0)
        rows = np.flatnonzero(~goal & (t + within_us <= horizon))
        return rows, converted[rows]

    # -- fitting -----------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> "ConversionModel":
        """Learn from every labelled prefix of log ``X`` (see the module docstring)."""
        boosting.check_params(self)
        within_us = micros(self.within, "within")
        events = read_events(X)
        self.goal_ = event_names(self.goal, events.events, "goal")
        self.vocab_ = Vocabulary.fit(events, self.max_classes)
        log, goal = self._read(X, events)
        rows, label = self._labels(log, goal, within_us)
        if not len(rows):
            raise JourneyLensError(f"no prefix of the log has its whole within={self.within!r} window observed: "
                                   "the log is shorter than the window")
        channel = events.c is not None and 0 < len(self.vocab_.channels) <= boosting.MAX_CLASSES
        self.spec_ = FeatureSpec(self.order, min(self.vocab_.n, MAX_COUNTED), timing=True, calendar=False,
                                 channel=channel)
        rng = np.random.default_rng(self.random_state)
        inner = training_rows(events, 1 - self.validation)[rows]
        fitted = self._boost(log, rows[inner], label[inner], rng, self.max_iter,
                             held=(rows[~inner], label[~inner]))
        held_p = self._score(fitted, log, rows[~inner])
        self.validation_ = {"auc": _auc(label[~inner], held_p), "brier": float(np.mean((held_p - label[~inner]) ** 2)),
                            "prefixes": int((~inner).sum()), "boosting_iterations": boosting.best_iterations(fitted)}
        self.estimator_ = self._boost(log, rows, label, rng, self.validation_["boosting_iterations"])
        self.base_rate_ = float(label.mean())
        self.n_prefixes_ = len(rows)
        # what a hypothetical next event looks like: the median gap, and each event's most frequent channel
        gaps = np.diff(events.t)[~log.p.is_last(np.arange(len(events)))[:-1]] if len(events) > 1 else np.zeros(0)
        self.gap_us_ = int(np.median(gaps)) if len(gaps) else 0
        self.channel_of_ = _usual_channel(log, self.vocab_)
        return self

    def _boost(self, log: Coded, rows: np.ndarray, label: np.ndarray, rng: np.random.Generator, max_iter: int,
               held: tuple[np.ndarray, np.ndarray] | None = None):
        pick = boosting.sample(np.arange(len(rows)), self.max_prefixes, rng)
        stop = None
        if held is not None:
            val = boosting.sample(np.arange(len(held[0])), max(self.max_prefixes // 2, 1), rng)
            stop = (log.features(self.spec_, held[0][val], self.vocab_), held[1][val].astype(np.int64))
        return boosting.fit(log.features(self.spec_, rows[pick], self.vocab_), label[pick].astype(np.int64),
                            self.spec_.categorical(self.vocab_), max_iter=max_iter, learning_rate=self.learning_rate,
                            rng=rng, held=stop)

    def _score(self, booster: Any, log: Coded, rows: np.ndarray) -> np.ndarray:
        """P(converts in time) of the prefixes ending at ``rows``."""
        parts = [boosting.proba(booster, log.features(self.spec_, rows[i: i + CHUNK], self.vocab_), 2)[:, 1]
                 for i in range(0, len(rows), CHUNK)]
        return np.concatenate(parts) if parts else np.zeros(0)

    # -- prediction --------------------------------------------------------------
    def _active(self, X: Any) -> tuple[Coded, np.ndarray]:
        """The coded log and the last row of each user whose current journey has not converted."""
        self._check_fitted()
        log, goal = self._read(X)
        last = log.last_of_users()
        return log, last[~goal[last]]

    def predict_proba(self, X: Any) -> pd.Series:
        """For each active user of log ``X``, the probability of reaching the goal within ``within``."""
        log, last = self._active(X)
        return pd.Series(self._score(self.estimator_, log, last), index=log.users_of(last),
                         name="conversion_probability")

    def evaluate(self, X: Any, bins: int = 10) -> "ConversionReport":
        """AUC, Brier score and a reliability table (``bins`` equal-width bins of the predicted
        probability) over every labelled prefix of log ``X``."""
        self._check_fitted()
        bins = positive_int(bins, "bins")
        log, goal = self._read(X)
        rows, label = self._labels(log, goal, micros(self.within, "within"))
        prob = self._score(self.estimator_, log, rows)
        prefixes = pd.DataFrame({"user_id": log.users_of(rows).to_numpy(), "position": log.p.position[rows],
                                 "converted": label, "probability": prob})
        return ConversionReport(auc=_auc(label, prob), brier=float(np.mean((prob - label) ** 2)) if len(rows) else
                                float("nan"), base_rate=float(label.mean()) if len(rows) else float("nan"),
                                reliability=_reliability(label, prob, bins), prefixes=prefixes,
                                goal=self.goal_, within=str(self.within))

    def score(self, X: Any, y: Any = None) -> float:
        """The AUC over every labelled prefix of log ``X``."""
        return self.evaluate(X).auc

    def next_best(self, X: Any, top: int = 3, touchpoints: str | Sequence[str] | None = None) -> "NextBest":
        """For each active user, the ``top`` next touchpoints with the largest observational rise in
        conversion probability (see :data:`OBSERVATIONAL`).

        Each candidate extends the user's current prefix by one event, ``gap_us_`` (the median gap
        between events in training) after the last one, on that event's most frequent training
        channel; the model scores the extended prefix. ``touchpoints``: the candidates (default:
        every event the model keeps, goal events excepted).
        """
        top = positive_int(top, "top")
        log, last = self._active(X)
        kept = pd.Index(self.vocab_.kept)
        names = event_names(touchpoints, kept, "touchpoints") if touchpoints is not None else \
            tuple(n for n in kept if n not in self.goal_)
        codes = kept.get_indexer(list(names))
        users, now, after = [], [], []
        step = max(1, CHUNK // max(len(codes), 1))
        for i in range(0, len(last), step):
            rows = last[i: i + step]
            X0 = log.features(self.spec_, rows, self.vocab_)
            t = log.events.t[rows]
            extended = np.vstack([self.spec_.extend(X0, t, c, self.gap_us_, self.channel_of_[c], self.vocab_)
                                  for c in codes])
            now.append(boosting.proba(self.estimator_, X0, 2)[:, 1])
            after.append(boosting.proba(self.estimator_, extended, 2)[:, 1].reshape(len(codes), len(rows)).T)
            users.append(log.users_of(rows).to_numpy())
        p_now = np.concatenate(now) if now else np.zeros(0)
        p_after = np.vstack(after) if after else np.zeros((0, len(codes)))
        k = min(top, len(codes))
        best = np.argsort(-(p_after - p_now[:, None]), axis=1, kind="stable")[:, :k]
        chosen = np.take_along_axis(p_after, best, axis=1)
        table = pd.DataFrame({
            "user_id": np.repeat(np.concatenate(users) if users else np.zeros(0, dtype=object), k),
            "rank": np.tile(np.arange(1, k + 1), len(p_now)),
            "touchpoint": np.asarray(names, dtype=object)[best.ravel()],
            "probability_now": np.repeat(p_now, k),
            "probability_after": chosen.ravel(),
            "observational_rise": (chosen - p_now[:, None]).ravel()})
        return NextBest(table=table, goal=self.goal_, within=str(self.within))


def _auc(label: np.ndarray, prob: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(label, prob)) if len(np.unique(label)) == 2 else float("nan")


def _reliability(label: np.ndarray, prob: np.ndarray, bins: int) -> pd.DataFrame:
    """Per equal-width bin of predicted probability: mean prediction, observed rate, prefixes (empty bins left out)."""
    which = np.minimum((prob * bins).astype(np.int64), bins - 1)
    frame = pd.DataFrame({"bin": which, "p": prob, "y": label.astype(np.float64)})
    table = frame.groupby("bin").agg(mean_predicted=("p", "mean"), observed_rate=("y", "mean"),
                                     prefixes=("y", "size")).reset_index()
    table["bin"] = [f"{b / bins:.2f}–{(b + 1) / bins:.2f}" for b in table["bin"]]
    return table


def _usual_channel(log: Coded, vocab: Vocabulary) -> np.ndarray:
    """Each kept event's most frequent channel code in training (NaN when it never had one)."""
    out = np.full(vocab.n, np.nan)
    known = ~np.isnan(log.channel) & (log.p.x < vocab.n)
    if known.any():
        n_channels = len(vocab.channels)
        pairs = np.bincount(log.p.x[known] * n_channels + log.channel[known].astype(np.int64),
                            minlength=vocab.n * n_channels).reshape(vocab.n, n_channels)
        seen = pairs.sum(axis=1) > 0
        out[seen] = pairs[seen].argmax(axis=1)
    return out


@dataclass(frozen=True)
class ConversionReport:
    """How well conversion probabilities rank and how well they are calibrated, over labelled prefixes.

    ``auc``, ``brier`` (mean squared error of the probabilities), ``base_rate`` (share converted),
    ``reliability`` (per probability bin: mean prediction, observed rate, prefixes) and ``prefixes``
    (one row each: ``user_id, position, converted, probability``).
    """

    auc: float
    brier: float
    base_rate: float
    reliability: pd.DataFrame
    prefixes: pd.DataFrame
    goal: tuple[str, ...]
    within: str

    def to_frame(self) -> pd.DataFrame:
        """The reliability table: ``bin, mean_predicted, observed_rate, prefixes``."""
        return self.reliability.copy()

    def plot(self):
        """The reliability curve against the diagonal of perfect calibration (plotly)."""
        import plotly.graph_objects as go

        t = self.reliability
        fig = go.Figure([
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"}, name="calibrated"),
            go.Scatter(x=t["mean_predicted"], y=t["observed_rate"], mode="lines+markers", name="model",
                       text=[f"{n:,} prefixes" for n in t["prefixes"]])])
        fig.update_layout(title=f"Reliability: reaching {', '.join(self.goal)} within {self.within} "
                                f"(AUC {self.auc:.3f}, Brier {self.brier:.3f})",
                          xaxis_title="predicted probability", yaxis_title="observed rate")
        return fig

    def _repr_html_(self) -> str:
        head = (f"Conversion to {html.escape(', '.join(self.goal))} within {html.escape(self.within)}: "
                f"AUC {self.auc:.3f}, Brier {self.brier:.3f}, base rate {self.base_rate:.1%}, "
                f"{len(self.prefixes):,} prefixes")
        return f"<div><strong>{head}</strong>{self.reliability.to_html(index=False, escape=True)}</div>"


@dataclass(frozen=True)
class NextBest:
    """Per active user, the next touchpoints associated with the largest rise in conversion probability:
    ``user_id, rank, touchpoint, probability_now, probability_after, observational_rise``.

    Observational, not causal (``note``): an association learnt from past journeys, not the effect of
    sending the touchpoint.
    """

    table: pd.DataFrame
    goal: tuple[str, ...]
    within: str
    note: str = OBSERVATIONAL

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def plot(self, top: int = 15):
        """Bars: how many users have each touchpoint first, coloured by its mean observational rise (plotly)."""
        import plotly.express as px

        first = self.table[self.table["rank"] == 1]
        t = (first.groupby("touchpoint").agg(users=("user_id", "size"), rise=("observational_rise", "mean"))
             .sort_values("users", ascending=False).head(top).iloc[::-1].reset_index())
        from ..viz.text import plain

        t["touchpoint"] = [plain(e) for e in t["touchpoint"]]
        fig = px.bar(t, x="users", y="touchpoint", color="rise", orientation="h",
                     labels={"rise": "mean observational rise"})
        fig.update_layout(title="Next touchpoint with the largest observational rise (associations, not effects)",
                          height=160 + 28 * len(t))
        return fig

    def _repr_html_(self) -> str:
        head = (f"Next touchpoints by observational rise in reaching {html.escape(', '.join(self.goal))} "
                f"within {html.escape(self.within)}")
        return (f"<div><strong>{head}</strong><p><em>{html.escape(self.note)}</em></p>"
                f"{self.table.head(30).to_html(index=False, escape=True)}</div>")
