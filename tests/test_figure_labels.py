"""Every figure shows data labels verbatim: names that look like markup never become markup."""

from __future__ import annotations

import pandas as pd
import pytest

import journeylens as jl

HOSTILE = '<a href="https://evil.example/">x</a>'


@pytest.fixture(scope="module")
def log():
    rows = []
    for k in range(30):
        path = ["home", HOSTILE, "cart"] + (["buy"] if k % 2 else [])
        rows += [(f"u{k}", pd.Timestamp("2024-01-01") + pd.Timedelta(hours=k * 3 + j), e, ("web", "<b>app</b>")[k % 2])
                 for j, e in enumerate(path)]
    frame = pd.DataFrame(rows, columns=["user", "time", "event", "channel"])
    return jl.sessionize(jl.from_pandas(frame), gap="30min")


def figures(log):
    personas = pd.Series({f"u{k}": f"p{k % 2}" for k in range(30)})
    yield jl.dfg(log).plot()
    yield jl.variants(log).plot()
    yield jl.loops(log).plot() if len(jl.loops(log).to_frame()) else jl.dfg(log).plot()
    yield jl.journey_flows(log).plot()
    yield jl.funnel(log, ["home", HOSTILE, "cart"]).plot()
    yield jl.dropoffs(log, "buy", inactivity="1h").plot()
    yield jl.roadblocks(log, "buy", inactivity="1h", min_journeys=1).plot()
    yield jl.time_to_convert(log, "buy", by="channel").plot()
    yield jl.attribution(log, goal="buy").plot()
    yield jl.step_matrix(log).plot()
    yield jl.transition_matrix(log).plot()
    yield jl.profile(log, personas, goal="buy").plot()


def _texts(value):
    """Every string of a figure's data and layout (plotly's JSON escapes ``<``, so look at the values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _texts(v)
    elif hasattr(value, "tolist"):  # numpy arrays and scalars
        yield from _texts(value.tolist())
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _texts(v)


def test_no_figure_carries_markup_from_the_data(log):
    shown = 0
    for fig in figures(log):
        spec = fig.to_plotly_json()
        texts = [t for t in _texts({"data": spec["data"], "layout": spec["layout"]}) if "evil" in t or "app" in t]
        shown += bool(texts)
        assert not any("<a href" in t or "<b>app" in t for t in texts), texts  # shown as text, never as markup
    assert shown >= 9  # the hostile names are in most figures (not every one lists every event)
