"""Splitting a log in time for honest evaluation: train on earlier journeys, test on later ones."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.kernels import distinct
from ..errors import JourneyLensError, ParameterError
from .prefixes import Events, read_events


def split_by_time(log: Any, *, train: float = 2 / 3) -> tuple[Any, Any]:
    """The log's users in two logs: those whose journeys started first (the first ``train`` share)
    and the rest.

    Users are ordered by their first event (ties by user id) and whole users go to one side,
    the protocol of Tax et al. (2017) for next-event prediction: a model is trained on the
    past and tested on journeys that started later, never on events of a journey it saw.

    >>> import journeylens as jl
    >>> from journeylens.predict.split import split_by_time
    >>> log = jl.datasets.make_event_log(300, seed=0)
    >>> train, test = split_by_time(log, train=2/3)
    >>> train.summary()["users"], test.summary()["users"], len(train) + len(test) == len(log)
    (200, 100, True)
    """
    if isinstance(train, (bool, np.bool_)) or not isinstance(train, (int, float, np.number)) or not 0 < train < 1:
        raise ParameterError(f"train must be a share between 0 and 1 (exclusive), not {train!r}", "train")
    events = read_events(log)
    in_train = distinct(events.u[training_rows(events, train)])
    rest = np.setdiff1d(distinct(events.u), in_train, assume_unique=True)
    ids = lambda codes: log.users[codes].astype(str).tolist()  # noqa: E731
    return log.filter(users=ids(in_train)), log.filter(users=ids(rest))


def training_rows(events: Events, train: float) -> np.ndarray:
    """True on the rows of the users whose first event comes in the first ``train`` share of users."""
    head = events.heads("user")
    users, first = events.u[head], events.t[head]
    if len(users) < 2:
        raise JourneyLensError(f"splitting needs at least 2 users, the log has {len(users)}")
    order = users[np.lexsort((users, first))]  # user codes follow the sorted ids: ties by id
    n_train = min(max(int(round(train * len(users))), 1), len(users) - 1)
    in_train = np.zeros(int(events.u.max()) + 1, dtype=bool)
    in_train[order[:n_train]] = True
    return in_train[events.u]

