from datetime import UTC, datetime

import pytest

from escapevelocity.domain.enrich import Enricher, detect_language, find_pii, mask_pii
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.vocabulary import Vocabulary

VOCAB = Vocabulary.from_dict({
    "products": {"billing": ["bill", "charged"], "orbit_one": ["orbit one", "battery"]},
    "journalists": ["@Dana_Ledger"], "trolls": ["h8r"], "customers": ["kim"],
})
E = Enricher(VOCAB)


def sig(text, handle="someone", **author):
    return E.enrich(Mention(source_id="1", channel="twitter", text=text,
                            author=Author(handle=handle, **author),
                            created_at=datetime(2026, 11, 20, tzinfo=UTC)))


def test_service_failures_are_negative_without_angry_words():
    for text in ("my flight was cancelled and still waiting for a refund",
                 "I was charged twice this month", "engineer didn't show up"):
        s = sig(text)
        assert s.sentiment_label == "negative", (text, s.because)
        assert "complaint" in s.situations


def test_negation_and_praise():
    assert sig("not bad at all").sentiment_label != "negative"
    s = sig("shout out to the engineer who fixed my broadband, legend 🙌")
    assert s.sentiment_label == "positive" and s.situation == "praise"
    assert "positive" in s.because["sentiment"]


@pytest.mark.parametrize("text, situation", [
    ("my Orbit One battery caught fire", "crisis"),
    ("my lawyer will hear about this", "legal"),
    ("Follow back for follow back!! https://x.example", "spam"),
    ("thinking of switching to Orbit, what's the best family plan?", "lead"),
    ("would be great if the app showed daily data", "feedback"),
    ("how do I change my plan?", "question"),
    ("my cat just knocked over my coffee lol", "off_topic"),
])
def test_situations(text, situation):
    assert sig(text).situation == situation


def test_who_is_asking():
    assert sig("hi", handle="Dana_Ledger").author_class == "journalist"
    assert sig("hi", bio="Senior reporter, tech desk").author_class == "journalist"
    assert sig("lol clowns", handle="h8r").author_class == "troll"
    assert sig("hi", followers=50_000).author_class == "influencer"
    assert "micro" in sig("hi", followers=50_000).because["author_class"]


def test_the_influencer_threshold_is_the_workspaces():
    bakery = Enricher(Vocabulary.from_dict({"influencer_followers": 2_000}))

    def reach(n):
        return bakery.enrich(Mention(source_id="1", channel="twitter", text="hi",
                                     author=Author(handle="a", followers=n),
                                     created_at=datetime(2026, 11, 20, tzinfo=UTC)))
    assert reach(1_999).author_class == "customer"
    assert reach(2_000).author_class == "influencer"
    assert "macro: at least 2,000" in reach(20_000).because["author_class"]
    assert "mega" in reach(200_000).because["author_class"]
    assert sig("ready to buy the orbit one, how much is it?").author_class == "prospect"
    assert sig("ready to buy the orbit one, how much is it?",
               handle="kim").author_class == "customer"


def test_pii_with_luhn_and_masking():
    assert find_pii("card 4111 1111 1111 1111") == ("card_number",)
    assert "card_number" not in find_pii("order 4111 1111 1111 1112")  # fails Luhn
    assert set(find_pii("mail jo@x.com or call +44 7700 900456")) == {"email", "phone"}
    assert find_pii("my account number is ACC-4471-2290") == ("account_number",)
    masked = mask_pii("card 4111 1111 1111 1111, mail jo@x.com")
    assert "4111" not in masked and "jo@x.com" not in masked and "••11" in masked


def test_topics_from_the_workspace_vocabulary():
    assert sig("the Orbit One BATTERY is dead and I was charged").topics == ("orbit_one", "billing")


@pytest.mark.parametrize("text", ["", "   ", "x" * 100_000, "\ud800 lone surrogate", "😡😡😡",
                                  "https://example.com/a?b=c", "Привет مرحبا 你好 hello",
                                  "\x00\x01\x02", "!!!???"])
def test_bad_input_gets_a_defined_result(text):
    s = sig(text)
    assert s.sentiment_label in ("negative", "neutral", "positive")
    assert -1 <= s.sentiment <= 1 and s.situation and s.language


def test_language():
    assert detect_language("my bill is wrong") == "en"
    assert detect_language("Seit drei Tagen kein Internet, was ist los?") == "de"
    assert detect_language("😡") == "und" and detect_language("") == "und"
