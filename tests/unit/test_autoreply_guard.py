"""THE rule for automated replies (domain/answers/guard.verdict), thrown every combination:
in crisis, to an angry, influential or press author, or past the per-author limit, the answer
is always no, whatever else holds; yes needs every condition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from escapevelocity.domain.answers import guard

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
CLASSES = ["customer", "prospect", "influencer", "journalist", "employee", "partner",
           "competitor", "troll", "bot", None, ""]
LEVELS = ["normal", "watch", "crisis1", "crisis2", "crisis3", "", "CRISIS"]


def ask(**over) -> guard.AutoReplyAsk:
    base = dict(playbook_allows=True, situation="question", sentiment="neutral",
                author_class="customer", reach=10, vip=False, crisis_level="normal",
                match_score=0.95, answer_approved=True, recent_auto_replies=(), now=NOW)
    return guard.AutoReplyAsk(**{**base, **over})


asks = st.builds(
    guard.AutoReplyAsk,
    playbook_allows=st.booleans(),
    situation=st.sampled_from(["question", "complaint", "praise", "crisis", None]),
    sentiment=st.sampled_from(["negative", "neutral", "positive", None]),
    author_class=st.sampled_from(CLASSES),
    reach=st.integers(0, 10**7),
    vip=st.booleans(),
    crisis_level=st.sampled_from(LEVELS),
    match_score=st.floats(allow_nan=True),
    answer_approved=st.booleans(),
    recent_auto_replies=st.lists(st.integers(0, 48 * 60).map(
        lambda m: NOW - timedelta(minutes=m)), max_size=3),
    now=st.just(NOW),
    already_replied=st.booleans(),
)


def excluded(a: guard.AutoReplyAsk) -> bool:
    return ((a.crisis_level or "normal").lower() not in ("normal", "none", "")
            or a.sentiment == "negative" or a.author_class in ("journalist", "influencer")
            or a.vip or a.reach >= guard.INFLUENTIAL_REACH)


@given(asks)
def test_the_exclusions_always_win(a):
    v = guard.verdict(a)
    if excluded(a):
        assert not v.allowed, a
    if v.allowed:  # yes only when every condition holds
        assert a.playbook_allows and a.situation == "question" and a.answer_approved
        assert a.match_score >= guard.MIN_SCORE and not a.already_replied
        assert a.author_class in ("customer", "prospect")
        assert not [t for t in a.recent_auto_replies if NOW - t < guard.AUTHOR_WINDOW]


def test_a_calm_customer_with_an_approved_answer_gets_one():
    assert guard.verdict(ask()).allowed


def test_each_exclusion_alone_says_why():
    cases = {"crisis level crisis": dict(crisis_level="crisis"),
             "negative or angry": dict(sentiment="negative"),
             "journalist": dict(author_class="journalist"),
             "influential": dict(reach=50_000),
             "playbook": dict(playbook_allows=False),
             "below": dict(match_score=0.5),
             "already had 1": dict(recent_auto_replies=(NOW - timedelta(hours=2),))}
    for why, over in cases.items():
        v = guard.verdict(ask(**over))
        assert not v.allowed and any(why in r for r in v.reasons), (why, v)


def test_the_rate_limit_window_ends():
    assert guard.verdict(ask(recent_auto_replies=(NOW - timedelta(hours=25),))).allowed


def test_the_text_is_empathy_first_and_offers_a_person():
    text = guard.compose("Cara", "Go to Settings > Security.")
    assert text.startswith("Hi Cara, thanks for asking, and sorry")
    assert "a person from our team" in text
