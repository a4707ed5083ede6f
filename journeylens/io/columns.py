"""Column mapping: which source column plays which role (user, time, event, …).

Users name roles with one vocabulary everywhere (``user=, time=, event=,
channel=, session=, device=, stage=, value=``). Roles they do not name are
auto-detected from common names; when a role is required and no column, or
more than one equally good column, matches, the error lists the columns the
source has so the user can pass the right one.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..core.eventlog import REQUIRED_ROLES, ROLES
from ..errors import ColumnError, ParameterError, preview

# Candidate names per role, in tiers: the first tier with a match wins; two
# matches within one tier are ambiguous. Names compare after normalisation
# (lower case, separators dropped), so "Case ID" == "case_id" == "caseid".
CANDIDATES: dict[str, tuple[tuple[str, ...], ...]] = {
    "user": (
        ("case:concept:name",),
        ("user_id", "customer_id", "client_id", "visitor_id", "person_id", "case_id", "caseid"),
        ("user", "customer", "client", "visitor", "case", "cookie_id", "anonymous_id", "account_id"),
    ),
    "time": (
        ("time:timestamp",),
        ("timestamp", "event_time", "event_timestamp", "complete_timestamp", "datetime", "event_date"),
        ("time", "ts", "date", "created_at", "occurred_at", "contact_date"),
    ),
    "event": (
        ("concept:name",),
        ("event", "activity", "event_name", "activity_name", "event_type", "touchpoint"),
        ("action", "page", "step"),
    ),
    "channel": (("channel", "case:channel"), ("channel_name", "contact_channel", "marketing_channel", "medium")),
    "session": (("session_id", "sessionid"), ("session", "visit_id")),
    "device": (("device", "device_type"), ("platform",)),
    "stage": (("stage", "lifecycle_stage", "journey_stage"),),
    "value": (("value", "revenue", "amount_value"),),
}


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.]+", "", str(name).strip().lower())


def resolve_roles(
    columns: Iterable[str],
    given: Mapping[str, str | None],
    source: str,
) -> dict[str, str]:
    """Map each role to a source column: named ones checked, the rest detected.

    Returns ``{role: column}`` for the roles found; raises :class:`ColumnError`
    when a required role is missing or ambiguous, and :class:`ParameterError` (naming the
    role) when a column passed by name is absent.
    """
    cols = [str(c) for c in columns]
    unknown = sorted(set(given) - set(ROLES))
    if unknown:
        raise ColumnError(f"{source}: unknown role(s) {unknown}; roles are {sorted(ROLES)}")
    available = f"available columns: {preview(cols, limit=25)}"
    if len(cols) == 1 and re.search(r"[;,\t|]", cols[0]):
        available += " (one column only: is the delimiter right? pass sep=…)"

    roles: dict[str, str] = {}
    for role, col in given.items():
        if col is None:
            continue
        if col not in cols:
            raise ParameterError(f"{role}={col!r} is not a column of {source}; {available}", role)
        roles[role] = col
    taken = set(roles.values())
    by_norm: dict[str, list[str]] = {}
    for c in cols:
        by_norm.setdefault(_norm(c), []).append(c)

    for role in ROLES:
        if role in roles or role in given:  # given as None: explicitly not mapped
            continue
        for tier in CANDIDATES.get(role, ()):
            # one column once, even when two candidate names normalise alike ("case_id", "caseid")
            hits = list(dict.fromkeys(c for name in tier for c in by_norm.get(_norm(name), []) if c not in taken))
            if len(hits) > 1:
                if role in REQUIRED_ROLES:
                    raise ColumnError(
                        f"{source}: several columns could be the {role}: {preview(hits)}; pass {role}=… ({available})"
                    )
                break  # optional role: ambiguity means we do not guess
            if hits:
                roles[role] = hits[0]
                taken.add(hits[0])
                break
    missing = [r for r in REQUIRED_ROLES if r not in roles]
    if missing:
        hint = ", ".join(f"{r}=…" for r in missing)
        raise ColumnError(f"{source}: cannot tell which column is the {'/'.join(missing)}; pass {hint} ({available})")
    return roles
