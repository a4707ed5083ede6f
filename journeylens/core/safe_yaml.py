"""Untrusted YAML and JSON documents (journey maps, configuration files) loaded within bounds.

:func:`load_yaml` and :func:`load_json` return plain data (dicts, lists, text,
numbers, booleans, None) or raise the caller's error class with one line
naming the file and, where the parser knows it, the line:

* **No aliases or anchors** (``&a`` / ``*a``): an alias repeats a structure
  without repeating its text, so 486 bytes can stand for gigabytes ("billion
  laughs"). A map or a configuration file never needs them.
* **Bounded size and depth**: at most :data:`MAX_BYTES` of text and
  :data:`MAX_DEPTH` levels of nesting (JSON nested 100,000 deep is refused
  before Python's recursion limit is reached), at most :data:`MAX_NODES` values.
* **Duplicate keys are errors**, not "the last one wins": in YAML and in JSON.
* Only the plain YAML types (no Python objects, no merge keys, no sets); keys are plain values.

:func:`bounded_repr` previews any value for an error message in bounded time
and space, however large or deeply nested the value is.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..errors import JourneyLensError, bounded_repr

MAX_BYTES = 16 << 20
MAX_DEPTH = 64
MAX_NODES = 2_000_000



_PARSER = yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader
_RESOLVER = yaml.resolver.Resolver()
_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_SCALARS = yaml.SafeLoader.yaml_constructors
_CONSTRUCTOR = yaml.SafeLoader("")  # only its stateless scalar constructors are used


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _scalar(event: yaml.ScalarEvent, label: str, error: type[JourneyLensError]) -> Any:
    """The value of a scalar, resolved as the safe loader resolves it (plain ``1`` is an int, ``yes`` a bool …)."""
    if event.tag in (None, "!") and event.implicit[0]:
        tag = _RESOLVER.resolve(yaml.ScalarNode, event.value, (True, False))
    else:
        tag = event.tag if event.tag not in (None, "!") else _STR
    if tag == _STR:
        return event.value
    construct = _SCALARS.get(tag)
    if construct is None or tag in ("tag:yaml.org,2002:merge",):
        raise error(f"{label}: refused: the tag {str(tag)[:80]!r} is not allowed{_where(event.start_mark)}")
    return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark))


def load_yaml(text: str, label: str, error: type[JourneyLensError]) -> Any:
    """The data of one YAML document (see the module docstring); ``error`` is the class raised.

    The document is built from the parser's events in one pass: aliases, anchors,
    tags other than the plain types, keys that are not plain values, duplicate keys
    and nesting deeper than :data:`MAX_DEPTH` are refused as they are met.

    >>> load_yaml("a: 1\\nb: [x, y]\\n", "m.yaml", JourneyLensError)
    {'a': 1, 'b': ['x', 'y']}
    >>> load_yaml("a: &x [1]\\nb: *x\\n", "m.yaml", JourneyLensError)
    Traceback (most recent call last):
    ...
    journeylens.errors.JourneyLensError: m.yaml: refused: anchors and aliases are not allowed (&x) at line 1, column 4
    """
    _check_size(text, label, error)
    stack: list[list[Any]] = []  # open collections: [container, pending key or _NO_KEY]
    documents, nodes = [], 0
    try:
        for event in yaml.parse(text, Loader=_PARSER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                mark = "*" if isinstance(event, yaml.AliasEvent) else "&"
                raise error(f"{label}: refused: anchors and aliases are not allowed "
                            f"({mark}{str(event.anchor)[:30]}){_where(event.start_mark)}")
            if isinstance(event, yaml.DocumentStartEvent):
                if documents:
                    raise error(f"{label}: holds more than one YAML document{_where(event.start_mark)}; give one")
                documents.append(None)
                continue
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                is_map = isinstance(event, yaml.MappingStartEvent)
                if event.tag not in (None, "!", _MAP if is_map else _SEQ):
                    raise error(f"{label}: refused: the tag {str(event.tag)[:80]!r} is not allowed"
                                f"{_where(event.start_mark)}")
                if len(stack) >= MAX_DEPTH:
                    raise error(f"{label}: nested deeper than {MAX_DEPTH} levels{_where(event.start_mark)}")
                value: Any = {} if is_map else []
                _place(stack, documents, value, event, label, error)
                stack.append([value, _NO_KEY])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                stack.pop()
            elif isinstance(event, yaml.ScalarEvent):
                _place(stack, documents, _scalar(event, label, error), event, label, error)
            else:
                continue
            nodes += 1
            if nodes > MAX_NODES:
                raise error(f"{label}: more than {MAX_NODES:,} values")
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise error(f"{label}: invalid YAML{_where(mark)}: {problem}") from None
    except (ValueError, OverflowError) as exc:  # a number Python will not convert (more than 4,300 digits …)
        raise error(f"{label}: invalid YAML: {str(exc)[:120]}") from None
    return documents[0] if documents else None


_NO_KEY = object()


def _place(stack: list[list[Any]], documents: list[Any], value: Any, event: Any, label: str,
           error: type[JourneyLensError]) -> None:
    """Put ``value`` where the document expects it: a key, a mapping's value, a list item or the document."""
    if not stack:
        documents[-1] = value
        return
    top = stack[-1]
    container = top[0]
    if isinstance(container, list):
        container.append(value)
    elif top[1] is _NO_KEY:
        if isinstance(value, (dict, list)):
            raise error(f"{label}: a key must be a plain value, not a mapping or a list{_where(event.start_mark)}")
        if value in container:
            raise error(f"{label}: duplicate key {bounded_repr(value)}{_where(event.start_mark)}")
        top[1] = value
    else:
        container[top[1]] = value
        top[1] = _NO_KEY


def load_json(text: str, label: str, error: type[JourneyLensError]) -> Any:
    """The data of one JSON document, with the same bounds as :func:`load_yaml`.

    >>> load_json('{"a": 1, "a": 2}', "m.json", JourneyLensError)
    Traceback (most recent call last):
    ...
    journeylens.errors.JourneyLensError: m.json: duplicate key 'a' in a JSON object
    """
    _check_size(text, label, error)

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(items)
        if len(out) != len(items):
            seen: set[str] = set()
            key = next(k for k, _ in items if k in seen or seen.add(k))  # type: ignore[func-returns-value]
            raise error(f"{label}: duplicate key {bounded_repr(key)} in a JSON object")
        return out

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise error(f"{label}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:  # a number Python will not convert (more than 4,300 digits)
        raise error(f"{label}: invalid JSON: {str(exc)[:120]}") from None
    except RecursionError:
        raise error(f"{label}: nested deeper than {MAX_DEPTH} levels") from None
    _check_shape(data, label, error)
    return data


def _check_shape(data: Any, label: str, error: type[JourneyLensError]) -> None:
    """Depth and node count of parsed data, walked without recursion."""
    stack, nodes = [(data, 1)], 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise error(f"{label}: more than {MAX_NODES:,} values")
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise error(f"{label}: nested deeper than {MAX_DEPTH} levels")
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))


def _check_size(text: str, label: str, error: type[JourneyLensError]) -> None:
    if len(text) > MAX_BYTES:
        raise error(f"{label}: {len(text):,} characters, more than the {MAX_BYTES >> 20} MiB a document may have")
