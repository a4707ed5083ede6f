"""The pipeline's personas on a log with more customers than ``PERSONA_USERS``: fitted and profiled
on a seeded sample, every customer labelled by the fitted model, in one pass or a chunk of customers at
a time (``LABEL_USERS``)."""
from __future__ import annotations

import pandas as pd
import pytest

import journeylens as jl
import journeylens.app.pipeline as pipeline
from journeylens.app.report import render
from tests.conftest import shared_file


@pytest.fixture(scope="module")
def log() -> jl.EventLog:
    df = jl.datasets.make_journeys(3000, seed=5).drop(columns=["persona", "stage"])
    return jl.from_pandas(df)


def _analyse(log, monkeypatch, sample: int, goal: str = "order_placed", chunk: int = 1000):
    monkeypatch.setattr(pipeline, "PERSONA_USERS", sample)
    monkeypatch.setattr(pipeline, "LABEL_USERS", chunk)
    return jl.run_analysis(log, goal=goal, personas=3, random_state=4)


def test_personas_are_fitted_on_a_sample_and_label_every_customer(log, monkeypatch):
    a = _analyse(log, monkeypatch, 1200)  # 3,000 customers: a sample of 1,200, labelled in 3 chunks
    model = a.results["personas"]
    assert a.parameters["persona_sample"] == 1200 and a.parameters["persona_method"] == "markov"
    assert len(model.users_) <= 1200  # fitted on the sample (customers with behaviour events)
    labels = a.tables["personas"].set_index("user_id")["persona"]
    at_once = model.personas(log)  # the same model labelling the whole log in one pass
    pd.testing.assert_series_equal(labels.sort_index(), at_once.sort_index(), check_names=False)
    assert labels.index.is_unique and len(labels) > 1200
    # the profiles describe the sample the model was fitted on
    assert a.tables["persona_profiles"]["users"].sum() == len(model.users_)
    assert "seeded sample of 1,200 customers" in render(a)
    again = _analyse(log, monkeypatch, 1200)
    pd.testing.assert_frame_equal(a.tables["personas"], again.tables["personas"])  # seeded
    whole = _analyse(log, monkeypatch, 1200, chunk=5000)  # labelled in one pass, the log not cut
    pd.testing.assert_frame_equal(a.tables["personas"], whole.tables["personas"])


def test_below_the_sample_size_every_customer_is_fitted(log, monkeypatch):
    a = _analyse(log, monkeypatch, 5000)
    assert "persona_sample" not in a.parameters
    assert "seeded sample" not in render(a)
    assert len(a.tables["personas"]) == len(a.results["personas"].users_)


def test_a_real_log_sampled_and_labelled_in_chunks_equals_one_pass(monkeypatch):
    """helpdesk (4,580 cases, a log we did not design): a sample of 1,500, labelled in 4 chunks."""
    log = jl.read_xes(shared_file("process", "helpdesk.xes.gz"), duplicates="keep")
    cases = log.to_pandas()["user_id"].astype(str).nunique()  # plain pandas: the cases of the log
    a = _analyse(log, monkeypatch, 1500, goal="Closed", chunk=1200)
    model = a.results["personas"]
    labels = a.tables["personas"].set_index("user_id")["persona"]
    pd.testing.assert_series_equal(labels.sort_index(), model.personas(log).sort_index(), check_names=False)
    assert len(model.users_) <= 1500 < len(labels) <= cases
    assert a.tables["persona_profiles"]["users"].sum() == len(model.users_)
