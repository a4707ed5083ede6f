"""The designed journey map: parsing, round trips, questions, and one-line errors for bad maps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import journeylens as jl
from journeylens.core.journey_map import JourneyMap, as_journey_map

RETAIL = """\
name: designed retail journey
stages:
  - name: awareness
    touchpoints: [search_ad_click, social_ad_click, newsletter_open]
  - name: consideration
    touchpoints: [landing_page, product_page, reviews_page]
  - name: decision
    touchpoints: [cart, payment_page, order_placed]
transitions:
  - [search_ad_click, landing_page]
  - [landing_page, product_page]
  - [product_page, cart]
start: [search_ad_click, social_ad_click, newsletter_open, landing_page]
conversion: order_placed
targets:
  conversion_rate: 0.25
  max_days_to_convert: 14
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_file_parses_into_the_designed_map(tmp_path):
    m = JourneyMap.from_file(_write(tmp_path, "retail.yaml", RETAIL))
    assert m.name == "designed retail journey"
    assert m.stage_names == ("awareness", "consideration", "decision")
    assert m.touchpoints[:4] == ("search_ad_click", "social_ad_click", "newsletter_open", "landing_page")
    assert m.stage_of["reviews_page"] == "consideration" and len(m.stage_of) == 9
    assert m.transition_set == {("search_ad_click", "landing_page"), ("landing_page", "product_page"),
                                ("product_page", "cart")}
    assert m.is_allowed("landing_page", "product_page") and not m.is_allowed("product_page", "landing_page")
    assert m.is_start("landing_page") and not m.is_start("cart")
    assert m.conversion == ("order_placed",)
    assert m.targets == {"conversion_rate": 0.25, "max_days_to_convert": 14}
    assert m.source.endswith("retail.yaml")


def test_round_trips_through_dict_json_and_yaml(tmp_path):
    m = JourneyMap.from_file(_write(tmp_path, "retail.yml", RETAIL))
    assert JourneyMap.from_dict(m.to_dict()) == m
    as_json = JourneyMap.from_file(_write(tmp_path, "retail.json", json.dumps(m.to_dict())))
    as_yaml = JourneyMap.from_file(_write(tmp_path, "again.yaml", yaml.safe_dump(m.to_dict())))
    assert as_json == m == as_yaml
    # no extension: JSON recognised by its brace, YAML otherwise
    assert JourneyMap.from_file(_write(tmp_path, "map", json.dumps(m.to_dict()))) == m
    assert JourneyMap.from_file(_write(tmp_path, "map.txt", RETAIL)) == m


def test_optional_keys_have_permissive_defaults():
    m = JourneyMap.from_dict({"stages": [{"name": "s", "touchpoints": ["a", "b", 404]}]})
    assert m.name == "journey map" and m.touchpoints == ("a", "b", "404")
    assert m.transitions == () and m.is_allowed("b", "a")  # no transitions listed: any step is designed
    assert m.start == () and m.is_start("b") and not m.is_start("zzz")
    assert m.conversion == () and m.targets == {}
    assert m.to_dict() == {"name": "journey map", "stages": [{"name": "s", "touchpoints": ["a", "b", "404"]}]}
    assert JourneyMap.from_dict({**m.to_dict(), "conversion": ["a", "b", "a"]}).conversion == ("a", "b")


def test_file_name_is_the_default_name(tmp_path):
    path = _write(tmp_path, "onboarding.json", '{"stages": [{"name": "s", "touchpoints": ["a"]}]}')
    assert JourneyMap.from_file(path).name == "onboarding"


def test_html_is_escaped():
    m = JourneyMap.from_dict({"name": "<b>x</b>", "stages": [{"name": "<script>", "touchpoints": ["a&b"]}]})
    page = m._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and "a&amp;b" in page and "&lt;b&gt;x" in page
    assert "1 stages" in repr(m)


def test_as_journey_map_accepts_map_dict_and_path(tmp_path):
    path = _write(tmp_path, "retail.yaml", RETAIL)
    m = JourneyMap.from_file(path)
    assert as_journey_map(m) is m and as_journey_map(str(path)) == m and as_journey_map(m.to_dict()) == m
    with pytest.raises(jl.JourneyMapError, match="got int"):
        as_journey_map(3)


STAGES = "stages:\n  - name: a\n    touchpoints: [x, y]\n  - name: b\n    touchpoints: [z]\n"

BAD_MAPS = [
    ("broken.yaml", "stages:\n  - name: a\n    touchpoints: [x, y\n", r"invalid YAML at line \d+"),
    ("tabs.yaml", "stages:\n\t- name: a\n", r"invalid YAML at line 2"),
    ("broken.json", '{"stages": [\n{"name": "a",}\n]}', r"invalid JSON at line 2"),
    ("list.yaml", "- a\n- b\n", "must be a mapping with 'stages', got list"),
    ("empty.yaml", "", "got nothing"),
    ("nostages.yaml", "name: x\n", "missing 'stages'"),
    ("emptystages.yaml", "stages: []\n", "stages must be a non-empty list"),
    ("dupstage.yaml", STAGES + "  - name: a\n    touchpoints: [w]\n", r"stages\[2\]: duplicate stage 'a'"),
    ("twostages.yaml", STAGES.replace("[z]", "[z, x]"), "touchpoint 'x' is already in stage 'a'"),
    ("twice.yaml", STAGES.replace("[z]", "[z, z]"), "touchpoint 'z' is twice in this stage"),
    ("notouch.yaml", "stages:\n  - name: a\n", "stage 'a': touchpoints must be a non-empty list"),
    ("noname.yaml", "stages:\n  - touchpoints: [x]\n", r"stages\[0\]: missing 'name'"),
    ("stagekey.yaml", "stages:\n  - name: a\n    touchpoint: [x]\n", "unknown key 'touchpoint'"),
    ("unknown.yaml", STAGES + "convresion: z\n", "unknown key 'convresion'"),
    ("undef.yaml", STAGES + "transitions:\n  - [x, nowhere]\n", r"transitions\[0\]: 'nowhere' is not a touchpoint"),
    ("triple.yaml", STAGES + "transitions:\n  - [x, y, z]\n", r"transitions\[0\] must be a \[from, to\] pair"),
    ("duptrans.yaml", STAGES + "transitions: [[x, y], [x, y]]\n", r"\['x', 'y'\] is listed twice"),
    ("start.yaml", STAGES + "start: [x, w]\n", r"start\[1\]: 'w' is not a touchpoint"),
    ("conv.yaml", STAGES + "conversion: paid\n", r"conversion\[0\]: 'paid' is not a touchpoint"),
    ("convtype.yaml", STAGES + "conversion: {a: 1}\n", "conversion must be an event name or a list"),
    ("types.yaml", "stages:\n  - name: a\n    touchpoints: [x, [y]]\n", r"touchpoints\[1\] must be a name"),
    ("bool.yaml", "stages:\n  - name: yes\n    touchpoints: [x]\n", r"stages\[0\].name must be a name"),
    ("rate.yaml", STAGES + "targets:\n  conversion_rate: 1.5\n", r"conversion_rate must be a number in \(0, 1\]"),
    ("days.yaml", STAGES + "targets:\n  max_days_to_convert: -3\n", "must be a positive number of days"),
    ("target.yaml", STAGES + "targets:\n  revenue: 10\n", "unknown target 'revenue'"),
    ("name.yaml", "name: 5\n" + STAGES, "name must be a non-empty text"),
]


@pytest.mark.parametrize("name, text, message", BAD_MAPS, ids=[b[0] for b in BAD_MAPS])
def test_bad_maps_are_one_line_errors_naming_file_and_item(tmp_path, name, text, message):
    path = _write(tmp_path, name, text)
    with pytest.raises(jl.JourneyMapError, match=message) as info:
        JourneyMap.from_file(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(str(path))


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(jl.JourneyMapError, match="no such file"):
        JourneyMap.from_file(tmp_path / "nope.yaml")
    path = tmp_path / "latin.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(jl.JourneyMapError, match="UTF-8"):
        JourneyMap.from_file(path)


# -- hostile maps: refused in a line, in bounded time ---------------------------------------------------

ALIAS_BOMB = "\n".join(['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
                       + [f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")]
                       + ["stages: *i"]) + "\n"

HOSTILE_MAPS = [
    ("bomb.yaml", ALIAS_BOMB, r"refused: anchors and aliases are not allowed \(&a\) at line 1"),
    ("anchor.yaml", "stages: &s\n  - name: a\n    touchpoints: [x]\n", r"anchors and aliases are not allowed \(&s\)"),
    ("merge.yaml", "stages:\n  - <<: {name: a}\n    touchpoints: [x]\n", "the tag .*merge.* is not allowed"),
    ("python.yaml", "stages: !!python/object/apply:os.system [ls]\n", "the tag .*python.* is not allowed"),
    ("set.yaml", "stages: !!set {a, b}\n", "the tag .*set.* is not allowed"),
    ("dupkey.yaml", "name: a\nname: b\n" + STAGES, r"duplicate key 'name' at line 2"),
    ("dupstagekey.yaml", "stages:\n  - name: a\n    touchpoints: [x]\n    touchpoints: [y]\n",
     r"duplicate key 'touchpoints' at line 4"),
    ("dupkey.json", '{"stages": [], "stages": [{"name": "a", "touchpoints": ["x"]}]}', "duplicate key 'stages'"),
    ("deep.json", '{"stages": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested deeper than 64 levels"),
    ("deep.yaml", "stages: " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64 levels"),
    ("complexkey.yaml", "? [a, b]\n: 1\n", "a key must be a plain value"),
    ("twodocs.yaml", STAGES + "---\n" + STAGES, "more than one YAML document"),
    ("bigint.yaml", "stages:\n  - name: " + "9" * 5000 + "\n    touchpoints: [x]\n", "invalid YAML"),
    ("hugevalue.yaml", "stages: " + json.dumps(["x" * 1000] * 5000) + "\n", r"stages\[0\] must be a mapping"),
]


@pytest.mark.parametrize("name, text, message", HOSTILE_MAPS, ids=[m[0] for m in HOSTILE_MAPS])
def test_hostile_maps_are_refused_quickly_in_one_short_line(tmp_path, name, text, message):
    import time

    path = _write(tmp_path, name, text)
    start = time.monotonic()
    with pytest.raises(jl.JourneyMapError, match=message) as info:
        JourneyMap.from_file(path)
    assert time.monotonic() - start < 5
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_the_safe_loader_reads_what_the_safe_loader_reads():
    from journeylens.core.safe_yaml import load_yaml
    from journeylens.errors import JourneyLensError

    for text in (RETAIL, "a: [1, 2.5, .inf, ~, yes, 2024-01-01, '3', !!str 4]\nb: {c: {d: e}}\n", "", "- x\n- y\n"):
        assert load_yaml(text, "t", JourneyLensError) == yaml.safe_load(text)


def test_a_map_of_20000_stages_loads(tmp_path):
    import time

    m = {"stages": [{"name": f"s{k}", "touchpoints": [f"t{k}a", f"t{k}b"]} for k in range(20_000)],
         "transitions": [[f"t{k}a", f"t{k}b"] for k in range(20_000)]}
    for name, text in (("big.yaml", yaml.safe_dump(m)), ("big.json", json.dumps(m))):
        start = time.monotonic()
        loaded = JourneyMap.from_file(_write(tmp_path, name, text))
        assert time.monotonic() - start < 15
        assert len(loaded.stages) == 20_000 and loaded.stage_of["t19999b"] == "s19999"


def test_only_regular_files_of_bounded_size(tmp_path):
    import os

    fifo = tmp_path / "map.yaml"
    os.mkfifo(fifo)
    with pytest.raises(jl.JourneyMapError, match="not a regular file"):
        JourneyMap.from_file(fifo)
    with pytest.raises(jl.JourneyMapError, match="not a regular file"):
        JourneyMap.from_file(tmp_path)
    big = tmp_path / "big.yaml"
    with open(big, "wb") as out:
        out.truncate(20 << 20)
    with pytest.raises(jl.JourneyMapError, match="more than the 16 MiB a map may have"):
        JourneyMap.from_file(big)


def test_lost_key_names_failure_outcomes_apart_from_the_conversion():
    data = {"stages": [{"name": "s", "touchpoints": ["home", "buy"]}], "conversion": "buy",
            "lost": ["unsubscribe", "unsubscribe"]}
    jmap = JourneyMap.from_dict(data)
    assert jmap.lost == ("unsubscribe",)  # a lost event need not be a touchpoint; listed once
    assert JourneyMap.from_dict(jmap.to_dict()) == jmap
    with pytest.raises(jl.JourneyMapError, match="both a conversion and lost"):
        JourneyMap.from_dict({**data, "lost": ["buy"]})
