"""The designed journey map: the stages, touchpoints and steps a team intends.

A map is a YAML or JSON document with the same keys either way::

    name: designed retail journey
    stages:                       # ordered lifecycle stages with their touchpoints (events)
      - name: awareness
        touchpoints: [search_ad_click, newsletter_open]
      - name: decision
        touchpoints: [cart, order_placed]
    transitions:                  # the directly-follows steps the team designed
      - [search_ad_click, cart]
    start: [search_ad_click, newsletter_open]
    conversion: order_placed      # an event name or a list of them
    lost: [unsubscribe]           # optional: events that end a journey in failure
    targets:                      # optional
      conversion_rate: 0.25
      max_days_to_convert: 14

Only ``stages`` is required. Without ``transitions`` every step is allowed (only
the stages are designed); without ``start`` every touchpoint may open a journey;
``conversion`` and ``lost`` default to none (``lost`` events need not be touchpoints
of a stage, and never overlap ``conversion``). Every touchpoint belongs to exactly one stage,
so the map is also the event → stage mapping of a log without a stage column.

Files are read with :mod:`journeylens.core.safe_yaml`: no YAML anchors or
aliases, a duplicate key is an error (not "the last one wins"), and size and
nesting are bounded, so a hostile map fails in a line instead of running for
minutes; the checks here are linear in the map's size (a map of 20,000 stages
loads in about a second).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import JourneyMapError
from .safe_yaml import MAX_BYTES, bounded_repr, load_json, load_yaml

KEYS = ("name", "stages", "transitions", "start", "conversion", "lost", "targets")
STAGE_KEYS = ("name", "touchpoints")
#: target → (check, description for errors)
TARGETS: dict[str, tuple[Any, str]] = {
    "conversion_rate": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "max_days_to_convert": (lambda v: 0 < v < math.inf, "a positive number of days"),
}


@dataclass(frozen=True)
class Stage:
    """One lifecycle stage and the touchpoints (event names) that belong to it."""

    name: str
    touchpoints: tuple[str, ...]


@dataclass(frozen=True)
class JourneyMap:
    """A validated designed journey map (see the module docstring for the format).

    >>> from journeylens.core.journey_map import JourneyMap
    >>> m = JourneyMap.from_dict({"stages": [
    ...     {"name": "browse", "touchpoints": ["home", "product"]},
    ...     {"name": "buy", "touchpoints": ["cart", "order"]}],
    ...     "transitions": [["home", "product"], ["product", "cart"], ["cart", "order"]],
    ...     "conversion": "order"})
    >>> m.stage_of["cart"], m.stage_names, m.is_allowed("home", "cart")
    ('buy', ('browse', 'buy'), False)
    """

    name: str
    stages: tuple[Stage, ...]
    transitions: tuple[tuple[str, str], ...] = ()
    start: tuple[str, ...] = ()
    conversion: tuple[str, ...] = ()
    lost: tuple[str, ...] = ()
    targets: Mapping[str, float] = field(default_factory=dict, hash=False)
    source: str = field(default="journey map", compare=False)

    # -- construction ------------------------------------------------------
    @classmethod
    def from_file(cls, path: str | Path) -> "JourneyMap":
        """Read and validate a map from a ``.yaml``/``.yml`` or ``.json`` file.

        Other extensions are read as JSON when the text starts with ``{``, else as YAML.
        """
        path = Path(path)
        label = str(path)
        text = _read_text(path, label)
        suffix = path.suffix.lower()
        as_json = suffix == ".json" or (suffix not in (".yaml", ".yml") and text.lstrip().startswith("{"))
        data = load_json(text, label, JourneyMapError) if as_json else load_yaml(text, label, JourneyMapError)
        return cls.from_dict(data, source=label, default_name=path.stem)

    @classmethod
    def from_dict(cls, data: Any, source: str = "journey map", default_name: str = "journey map") -> "JourneyMap":
        """Validate a map given as a dict (the parsed YAML/JSON document)."""
        if not isinstance(data, Mapping):
            raise JourneyMapError(f"{source}: a journey map must be a mapping with 'stages', got {_kind(data)}")
        unknown = [k for k in data if k not in KEYS]
        if unknown:
            raise JourneyMapError(f"{source}: unknown key {bounded_repr(unknown[0])}; known keys: {', '.join(KEYS)}")
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name.strip():
            raise JourneyMapError(f"{source}: name must be a non-empty text, got {_kind(name)}")
        stages = _stages(data.get("stages"), source)
        stage_of = {t: s.name for s in stages for t in s.touchpoints}

        def known(value: Any, where: str) -> str:
            text = _text(value, where, source)
            if text not in stage_of:
                raise JourneyMapError(f"{source}: {where}: {text!r} is not a touchpoint of any stage")
            return text

        raw_transitions = data.get("transitions") or []
        if not isinstance(raw_transitions, list):
            raise JourneyMapError(
                f"{source}: transitions must be a list of [from, to] pairs, got {_short(raw_transitions)}"
            )
        transitions = []
        for k, pair in enumerate(raw_transitions):
            where = f"transitions[{k}]"
            if not isinstance(pair, list) or len(pair) != 2:
                raise JourneyMapError(f"{source}: {where} must be a [from, to] pair, got {_short(pair)}")
            transitions.append((known(pair[0], where), known(pair[1], where)))
        seen: set[tuple[str, str]] = set()
        for pair in transitions:
            if pair in seen:
                raise JourneyMapError(f"{source}: transitions: {bounded_repr(list(pair), 120)} is listed twice")
            seen.add(pair)
        start = tuple(known(v, f"start[{k}]") for k, v in enumerate(_as_list(data.get("start"), "start", source)))
        conversion = tuple(
            known(v, f"conversion[{k}]") for k, v in enumerate(_as_list(data.get("conversion"), "conversion", source))
        )
        lost = _unique(tuple(_text(v, f"lost[{k}]", source)
                             for k, v in enumerate(_as_list(data.get("lost"), "lost", source))))
        both = sorted(set(lost) & set(conversion))
        if both:
            raise JourneyMapError(f"{source}: {bounded_repr(both[0])} is both a conversion and lost: an outcome "
                                  "is one or the other")
        return cls(
            name=name.strip(),
            stages=stages,
            transitions=tuple(transitions),
            start=_unique(start),
            conversion=_unique(conversion),
            lost=lost,
            targets=_targets(data.get("targets"), source),
            source=source,
        )

    def to_dict(self) -> dict[str, Any]:
        """The map as plain data (``JourneyMap.from_dict(m.to_dict()) == m``)."""
        out: dict[str, Any] = {
            "name": self.name,
            "stages": [{"name": s.name, "touchpoints": list(s.touchpoints)} for s in self.stages],
        }
        if self.transitions:
            out["transitions"] = [list(t) for t in self.transitions]
        if self.start:
            out["start"] = list(self.start)
        if self.conversion:
            out["conversion"] = list(self.conversion)
        if self.lost:
            out["lost"] = list(self.lost)
        if self.targets:
            out["targets"] = dict(self.targets)
        return out

    # -- questions ---------------------------------------------------------
    @property
    def stage_names(self) -> tuple[str, ...]:
        """Stage names in designed order."""
        return tuple(s.name for s in self.stages)

    @property
    def touchpoints(self) -> tuple[str, ...]:
        """All touchpoints, stage by stage in designed order."""
        return tuple(t for s in self.stages for t in s.touchpoints)

    @property
    def stage_of(self) -> dict[str, str]:
        """Touchpoint (event name) → stage name."""
        return {t: s.name for s in self.stages for t in s.touchpoints}

    @property
    def transition_set(self) -> frozenset[tuple[str, str]]:
        """The designed (from, to) steps."""
        return frozenset(self.transitions)

    def is_allowed(self, a: str, b: str) -> bool:
        """Whether the step ``a → b`` is designed (any step is, when the map lists no transitions)."""
        return not self.transitions or (a, b) in self.transition_set

    def is_start(self, event: str) -> bool:
        """Whether ``event`` may open a journey (any touchpoint may, when the map lists no start)."""
        return event in self.start if self.start else event in self.stage_of

    # -- display -----------------------------------------------------------
    def __repr__(self) -> str:
        return (
            f"JourneyMap({self.name!r}, {len(self.stages)} stages, {len(self.touchpoints)} touchpoints, "
            f"{len(self.transitions)} transitions, conversion={list(self.conversion)})"
        )

    def _repr_html_(self) -> str:
        e = html.escape
        rows = "".join(
            f"<tr><th style='text-align:left'>{k + 1}. {e(s.name)}</th><td>{e(', '.join(s.touchpoints))}</td></tr>"
            for k, s in enumerate(self.stages)
        )
        facts = [
            ("transitions", str(len(self.transitions)) if self.transitions else "any"),
            ("start", ", ".join(self.start) or "any touchpoint"),
            ("conversion", ", ".join(self.conversion) or "none"),
            ("lost", ", ".join(self.lost) or "none"),
            ("targets", ", ".join(f"{k} = {v}" for k, v in self.targets.items()) or "none"),
        ]
        extra = "".join(f"<tr><th style='text-align:left'>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
        return f"<div><strong>JourneyMap</strong> {e(self.name)}<table>{rows}{extra}</table></div>"


def as_journey_map(value: Any) -> JourneyMap:
    """A :class:`JourneyMap` from a map, a dict or a path to a YAML/JSON file."""
    if isinstance(value, JourneyMap):
        return value
    if isinstance(value, Mapping):
        return JourneyMap.from_dict(value)
    if isinstance(value, (str, Path)):
        return JourneyMap.from_file(value)
    raise JourneyMapError(f"expected a JourneyMap, a dict or a path to a YAML/JSON file, got {type(value).__name__}")


# -- parsing helpers --------------------------------------------------------
def _read_text(path: Path, label: str) -> str:
    """The file's text: a regular file of UTF-8 at most MAX_BYTES long (checked before reading it)."""
    import stat

    try:
        info = path.stat()
    except FileNotFoundError:
        raise JourneyMapError(f"{label}: no such file") from None
    except OSError as exc:
        raise JourneyMapError(f"{label}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise JourneyMapError(f"{label}: not a regular file (a directory, FIFO or device); give a YAML/JSON file")
    if info.st_size > MAX_BYTES:
        raise JourneyMapError(f"{label}: {info.st_size:,} bytes, more than the {MAX_BYTES >> 20} MiB a map may have")
    try:
        return path.read_bytes()[: MAX_BYTES + 1].decode("utf-8-sig")
    except OSError as exc:
        raise JourneyMapError(f"{label}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError:
        raise JourneyMapError(f"{label}: cannot be read as UTF-8 text (UnicodeDecodeError)") from None


def _stages(raw: Any, source: str) -> tuple[Stage, ...]:
    if raw is None:
        raise JourneyMapError(f"{source}: missing 'stages' (a list of {{name, touchpoints}})")
    if not isinstance(raw, list) or not raw:
        raise JourneyMapError(f"{source}: stages must be a non-empty list of {{name, touchpoints}}, got {_short(raw)}")
    stages: list[Stage] = []
    names: set[str] = set()
    owner: dict[str, str] = {}
    for k, item in enumerate(raw):
        where = f"stages[{k}]"
        if not isinstance(item, Mapping):
            raise JourneyMapError(f"{source}: {where} must be a mapping with name and touchpoints, got {_short(item)}")
        unknown = [key for key in item if key not in STAGE_KEYS]
        if unknown:
            raise JourneyMapError(f"{source}: {where}: unknown key {bounded_repr(unknown[0])}; known keys: name, touchpoints")
        if "name" not in item:
            raise JourneyMapError(f"{source}: {where}: missing 'name'")
        name = _text(item["name"], f"{where}.name", source)
        if name in names:
            raise JourneyMapError(f"{source}: {where}: duplicate stage {bounded_repr(name)}")
        names.add(name)
        points = item.get("touchpoints")
        if not isinstance(points, list) or not points:
            raise JourneyMapError(
                f"{source}: stage {name!r}: touchpoints must be a non-empty list, got {_short(points)}"
            )
        texts = [_text(p, f"stage {name!r} touchpoints[{j}]", source) for j, p in enumerate(points)]
        for t in texts:
            if t in owner:
                where_else = "twice in this stage" if owner[t] == name else f"already in stage {owner[t]!r}"
                raise JourneyMapError(f"{source}: stage {name!r}: touchpoint {t!r} is {where_else}")
            owner[t] = name
        stages.append(Stage(name, tuple(texts)))
    return tuple(stages)


def _targets(raw: Any, source: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise JourneyMapError(f"{source}: targets must be a mapping, got {_short(raw)}")
    out: dict[str, float] = {}
    for key, value in raw.items():
        if key not in TARGETS:
            raise JourneyMapError(f"{source}: targets: unknown target {bounded_repr(key)}; known: {', '.join(TARGETS)}")
        check, wanted = TARGETS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not check(value):
            raise JourneyMapError(f"{source}: targets.{key} must be {wanted}, got {_short(value)}")
        out[key] = value
    return out


def _text(value: Any, where: str, source: str) -> str:
    """Names are text; whole numbers (``404``) are accepted as their digits."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise JourneyMapError(f"{source}: {where} must be a name (text), got {_short(value)}")
    if isinstance(value, int) and not -10**18 < value < 10**18:
        raise JourneyMapError(f"{source}: {where} must be a name (text), got a number with more than 18 digits")
    text = str(value).strip()
    if not text:
        raise JourneyMapError(f"{source}: {where} is empty")
    return text


def _as_list(value: Any, key: str, source: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return [value]
    raise JourneyMapError(f"{source}: {key} must be an event name or a list of them, got {_short(value)}")


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _short(value: Any) -> str:
    return bounded_repr(value)
