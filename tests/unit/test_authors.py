"""Who is asking, from the workspace's history of the author (domain/authors.py)."""

from __future__ import annotations

from escapevelocity.domain.authors import AuthorHistory, abusive, with_history
from escapevelocity.domain.records import Signals

S = Signals(sentiment=-0.5, sentiment_label="negative", situation="complaint",
            author_class="customer", because={"author_class": "default: nothing says otherwise"})


def test_no_history_changes_nothing():
    assert with_history(S, None, vip=False) is S


def test_two_abusive_cases_make_a_troll_and_say_why():
    s = with_history(S, AuthorHistory(cases=5, mentions=9, abusive=2), vip=False)
    assert s.author_class == "troll"
    assert "2 earlier cases were tagged as abuse" in s.because["author_class"]
    assert s.repeat == 9 and "9 earlier mentions in 5 cases" in s.because["history"]


def test_one_abusive_case_is_not_enough_and_lists_win():
    assert with_history(S, AuthorHistory(cases=1, mentions=1, abusive=1),
                        vip=False).author_class == "customer"
    listed = Signals(sentiment=0.0, sentiment_label="neutral", situation="other",
                     author_class="journalist")
    assert with_history(listed, AuthorHistory(cases=3, mentions=3, abusive=3),
                        vip=False).author_class == "journalist"


def test_vip_flag_and_a_first_mention():
    s = with_history(S, None, vip=True)
    assert s.vip and s.repeat == 0 and s.because["history"] == "on the workspace's VIP list"
    assert with_history(S, AuthorHistory(cases=1, mentions=1), vip=False).because[
        "history"] == "1 earlier mention in 1 case"


def test_abuse_marks_in_tags_or_flags():
    assert abusive("billing,Abuse", "")
    assert abusive("", "escalate,troll")
    assert not abusive("billing", "escalate") and not abusive("", "")
