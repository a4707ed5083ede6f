"""What the outcome analyses share: their parameters checked once, and each journey's outcome.

Outcomes are explicit. ``goal`` events end a journey in success, ``lost``
events (a declined application, a cancellation, a debt sent to collection, an
unsubscribe) end it in failure; both are *terminal*. Each journey — the user's
whole history, or a session with ``per="session"`` — observed up to
``observation_end`` (default: the log's last event) is

* **converted** when its first terminal event is a goal event,
* **lost** when its first terminal event is a lost event,
* **dropped off** when it has no terminal event and is over: its user did
  something after its last event (a later session), or it has been inactive
  for at least ``inactivity`` before ``observation_end``,
* **censored** otherwise: still possibly on its way, never counted as a drop-off.

"First" means earliest in time, and on equal times earliest in the log (source
order): a journey with both outcomes has the one that came first, and events
after its terminal event do not change it. Lost journeys are neither converted,
nor dropped off, nor censored, and terminal events are never reported as
drop-off points or roadblocks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.params import event_names, micros, timestamp_us
from ..core.protocol import By, JourneyLog, check_per
from ..engine.outcomes import outcome_table
from ..engine.sql import Table, with_user_values
from ..errors import ParameterError


@dataclass(frozen=True)
class OutcomeJourneys:
    """The journey table (window pass with segment ``s``, and ``c_stage`` when ``stage``) and its
    per-journey outcome table ``jo`` (both in the log's engine), with the checked parameters."""

    ev: Table
    jo: Table
    goal: tuple[str, ...]
    lost: tuple[str, ...]
    goal_codes: np.ndarray
    lost_codes: np.ndarray
    end_us: int
    per: str
    labels: pd.Index  # segment labels, by segment code
    segment: str | None  # the segment column's name, None without ``by``
    stage: bool

    @property
    def unit(self) -> str:
        """The name of a journey count: ``users`` or ``sessions``."""
        return "users" if self.per == "user" else "sessions"

    def name_segments(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its ``segment`` code column decoded (and named after ``by``), or dropped without ``by``."""
        if self.segment is None:
            return frame.drop(columns="segment")
        if self.segment in frame.columns:
            raise ParameterError(f"the segment name {self.segment!r} is a column of the result: rename the "
                                 "labels (Series.rename)", "by")
        frame = frame.copy()
        frame["segment"] = np.asarray(self.labels, dtype=object)[frame["segment"].to_numpy(dtype=np.int64)]
        return frame.rename(columns={"segment": self.segment})


def outcome_journeys(log: JourneyLog, goal: Any, lost: Any, *, per: str, by: By, observation_end: Any,
                     inactivity: Any, stage: bool = False) -> OutcomeJourneys:
    """Check the shared parameters once and compute each journey's outcome on the log's engine.

    ``stage``: also carry each event's stage (when the log has stages).
    """
    per = check_per(per)
    known = log.event_names
    goals = event_names(goal, known, "goal")
    losts = event_names(lost, known, "lost", required=False)
    both = sorted(set(goals) & set(losts))
    if both:
        raise ParameterError(f"{both[0]!r} is both a goal and a lost event: an outcome is one or the other", "lost")
    idle_us = micros(inactivity, "inactivity")
    if len(log) == 0:
        raise ParameterError("the log has no events: nothing to analyse", "log")
    first, last = log.time_range()
    if observation_end is None:
        end_us = last
    else:
        end_us = timestamp_us(observation_end, "observation_end")
        if end_us < first:
            start = pd.Timestamp(first * 1000, tz="UTC").isoformat()
            raise ParameterError(f"observation_end={observation_end!r} is before the log's first event ({start})",
                                 "observation_end")
    seg_of_user, labels, name = log.segments(by)
    stage = stage and log.has("stage")
    ev = with_user_values(log.journeys(per=per, columns=("stage",) if stage else ()), "s", seg_of_user)
    goal_codes, lost_codes = log.event_codes_of(goals), log.event_codes_of(losts)
    jo = outcome_table(ev, goal_codes, lost_codes, end_us, idle_us, stage=stage)
    return OutcomeJourneys(ev=ev, jo=jo, goal=goals, lost=losts, goal_codes=goal_codes, lost_codes=lost_codes,
                           end_us=end_us, per=per, labels=labels, segment=None if by is None else name, stage=stage)


def decode(names: pd.Index, codes: np.ndarray) -> np.ndarray:
    """Names of codes (object array); code -1 (missing) is None."""
    codes = np.asarray(codes, dtype=np.int64)
    out = np.asarray(names.astype(str), dtype=object)[np.maximum(codes, 0)] if len(names) else \
        np.full(len(codes), None, dtype=object)
    out[codes < 0] = None
    return out
