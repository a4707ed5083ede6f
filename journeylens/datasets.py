"""Seeded synthetic multichannel retail journeys, and the bundled sample.

:func:`make_journeys` simulates customers of four behavioural personas
(:data:`PERSONAS`) moving through the lifecycle stages awareness →
consideration → decision → onboarding → retention → advocacy, over 29
touchpoints on web, app, email, SMS, ads, store and phone. Each persona is a
Markov chain over touchpoints (shared base weights times persona multipliers)
with its own entry points, channel mix, devices and pace. Events come in
visits: a visit opens with an inbound touch (an ad click, a newsletter, a store
visit …) hours or days after the previous one, and inside a visit events are
seconds to minutes apart, so a 30-minute sessionization is meaningful.

The structure it plants, for the analyses to find again (see :data:`PLANTED`):

* the loop ``product_page > compare_page > product_page``: the most frequent
  non-self loop, strongest for ``researcher``;
* a roadblock at ``payment_page`` for ``mobile_impulse``: payment errors,
  repeated attempts, long dwell and many customers leaving there;
* backward stage transitions: ``cart → product_page`` and
  ``payment_page → product_page`` (decision → consideration);
* conversions (``order_placed``) at persona-dependent rates;
* right-censoring: first touches are spread over the window and nothing after
  its end is observed, so late starters are still on their way (recent
  activity, no conversion yet), while customers who left went quiet long before;
* a designed map (:func:`designed_map`) that differs from the generator on
  purpose: transitions that occur but were not designed, and designed ones
  that never occur.

The simulation is vectorised: one step moves every active customer at once,
for at most ``max_steps`` steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import InputError

STAGES: dict[str, tuple[str, ...]] = {
    "awareness": ("search_ad_click", "social_ad_click", "display_ad_click", "newsletter_open", "sms_promo",
                  "push_open"),
    "consideration": ("landing_page", "site_search", "product_page", "compare_page", "reviews_page", "wishlist_add",
                      "store_visit"),
    "decision": ("cart", "coupon_applied", "checkout", "payment_page", "payment_error", "order_placed"),
    "onboarding": ("welcome_email", "account_created", "app_install", "delivery_tracking"),
    "retention": ("support_call", "repeat_visit", "repeat_order", "loyalty_signup"),
    "advocacy": ("review_written", "referral"),
}
#: every touchpoint the generator emits, in stage order
EVENTS: tuple[str, ...] = tuple(e for events in STAGES.values() for e in events)
#: the true lifecycle stage of each touchpoint
STAGE_OF: dict[str, str] = {e: s for s, events in STAGES.items() for e in events}
PERSONAS: tuple[str, ...] = ("deal_hunter", "mobile_impulse", "researcher", "store_loyalist")
CHANNELS: tuple[str, ...] = ("web", "app", "email", "sms", "ads", "store", "phone")
#: devices: the customer's own, or where a store/phone touchpoint happened
DEVICES: tuple[str, ...] = ("desktop", "mobile", "tablet", "in_store", "phone")
GOAL = "order_placed"

_IX = {e: k for k, e in enumerate(EVENTS)}
_END = len(EVENTS)  # absorbing state: the customer has left

#: base transition weights; ``None`` = leave. Personas multiply them (``boost``).
_BASE: dict[str, dict[str | None, float]] = {
    "search_ad_click": {"landing_page": 6, "product_page": 2, "site_search": 1, None: 0.3},
    "social_ad_click": {"product_page": 5, "landing_page": 3, None: 0.4},
    "display_ad_click": {"landing_page": 5, "product_page": 2, None: 0.5},
    "newsletter_open": {"product_page": 4, "landing_page": 3, "store_visit": 1, None: 0.4},
    "sms_promo": {"product_page": 4, "cart": 1, None: 0.4},
    "push_open": {"product_page": 4, "cart": 1, None: 0.4},
    "landing_page": {"product_page": 6, "site_search": 2, None: 0.5},
    "site_search": {"product_page": 6, None: 0.5},
    "product_page": {"compare_page": 2.5, "reviews_page": 1.5, "cart": 3, "wishlist_add": 0.5, "product_page": 0.8,
                     "site_search": 0.5, "newsletter_open": 0.3, "push_open": 0.3, "search_ad_click": 0.3,
                     "store_visit": 0.2, None: 1.6},
    "compare_page": {"product_page": 6, "cart": 0.8, None: 0.6},
    "reviews_page": {"product_page": 4, "compare_page": 0.5, None: 0.6},
    "wishlist_add": {"product_page": 1, "newsletter_open": 1, "push_open": 1, "sms_promo": 0.5, None: 1},
    "store_visit": {"cart": 3, "product_page": 1, "store_visit": 0.5, None: 0.6},
    "cart": {"checkout": 5, "product_page": 1.5, "coupon_applied": 0.5, "sms_promo": 0.4, "push_open": 0.3,
             None: 1.6},
    "coupon_applied": {"checkout": 4, None: 0.5},
    "checkout": {"payment_page": 7, None: 1.0},
    "payment_page": {"order_placed": 8, "payment_error": 0.4, "product_page": 0.3, None: 0.5},
    "payment_error": {"payment_page": 4, None: 1.5},
    "order_placed": {"welcome_email": 4, "account_created": 1.5, "delivery_tracking": 2, "app_install": 0.5,
                     None: 0.5},
    "welcome_email": {"app_install": 1.5, "delivery_tracking": 3, "account_created": 1, None: 1},
    "account_created": {"app_install": 1, "delivery_tracking": 2, None: 1},
    "app_install": {"delivery_tracking": 2, None: 1.5},
    "delivery_tracking": {"repeat_visit": 2, "support_call": 0.8, "review_written": 1, "loyalty_signup": 0.5,
                          None: 2.5},
    "support_call": {"repeat_visit": 1, "delivery_tracking": 0.5, None: 2},
    "repeat_visit": {"product_page": 2, "repeat_order": 1.5, None: 2},
    "repeat_order": {"review_written": 1, "referral": 0.4, "repeat_visit": 0.7, None: 2},
    "loyalty_signup": {"repeat_visit": 1.5, None: 1.5},
    "review_written": {"referral": 1, None: 3},
    "referral": {None: 1},
}

#: channel of touchpoints that have one whatever the persona; the others happen on the persona's channels
_FIXED_CHANNEL = {
    "search_ad_click": "ads", "social_ad_click": "ads", "display_ad_click": "ads", "newsletter_open": "email",
    "welcome_email": "email", "sms_promo": "sms", "push_open": "app", "app_install": "app", "store_visit": "store",
    "support_call": "phone",
}
#: inbound touchpoints open a new visit; value = mean hours since the last event (None: the persona's pace)
_INBOUND: dict[str, float | None] = {
    **{e: None for e in STAGES["awareness"]}, "store_visit": None, "repeat_visit": None,
    "welcome_email": 1.0, "delivery_tracking": 30.0, "support_call": 48.0, "loyalty_signup": 48.0,
    "review_written": 96.0, "referral": 72.0,
}
#: steps of the purchase itself: never interrupted by a random return visit
_NO_BREAK = ("coupon_applied", "checkout", "payment_page", "payment_error", "order_placed")
_MIN_VISIT_GAP_S = 45 * 60  # visits are more than 30 minutes apart
_MAX_IN_VISIT_S = 25 * 60  # ... and events inside a visit less than 30 minutes
_RETURN_SHARE = 0.08  # share of in-visit steps that happen instead on a later visit (customer came back directly)

#: only store customers are asked to install the (loyalty) app
_NO_APP = (("order_placed", "app_install"), ("welcome_email", "app_install"), ("account_created", "app_install"))
#: personas: share of customers, entry points, multipliers on base weights, channel and device mix, pace
_PERSONA: dict[str, dict[str, Any]] = {
    "deal_hunter": {  # promo-driven: email/SMS links opened on the phone's browser, coupons, wishlist, compares
        "share": 0.30,
        "entry": {"newsletter_open": 5, "sms_promo": 4},
        "boost": {("product_page", "compare_page"): 1.6, ("cart", "coupon_applied"): 30, ("product_page", "cart"): 1.3,
                  ("product_page", "newsletter_open"): 10, ("product_page", "wishlist_add"): 4,
                  ("wishlist_add", "sms_promo"): 4, ("cart", "sms_promo"): 8, ("compare_page", None): 0.3,
                  ("product_page", "reviews_page"): 0.3,
                  ("order_placed", "account_created"): 3, ("delivery_tracking", "repeat_visit"): 0.3,
                  ("delivery_tracking", "support_call"): 0.2, ("delivery_tracking", "loyalty_signup"): 0,
                  ("repeat_visit", "product_page"): 0.3, ("product_page", "store_visit"): 0,
                  ("newsletter_open", "store_visit"): 0, ("product_page", "search_ad_click"): 0,
                  **dict.fromkeys(_NO_APP, 0)},
        "channel": {"web": 0.95, "app": 0.05}, "devices": {"mobile": 0.95, "desktop": 0.05},
        "step_s": 40.0, "gap_h": 20.0, "min_events": 4,
    },
    "mobile_impulse": {  # social ads into the app, quick decisions, push notifications; trouble paying
        "share": 0.30,
        "entry": {"social_ad_click": 6, "push_open": 2},
        "boost": {("product_page", "cart"): 3, ("product_page", "compare_page"): 0.1,
                  ("product_page", "reviews_page"): 0.15, ("social_ad_click", "landing_page"): 0.2,
                  ("product_page", "push_open"): 6, ("cart", "push_open"): 8, ("wishlist_add", "push_open"): 4,
                  ("payment_page", "payment_error"): 16, ("payment_page", None): 6, ("payment_error", None): 1.5,
                  ("cart", "coupon_applied"): 0.2, ("order_placed", "welcome_email"): 0.1,
                  ("order_placed", "delivery_tracking"): 3, ("delivery_tracking", "review_written"): 0.2,
                  ("delivery_tracking", "support_call"): 0.2, ("delivery_tracking", "loyalty_signup"): 0,
                  ("product_page", "newsletter_open"): 0, ("product_page", "search_ad_click"): 0,
                  ("product_page", "store_visit"): 0, ("cart", "sms_promo"): 0, ("wishlist_add", "newsletter_open"): 0,
                  ("wishlist_add", "sms_promo"): 0, **dict.fromkeys(_NO_APP, 0)},
        "channel": {"app": 0.95, "web": 0.05}, "devices": {"mobile": 0.95, "tablet": 0.05},
        "step_s": 15.0, "gap_h": 6.0, "min_events": 4,
    },
    "researcher": {  # search ads and site search on a desktop, reviews and comparisons, long consideration
        "share": 0.25,
        "entry": {"search_ad_click": 6, "display_ad_click": 1},
        "boost": {("product_page", "compare_page"): 3, ("compare_page", "product_page"): 1.5,
                  ("product_page", "reviews_page"): 3, ("product_page", "site_search"): 3,
                  ("product_page", "search_ad_click"): 8, ("product_page", "cart"): 0.1, ("product_page", None): 0.6,
                  ("compare_page", "cart"): 0.6, ("product_page", "newsletter_open"): 0.3,
                  ("delivery_tracking", "review_written"): 4, ("delivery_tracking", "loyalty_signup"): 0,
                  ("order_placed", "welcome_email"): 0.2, ("order_placed", "account_created"): 0.2,
                  ("delivery_tracking", "support_call"): 0.3, ("cart", "coupon_applied"): 0.2,
                  ("product_page", "push_open"): 0, ("product_page", "store_visit"): 0, ("cart", "push_open"): 0,
                  ("cart", "sms_promo"): 0, ("wishlist_add", "push_open"): 0, ("wishlist_add", "sms_promo"): 0,
                  ("newsletter_open", "store_visit"): 0, ("product_page", "wishlist_add"): 0.3,
                  **dict.fromkeys(_NO_APP, 0)},
        "channel": {"web": 0.95, "app": 0.05}, "devices": {"desktop": 0.95, "tablet": 0.05},
        "step_s": 75.0, "gap_h": 40.0, "min_events": 5,
    },
    "store_loyalist": {  # browses on a tablet, buys at the till, calls the hotline, loyalty programme and app
        "share": 0.15,
        "entry": {"store_visit": 8, "newsletter_open": 1},
        "boost": {("store_visit", "cart"): 1.2, ("product_page", "compare_page"): 0.2,
                  ("product_page", "reviews_page"): 0.4, ("product_page", "store_visit"): 15,
                  ("newsletter_open", "store_visit"): 6, ("repeat_visit", "repeat_order"): 2,
                  ("delivery_tracking", "support_call"): 5, ("support_call", "repeat_visit"): 2,
                  ("delivery_tracking", "loyalty_signup"): 6, ("order_placed", "welcome_email"): 0.3,
                  ("order_placed", "app_install"): 6, ("delivery_tracking", "review_written"): 0.2,
                  ("store_visit", None): 2, ("product_page", "wishlist_add"): 0.2, ("cart", "sms_promo"): 0,
                  ("wishlist_add", "sms_promo"): 0, ("product_page", "push_open"): 0,
                  ("product_page", "search_ad_click"): 0, ("cart", "push_open"): 0, ("wishlist_add", "push_open"): 0},
        # buying happens at the till: the purchase steps are store events, browsing is on the web
        "channel": {"web": 0.95, "app": 0.05}, "store_steps": 0.95,
        "devices": {"tablet": 0.8, "desktop": 0.2},
        "step_s": 110.0, "gap_h": 60.0, "min_events": 4,
    },
}
_STORE_STEPS = ("cart", "coupon_applied", "checkout", "payment_page", "payment_error", "order_placed", "repeat_visit",
                "repeat_order", "loyalty_signup")

#: structure planted in every generated log, for tests and demonstrations
PLANTED: dict[str, Any] = {
    "goal": GOAL,
    "personas": len(PERSONAS),
    "loop": ("product_page", "compare_page", "product_page"),
    "loop_persona": "researcher",
    "roadblock": {"event": "payment_page", "persona": "mobile_impulse", "error": "payment_error"},
    "backward_transitions": [("cart", "product_page"), ("payment_page", "product_page")],
    # transitions that occur but the designed map leaves out
    "unexpected_transitions": [("product_page", "compare_page"), ("compare_page", "product_page"),
                               ("payment_page", "product_page")],
    # transitions the designed map has that no customer ever takes
    "never_observed_transitions": [("reviews_page", "cart"), ("landing_page", "chat_widget"),
                                   ("chat_widget", "cart")],
    "never_observed_touchpoints": ["chat_widget"],
}

#: the bundled sample: customers, seed, and how its columns are named
SAMPLE_CUSTOMERS = 2000
SAMPLE_SEED = 7
SAMPLE_MAPPING: dict[str, str] = {"user": "Customer Ref", "time": "When", "event": "Touchpoint", "channel": "Medium",
                                  "device": "Device Type"}
_SAMPLE_COLUMNS = {"user_id": "Customer Ref", "timestamp": "When", "event": "Touchpoint", "channel": "Medium",
                   "device": "Device Type", "campaign": "Campaign"}
_CAMPAIGNS = ("spring_sale", "new_arrivals", "loyalty_club")


def _sample_folder() -> Path:
    """The bundled sample's folder: inside the installed package (a wheel), else the checkout's ``data/samples``.

    The files live once, in the checkout's ``data/samples/``; the wheel carries
    them as ``journeylens/_samples/`` (see ``pyproject.toml``).
    """
    here = Path(__file__).resolve().parent
    packaged = here / "_samples"
    return packaged if packaged.is_dir() else here.parent / "data" / "samples"


_SAMPLES = _sample_folder()


def _weights(persona: str) -> np.ndarray:
    """Transition weights of one persona, shape (states + 1, states + 1); row ``_END`` is absorbing."""
    n = len(EVENTS) + 1
    w = np.zeros((n, n))
    boost = _PERSONA[persona]["boost"]
    for src, nexts in _BASE.items():
        for dst, base in nexts.items():
            w[_IX[src], _END if dst is None else _IX[dst]] = base * boost.get((src, dst), 1.0)
    w[_END, _END] = 1.0
    return w


def _cdf_rows(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative probabilities (last column exactly 1)."""
    c = np.cumsum(weights / weights.sum(axis=-1, keepdims=True), axis=-1)
    c[..., -1] = 1.0
    return c


def _draw(cdf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One categorical draw per row of ``cdf``, by inverse CDF."""
    u = rng.random(len(cdf))
    return np.minimum((u[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1)


def _channel_probs() -> np.ndarray:
    """P(channel | persona, touchpoint), shape (personas, events, channels)."""
    out = np.zeros((len(PERSONAS), len(EVENTS), len(CHANNELS)))
    for p, name in enumerate(PERSONAS):
        spec = _PERSONA[name]
        for e, event in enumerate(EVENTS):
            if event in _FIXED_CHANNEL:
                out[p, e, CHANNELS.index(_FIXED_CHANNEL[event])] = 1.0
                continue
            store = spec.get("store_steps", 0.0) if event in _STORE_STEPS else 0.0
            out[p, e, CHANNELS.index("store")] = store
            for channel, share in spec["channel"].items():
                out[p, e, CHANNELS.index(channel)] += (1 - store) * share
    return out


def make_journeys(n_customers: int = 5000, seed: int = 0, start: str = "2025-01-01", days: int = 90,
                  max_steps: int = 60) -> pd.DataFrame:
    """Simulate ``n_customers`` retail journeys; one row per event, sorted by customer and time.

    Columns: ``user_id, timestamp`` (UTC, whole seconds, window ``start`` +
    ``days``), ``event, channel, device`` (categoricals), ``stage`` (the true
    lifecycle stage), ``persona`` (the planted truth: analyses must not use it)
    and ``campaign`` (ads/email/SMS touches only). Same arguments → identical frame.

    >>> df = make_journeys(300, seed=1)
    >>> sorted(df["persona"].unique()) == sorted(PERSONAS), df.equals(make_journeys(300, seed=1))
    (True, True)
    """
    if n_customers < 1 or days <= 0 or max_steps < 1:
        raise InputError(f"make_journeys needs n_customers ≥ 1, days > 0, max_steps ≥ 1 "
                         f"(got {n_customers}, {days}, {max_steps})")
    rng = np.random.default_rng(seed)
    n_p, n_s = len(PERSONAS), len(EVENTS) + 1
    shares = np.array([_PERSONA[p]["share"] for p in PERSONAS])
    persona = rng.choice(n_p, size=n_customers, p=shares / shares.sum())

    entry = np.zeros((n_p, n_s))
    for p, name in enumerate(PERSONAS):
        for e, w in _PERSONA[name]["entry"].items():
            entry[p, _IX[e]] = w
    # flat tables of CDF rows, indexed by persona * states + state; ``engaged`` cannot leave yet
    weights = np.stack([_weights(p) for p in PERSONAS])
    cdf = _cdf_rows(weights).reshape(n_p * n_s, n_s)
    staying = weights.copy()
    staying[:, :, _END] = np.where(staying[:, :, :_END].sum(axis=2) > 0, 0.0, staying[:, :, _END])
    engaged = _cdf_rows(staying).reshape(n_p * n_s, n_s)
    min_events = np.array([_PERSONA[p]["min_events"] for p in PERSONAS])
    step_s = np.array([_PERSONA[p]["step_s"] for p in PERSONAS])
    gap_s = np.array([[(_INBOUND[e] if _INBOUND.get(e) is not None else _PERSONA[p]["gap_h"]) * 3600.0
                       for e in EVENTS] for p in PERSONAS])
    inbound = np.isin(np.arange(n_s), [_IX[e] for e in _INBOUND])
    may_break = ~inbound & ~np.isin(np.arange(n_s), [_IX[e] for e in _NO_BREAK])
    slow = np.array([p == PLANTED["roadblock"]["persona"] for p in PERSONAS])
    roadblock = _IX[PLANTED["roadblock"]["event"]]

    window = int(days * 86_400)
    states = np.full((n_customers, max_steps), _END, dtype=np.int16)
    times = np.zeros((n_customers, max_steps), dtype=np.int64)
    states[:, 0] = _draw(_cdf_rows(entry)[persona], rng)
    times[:, 0] = rng.integers(0, window, n_customers)  # first touch: uniform over the window
    active = np.arange(n_customers)
    for k in range(1, max_steps):
        prev, clock = states[active, k - 1], times[active, k - 1]
        alive = (prev != _END) & (clock < window)  # the window's end censors everything after it
        active, prev, clock = active[alive], prev[alive], clock[alive]
        if not len(active):
            break
        p = persona[active]
        row = p * n_s + prev
        # nobody leaves during their first few events: a journey is at least one real visit
        nxt = _draw(np.where((k < min_events[p])[:, None], engaged[row], cdf[row]), rng)
        m = len(active)
        new_visit = inbound[nxt] | (may_break[nxt] & (rng.random(m) < _RETURN_SHARE))
        visit_gap = _MIN_VISIT_GAP_S + rng.exponential(gap_s[p, np.minimum(nxt, _END - 1)])
        in_visit = 3.0 + rng.exponential(step_s[p])
        # the roadblock: its persona hesitates long on the payment page before the next step
        in_visit = np.where(slow[p] & (prev == roadblock), 60.0 + rng.exponential(420.0, m), in_visit)
        in_visit = np.minimum(in_visit, _MAX_IN_VISIT_S)
        states[active, k] = nxt
        times[active, k] = clock + np.where(new_visit, visit_gap, in_visit).astype(np.int64)

    keep = (states != _END) & (times < window)
    cust = np.nonzero(keep)[0]  # row-major: by customer, then step (= time order)
    ev = states[keep].astype(np.int64)
    seconds = times[keep]
    pc = persona[cust]
    channel = _draw(_cdf_rows(_channel_probs())[pc, ev], rng)

    # each customer has a main device; some events happen on another one (cross-device journeys)
    own = [DEVICES.index(d) for d in ("desktop", "mobile", "tablet")]
    dev_p = np.array([[_PERSONA[p]["devices"].get(d, 0.0) for d in DEVICES] for p in PERSONAS])
    main_device = _draw(_cdf_rows(dev_p)[persona], rng)
    device = np.where(rng.random(len(ev)) < 0.05, np.asarray(own)[rng.integers(0, 3, len(ev))], main_device[cust])
    device = np.where(channel == CHANNELS.index("store"), DEVICES.index("in_store"),
                      np.where(channel == CHANNELS.index("phone"), DEVICES.index("phone"), device))
    campaign = np.where(np.isin(channel, [CHANNELS.index(c) for c in ("ads", "email", "sms")])
                        & (ev != _IX["welcome_email"]), rng.integers(0, len(_CAMPAIGNS), len(ev)), -1)

    width = max(6, len(str(n_customers - 1)))
    users = np.char.add("C", np.char.zfill(np.arange(n_customers).astype(str), width))
    stage_names = tuple(STAGES)
    stage_of = np.array([stage_names.index(STAGE_OF[e]) for e in EVENTS])
    cat = pd.Categorical.from_codes
    t0 = pd.Timestamp(start, tz="UTC").as_unit("s")
    return pd.DataFrame({
        "user_id": cat(cust, categories=users),
        "timestamp": pd.Series(t0 + pd.to_timedelta(seconds, unit="s")).astype("datetime64[us, UTC]"),
        "event": cat(ev, categories=EVENTS),
        "channel": cat(channel, categories=CHANNELS),
        "device": cat(device, categories=DEVICES),
        "stage": cat(stage_of[ev], categories=stage_names),
        "persona": cat(pc, categories=PERSONAS),
        "campaign": cat(campaign, categories=_CAMPAIGNS),
    })


def make_event_log(n_customers: int = 5000, seed: int = 0, **options: Any):
    """:func:`make_journeys` as an :class:`~journeylens.EventLog`.

    ``stage`` is the log's stage column; ``persona`` and ``campaign`` are kept as
    extra columns. ``options`` go to :func:`journeylens.from_pandas`.

    >>> log = make_event_log(200, seed=0)
    >>> log.has("stage"), log.has("persona")
    (True, True)
    """
    from .io.frames import from_pandas

    return from_pandas(make_journeys(n_customers, seed), **options)


def designed_map() -> dict[str, Any]:
    """The team's designed journey map for these journeys, in the designed-map format (see DESIGN.md).

    It differs from what customers do on purpose: the compare loop and the
    payment → product backtrack were not designed
    (``PLANTED["unexpected_transitions"]``), and it designs steps nobody takes,
    around a ``chat_widget`` touchpoint that never occurs
    (``PLANTED["never_observed_transitions"]``). Every other transition that
    customers take is designed.

    >>> m = designed_map()
    >>> m["conversion"], ["product_page", "compare_page"] in m["transitions"]
    ('order_placed', False)
    """
    stages = [{"name": s, "touchpoints": list(t)} for s, t in STAGES.items()]
    stages[1]["touchpoints"].append("chat_widget")
    unexpected = set(PLANTED["unexpected_transitions"])
    occurring = sorted({(a, b) for a, b in possible_transitions() if a != b and (a, b) not in unexpected},
                       key=lambda ab: (_IX[ab[0]], _IX[ab[1]]))
    return {
        "name": "designed retail journey",
        "stages": stages,
        "transitions": [list(t) for t in occurring + PLANTED["never_observed_transitions"]],
        "start": ["search_ad_click", "social_ad_click", "display_ad_click", "newsletter_open", "sms_promo",
                  "push_open", "store_visit"],
        "conversion": GOAL,
        "targets": {"conversion_rate": 0.35, "max_days_to_convert": 14},
    }


def possible_transitions() -> list[tuple[str, str]]:
    """Every directly-follows pair the generator can produce (any persona), in stage order.

    >>> ("product_page", "compare_page") in possible_transitions()
    True
    """
    w = sum(_weights(p) for p in PERSONAS)[:_END, :_END]
    src, dst = np.nonzero(w)
    return [(EVENTS[a], EVENTS[b]) for a, b in zip(src, dst)]


def _iso_with_offset(ts: pd.Series, tz: str) -> np.ndarray:
    """ISO 8601 local time with a ``+hh:mm`` offset, e.g. ``2025-01-31T01:51:07+01:00``."""
    local = ts.dt.tz_convert(tz).dt.strftime("%Y-%m-%dT%H:%M:%S%z").astype(str)
    return (local.str[:-2] + ":" + local.str[-2:]).to_numpy(dtype=object)


def write_sample(folder: str | Path = _SAMPLES, n_customers: int = SAMPLE_CUSTOMERS, seed: int = SAMPLE_SEED) -> Path:
    """Write ``retail_journeys.csv`` (non-default column names, planted mess) and ``retail_map.yaml``.

    The mess, for the quarantine demonstration: 4 rows without a customer,
    4 unparsable times, 6 exact duplicate rows, channel spellings that need
    normalising ("E-mail", "Newsletter", "SMS ", "Web" …) and times written
    as ``Z``, ``+01:00``, ``+02:00`` or naive UTC. The persona and stage truth
    is not written (:func:`sample_truth` regenerates it). Returns the CSV path.

    >>> import tempfile
    >>> write_sample(tempfile.mkdtemp(), n_customers=50).name
    'retail_journeys.csv'
    """
    rng = np.random.default_rng(seed)
    df = make_journeys(n_customers, seed=seed).drop(columns=["persona", "stage"])
    df = df.astype({c: object for c in ("user_id", "event", "channel", "device", "campaign")})
    ts = df["timestamp"]
    pick = rng.integers(0, 4, len(df))
    df["timestamp"] = np.select(
        [pick == 0, pick == 1, pick == 2],
        [ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object), _iso_with_offset(ts, "Europe/Paris"),
         _iso_with_offset(ts, "Europe/Helsinki")],
        ts.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
    )
    spell = {"email": ("E-mail", "e-mail", "Newsletter", "email"), "sms": ("SMS ", "sms", "SMS"),
             "web": ("Web", "web", "Website"), "app": ("app", "Mobile App"), "store": ("Store", "in store"),
             "phone": ("Phone", "call centre")}
    channel = df["channel"].to_numpy(dtype=object, copy=True)
    for canonical, variants in spell.items():
        rows = np.flatnonzero(channel == canonical)
        channel[rows] = np.asarray(variants, dtype=object)[rng.integers(0, len(variants), len(rows))]
    df["channel"] = channel
    mess = rng.choice(len(df), size=8, replace=False)
    df.loc[mess[:4], "user_id"] = ""
    df.loc[mess[4:], "timestamp"] = ["yesterday", "31/02/2025 25:00", "n/a?", "2025-13-45T10:00:00Z"]
    copies = np.sort(rng.choice(np.setdiff1d(np.arange(len(df)), mess), size=6, replace=False))
    df = pd.concat([df, df.iloc[copies]]).sort_index(kind="stable")  # a copy right after its original
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "retail_journeys.csv"
    df.rename(columns=_SAMPLE_COLUMNS).to_csv(path, index=False)
    (folder / "retail_map.yaml").write_text(_map_yaml(designed_map()), encoding="utf-8")
    return path


def _map_yaml(jmap: dict[str, Any]) -> str:
    """The designed map as hand-readable YAML: flow-style lists, one transition per line, comments."""
    def flow(items: list[str]) -> str:
        return "[" + ", ".join(items) + "]"

    lines = [
        "# Designed journey map for data/samples/retail_journeys.csv (journeylens designed-map format).",
        "# It differs from observed behaviour on purpose (journeylens.datasets.PLANTED): customers loop",
        "# product_page <-> compare_page and go back from payment_page to product_page, which were not",
        "# designed; chat_widget and reviews_page -> cart were designed but nobody uses them.",
        f"name: {jmap['name']}",
        "stages:                     # lifecycle stages in order, with their touchpoints",
    ]
    for stage in jmap["stages"]:
        lines += [f"  - name: {stage['name']}", f"    touchpoints: {flow(stage['touchpoints'])}"]
    lines.append("transitions:                # the directly-follows steps the team designed")
    lines += [f"  - {flow(t)}" for t in jmap["transitions"]]
    lines += [f"start: {flow(jmap['start'])}", f"conversion: {jmap['conversion']}", "targets:"]
    lines += [f"  {k}: {v}" for k, v in jmap["targets"].items()]
    return "\n".join(lines) + "\n"


def _bundled(name: str) -> Path:
    path = _SAMPLES / name
    if not path.exists():
        raise InputError(f"{path}: the bundled sample file is missing (this installation lacks the sample; "
                         f"write it with journeylens.datasets.write_sample(folder))")
    return path


def sample_path() -> Path:
    """Path of the bundled sample CSV: ``data/samples/retail_journeys.csv`` (``journeylens/_samples/`` when installed).

    >>> sample_path().name
    'retail_journeys.csv'
    """
    return _bundled("retail_journeys.csv")


def sample_map_path() -> Path:
    """Path of the bundled sample's designed journey map, ``retail_map.yaml`` beside :func:`sample_path`.

    >>> sample_map_path().suffix
    '.yaml'
    """
    return _bundled("retail_map.yaml")


def load_sample(**options: Any):
    """The bundled sample as an EventLog, read by the CSV reader with :data:`SAMPLE_MAPPING`.

    ``options`` go to :func:`journeylens.read` (they override the mapping).

    >>> log = load_sample()
    >>> s = log.summary()
    >>> s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"], s["rows_quarantined"]
    (True, 14)
    """
    from .io.dispatch import read

    return read(sample_path(), **{**SAMPLE_MAPPING, **options})


def sample_truth() -> pd.DataFrame:
    """Planted persona of each customer of the bundled sample, regenerated from its seed.

    One row per ``user_id`` with columns ``persona`` and ``converted``.

    >>> sample_truth()["persona"].nunique()
    4
    """
    df = make_journeys(SAMPLE_CUSTOMERS, seed=SAMPLE_SEED)
    users = df.groupby("user_id", observed=True)
    return pd.DataFrame({"persona": users["persona"].first().astype(str),
                         "converted": (df["event"] == GOAL).groupby(df["user_id"], observed=True).any()})
