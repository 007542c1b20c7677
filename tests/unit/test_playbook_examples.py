"""The shipped example playbooks: each passes `check` and decides representative mentions."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from escapevelocity.domain.playbook import Context, default_playbook_path, load_playbook
from escapevelocity.domain.playbook_check import check_file
from escapevelocity.domain.records import Author, Mention, Signals

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "playbooks"
TUESDAY_3PM_UTC = datetime(2026, 11, 17, 15, 0, tzinfo=UTC)


def m(text="hello", followers=0, kind="post", handle="kim", at=TUESDAY_3PM_UTC):
    return Mention(source_id="1", channel="twitter", text=text, kind=kind, created_at=at,
                   author=Author(handle=handle, followers=followers))


def s(situation="other", label="neutral", score=0.0, author="customer", pii=()):
    return Signals(sentiment=score, sentiment_label=label, situation=situation,
                   situations=(situation,), author_class=author, pii=pii)


def load(name):
    return load_playbook(str(EXAMPLES / name))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_passes_check_without_warnings_but_gaps(path):
    report = check_file(str(path))
    assert report.ok, [f"{f.line}: {f.rule}: {f.message}" for f in report.errors]
    assert not [f for f in report.warnings if f.code != "gap"]


def test_default_playbook_passes_check():
    report = check_file(default_playbook_path())
    assert report.ok, [f"{f.line}: {f.rule}: {f.message}" for f in report.errors]


def test_blog_assessment_follows_the_air_force_chart():
    pb = load("blog-assessment.yaml")
    troll = pb.decide(m("you all suck"), s("venting", "negative", -0.9, "troll"))
    assert (troll.track, troll.respond, troll.reason) == ("monitor", False, "troll")
    rager = pb.decide(m("worst company ever!!!"), s("venting", "negative", -0.9))
    assert (rager.rule_id, rager.respond, rager.reason) == ("ragers", False, "venting_no_ask")
    misguided = pb.decide(m("they sell our data to China"), s("misinformation", "negative", -0.4))
    assert (misguided.track, misguided.team, misguided.template, misguided.approval) == (
        "correct_facts", "comms", "facts", "comms")
    unhappy = pb.decide(m("my order never came"), s("complaint", "negative", -0.5))
    assert (unhappy.track, unhappy.team, unhappy.respond) == ("fix_and_respond", "care", True)
    fan = pb.decide(m("love the new app", followers=80_000), s("praise", "positive", 0.8))
    assert (fan.track, fan.template, fan.tags, fan.notify) == (
        "share", "thanks", ("influential", "share"), ("comms-lead",))


def test_community_flowchart_one_hour_and_policy_breach_path():
    pb = load("community-one-hour.yaml")
    assert {t.sla.first_response for n, t in pb.spec.tracks.items() if n != "monitor"} <= {
        15, 30, 60}
    breach = pb.decide(m("I know your home address"), s("complaint", "negative", -0.6))
    assert (breach.track, breach.team, breach.visibility, breach.flags) == (
        "policy_breach", "moderation", "private", ("hide-post",))
    doxx = pb.decide(m("call her on 555 0101"), s("other", pii=("phone",)))
    assert doxx.track == "policy_breach" and "pii" in doxx.flags
    dm = pb.decide(m("call me on 555 0101", kind="dm"), s("question", pii=("phone",)))
    assert dm.track == "community" and dm.visibility == "private"
    q = pb.decide(m("how do I export?"), s("question"))
    assert (q.track, q.sla_minutes, q.tags) == ("community", 60, ())
    late = pb.decide(m("how do I export?", at=datetime(2026, 11, 18, 3, 0, tzinfo=UTC)),
                     s("question"))
    assert late.tags == ("off-hours",)
    held = pb.decide(m("is it safe?"), s("question"), Context(crisis_level="crisis1"))
    assert (held.rule_id, held.respond, held.reason) == ("crisis-hold", False, "crisis_hold")
    assert pb.spec.activation_approval == "moderation"


def test_support_routing_sends_issues_to_care_channels():
    pb = load("support-routing.yaml")
    bill = pb.decide(m("I was charged twice this month"), s("complaint", "negative", -0.5))
    assert (bill.track, bill.team, bill.visibility, bill.template) == (
        "billing", "billing", "private", "billing")
    tech = pb.decide(m("my router keeps dropping wifi"), s("complaint", "negative", -0.4))
    assert (tech.track, tech.team) == ("tech", "tech")
    order = pb.decide(m("where is my order?"), s("question"))
    assert order.track == "orders"
    other = pb.decide(m("your shop staff were rude"), s("complaint", "negative", -0.6))
    assert (other.track, other.team) == ("general", "social")
    press = pb.decide(m("any comment on the outage?"), s("question", author="journalist"))
    assert press.track == "pr"
    known = pb.decide(m("refund please"), s("complaint", "negative", -0.3),
                      Context(known_customer=True))
    assert (known.rule_id, known.priority, known.team) == ("billing-known-customer", "p2",
                                                           "billing")
    key = pb.decide(m("router broken", handle="BigCo_IT"), s("complaint", "negative", -0.3))
    assert key.tags == ("key-account",) and key.notify == ("account-manager",)


def test_sentiment_first_map_covers_every_combination():
    pb = load("sentiment-first.yaml")
    assert check_file(str(EXAMPLES / "sentiment-first.yaml")).gap_cells == 0
    assert pb.decide(m("this is a scandal", followers=20_000),
                     s("complaint", "negative", -0.7)).track == "reputation"
    assert pb.decide(m("broken again"), s("complaint", "negative", -0.7)).track == "service"
    assert pb.decide(m("ugh mondays"), s("venting", "negative", -0.7)).respond is False
    assert pb.decide(m("how much is it?"), s("lead")).track == "lead"
    assert pb.decide(m("love it", followers=9_000), s("praise", "positive", 0.9)
                     ).track == "advocate"
    assert pb.decide(m("love it"), s("praise", "positive", 0.9)).track == "thank"
