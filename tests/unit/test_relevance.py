"""Brand relevance: a post to the brand's handle is about the brand, whatever its words."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.domain.brand import BrandError, BrandProfile, parse, parse_yaml
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.playbook import Context, load_playbook
from escapevelocity.domain.playbook.load import default_playbook_path
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.relevance import Relevance
from escapevelocity.domain.triage import Triager

BRAND = parse({"name": "Acme", "handles": ["@AcmeHelp", "@acme"], "products": ["Fire TV Stick"],
               "hashtags": ["KillerDeal", "Killer Deal"]})
_AT = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager(Enricher(), load_playbook(default_playbook_path()), org=None,  # type: ignore[arg-type]
                   brand=BRAND)


def post(text: str, to: str = "") -> Mention:
    return Mention(source_id="1", channel="twitter", text=text, author=Author(handle="someone"),
                   created_at=_AT, to=to)


# Texts people write: words, emoji, other handles, links, other scripts.
_texts = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(
    ["nothing", "sort it out", "lol", "my cat", "@someoneelse", "http://x.co/a", "!!", "?",
     "great", "terrible", "spam", "click here", "dm me for", "🙂", "amazonプライム", "ok"])),
    max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(text=_texts, where=st.sampled_from(["start", "end", "middle", "reply"]),
       handle=st.sampled_from(["@AcmeHelp", "@acmehelp", "@ACME", "@acme"]))
def test_a_post_to_the_brands_handle_is_never_off_topic(triager, text, where, handle):
    if where == "reply":
        mention = post(text, to=handle)
    else:
        words = text.split(" ")
        at = {"start": 0, "end": len(words), "middle": len(words) // 2}[where]
        mention = post(" ".join([*words[:at], handle, *words[at:]]))
    signals = triager.signals(mention)
    decision = triager.decide(mention, Context())
    assert "off_topic" not in signals.situations and signals.situation != "off_topic"
    assert decision.rule_id != "off-topic" and decision.reason != "off_topic"


def test_the_examples_from_the_issue_are_answered(triager):
    for text in ("@Tesco nothing. Sort it out tesco.",
                 "@AirbnbHelp I've just sent you a message with details"):
        brand = parse({"name": "x", "handles": ["@Tesco", "@AirbnbHelp"]})
        t = Triager(triager.enricher, triager.playbook, org=None, brand=brand)  # type: ignore[arg-type]
        d = t.decide(post(text), Context())
        assert d.respond, (text, d.rule_id)


def test_a_post_about_someone_else_stays_a_listening_result(triager):
    s = triager.signals(post("my cat just knocked over my coffee lol"))
    assert s.situation == "off_topic"


def test_with_no_profile_nothing_is_off_topic_by_default():
    rel = Relevance(BrandProfile())
    t = Triager(Enricher(), load_playbook(default_playbook_path()), org=None)  # type: ignore[arg-type]
    s = t.signals(post("my cat just knocked over my coffee lol"))
    assert s.situation == "other" and rel.profile.empty


def test_negative_to_the_brand_is_a_complaint_not_venting(triager):
    s = triager.signals(post("Sort it out @acme, this is terrible and awful"))
    assert s.situation == "complaint"
    s = triager.signals(post("#Acme is a disgrace, terrible"))
    assert s.situation == "complaint"


def test_a_customer_to_the_brand_is_not_spam(triager):
    s = triager.signals(post("@AcmeHelp can you dm me for why my order got canceled?"))
    assert "spam" not in s.situations
    s = triager.signals(post("check out my channel, dm me for promo code"))
    assert "spam" in s.situations


def test_product_names_with_danger_words_are_not_safety_signals(triager):
    d = triager.decide(post("@acme my Fire TV Stick will not pair with the remote"), Context())
    assert d.track != "crisis", d.explanation
    d = triager.decide(post("the #KillerDeal is live, got one"), Context())
    assert d.track != "crisis"
    d = triager.decide(post("@acme my charger caught fire and burned my hand"), Context())
    assert d.track == "crisis"


def test_profile_parsing_is_strict_and_clear():
    p = parse_yaml("name: Acme\nhandles: {twitter: ['@acme'], all: [acmehelp]}\n")
    assert p.handles_for("twitter") == {"acme", "acmehelp"} and p.handles_for("email") == {
        "acmehelp"}
    assert parse_yaml(p.to_yaml()) == p
    for bad in ("handles: ['not a handle!']", "nme: x", "handles: {myspace: [a]}", "- a"):
        with pytest.raises(BrandError):
            parse_yaml(bad)
