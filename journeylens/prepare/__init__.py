"""Preparation steps on an EventLog: stitch identities, sessionize, assign stages.

Each step returns a new log and records its parameters in ``log.parameters``.
"""

from .identities import identity_map, stitch
from .sessions import sessionize, sessions
from .stages import assign_stages, unmapped_events

__all__ = ["assign_stages", "identity_map", "sessionize", "sessions", "stitch", "unmapped_events"]
