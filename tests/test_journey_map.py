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
