"""Persona benchmark: both PersonaModel methods on a million users, seconds and peak RSS.

The log comes from the generator: ``jl.datasets.make_journeys(users, seed=0)``
(four planted personas, ~11 events per customer, channels and devices), written
once to ``benchmarks/data/persona_events_<users>.parquet`` without the planted
persona, which goes to a file of its own and is only used to score the result.

Each method runs in a fresh process (peak RSS is its own: the log plus the model),
which reads the log into memory (``load_s``) and then:

* ``markov`` (the default): ``jl.PersonaModel(random_state=0).fit(log)``: the
  journey counts, k chosen on a 20,000-user sample, EM over every user (``fit_s``);
* ``features``: ``jl.user_features(log)`` (``features_s``), then
  ``jl.PersonaModel(method="features", random_state=0).fit(table)`` (``fit_s``).

Both report the chosen k, the adjusted Rand index against the planted personas,
and ``agrees``: the share of users whose ``predict`` is their fitted label.

    python benchmarks/bench_personas.py                 # 1M users
    python benchmarks/bench_personas.py --users 1e5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import DATA, measure, print_table, run_child

TRUTH = "planted_persona"


def build(users: int, path: Path) -> None:
    """The generator's events as Parquet, and the planted persona per user beside them."""
    import journeylens as jl

    t0 = time.perf_counter()
    df = jl.datasets.make_journeys(users, seed=0)
    truth = df.groupby("user_id", observed=True)["persona"].first().astype(str)
    path.parent.mkdir(parents=True, exist_ok=True)
    truth.rename(TRUTH).to_frame().to_parquet(_truth(path))
    df.drop(columns="persona").to_parquet(path)
    print(f"built {len(df):,} events of {users:,} users in {time.perf_counter() - t0:.1f} s → {path}", file=sys.stderr)


def _truth(path: Path) -> Path:
    return path.with_name(path.stem + "_truth.parquet")


def _load(path: str):
    import pandas as pd

    import journeylens as jl

    t0 = time.perf_counter()
    log = jl.read_parquet(path)
    truth = pd.read_parquet(_truth(Path(path)))[TRUTH]
    return log, truth, time.perf_counter() - t0


def _scored(model, truth, predicted, started: float) -> dict:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    return {"k": int(model.k_), "ari": float(adjusted_rand_score(truth.loc[model.users_], model.labels_)),
            "agrees": float(np.mean(predicted == model.labels_)), "predict_s": time.perf_counter() - started}


def run_markov(path: str) -> dict:
    import journeylens as jl

    log, truth, load_s = _load(path)
    t0 = time.perf_counter()
    model = jl.PersonaModel(random_state=0).fit(log)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    return {"users": len(model.users_), "load_s": load_s, "features_s": 0.0, "fit_s": fit_s,
            **_scored(model, truth, model.predict(log), t1)}


def run_features(path: str) -> dict:
    import journeylens as jl

    log, truth, load_s = _load(path)
    t0 = time.perf_counter()
    table = jl.user_features(log)
    t1 = time.perf_counter()
    model = jl.PersonaModel(method="features", random_state=0).fit(table)
    t2 = time.perf_counter()
    return {"users": len(table), "load_s": load_s, "features_s": t1 - t0, "fit_s": t2 - t1,
            **_scored(model, truth, model.predict(table), t2)}


RUNNERS = {"markov": run_markov, "features": run_features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=float, default=1e6)
    parser.add_argument("--only", choices=sorted(RUNNERS), action="append", help="run only these methods")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(RUNNERS, *args.child)
        return
    users = int(args.users)
    path = DATA / f"persona_events_{users}.parquet"
    if not path.exists():
        build(users, path)
    rows = measure(__file__, args.only or list(RUNNERS), path)
    print_table(f"persona benchmark: {users:,} users (k='auto', then predict)", rows,
                ["load_s", "features_s", "fit_s", "predict_s", "process_s", "peak_rss_mb", "k", "ari", "agrees"])


if __name__ == "__main__":
    main()
