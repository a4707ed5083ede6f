"""``jl.read``: pick the reader from the file name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..core.params import choice
from ..core.protocol import JourneyLog
from ..errors import InputError

_PARQUET = (".parquet", ".pq")
_XES = (".xes", ".xes.gz")
#: where a log can be held
ENGINES = ("memory", "duckdb", "spark")
_JSONL = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz")


def read(path: str | Path, engine: str = "memory", **options: Any) -> JourneyLog:
    """Read an event file with the reader its name calls for.

    ``.xes(.gz)`` → :func:`read_xes`; ``.parquet``, a folder or a glob →
    :func:`read_parquet`; ``.jsonl``/``.ndjson``/``.json`` (``.gz``) →
    :func:`read_jsonl`; anything else → :func:`read_csv`. A path that exists is
    that file or folder, even when its name has ``*``, ``?`` or ``[`` … ``]``;
    only a path that does not exist is read as a glob. Options go to the reader.
    ``engine``: ``"memory"``, or ``"duckdb"``/``"spark"`` to hold the log there (Parquet is
    read by that engine directly; other formats are read in memory first, then held).

    >>> import journeylens as jl
    >>> log = jl.read(jl.datasets.sample_path(), **jl.datasets.SAMPLE_MAPPING)   # doctest: +SKIP
    """
    from . import files, xes

    choice(engine, "engine", ENGINES)
    p = Path(path)
    name = p.name.lower()
    exists = os.path.exists(p)
    if (exists and p.is_dir()) or (not exists and any(ch in str(path) for ch in "*?[")) or name.endswith(_PARQUET):
        return files.read_parquet(path, engine=engine, **options)
    if name.endswith(_XES):
        log = xes.read_xes(path, **options)
    elif name.endswith(_JSONL):
        log = files.read_jsonl(path, **options)
    elif not exists:
        raise InputError(f"{path}: no such file")
    else:
        log = files.read_csv(path, **options)
    return log if engine == "memory" else log.hold(engine)
