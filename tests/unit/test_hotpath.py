"""The compiled hot path (hotpath.pyx) is a translation of `Enricher.rules` (enrich.py), and
its whole worth is that it answers the same: every field of every Signals, on generated posts,
on hostile input, and on text built from the characters its C loops read (the word cutter,
the PII gate, the language tests). It must also be built, and built from the current source:
a stale or missing extension would quietly run old rules or lose the speed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.bench.signals import tweet_length
from escapevelocity.demo.generator import generate
from escapevelocity.domain import enrich, lexicons, pii
from escapevelocity.domain.enrich import Enricher
from escapevelocity.domain.records import Author, Mention
from escapevelocity.domain.vocabulary import Vocabulary

try:
    from escapevelocity.domain import hotpath
except ImportError as exc:  # `make test` installs first, which builds it
    raise ImportError("the compiled hot path is not built: run `make install`") from exc
AT = datetime(2026, 11, 2, tzinfo=UTC)
DEMO = Vocabulary.from_dict(yaml.safe_load(
    (Path(enrich.__file__).parents[1] / "demo" / "vocabulary.yaml").read_text(encoding="utf-8")))
ENRICHERS = (Enricher(), Enricher(DEMO))


def mention(text: str, author: Author | None = None) -> Mention:
    return Mention(source_id="1", channel="twitter", text=text,
                   author=author or Author(handle="someone"), created_at=AT)


def assert_same(enricher: Enricher, m: Mention) -> None:
    expected = Enricher.rules(enricher, m)  # the definition, in Python
    got = enricher.rules(m)  # the compiled translation
    if got != expected:
        diff = {f: (getattr(expected, f), getattr(got, f)) for f in expected.__struct_fields__
                if getattr(expected, f) != getattr(got, f)}
        pytest.fail(f"compiled rules differ on {m.text[:200]!r}: {diff}")


def test_an_enricher_runs_the_compiled_rules_unless_told_not_to(monkeypatch):
    assert Enricher().compiled, "hotpath is built but the Enricher does not use it"
    monkeypatch.setenv("EV_PURE_PYTHON", "1")
    pure = Enricher()
    assert not pure.compiled
    assert pure.rules(mention("so happy")) == Enricher().rules(mention("so happy"))


def test_the_extension_is_built_from_the_current_source():
    built = Path(hotpath.__file__)
    source = Path(enrich.__file__).with_name("hotpath.pyx")
    assert built.stat().st_mtime >= source.stat().st_mtime, \
        "hotpath.pyx changed after the extension was built: run `make install`"


def test_same_signals_on_generated_posts_and_authors_on_every_list():
    posts = list(generate(3_000, seed=21, start=AT))
    posts += tweet_length(list(generate(3_000, seed=22, start=AT)))
    v = DEMO
    handles = [h for group in (v.bots, v.trolls, v.competitors, v.partners, v.journalists,
                               v.employees, v.customers) for h in sorted(group)[:3]]
    for i, m in enumerate(posts[::3]):
        handle = handles[i % len(handles)]
        posts.append(msgspec.structs.replace(m, author=Author(
            handle="@" + handle.upper() if i % 2 else handle,
            bio=("", "Reporter at the Chronicle", "dad, runner")[i % 3],
            followers=(0, 50, 10_000, 10**7, 10**30)[i % 5])))  # 10**30: no C overflow
    for enricher in ENRICHERS:
        for m in posts:
            assert_same(enricher, m)


HOSTILE = ["", " ", "x" * 100_000, "\udcff invalid \ud800", "😡😡😡", "https://t.co/abc",
           "www.example.com/x?y=1", "Привет мир 你好 hello", "مرحبا ١٢٣٤٥٦",
           ":) :-) 8) ;p =D <3 :o :od",
           "a:)", "::)", "#NotHappy #fail #", "##x", "SO ANGRY AT THIS STUPID AIRLINE",
           "call 555-123-4567 or jo.b+x@mail.co.uk 4111 1111 1111 1111", "1 Main Street",
           "K\u212a 1 \u212a", "don\u2019t", "ǅ", "İstanbul", "\x00\x01\x7f", "!!!???!?",
           "Good Morning America is GREAT", "not bad at all, but terrible service"]


@pytest.mark.parametrize("text", HOSTILE)
def test_same_signals_on_hostile_input(text):
    for enricher in ENRICHERS:
        assert_same(enricher, mention(text))


# What the C loops read: letters, digits (ASCII and not), the emoticon, hashtag, '@' and PII
# characters, separators, other scripts, emoji, and the words the rules turn on.
PIECES = st.sampled_from([
    "a", "z", "Q", "é", "É", "ß", "д", "中", "_", "0", "7", "٣", " ", "  ", "\n", "\t", "-", "'",
    "\u2019", ":", ";", "=", "8", "(", ")", "[", "]", "d", "p", "o", "^", "/", "\\", "|", "*", "$",
    "@", "3", "<", "!", "?", "#", ".", "+", ",", "😀", "☀", "✈", "\U0001FAFF", "\u27bf",
    " not ", " no ", " but ", " very ", " so ", " kind of ", " good ", " GOOD ", " bad ",
    " delayed ", " thanks ", " you ", " your ", " refund ", " lawyer ", " fire ", " buy ",
    " yeah right ", " #fail ", " #nothappy ", " Good Morning ", "http://x.co/a ", "www.a.b ",
    "acc no 123456", "555 123 4567", "12 High Road", "me@orbit.com", " ORBIT ", "@orbit ",
])
TEXT = st.lists(PIECES, max_size=30).map("".join)


@settings(max_examples=1_500, deadline=None)
@given(TEXT)
def test_same_signals_on_built_text(text):
    for enricher in ENRICHERS:
        assert_same(enricher, mention(text))


@settings(max_examples=1_500, deadline=None)
@given(TEXT)
def test_the_word_cutter_is_the_word_regex(text):
    lower = text.lower()
    assert hotpath.words(lower) == lexicons.WORD.findall(lower)


@settings(max_examples=1_500, deadline=None)
@given(TEXT)
def test_the_pii_gate_is_pii_may_have(text):
    for ascii_text in (True, False):
        assert hotpath.may_have_pii(text, ascii_text) == pii.may_have(text, ascii_text)


PII_PIECES = st.sampled_from(["1", "2", "7", "0", "٣", " ", "  ", "-", "+", "(", ")", "@", ".",
                              "_", "a", "acc", "Acc", "account no ", "#", ":", "is ", "x", "é",
                              "\n", " Main ", "Street", "St", "Rd", "12 High Road", "+44 ",
                              "(020) ", "4111 1111 1111 1111", "me@orbit.com", "jo.b+x@mail.co.uk"])


@settings(max_examples=1_500, deadline=None)
@given(st.lists(PII_PIECES, max_size=40).map("".join))
def test_pii_is_pii_find_pii(text):
    assert hotpath.find_pii(text) == pii.find_pii(text)
    for ascii_text in (True, False):
        assert hotpath.may_have_pii(text, ascii_text) == pii.may_have(text, ascii_text)


KEYS = sorted(ENRICHERS[1].automaton.keys())


@settings(max_examples=1_500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(KEYS), PIECES), max_size=25).map("".join))
def test_the_table_scanner_finds_what_the_automaton_finds(text):
    for enricher in ENRICHERS:
        scanner = hotpath.Scanner(enricher.automaton)
        for folded in (text, text.lower()):
            assert scanner.iter(folded) == list(enricher.automaton.iter(folded))


def test_past_the_scanner_limit_the_automaton_scans(monkeypatch):
    """A workspace vocabulary too big for 16-bit states keeps pyahocorasick's scan, with the
    same answers."""
    monkeypatch.setattr(hotpath, "MAX_STATES", 10)
    enricher = Enricher(DEMO)
    assert enricher.compiled
    for m in generate(300, seed=23, start=AT):
        assert_same(enricher, m)


def test_past_the_table_budget_the_automaton_scans(monkeypatch):
    """A vocabulary in a script of thousands of characters would make the table hundreds of
    MB: past the byte budget, the automaton's own scan."""
    monkeypatch.setattr(hotpath, "MAX_TABLE_BYTES", 1_000)
    enricher = Enricher(DEMO)
    for m in generate(200, seed=24, start=AT):
        assert_same(enricher, m)


def test_a_scanner_without_an_automaton_refuses_to_scan():
    blank = hotpath.Scanner.__new__(hotpath.Scanner)
    with pytest.raises(ValueError):
        blank.iter("abc")
    built = hotpath.Scanner(ENRICHERS[0].automaton)
    with pytest.raises(ValueError):
        built.__init__(ENRICHERS[0].automaton)


def test_the_influencer_memo_does_not_mix_ints_and_floats():
    # followers is typed int, but a struct built in code is not validated
    enricher = Enricher()
    for followers in (12_345, 12_345.0, 12_345):
        assert_same(enricher, mention("hello", Author(handle="a", followers=followers)))


@pytest.mark.parametrize("text", [
    "😡🙂✈" * 60, "1 Main St " * 30 + "a@b.co " * 30 + "555 123 4567 " * 5,
    "not good but great " * 40])
def test_same_signals_past_the_short_sorts(text):
    """Many reasons, many PII spans: the sorts the few-items path hands to list.sort."""
    for enricher in ENRICHERS:
        assert_same(enricher, mention(text))
