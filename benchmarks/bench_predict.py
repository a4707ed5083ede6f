"""Next-event prediction benchmark: accuracy on three public logs against a back-off n-gram and published figures, and the fit time on 1M events.

Logs (from ``../shared/data/process``):

* **BPI'12 W**: bpic2012's ``W_*`` events whose ``lifecycle:transition`` is COMPLETE
  (72,413 events, 9,658 cases: the log of Tax et al. 2017 and DREAM-NAP's "BPIC12 work complete");
* **helpdesk** (this extract: 21,348 events, 4,580 cases; Tax et al. used another one, so
  their helpdesk figure is not comparable and is not shown);
* **BPIC13 incidents**, with the activity as ``concept:name`` + ``lifecycle:transition``
  (13 activities), and as ``concept:name`` alone (4 activities).

Protocol: ``jl.split_by_time(log, train=2/3)``: cases ordered by their first event, the
first two thirds train. ``NextStepModel()`` with its defaults is fitted on the training
part (it chooses between its candidates on a validation split of that part only) and
scored on every prefix of every test case: a case of n events gives n predictions, the
n-th being "<end>". The n-gram column is a back-off n-gram written here in plain pandas
(order 4, contexts seen at least 5 times). The "Tax protocol" columns score what the
evaluation script of Tax et al. scores: prefixes of at least 2 events whose next event is
a real one (not the end of the case); a predicted end counts as wrong there.

Published figures: Tax et al. 2017 (LSTM, same split): 0.760 on BPI'12 W. DREAM-NAP
(Theis & Darabi 2019, 10-fold cross-validation, a different protocol): 0.747 on BPIC12
work complete, 0.703 on BPIC13 incidents.

Fit time: ``jl.datasets.make_journeys(n_customers, seed=0)`` (about 11 events a customer;
90,000 customers ≈ 1.0M events) in a fresh process; wall and CPU seconds of ``fit``.

    python benchmarks/bench_predict.py                  # accuracy table and the 1M fit
    python benchmarks/bench_predict.py --skip-timing
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common import measure, run_child

PROCESS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "process"
ORDER, MIN_COUNT = 4, 5
PUBLISHED = {"BPI'12 W": "Tax 0.760, DREAM-NAP 0.747", "BPIC13 incidents (13)": "DREAM-NAP 0.703",
             "BPIC13 incidents (4)": "", "helpdesk": ""}


def load_logs() -> dict:
    import journeylens as jl

    def events_log(frame):
        return jl.from_pandas(frame[["user_id", "timestamp", "event"]], user="user_id", time="timestamp",
                              event="event", duplicates="keep")

    logs = {}
    full = jl.read_xes(PROCESS / "bpic2012.xes.gz", duplicates="keep").to_pandas()
    w = full[full["event"].astype(str).str.startswith("W_") & (full["lifecycle:transition"] == "COMPLETE")]
    logs["BPI'12 W"] = events_log(w)
    assert (len(logs["BPI'12 W"]), logs["BPI'12 W"].summary()["users"]) == (72_413, 9_658)
    logs["helpdesk"] = jl.read_xes(PROCESS / "helpdesk.xes.gz", duplicates="keep")
    incidents = jl.read_xes(PROCESS / "07_bpic2013_incidents.xes.gz", duplicates="keep").to_pandas()
    logs["BPIC13 incidents (4)"] = events_log(incidents)
    incidents["event"] = incidents["event"].astype(str) + "-" + incidents["lifecycle:transition"].astype(str)
    logs["BPIC13 incidents (13)"] = events_log(incidents)
    assert logs["BPIC13 incidents (13)"].summary()["event_types"] == 13
    return logs


def ngram_predictions(train, test) -> tuple[list, list, list]:
    """Back-off n-gram in plain pandas: for every test prefix, the most frequent next event after its
    longest context (last ``ORDER`` events, "^" before the start) seen ``MIN_COUNT`` times in training;
    ties to the event more frequent in training, the end ("$") last. Returns predicted, actual, position."""
    import pandas as pd

    def table(log):
        frame = log.to_pandas()[["user_id", "event"]].astype(str)
        g = frame.groupby("user_id", sort=False)["event"]
        out = pd.DataFrame({"next": g.shift(-1).fillna("$"), "position": g.cumcount() + 1})
        for j in range(ORDER):
            out[f"c{j}"] = g.shift(j).fillna("^")
        return out, frame["event"].value_counts()

    tr, freq = table(train)
    te, _ = table(test)
    tiebreak = {e: k for k, e in enumerate(sorted(freq.index, key=lambda e: (-freq[e], e)))} | {"$": len(freq)}
    guess = pd.Series(None, index=te.index, dtype=object)
    for j in range(ORDER, 0, -1):
        cols = [f"c{i}" for i in range(j)]
        n = tr.groupby(cols + ["next"]).size().rename("n").reset_index()
        n = n[n.groupby(cols)["n"].transform("sum") >= MIN_COUNT]
        n["tie"] = n["next"].map(tiebreak)
        best = n.sort_values(["n", "tie"], ascending=[False, True]).drop_duplicates(cols).set_index(cols)["next"]
        keys = pd.MultiIndex.from_frame(te[cols]) if j > 1 else pd.Index(te["c0"])
        found = pd.Series(best.reindex(keys).to_numpy(), index=te.index)
        guess = guess.where(guess.notna(), found)
    overall = min(freq.index.tolist() + ["$"], key=lambda e: (-(tr["next"] == e).sum(), tiebreak[e]))
    guess = guess.fillna(overall)
    return guess.tolist(), te["next"].tolist(), te["position"].tolist()


def accuracy_table() -> None:
    import numpy as np

    from journeylens.predict.next_step import NextStepModel
    from journeylens.predict.split import split_by_time

    rows = []
    for name, log in load_logs().items():
        train, test = split_by_time(log, train=2 / 3)
        t0 = time.perf_counter()
        model = NextStepModel(random_state=0).fit(train)
        fit_s = time.perf_counter() - t0
        ev = model.evaluate(test)
        ours = (ev["actual"] == ev["predicted"]).to_numpy()
        guess, actual, position = ngram_predictions(train, test)
        actual = np.asarray(actual, dtype=object)
        assert (np.where(actual == "$", "<end>", actual) == ev["actual"].astype(str).to_numpy()).all()
        ngram = np.asarray(guess, dtype=object) == actual
        tax = (np.asarray(position) >= 2) & (actual != "$")  # the prefixes Tax et al.'s script scores
        scores = model.validation_.set_index("model")["accuracy"]
        rows.append({"log": name, "events": len(log), "test prefixes": len(ev), "n-gram": ngram.mean(),
                     "ours": ours.mean(), "gain (points)": 100 * (ours.mean() - ngram.mean()),
                     "chosen": model.model_, "n-gram (Tax)": ngram[tax].mean(), "ours (Tax)": ours[tax].mean(),
                     "published": PUBLISHED[name], "fit_s": fit_s,
                     "validation": ", ".join(f"{k} {v:.3f}" for k, v in scores.items())})
        print(f"{name}: done in {fit_s:.1f} s", file=sys.stderr, flush=True)
    print("\nnext-event accuracy (split_by_time 2/3; every prefix, <end> included; "
          "Tax: prefixes ≥ 2 whose next event is real)")
    header = ["log", "events", "test prefixes", "n-gram", "ours", "gain (points)", "chosen", "n-gram (Tax)",
              "ours (Tax)", "published"]
    print(" | ".join(header))
    for r in rows:
        print(" | ".join(f"{r[h]:.3f}" if isinstance(r[h], float) and h != "gain (points)" else
                         f"{r[h]:+.1f}" if h == "gain (points)" else f"{r[h]:,}" if isinstance(r[h], int) else
                         str(r[h]) for h in header))
    print("\nvalidation accuracy of each candidate (held-out training users) and fit seconds:")
    for r in rows:
        print(f"  {r['log']}: {r['validation']}; fit {r['fit_s']:.1f} s")


def run_fit(customers: str) -> dict:
    """In a fresh process: the generator's log of ``customers`` customers, and NextStepModel().fit on it."""
    import journeylens as jl
    from journeylens.predict.next_step import NextStepModel

    frame = jl.datasets.make_journeys(int(customers), seed=0)
    log = jl.from_pandas(frame.drop(columns=["persona"]), duplicates="keep")
    del frame
    wall, cpu = time.perf_counter(), time.process_time()
    model = NextStepModel(random_state=0).fit(log)
    return {"events": len(log), "fit_s": time.perf_counter() - wall, "fit_cpu_s": time.process_time() - cpu,
            "chosen": model.model_, "validation": model.validation_[["model", "accuracy"]].to_dict("records")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=90_000, help="generator customers for the timing")
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child({"fit": run_fit}, *args.child)
        return
    accuracy_table()
    if not args.skip_timing:
        r = measure(__file__, ["fit"], Path(str(args.customers)))["fit"]
        print(f"\nfit on {r['events']:,} events (make_journeys({args.customers:,}, seed=0)): "
              f"{r['fit_s']:.1f} s wall, {r['fit_cpu_s']:.1f} s CPU, peak RSS {r['peak_rss_mb']:,.0f} MB, "
              f"chosen {r['chosen']}; validation {r['validation']}")


if __name__ == "__main__":
    main()
