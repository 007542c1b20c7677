"""The playbook format beyond the core: time, history, lists, ranges, overlays, errors, schema."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from escapevelocity.domain.playbook import (
    CONDITIONS,
    Context,
    PlaybookError,
    activation_approval,
    compile_playbook,
    json_schema_text,
    validate_playbook,
)
from escapevelocity.domain.records import Author, Mention, Signals

ROOT = Path(__file__).resolve().parents[2]
FRIDAY_NOON = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 12:00 in London too


def mention(text="hello", at=FRIDAY_NOON, **kw):
    return Mention(source_id="1", channel=kw.pop("channel", "twitter"), text=text,
                   author=kw.pop("author", Author(handle="kim")), created_at=at, **kw)


def sig(situation="other", label="neutral", score=0.0, author_class="customer", **kw):
    return Signals(sentiment=score, sentiment_label=label, situation=situation,
                   situations=kw.pop("situations", (situation,)), author_class=author_class, **kw)


BASE = """
name: format
teams: [care, hub, sales, pr, crisis]
tracks:
  support: {team: care, sla: {first_response: 60}, calendar: uk}
  sales: {team: sales, sla: {first_response: 120}}
  pr: {team: pr, sla: {first_response: 30}}
  crisis: {team: crisis, sla: {first_response: 15}, approval: legal}
  after_hours: {team: hub, sla: {first_response: 480}}
  monitor: {team: hub, sla: {first_response: 1440}, respond: false}
lists:
  vips: ["@Oprah", bigco]
calendars:
  uk:
    timezone: Europe/London
    hours: {mon-fri: "09:00-17:30", sat: "10:00-13:00"}
    holidays: [2026-12-25]
windows:
  launch: [{start: 2026-12-01T08:00:00Z, end: 2026-12-03T20:00:00Z}]
rules:
  - id: vip
    when: {author_in: [list:vips]}
    then: {track: pr, priority: p1}
  - id: launch-question
    when: {window: launch, situation: question}
    then: {track: support, priority: p2, tags: [launch]}
  - id: holiday
    when: {holiday: true}
    then: {track: after_hours}
  - id: after-hours
    when: {business_hours: false, situation: [complaint, question]}
    then: {track: after_hours}
  - id: repeat
    when: {case_history_at_least: 2, sentiment_between: [-1, -0.5]}
    then: {track: support, priority: p1, tags: [escalated]}
  - id: big-reach
    when: {followers_at_least: 10000, followers_below: 1000000, kind: [post, review]}
    then: {track: pr}
  - id: came-back
    when: {previous_track: sales}
    then: {track: sales}
  - id: weekend
    when: {weekday: [sat, sun]}
    then: {tags: [weekend], stop: false}
  - id: complaint
    when: {situation: complaint}
    then: {track: support}
default: {track: monitor, respond: false, reason: monitor_only}
"""


@pytest.fixture(scope="module")
def pb():
    return compile_playbook(BASE, version="t")


def test_business_hours_follow_the_calendar_time_zone(pb):
    evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)  # Friday 18:00 London: closed
    assert pb.decide(mention(at=evening), sig("complaint")).rule_id == "after-hours"
    assert pb.decide(mention(), sig("complaint")).rule_id == "complaint"
    summer = datetime(2026, 7, 3, 16, 45, tzinfo=UTC)  # 17:45 BST: closed, though 16:45 UTC
    assert pb.decide(mention(at=summer), sig("question")).rule_id == "after-hours"


def test_context_now_overrides_the_mention_time(pb):
    sunday = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert pb.decide(mention(), sig("complaint"), Context(now=sunday)).rule_id == "after-hours"
    d = pb.decide(mention(), sig("praise"), Context(now=sunday))
    assert d.rule_id == "default" and d.tags == ("weekend",)


def test_holidays_and_launch_windows(pb):
    xmas = datetime(2026, 12, 25, 11, 0, tzinfo=UTC)
    assert pb.decide(mention(at=xmas), sig("praise")).rule_id == "holiday"
    launch = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    d = pb.decide(mention(at=launch), sig("question"))
    assert d.rule_id == "launch-question" and d.tags == ("launch",)


def test_author_lists_match_handles_and_crm_lists(pb):
    assert pb.decide(mention(author=Author(handle="oprah")), sig()).rule_id == "vip"
    assert pb.decide(mention(), sig(), Context(author_lists=frozenset({"vips"}))).rule_id == "vip"
    assert pb.decide(mention(), sig()).rule_id == "default"


def test_history_reach_kind_and_score_ranges(pb):
    angry = sig("praise", "negative", -0.8)
    assert pb.decide(mention(), angry, Context(case_history=2)).rule_id == "repeat"
    assert pb.decide(mention(), sig("praise", "negative", -0.3), Context(case_history=2)
                     ).rule_id == "default"
    star = Author(handle="star", followers=50_000)
    assert pb.decide(mention(author=star), sig()).rule_id == "big-reach"
    assert pb.decide(mention(author=star, kind="dm"), sig()).rule_id == "default"
    assert pb.decide(mention(), sig(), Context(previous_track="sales")).rule_id == "came-back"


OVERLAY = BASE.replace("default: {track: monitor", """overlays:
  crisis:
    levels: [crisis1, crisis2]
    rules:
      - id: hold-everything
        when: {sentiment: negative}
        then: {track: crisis, respond: false, reason: crisis_hold, notify: [exec-oncall]}
  spokes:
    - team: sales
      when: {situation: lead}
      rules:
        - id: sales-enterprise
          when: {followers_at_least: 500}
          then: {track: sales, priority: p2, tags: [enterprise]}
        - id: sales-any-lead
          then: {track: sales}
default: {track: monitor""")


def test_crisis_overlay_applies_only_at_its_levels():
    pb = compile_playbook(OVERLAY)
    angry = sig("complaint", "negative", -0.7)
    assert pb.decide(mention(), angry).rule_id == "complaint"
    d = pb.decide(mention(), angry, Context(crisis_level="crisis2"))
    assert (d.rule_id, d.respond, d.reason, d.notify) == (
        "hold-everything", False, "crisis_hold", ("exec-oncall",))
    assert pb.decide(mention(), angry, Context(crisis_level="crisis3")).rule_id == "complaint"


def test_spoke_override_owns_its_slice_only():
    pb = compile_playbook(OVERLAY)
    assert pb.decide(mention(), sig("lead")).rule_id == "sales-any-lead"
    rich = Author(handle="cfo", followers=900)
    assert pb.decide(mention(author=rich), sig("lead")).tags == ("enterprise",)
    assert pb.decide(mention(), sig("complaint")).rule_id == "complaint"  # outside the slice
    # inserted before the hub's first rule for sales, so the hub's VIP rule still comes first
    assert pb.decide(mention(author=Author(handle="bigco")), sig("lead")).rule_id == "vip"


def test_spoke_may_not_decide_for_another_team():
    bad = OVERLAY.replace("then: {track: sales}\ndefault", "then: {track: pr}\ndefault")
    with pytest.raises(PlaybookError, match="may only decide for sales"):
        compile_playbook(bad)


def test_errors_name_file_line_and_rule_and_are_all_reported():
    bad = BASE.replace("when: {holiday: true}", "when: {holiday: true, colour: red}").replace(
        "then: {track: pr}\n  - id: came-back", "then: {track: nowhere}\n  - id: came-back")
    _, errors = validate_playbook(bad, source="pb.yaml")
    assert [(e.rule, e.line) for e in errors] == [("holiday", 28), ("big-reach", 38)]
    assert str(errors[0]).startswith("pb.yaml:28: rule 'holiday': unknown condition 'colour'")


def test_schema_errors_point_at_the_line():
    bad = BASE.replace("then: {track: after_hours}\n  - id: repeat",
                       "then: {track: after_hours, sla_minutes: soon}\n  - id: repeat")
    with pytest.raises(PlaybookError) as info:
        compile_playbook(bad, source="pb.yaml")
    e = info.value
    assert (e.rule, e.line, e.source) == ("after-hours", 32, "pb.yaml")
    assert "sla_minutes" in str(e)


@pytest.mark.parametrize("fragment, words", [
    ("timezone: Europe/London", "timezone: Mars/Olympus"),
    ('sat: "10:00-13:00"', 'sat: "ten to one"'),
])
def test_broken_calendars_are_errors(fragment, words):
    with pytest.raises(PlaybookError, match="calendar 'uk'"):
        compile_playbook(BASE.replace(fragment, words))


def test_activation_approval_takes_the_stricter_version():
    strict = compile_playbook(BASE.replace("name: format", "name: f\nactivation_approval: legal"))
    lax = compile_playbook(BASE)
    assert activation_approval(strict, lax) == "legal"
    assert activation_approval(lax, strict) == "legal"
    assert activation_approval(None, lax) == ""


def test_schema_json_matches_the_specs():
    shipped = (ROOT / "src/escapevelocity/playbooks/schema.json").read_text(encoding="utf-8")
    assert shipped == json_schema_text(), (
        "playbooks/schema.json drifted: run `ev playbook schema > "
        "src/escapevelocity/playbooks/schema.json`")


def test_every_condition_is_documented():
    doc = (ROOT / "docs/playbook.md").read_text(encoding="utf-8")
    missing = [c for c in CONDITIONS if f"`{c}`" not in doc]
    assert not missing, f"docs/playbook.md does not document {missing}"


def test_shipped_playbooks_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    import json

    import msgspec
    import yaml

    schema = json.loads(json_schema_text())
    paths = [ROOT / "src/escapevelocity/playbooks/default.yaml",
             *sorted((ROOT / "docs/playbooks").glob("*.yaml"))]
    for path in paths:
        data = msgspec.to_builtins(yaml.safe_load(path.read_text()))
        jsonschema.validate(data, schema)
    data = msgspec.to_builtins(yaml.safe_load(BASE))
    jsonschema.validate(data, schema)
    data["rules"][0]["when"]["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_naive_times_are_taken_as_utc(pb):
    naive = datetime(2026, 12, 2, 10, 0)
    assert pb.decide(mention(), sig("question"), Context(now=naive)).rule_id == "launch-question"


def test_schema_errors_inside_mappings_name_the_key_and_its_line():
    bad = BASE.replace("after_hours: {team: hub, sla: {first_response: 480}}",
                       "after_hours: {team: hub, sla: {first_response: eight hours}}")
    with pytest.raises(PlaybookError) as info:
        compile_playbook(bad, source="pb.yaml")
    assert info.value.line == 9 and "tracks.after_hours.sla.first_response" in str(info.value)
