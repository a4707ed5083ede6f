"""Seeded synthetic multichannel retail journeys, and the bundled sample.

:func:`make_journeys` simulates customers of four behavioural personas moving
through lifecycle stages (awareness → consideration → decision → onboarding →
retention → advocacy) across web, app, email, SMS, ads, store and phone. It
plants structure that the analyses must find again (see :data:`PLANTED`):

* a loop ``product_page > compare_page > product_page``, the most frequent
  non-self loop (strongest for ``researcher``);
* a roadblock at ``payment_page`` for ``mobile_impulse``: payment errors,
  retries, long dwell and many customers leaving there;
* backward stage transitions (``cart → product_page``: decision → consideration);
* conversions (``order_placed``) at persona-dependent rates;
* right-censoring: journeys are cut at the end of the window, so late
  starters are still on their way, while customers who left stopped early.

Simulation is vectorised: one step for all customers at once, a bounded
number of steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

STAGES: dict[str, list[str]] = {
    "awareness": ["search_ad_click", "social_ad_click", "newsletter_open", "sms_promo"],
    "consideration": ["landing_page", "product_page", "compare_page", "reviews_page", "store_visit"],
    "decision": ["cart", "checkout", "payment_page", "payment_error", "order_placed"],
    "onboarding": ["welcome_email", "app_install", "delivery_tracking"],
    "retention": ["support_call", "repeat_visit", "repeat_order"],
    "advocacy": ["review_written", "referral"],
}
EVENTS = [e for events in STAGES.values() for e in events]
STAGE_OF = {e: s for s, events in STAGES.items() for e in events}
PERSONAS = ("deal_hunter", "mobile_impulse", "researcher", "store_loyalist")
_END = len(EVENTS)  # absorbing state: the customer leaves
_IX = {e: k for k, e in enumerate(EVENTS)}

#: where each persona enters, their transition preferences (multipliers on the base weights),
#: channel mix, devices, pace, and share of customers
_PERSONA: dict[str, dict[str, Any]] = {
    "deal_hunter": {
        "share": 0.3, "entry": {"newsletter_open": 5, "sms_promo": 4, "search_ad_click": 0.5},
        "boost": {("product_page", "compare_page"): 2.0, ("landing_page", "product_page"): 1.0},
        "web_channel": "web", "devices": {"desktop": 0.9, "mobile": 0.1}, "visit_gap_h": 30, "step_s": 45,
    },
    "mobile_impulse": {
        "share": 0.3, "entry": {"social_ad_click": 8, "sms_promo": 0.5},
        "boost": {("product_page", "cart"): 3.0, ("cart", "checkout"): 2.0, ("payment_page", "payment_error"): 12.0,
                  ("payment_page", None): 8.0, ("product_page", "compare_page"): 0.2, ("product_page", "reviews_page"): 0.3},
        "web_channel": "app", "devices": {"mobile": 0.97, "tablet": 0.03}, "visit_gap_h": 8, "step_s": 20,
    },
    "researcher": {
        "share": 0.25, "entry": {"search_ad_click": 8, "newsletter_open": 0.5},
        "boost": {("product_page", "compare_page"): 3.0, ("compare_page", "product_page"): 2.0,
                  ("product_page", "reviews_page"): 2.5, ("product_page", "cart"): 0.4},
        "web_channel": "web", "devices": {"desktop": 0.9, "tablet": 0.1}, "visit_gap_h": 48, "step_s": 90,
    },
    "store_loyalist": {
        "share": 0.15, "entry": {"store_visit": 6, "newsletter_open": 2},
        "boost": {("store_visit", "cart"): 3.0, ("product_page", "compare_page"): 0.3, ("repeat_visit", "store_visit"): 3.0,
                  ("order_placed", "support_call"): 3.0},
        "web_channel": "web", "devices": {"tablet": 0.7, "desktop": 0.3}, "visit_gap_h": 72, "step_s": 120,
    },
}

#: base transition weights (None = leave)
_BASE: dict[str, dict[str | None, float]] = {
    "search_ad_click": {"landing_page": 8, None: 0.7},
    "social_ad_click": {"landing_page": 6, "product_page": 2, None: 1},
    "newsletter_open": {"landing_page": 5, "product_page": 3, "store_visit": 1, None: 0.7},
    "sms_promo": {"product_page": 5, "landing_page": 2, None: 0.7},
    "landing_page": {"product_page": 8, "landing_page": 0.5, None: 1},
    "product_page": {"compare_page": 3, "reviews_page": 1.5, "cart": 3, "product_page": 1, None: 2},
    "compare_page": {"product_page": 7, "cart": 1, None: 1.5},
    "reviews_page": {"product_page": 5, None: 1.5},
    "store_visit": {"cart": 3, "product_page": 2, "store_visit": 1, None: 1},
    "cart": {"checkout": 6, "product_page": 2, None: 1.5},
    "checkout": {"payment_page": 8, None: 1},
    "payment_page": {"order_placed": 8, "payment_error": 0.5, None: 0.8},
    "payment_error": {"payment_page": 5, None: 3},
    "order_placed": {"welcome_email": 5, "delivery_tracking": 3, "app_install": 1, None: 2},
    "welcome_email": {"app_install": 2, "delivery_tracking": 3, None: 3},
    "app_install": {"delivery_tracking": 3, None: 3},
    "delivery_tracking": {"repeat_visit": 2, "support_call": 1, "review_written": 1, None: 4},
    "support_call": {"repeat_visit": 1, None: 4},
    "repeat_visit": {"product_page": 2, "repeat_order": 2, None: 3},
    "repeat_order": {"review_written": 1, "referral": 0.5, None: 4},
    "review_written": {"referral": 1, None: 4},
    "referral": {None: 1},
}

#: fixed channel of a touchpoint; the rest use the persona's web channel (web or app)
_CHANNEL = {"search_ad_click": "ads", "social_ad_click": "ads", "newsletter_open": "email", "sms_promo": "sms",
            "welcome_email": "email", "store_visit": "store", "support_call": "phone", "app_install": "app"}

#: structure planted in every generated log, for tests and demonstrations
PLANTED: dict[str, Any] = {
    "loop": ("product_page", "compare_page", "product_page"),
    "roadblock": {"event": "payment_page", "persona": "mobile_impulse"},
    "goal": "order_placed",
    "backward_transition": ("cart", "product_page"),
    "unexpected_transitions": [("product_page", "compare_page"), ("compare_page", "product_page"),
                               ("cart", "product_page")],
    "never_observed_transitions": [("reviews_page", "cart"), ("landing_page", "chat_widget"),
                                   ("chat_widget", "cart")],
    "personas": len(PERSONAS),
}

SAMPLE_MAPPING = {"user": "Customer Ref", "time": "When", "event": "Touchpoint", "channel": "Medium",
                  "device": "Device Type"}
_SAMPLE_COLUMNS = {"user_id": "Customer Ref", "timestamp": "When", "event": "Touchpoint", "channel": "Medium",
                   "device": "Device Type", "campaign": "Campaign"}
_ROOT = Path(__file__).resolve().parents[1] / "data" / "samples"


def _matrices() -> np.ndarray:
    """Transition probabilities per persona: shape (personas, states + 1, states + 1), END absorbing."""
    n = len(EVENTS) + 1
    out = np.zeros((len(PERSONAS), n, n))
    for p, name in enumerate(PERSONAS):
        boost = _PERSONA[name]["boost"]
        for src, nexts in _BASE.items():
            for dst, w in nexts.items():
                out[p, _IX[src], _END if dst is None else _IX[dst]] = w * boost.get((src, dst), 1.0)
        out[p, _END, _END] = 1.0
    return out / out.sum(axis=2, keepdims=True)


def make_journeys(n_customers: int = 5000, seed: int = 0, start: str = "2025-01-01", days: int = 90,
                  max_steps: int = 40) -> pd.DataFrame:
    """Simulate ``n_customers`` journeys; one row per event, sorted by customer and time.

    Columns: ``user_id, timestamp`` (UTC), ``event, channel, device, stage``, the
    planted truth ``persona``, and ``campaign``.

    >>> df = make_journeys(200, seed=1)
    >>> sorted(df["persona"].unique()) == sorted(PERSONAS), df.equals(make_journeys(200, seed=1))
    (True, True)
    """
    rng = np.random.default_rng(seed)
    shares = np.array([_PERSONA[p]["share"] for p in PERSONAS])
    persona = rng.choice(len(PERSONAS), size=n_customers, p=shares / shares.sum())
    entry = np.zeros((len(PERSONAS), len(EVENTS)))
    for p, name in enumerate(PERSONAS):
        for e, w in _PERSONA[name]["entry"].items():
            entry[p, _IX[e]] = w
    entry /= entry.sum(axis=1, keepdims=True)
    state = _sample_rows(entry[persona], rng)
    window_us = int(days * 86_400e6)
    clock = rng.integers(0, window_us, n_customers).astype(np.int64)  # first touch, uniform over the window
    step_s = np.array([_PERSONA[p]["step_s"] for p in PERSONAS], dtype=float)[persona]
    gap_h = np.array([_PERSONA[p]["visit_gap_h"] for p in PERSONAS], dtype=float)[persona]
    P = _matrices()
    states, times = [state], [clock.copy()]
    roadblock = (persona == PERSONAS.index("mobile_impulse"))
    for _ in range(max_steps - 1):
        prev = states[-1]
        nxt = _sample_rows(P[persona, np.minimum(prev, _END)], rng)
        nxt = np.where(prev == _END, _END, nxt)
        new_visit = rng.random(n_customers) < np.where(np.isin(prev, [_IX["order_placed"], _IX["delivery_tracking"],
                                                                       _IX["repeat_order"], _IX["support_call"]]), 0.9, 0.2)
        within = rng.exponential(step_s)
        dwell = np.where(roadblock & (prev == _IX["payment_page"]), rng.exponential(900.0, n_customers), within)
        gap = np.where(new_visit, 3600.0 + rng.exponential(gap_h * 3600.0), dwell)
        clock = clock + (gap * 1e6).astype(np.int64)
        states.append(nxt)
        times.append(clock.copy())
    S, T = np.stack(states, axis=1), np.stack(times, axis=1)
    keep = (S != _END) & (T < window_us)  # censoring: nothing after the end of the window is observed
    cust, _ = np.nonzero(keep)
    ev = S[keep]
    names = np.asarray(EVENTS, dtype=object)
    web = np.array([_PERSONA[p]["web_channel"] for p in PERSONAS], dtype=object)[persona[cust]]
    fixed = np.array([_CHANNEL.get(e) for e in EVENTS], dtype=object)[ev]
    noise = rng.random(len(ev)) < 0.1
    channel = np.where(fixed != None, fixed, np.where(noise, np.where(web == "web", "app", "web"), web))  # noqa: E711
    devices = [list(_PERSONA[p]["devices"].items()) for p in PERSONAS]
    dev_names = np.array(sorted({d for ds in devices for d, _ in ds}), dtype=object)
    dev_p = np.array([[dict(ds).get(d, 0.0) for d in dev_names] for ds in devices])
    device_of_user = dev_names[_sample_rows(dev_p[persona], rng)]
    start_ts = pd.Timestamp(start, tz="UTC")
    frame = pd.DataFrame({
        "user_id": np.char.add("C", np.char.zfill(cust.astype(str), 6)),
        "timestamp": start_ts + pd.to_timedelta(T[keep], unit="us"),
        "event": names[ev],
        "channel": channel,
        "device": device_of_user[cust],
        "stage": np.array([STAGE_OF[e] for e in EVENTS], dtype=object)[ev],
        "persona": np.asarray(PERSONAS, dtype=object)[persona[cust]],
        "campaign": np.where(np.isin(names[ev], ["search_ad_click", "social_ad_click", "sms_promo", "newsletter_open"]),
                             "spring_" + pd.Series(rng.integers(1, 4, len(ev))).astype(str).to_numpy(), ""),
    })
    return frame.sort_values(["user_id", "timestamp"], kind="stable").reset_index(drop=True)


def _sample_rows(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``probs`` (rows sum to 1), vectorised by inverse CDF."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cdf[:, -1:]
    return np.minimum((u > cdf).sum(axis=1), probs.shape[1] - 1)


def make_event_log(n_customers: int = 5000, seed: int = 0, **options: Any):
    """:func:`make_journeys` as an :class:`~journeylens.EventLog` (``persona`` and ``stage`` kept as columns)."""
    from .io import from_pandas

    return from_pandas(make_journeys(n_customers, seed), **options)


def designed_map() -> dict[str, Any]:
    """The team's designed journey map for the generated retail journeys, in the designed-map format.

    It differs from what customers do on purpose: the compare loop and the
    cart → product backtrack are not designed (``PLANTED["unexpected_transitions"]``),
    and it designs steps nobody takes, including a ``chat_widget`` touchpoint
    (``PLANTED["never_observed_transitions"]``).
    """
    stages = [{"name": s, "touchpoints": list(t)} for s, t in STAGES.items()]
    stages[1]["touchpoints"].append("chat_widget")
    transitions = [[a, b] for a, nexts in _BASE.items() for b in nexts
                   if b is not None and a != b and (a, b) not in PLANTED["unexpected_transitions"]]
    transitions += [list(t) for t in PLANTED["never_observed_transitions"]]
    return {
        "name": "designed retail journey",
        "stages": stages,
        "transitions": transitions,
        "start": ["search_ad_click", "social_ad_click", "newsletter_open", "sms_promo", "store_visit"],
        "conversion": "order_placed",
        "targets": {"conversion_rate": 0.35, "max_days_to_convert": 14},
    }


def write_sample(folder: str | Path = _ROOT, n_customers: int = 3000, seed: int = 7) -> Path:
    """Write the bundled sample (CSV with non-default column names and planted mess) and its map YAML."""
    import yaml

    rng = np.random.default_rng(seed)
    df = make_journeys(n_customers, seed=seed).drop(columns=["persona", "stage"])
    ts = df["timestamp"]
    # mixed offsets: a third in Central European time, a third naive UTC text, the rest with Z
    pick = rng.integers(0, 3, len(df))
    when = np.where(pick == 0, ts.dt.tz_convert("Europe/Berlin").dt.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    np.where(pick == 1, ts.dt.strftime("%Y-%m-%d %H:%M:%S"), ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")))
    df["timestamp"] = when
    spell = {"email": ["E-mail", "e-mail", "Newsletter", "email"], "sms": ["SMS ", "sms"], "web": ["Web", "web"]}
    for canonical, variants in spell.items():
        rows = df.index[df["channel"] == canonical]
        df.loc[rows, "channel"] = np.asarray(variants, dtype=object)[rng.integers(0, len(variants), len(rows))]
    mess = df.sample(n=12, random_state=seed).index
    df.loc[mess[:4], "user_id"] = ""
    df.loc[mess[4:8], "timestamp"] = ["yesterday", "31/02/2025 25:00", "n/a?", "2025-13-45"]
    df = pd.concat([df, df.loc[df.index[100:106]]]).sort_index(kind="stable")  # exact duplicates
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "retail_journeys.csv"
    df.rename(columns=_SAMPLE_COLUMNS).to_csv(path, index=False)
    header = ("# Designed journey map for data/samples/retail_journeys.csv (journeylens designed-map format).\n"
              "# It differs from observed behaviour on purpose: see journeylens.datasets.PLANTED.\n")
    (folder / "retail_map.yaml").write_text(header + yaml.safe_dump(designed_map(), sort_keys=False, width=120))
    return path


def sample_path() -> Path:
    """Path of the bundled sample CSV."""
    path = _ROOT / "retail_journeys.csv"
    if not path.exists():
        raise InputError(f"{path}: the bundled sample is missing (run journeylens.datasets.write_sample())")
    return path


def sample_map_path() -> Path:
    """Path of the bundled sample's designed journey map (YAML)."""
    path = _ROOT / "retail_map.yaml"
    if not path.exists():
        raise InputError(f"{path}: the bundled sample map is missing (run journeylens.datasets.write_sample())")
    return path


def load_sample(**options: Any):
    """The bundled sample as an EventLog, read by the CSV reader with :data:`SAMPLE_MAPPING`.

    >>> import journeylens as jl
    >>> log = jl.datasets.load_sample()
    >>> log.summary()["rows_read"] == log.summary()["rows_accepted"] + log.summary()["rows_quarantined"]
    True
    """
    from .io import read_csv

    return read_csv(sample_path(), **{**SAMPLE_MAPPING, **options})
