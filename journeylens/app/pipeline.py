"""The whole analysis of one log, as the CLI and the HTML report run it.

:func:`run_analysis` computes every result once; :meth:`Analysis.write` saves
the tables (the report shows the same tables, so every number in it can be
re-derived from the files beside it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..core.journey_map import JourneyMap, as_journey_map
from ..core.params import choice, event_names
from ..core.protocol import JourneyLog
from ..engine.sql import run
from ..io.writers import write_table

Progress = Callable[[str], None]
#: the formats :meth:`Analysis.write` writes tables in
FORMATS = ("csv", "parquet")
#: users from which personas come from the sequence (Markov mixture) model rather than features
MARKOV_USERS = 1000
#: customers on whom personas are fitted and profiled (a seeded sample beyond it); every customer is
#: then labelled by the fitted model, so memory follows this number, not the log's size
PERSONA_USERS = 500_000
#: customers labelled per pass (their sparse counts are held at once); a log within it is labelled whole,
#: without being cut into parts first
LABEL_USERS = 2_000_000
#: steps of each customer's path in the journey table (``journeys.csv``); ``events`` has the full count
EXPORT_DEPTH = 50


@dataclass
class Analysis:
    """Results of :func:`run_analysis`: ``results`` (result objects by name), ``tables`` (what is written)."""

    log: JourneyLog
    goal: tuple[str, ...] | None
    journey_map: JourneyMap | None
    results: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The log's summary plus what was computed, skipped and with which parameters (JSON-ready)."""
        s = self.log.summary()
        s["reconciled"] = s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
        s["goal"] = list(self.goal) if self.goal else None
        s["journey_map"] = self.journey_map.name if self.journey_map else None
        s["parameters"] = json.loads(json.dumps({**self.parameters, **dict(self.log.parameters)}, default=str))
        s["skipped"] = dict(self.skipped)
        if "personas" in self.results:
            s["personas"] = int(self.results["personas"].k_)
        if "conformance" in self.results:
            s["conformance"] = json.loads(self.results["conformance"].overall.to_json(orient="records"))
        return s

    def figures(self) -> dict[str, Any]:
        """Every result's figure (its ``plot()``), by the result's name."""
        return {name: result.plot() for name, result in self.results.items() if callable(getattr(result, "plot", None))}

    def write_images(self, out: str | Path, format: str = "png") -> list[str]:
        """Write every figure as ``<name>.<format>`` (png, svg, pdf …; needs kaleido, see
        :func:`journeylens.viz.figures.write_images`); returns the file names."""
        from ..viz.figures import write_images

        return [p.name for p in write_images(self.figures(), out, format=format)]

    def write(self, out: str | Path, format: str = "csv") -> list[str]:
        """Write every table as ``<name>.csv`` (formula-safe) or ``.parquet``; returns the file names."""
        choice(format, "format", FORMATS)
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        names = []
        for name, table in self.tables.items():
            names.append(write_table(table, folder / f"{name}.csv", fmt=format).name)
        return names


def _flat(table: pd.DataFrame) -> pd.DataFrame:
    """Tuples (variants, loop events) as ``a > b`` text so every format can hold them."""
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object and len(out) and isinstance(out[col].iloc[0], tuple):
            out[col] = [" > ".join(map(str, v)) for v in out[col]]
    return out


def default_funnel(log: JourneyLog, goal: Sequence[str] | None, jmap: JourneyMap | None) -> list | None:
    """Funnel steps when none are given: the map's stages up to the goal, else the three events
    most users do (in their usual order) followed by the goal."""
    present = set(log.event_names.astype(str))
    if jmap is not None and goal:
        steps: list = []
        for stage in jmap.stages:
            members = [t for t in stage.touchpoints if t in present and t not in goal]
            if members:
                steps.append(members)
            if any(g in stage.touchpoints for g in goal):
                break
        steps.append([g for g in goal if g in present])
        return [s for s in steps if s] if len(steps) >= 2 and steps[-1] else None
    if goal:
        stats = run("""
            SELECT e, count(DISTINCT u) AS users, median(k) AS pos
            FROM (SELECT e, u, row_number() OVER (PARTITION BY g ORDER BY i) - 1 AS k FROM ev) s
            GROUP BY e""", {"ev": log.journeys(window=False)})
        table = pd.DataFrame(stats)
        table = table[~table["e"].isin(log.event_codes_of(goal))]
        top = table.sort_values(["users", "pos", "e"], ascending=[False, True, True]).head(3).sort_values(["pos", "e"])
        return [str(log.event_names[e]) for e in top["e"]] + [[g for g in goal if g in present]]
    return None


def run_analysis(
    log: JourneyLog,
    *,
    goal: str | Sequence[str] | None = None,
    lost: str | Sequence[str] | None = None,
    journey_map: JourneyMap | dict | str | None = None,
    funnel: Sequence | None = None,
    personas: int | str | None = "auto",
    gap: str | None = None,
    inactivity: str = "7d",
    per: str = "user",
    attribution: bool = True,
    predict: bool = False,
    random_state: int = 0,
    progress: Progress | None = None,
) -> Analysis:
    """Stages (with a map), sessions, mining, funnel, drop-offs, personas, attribution, retention, value,
    conformance and (with ``predict``) next steps in one go, with the per-customer journey table.

    ``goal`` defaults to the map's conversion and ``lost`` (failure events) to the map's ``lost``.
    ``gap``: the inactivity that cuts sessions; by default a log that came with its own sessions
    (``session=``) keeps them, and any other log is cut at 30 minutes. ``per``: the journey unit
    (``"user"`` or ``"session"``) of the graphs, variants, loops, funnel, drop-offs, roadblocks and
    conformance. ``personas``: ``"auto"``, a number of personas, or ``None``/``0`` to skip.
    ``attribution``: channel attribution when the log has channels and a goal. ``predict``: fit the
    next-step and conversion models on the earlier two thirds of the customers, report their accuracy
    on the rest, and predict every active customer's next steps (``next_steps``). Steps that cannot run
    on this log (no goal, no map, too few users, no channels, no value) are listed in
    ``Analysis.skipped`` with why. Runs on every engine.

    >>> import journeylens as jl
    >>> a = jl.run_analysis(jl.datasets.load_sample(), journey_map=jl.datasets.sample_map_path())  # doctest: +SKIP
    >>> sorted(a.tables)                                                                           # doctest: +SKIP
    """
    from ..compare.conformance import compare
    from ..mining.dfg import dfg
    from ..mining.flows import journey_flows
    from ..mining.loops import loops
    from ..mining.variants import variants
    from ..outcomes.dropoffs import dropoffs
    from ..outcomes.funnels import funnel as run_funnel
    from ..outcomes.roadblocks import roadblocks
    from ..outcomes.survival import time_to_convert
    from ..prepare.sessions import sessionize
    from ..prepare.stages import assign_stages
    from ..mining.steps import step_matrix
    from ..mining.transitions import transition_matrix
    from ..outcomes.attribution import attribution as run_attribution
    from ..outcomes.retention import retention
    from ..outcomes.value import value_breakdown
    from .export import journey_export

    step = progress or (lambda name: None)
    jmap = as_journey_map(journey_map) if journey_map is not None else None
    goals = (goal,) if isinstance(goal, str) else tuple(goal) if goal else (tuple(jmap.conversion) if jmap else None)
    if goals:
        goals = event_names(goals, log.event_names, "goal")
    present = set(map(str, log.event_names))
    losts = (event_names(lost, log.event_names, "lost", required=False) if lost is not None  # the map's, if seen
             else tuple(e for e in (jmap.lost if jmap is not None else ()) if e in present))
    lost_or_none = list(losts) or None
    choice(per, "per", ("user", "session"))
    given_sessions = gap is None and "session" in log.roles  # the source's own sessions are kept
    a = Analysis(log=log, goal=goals or None, journey_map=jmap,
                 parameters={"gap": "source sessions" if given_sessions else (gap or "30min"),
                             "inactivity": inactivity, "per": per, "random_state": random_state,
                             "personas": personas, "lost": list(losts)})
    step("stages and sessions")
    if jmap is not None:
        log = assign_stages(log, jmap)
    if not given_sessions:
        log = sessionize(log, gap=gap or "30min")
    a.log = log

    step("journeys")
    a.results["dfg"] = dfg(log, per=per)
    a.tables["dfg"] = a.results["dfg"].to_frame().sort_values(["count", "source", "target"], ascending=[False, True, True], ignore_index=True)
    if log.has("stage"):
        a.results["stage_graph"] = dfg(log, level="stage", per=per)
        a.tables["stage_graph"] = a.results["stage_graph"].to_frame()
    else:
        a.skipped["stage_graph"] = "the log has no stages (give a journey map)"
    a.results["variants"] = variants(log, per=per, top=100)
    a.tables["variants"] = _flat(a.results["variants"].to_frame())
    a.results["loops"] = loops(log, per=per)
    a.tables["loops"] = _flat(a.results["loops"].to_frame())
    a.results["flows"] = journey_flows(log, per=per)
    a.results["step_matrix"] = step_matrix(log, depth=10)
    a.tables["step_matrix"] = a.results["step_matrix"].to_frame().reset_index()
    a.results["transitions"] = transition_matrix(log, top=15)
    a.tables["transitions"] = a.results["transitions"].counts

    step("funnel and drop-offs")
    steps = list(funnel) if funnel else default_funnel(log, goals, jmap)
    if steps:
        a.results["funnel"] = run_funnel(log, steps, lost=lost_or_none, per=per)
        a.tables["funnel"] = a.results["funnel"].to_frame()
    else:
        a.skipped["funnel"] = "no funnel steps and no goal to build them from"
    if goals:
        a.results["dropoffs"] = dropoffs(log, goals, lost=lost_or_none, per=per, inactivity=inactivity)
        a.tables["dropoffs"] = a.results["dropoffs"].to_frame()
        a.tables["dropoff_summary"] = a.results["dropoffs"].summary
        a.results["time_to_convert"] = time_to_convert(log, goals, lost=lost_or_none)
        a.tables["time_to_convert"] = a.results["time_to_convert"].to_frame()
        a.tables["time_to_convert_medians"] = a.results["time_to_convert"].medians
        a.results["roadblocks"] = roadblocks(log, goals, lost=lost_or_none, per=per, inactivity=inactivity)
        a.tables["roadblocks"] = a.results["roadblocks"].to_frame()
    else:
        a.skipped["dropoffs"] = "no goal (give --goal or a map with a conversion)"

    step("attribution, retention and value")
    if attribution and goals and log.has("channel"):
        a.results["attribution"] = run_attribution(log, goal=goals, touchpoint="channel",
                                                   value="value" if log.has("value") else None)
        a.tables["attribution"] = a.results["attribution"].to_frame()
        a.tables["attribution_paths"] = a.results["attribution"].paths
    else:
        a.skipped["attribution"] = ("turned off" if not attribution else "no goal" if not goals
                                    else "the log has no channel (give --channel)")
    lo, hi = log.time_range()
    a.results["retention"] = retention(log, period="week" if hi - lo <= 26 * 7 * 86_400_000_000 else "month")
    a.tables["retention"] = a.results["retention"].to_frame()

    step("personas")
    n_users = int(log.summary()["users"])
    if personas and n_users >= 20:
        _personas(a, log, n_users, personas, goals, lost_or_none, inactivity, random_state)
        log = a.log  # the log without the persona column, and its tables, can go
    else:
        a.skipped["personas"] = "turned off" if not personas else f"too few users ({n_users}) for personas"

    step("designed vs observed")
    if jmap is not None:
        by = "persona" if "personas" in a.results else None
        result = compare(a.log, jmap, by=by, lost=lost_or_none, per=per)
        a.results["conformance"] = result
        a.tables["conformance"] = result.to_frame()
        a.tables["conformance_overall"] = result.overall
        a.tables["unexpected"] = result.unexpected
        a.tables["missing"] = result.missing
        a.tables["stage_order_violations"] = result.stage_order_violations
        a.tables["targets"] = result.targets
    else:
        a.skipped["conformance"] = "no journey map (give --map)"
    if log.has("value"):
        a.results["value"] = value_breakdown(a.log, by="persona" if "personas" in a.results else None)
        a.tables["value"] = a.results["value"].to_frame()
    else:
        a.skipped["value"] = "the log has no value (give --value)"
    export = journey_export(a.log, goal=goals, lost=lost_or_none, depth=EXPORT_DEPTH,
                            by="persona" if "personas" in a.results else None)
    a.results["journeys"] = export
    a.tables["journeys"] = export.to_frame()
    if predict:
        step("prediction")
        _predict(a, goals, random_state)
    else:
        a.skipped["next_steps"] = "prediction turned off (give --predict)"
    a.tables["quarantine"] = log.quarantine_frame()
    return a


def _personas(a: Analysis, log: JourneyLog, n_users: int, personas: int | str, goals: Sequence[str] | None,
              lost: list | None, inactivity: str, random_state: int) -> None:
    """Personas fitted and profiled on at most PERSONA_USERS customers, every customer labelled, and the
    persona comparisons; ``a.log`` becomes ``log`` with the ``persona`` segment."""
    from ..compare.segments import compare_segments
    from ..core.segments import add_segment
    from ..mining.steps import differential_step_matrix
    from ..outcomes.dropoffs import dropoffs
    from ..personas.features import user_features
    from ..personas.model import PersonaModel
    from ..personas.profiles import profile

    sample = log
    if n_users > PERSONA_USERS:
        chosen = np.random.default_rng(random_state).choice(n_users, PERSONA_USERS, replace=False)
        sample = log.filter(users=log.users[np.sort(chosen)])
        a.parameters["persona_sample"] = PERSONA_USERS
    features = user_features(sample, goal=goals, lost=lost)
    # the sequence model needs enough journeys for its BIC to admit real groups; below that, features
    method = "markov" if n_users >= MARKOV_USERS else "features"
    model = PersonaModel(k=personas, method=method, goal=goals, lost=lost, random_state=random_state)
    model.fit(sample if method == "markov" else features)
    a.parameters["persona_method"] = method
    fitted = model.personas()
    labels = fitted
    if sample is not log:  # every customer labelled, LABEL_USERS at a time
        chunks = np.array_split(np.arange(n_users), -(-n_users // LABEL_USERS))
        labels = pd.concat([model.personas(log if len(chunks) == 1 else log.filter(users=log.users[c]))
                            for c in chunks])
    a.results["personas"] = model
    a.results["persona_profiles"] = profile(sample, fitted, goal=goals, lost=lost, features=features)
    a.tables["personas"] = labels.rename("persona").reset_index()
    a.tables["persona_profiles"] = a.results["persona_profiles"].to_frame()
    if model.scores_ is not None:
        a.tables["persona_k_scores"] = model.scores_
    del sample, features  # the sample's held tables go before the persona log's are built
    a.log = add_segment(log, labels, "persona")
    if goals:
        by_persona = dropoffs(a.log, goals, lost=lost, by="persona", inactivity=inactivity)
        a.tables["dropoffs_by_persona"] = by_persona.to_frame()
    largest = labels.value_counts().sort_index().sort_values(ascending=False, kind="stable").index[:2]
    if len(largest) == 2:  # the two largest personas side by side
        pair = [str(p) for p in largest]
        seg = compare_segments(a.log, "persona", segments=pair, goal=goals, lost=lost)
        a.results["segments"] = seg
        a.tables["segments"] = seg.to_frame()
        a.tables["segment_events"] = seg.events
        a.results["step_matrix_difference"] = differential_step_matrix(a.log, by="persona", segments=pair)
        a.tables["step_matrix_difference"] = a.results["step_matrix_difference"].to_frame().reset_index()


def _predict(a: Analysis, goals: Sequence[str] | None, random_state: int) -> None:
    """Next-step (and, with a goal, conversion) models: quality on the later third of the customers,
    then every active customer's likely next steps from models fitted on all of them."""
    from ..predict.conversion import ConversionModel
    from ..predict.next_step import NextStepModel
    from ..predict.split import split_by_time

    train, test = split_by_time(a.log)
    nexts = NextStepModel(random_state=random_state)
    score = nexts.fit(train).score(test)
    quality = [{"model": "next step", "chosen": nexts.model_, "metric": "accuracy", "score": score}]
    steps = nexts.fit(a.log).predict_next(a.log, top=3)  # refitted on every customer
    table = steps.to_frame()
    if goals:
        conversion = ConversionModel(goal=list(goals), within="30d", random_state=random_state)
        report = conversion.fit(train).evaluate(test)
        quality.append({"model": "conversion within 30 days", "chosen": None, "metric": "AUC", "score": report.auc})
        quality.append({"model": "conversion within 30 days", "chosen": None, "metric": "Brier score",
                        "score": report.brier})
        chance = conversion.fit(a.log).predict_proba(a.log)
        # active customers only: those who have not converted or been lost yet
        chance = chance.rename("conversion_probability").rename_axis("user_id").reset_index()
        table = table.astype({"user_id": str}).merge(chance.astype({"user_id": str}), on="user_id", how="inner")
    a.results["next_steps"] = steps
    a.tables["next_steps"] = table
    a.tables["prediction_quality"] = pd.DataFrame(quality)


def report(source: JourneyLog | Analysis, path: str | Path, *, drift: Any = None, title: str = "Journey report",
           **analysis_options: Any) -> Path:
    """Write the HTML report of a log (analysed with ``analysis_options``, see :func:`run_analysis`)
    or of an existing :class:`Analysis` to ``path``; returns the path.

    >>> import journeylens as jl
    >>> jl.report(jl.datasets.load_sample(), "report.html",
    ...           journey_map=jl.datasets.sample_map_path())     # doctest: +SKIP
    PosixPath('report.html')
    """
    from .report import render

    analysis = run_analysis(source, **analysis_options) if isinstance(source, JourneyLog) else source
    target = Path(path)
    target.write_text(render(analysis, drift=drift, title=title), encoding="utf-8")
    return target
