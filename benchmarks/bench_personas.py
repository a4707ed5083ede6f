"""Persona benchmark: PersonaModel fitting on a million users, seconds and peak RSS.

The feature table comes from the generator, not from random numbers:
``jl.datasets.make_journeys(users, seed=0)`` (four planted personas, ~11 events
per customer) → ``jl.from_pandas`` → ``jl.user_features(goal="order_placed")``.
It is built once into ``benchmarks/data/persona_features_<users>.parquet``, with
the planted persona in a column of its own that is only used to score the result.

The measured process (fresh, so peak RSS is its own: the table plus the model)
reads that table and runs ``jl.PersonaModel(k="auto", random_state=0).fit``
(k chosen by prediction strength on halves of 1,500 users, then a sample's
k-means centres refined by mini-batch k-means over every user) and ``predict``
on every user. It reports load, fit and predict
seconds, peak RSS, the chosen k, the adjusted Rand index against the planted
personas, and ``agrees``: the share of users whose prediction is their fitted label.

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
GOAL = "order_placed"


def build_table(users: int, path: Path) -> None:
    """The generator's per-user feature table (plus the planted persona), as Parquet."""
    import journeylens as jl

    t0 = time.perf_counter()
    df = jl.datasets.make_journeys(users, seed=0)
    truth = df.groupby("user_id", observed=True)["persona"].first().astype(str)
    log = jl.from_pandas(df.drop(columns="persona"), duplicates="keep")
    del df
    table = jl.user_features(log, goal=GOAL)
    table[TRUTH] = truth.reindex(table.index).to_numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path)
    print(f"built {len(table):,} users × {table.shape[1] - 1} features from {len(log):,} events "
          f"in {time.perf_counter() - t0:.1f} s → {path}", file=sys.stderr)


def run_journeylens(path: str) -> dict:
    import numpy as np
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    import journeylens as jl

    t0 = time.perf_counter()
    table = pd.read_parquet(path)
    truth = table.pop(TRUTH).to_numpy()
    t1 = time.perf_counter()
    model = jl.PersonaModel(k="auto", random_state=0).fit(table)
    t2 = time.perf_counter()
    predicted = model.predict(table)
    t3 = time.perf_counter()
    return {"users": len(table), "features": len(model.feature_names_in_), "load_s": t1 - t0, "fit_s": t2 - t1,
            "predict_s": t3 - t2, "k": int(model.k_), "ari": float(adjusted_rand_score(truth, model.labels_)),
            "agrees": float(np.mean(predicted == model.labels_))}


RUNNERS = {"journeylens": run_journeylens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=float, default=1e6)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(RUNNERS, *args.child)
        return
    users = int(args.users)
    path = DATA / f"persona_features_{users}.parquet"
    if not path.exists():
        build_table(users, path)
    rows = measure(__file__, list(RUNNERS), path)
    print_table(f"persona benchmark: {users:,} users (k='auto', then predict)", rows,
                ["load_s", "fit_s", "predict_s", "process_s", "peak_rss_mb", "k", "ari", "agrees"])


if __name__ == "__main__":
    main()
