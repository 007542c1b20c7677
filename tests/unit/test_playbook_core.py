from datetime import UTC, datetime

import pytest

from escapevelocity.domain.playbook import (
    Context,
    PlaybookError,
    compile_playbook,
    default_playbook_path,
    fold,
    load_playbook,
)
from escapevelocity.domain.records import Author, Mention, Signals

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def mention(text="hello", **kw):
    author = kw.pop("author", Author(handle="kim"))
    return Mention(source_id=kw.pop("sid", "1"), channel=kw.pop("channel", "twitter"), text=text,
                   author=author, created_at=NOW, **kw)


def signals(situation="other", label="neutral", score=0.0, author_class="customer", pii=()):
    return Signals(sentiment=score, sentiment_label=label, situation=situation,
                   situations=(situation,), author_class=author_class, pii=pii)


MINI = """
name: mini
teams: [care, legal, hub]
tracks:
  support: {team: care, sla: {first_response: 60}}
  legal: {team: legal, sla: {first_response: 30}, approval: legal}
  monitor: {team: hub, sla: {first_response: 1440}, respond: false}
lists:
  legal_terms: [lawyer, "class action"]
rules:
  - id: tag-vip
    when: {followers_at_least: 10000}
    then: {tags: [vip], stop: false}
  - id: legal
    when: {keywords: [list:legal_terms]}
    then: {track: legal}
  - id: angry
    when: {all: [{sentiment: negative}, {not: {author_class: troll}}]}
    then: {track: support, priority: p2}
default: {track: monitor, respond: false, reason: monitor_only}
"""


def test_first_stopping_rule_decides_and_explains():
    pb = compile_playbook(MINI, version="v1")
    d = pb.decide(mention("My LAWYER will hear about this"), signals(label="negative"))
    assert (d.track, d.team, d.rule_id, d.approval, d.playbook_version) == (
        "legal", "legal", "legal", "legal", "v1")
    assert "legal" in d.explanation and "keywords" in d.explanation


def test_keywords_respect_word_boundaries_and_fold_accents():
    pb = compile_playbook(MINI)
    assert pb.decide(mention("lawyers everywhere"), signals()).rule_id == "default"
    assert pb.decide(mention("a CLASS  action"), signals()).rule_id == "default"  # two spaces
    assert pb.decide(mention("Class Action now"), signals()).rule_id == "legal"
    assert fold("Café Ärger") == "cafe arger"


def test_continue_rules_add_tags_and_default_applies():
    pb = compile_playbook(MINI)
    big = Author(handle="star", followers=50_000)
    d = pb.decide(mention("meh", author=big), signals())
    assert d.rule_id == "default" and d.tags == ("vip",) and d.respond is False
    assert d.reason == "monitor_only"


def test_not_combinator():
    pb = compile_playbook(MINI)
    assert pb.decide(mention("x"), signals(label="negative")).rule_id == "angry"
    assert pb.decide(mention("x"), signals(label="negative", author_class="troll")
                     ).rule_id == "default"


def test_pii_moves_to_private_and_flags():
    pb = compile_playbook(MINI)
    d = pb.decide(mention("x"), signals(label="negative", pii=("card_number",)))
    assert d.visibility == "private" and "pii" in d.flags


@pytest.mark.parametrize("bad, words", [
    ("rules: [", "not valid YAML"),
    (MINI.replace("track: legal}", "track: nowhere}"), "unknown track"),
    (MINI.replace("{followers_at_least: 10000}", "{folowers: 1}"), "unknown condition"),
    (MINI.replace("list:legal_terms", "list:nope"), "unknown list"),
    (MINI.replace("default: {track: monitor, respond: false, reason: monitor_only}",
                  "default: {track: monitor, respond: false}"), "needs a reason"),
])
def test_broken_playbooks_say_what_and_where(bad, words):
    with pytest.raises(PlaybookError) as info:
        compile_playbook(bad, source="pb.yaml")
    assert words in str(info.value) and "pb.yaml" in str(info.value)


def test_default_playbook_compiles_and_routes_safety_first():
    pb = load_playbook(default_playbook_path())
    d = pb.decide(mention("my phone caught fire"), signals(situation="complaint", label="negative"))
    assert d.track == "crisis" and d.approval == "legal" and d.priority == "p1"
    d = pb.decide(mention("buy followers now"), signals(situation="spam"))
    assert d.respond is False and d.reason == "spam"
    assert pb.decide(mention("x"), signals("off_topic"),
                     Context(crisis_level="crisis1")).track == "monitor"
    # about the brand with no clearer situation: a person reads it, never silently dropped
    d = pb.decide(mention("x"), signals())
    assert (d.track, d.priority, d.respond, d.rule_id) == ("support", "p4", True, "about-brand")
