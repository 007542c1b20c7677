"""The search query model (domain/search.py): parsed from and written back to a URL, hostile
text turned into quoted words for both full-text engines."""

from __future__ import annotations

from datetime import date

import pytest

from escapevelocity.domain import search


def test_a_query_round_trips_through_its_url_parameters():
    raw = {"q": "refund late", "channel": "twitter", "status": "open", "situation": "complaint",
           "sentiment": "negative", "author_class": "journalist", "tag": "billing",
           "team": "care", "assignee": "priya", "priority": "p1", "sla": "breached",
           "since": "2026-11-01", "until": "2026-11-20", "show": "mentions", "page": "3",
           "per_page": "100"}
    q = search.parse(raw)
    assert q.problems == () and q.since == date(2026, 11, 1) and q.page == 3
    assert search.parse(search.params(q, keep_page=True)) == q
    assert "page" not in search.params(q)  # a new search starts on page 1
    assert search.summary(q).startswith('"refund late", channel: twitter')


@pytest.mark.parametrize("raw, problem", [
    ({"channel": "myspace"}, "no channel called 'myspace'"),
    ({"status": "DROP TABLE"}, "no status called"),
    ({"team": "care; --"}, "is not a valid name"),
    ({"tag": "a%b"}, "is not a valid name"),
    ({"since": "yesterday"}, "is not YYYY-MM-DD"),
])
def test_unknown_values_are_dropped_and_named(raw, problem):
    q = search.parse(raw)
    assert q.empty and any(problem in p for p in q.problems)


def test_paging_is_bounded():
    assert search.parse({"page": "-4", "per_page": "7"}).page == 1
    assert search.parse({"per_page": "7"}).per_page == 50
    assert search.parse({"page": "99999999"}).page == 10_000


@pytest.mark.parametrize("text, fts5, tsq", [
    ("Refund late", '"refund" "late"', "refund & late"),
    ("refun*", '"refun"*', "refun:*"),
    ('said "NEAR" (col:umn) *', '"said" "near" "col" "umn"', "said & near & col & umn"),
    ("') OR 1=1 --", '"or" "1" "1"', "or & 1 & 1"),
    ("a* b!c", '"a" "b" "c"', "a & b & c"),
    ("***", "", ""),
])
def test_words_never_become_operators(text, fts5, tsq):
    assert search.fts5_match(text) == fts5
    assert search.tsquery(text) == tsq


def test_at_most_eight_words_of_at_most_200_characters():
    assert len(search.words(" ".join(f"w{i}" for i in range(50)))) == search.MAX_WORDS
    assert search.parse({"q": "x" * 500}).text == "x" * search.MAX_TEXT


def test_view_names():
    assert search.valid_view_name("  Angry   refunds ") == "Angry refunds"
    with pytest.raises(ValueError):
        search.valid_view_name("<script>")
