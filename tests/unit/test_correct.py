"""Pure corrections: the corrected signals and the playbook's new decision."""

from datetime import UTC, datetime

import pytest

from escapevelocity.domain import correct
from escapevelocity.domain.playbook import Context, load_playbook
from escapevelocity.domain.playbook.load import default_playbook_path
from escapevelocity.domain.records import Author, Mention, Signals

PB = load_playbook(default_playbook_path())
POST = Mention(source_id="1", channel="twitter", text="hello there", author=Author(handle="k"),
               created_at=datetime(2026, 1, 1, tzinfo=UTC))
SAID = Signals(sentiment=0.0, sentiment_label="neutral", situation="off_topic",
               situations=("off_topic",))


def redecide(signal, label, said=SAID):
    return correct.redecide(PB, lambda s: PB.decide(POST, s, Context()), said, signal, label,
                            "ana")


@pytest.mark.parametrize("signal, label, track, team", [
    ("situation", "complaint", "support", "care"),
    ("situation", "lead", "sales_lead", "sales"),
    ("situation", "crisis", "crisis", "pr"),
    ("author_class", "journalist", "pr", "pr"),
    ("author_class", "bot", "monitor", "hub"),
    ("sentiment", "negative", "monitor", "hub"),  # still off-topic: a negative listening hit
    ("complaint", "complaint", "support", "care"),
    ("relevance", "relevant", "support", "care"),
    ("track", "legal_review", "legal_review", "legal"),
])
def test_a_correction_moves_the_decision(signal, label, track, team):
    _, decision = redecide(signal, label)
    assert (decision.track, decision.team) == (track, team), decision.explanation
    assert PB.decide(POST, SAID, Context()).track == "monitor"  # before: not answered


def test_a_sentiment_correction_re_decides_on_the_new_label():
    other = Signals(sentiment=0.0, sentiment_label="neutral", situation="other",
                    situations=("other",))
    assert PB.decide(POST, other, Context()).rule_id == "about-brand"
    _, d = redecide("sentiment", "negative", other)
    assert (d.rule_id, d.track, d.priority) == ("negative-other", "support", "p3")


def test_priority_and_labels_are_checked():
    _, d = redecide("priority", "p1")
    assert d.priority == "p1" and "set to p1 by ana" in d.explanation
    labels = correct.labels(PB)
    assert labels["sentiment"] == ("negative", "neutral", "positive")
    assert "legal_review" in labels["track"] and "p4" in labels["priority"]
    for signal, label in (("situation", "p1"), ("mood", "x"), ("track", "nowhere")):
        with pytest.raises(correct.CorrectionError):
            redecide(signal, label)


def test_corrected_signals_say_who():
    s, _ = redecide("situation", "question")
    assert s.situations == ("question",) and "ana" in s.because["situation"]
    s, _ = redecide("sentiment", "positive")
    assert s.sentiment_label == "positive" and s.sentiment > 0.3
