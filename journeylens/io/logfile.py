"""Reading back a log saved with ``log.to_parquet(folder)``, on any engine.

The saved events are already validated and coded; they are not read again as a
source. Their codes, dictionaries, quarantine, parameters and source rows come
back as they were, so every analysis gives the same answer as on the saved log.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.eventlog import EventLog
from ..core.tablelog import TableLog
from ..engine.backends import backend_named
from ..engine.backends import duckdb as duck
from ..engine.sql import frame
from ..errors import InputError, ParameterError


def read_log(path: str | os.PathLike[str], engine: str = "memory") -> EventLog | TableLog:
    """The log saved in ``path`` by :meth:`~journeylens.core.protocol.JourneyLog.to_parquet`:
    in memory (``engine="memory"``), or held by ``"duckdb"`` on disk or ``"spark"``.

    >>> import pandas as pd, tempfile, journeylens as jl
    >>> log = jl.from_pandas(pd.DataFrame({"user": ["a"], "time": ["2024-01-01"], "event": ["home"]}))
    >>> jl.read_log(log.to_parquet(tempfile.mkdtemp() + "/saved")).summary()["users"]
    1
    """
    if engine not in ("memory", "duckdb", "spark"):
        raise ParameterError(f"engine must be 'memory', 'duckdb' or 'spark', not {engine!r}", "engine")
    folder = Path(path)
    meta = _meta(folder)
    backend = backend_named("duckdb" if engine == "memory" else engine)
    dictionaries = _dictionaries(folder)
    levels = {name: pd.Index(dictionaries.get(name, [])) for name, kind in meta["columns"].items() if kind == "coded"}
    events = folder / "events.parquet"
    files = sorted(str(f) for f in events.rglob("*.parquet")) if events.is_dir() else [str(events)]
    if backend.name == "spark":
        from ..engine.backends.spark import pyspark_sql, session

        spark = pyspark_sql().SparkSession.getActiveSession() or session()
        scan, quarantine = spark.read.parquet(*files), spark.read.parquet(str(folder / "quarantine.parquet"))
    else:
        db = duck.held_database()
        listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        scan = duck.held_table(db, f"SELECT * FROM read_parquet([{listing}])", materialise=False)
        quarantine = duck.held_table(db, "SELECT * FROM read_parquet('"
                                     + str(folder / "quarantine.parquet").replace("'", "''") + "')")
    # the saved order is the log order (user, time, source row): number it again from that
    held = frame("SELECT {row_id} AS i, * FROM (SELECT * FROM s ORDER BY u, t, source_row) o", {"s": scan},
                 materialise=True)
    users, event_names = pd.Index(dictionaries["user"]), pd.Index(dictionaries["event"])
    dictionary = lambda names: backend.ship({"code": np.arange(len(names), dtype=np.int64),  # noqa: E731
                                             "name": np.asarray(names, dtype=object)}, held)
    log = TableLog(frame=held, user_names=users, event_index=event_names, levels=levels, roles=meta["roles"],
                   rows_read=int(meta["rows_read"]), accepted=int(meta["rows_accepted"]), quarantine=quarantine,
                   parameters=meta["parameters"], source=str(meta["source"]),
                   dictionaries={"users": dictionary(users), "events": dictionary(event_names)})
    if engine != "memory":
        return log
    memory = log.collect()
    for name in meta.get("ordered", []):  # stages come in designed order (a fresh frame: set in place)
        if memory.has(name):
            memory._frame[name] = memory._frame[name].cat.as_ordered()
    return memory


def _meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "log.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise InputError(f"{folder}: not a saved journeylens log (no readable log.json)") from None
    if not isinstance(meta, dict) or meta.get("format") != "journeylens log" or meta.get("version") != 1:
        raise InputError(f"{folder}: log.json is not a journeylens log of a version this release reads")
    return meta


def _dictionaries(folder: Path) -> dict[str, list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "dictionaries.parquet").to_pandas()
    table = table.sort_values(["level", "code"], kind="stable")
    return {str(level): group["name"].tolist() for level, group in table.groupby("level", sort=False)}
