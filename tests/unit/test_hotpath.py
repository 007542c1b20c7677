"""The compiled kernels (hotpath.pyx) are the hot loops of enrichment, each with its Python
reference in kernels.py, and their whole worth is that they answer the same: each kernel
against its reference (the phrase scan, the word cutter, the sentiment loop, the PII gate),
and every field of every Signals from the one text of the rules over either set of kernels,
on generated posts, on hostile input, and on text built from the characters the C loops read.
The extension must also be built, and built from the current source: a missing one fails
this module (it does not skip), a stale one is refused by the Enricher and fails here."""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.bench.signals import tweet_length
from escapevelocity.demo.generator import generate
from escapevelocity.domain import enrich, kernels, lexicons, pii
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


@functools.cache
def pairs() -> tuple[tuple[Enricher, Enricher], ...]:
    """(compiled kernels, Python kernels) per vocabulary, built once: building the tables and
    the scanner is most of what an Enricher costs. On first use, not at import: every
    pytest-xdist worker imports every test module, and only one runs this one."""
    return tuple((Enricher(v), Enricher(v, compiled=False)) for v in (Vocabulary(), DEMO))


def enrichers() -> tuple[Enricher, ...]:
    return tuple(compiled for compiled, _ in pairs())


@pytest.fixture(scope="module", autouse=True)
def _built_before_any_test() -> None:
    """Built before any test here patches what an Enricher reads when it is made
    (EV_PURE_PYTHON, a stale source hash, the scanner's limits), whatever the order."""
    assert all(compiled.compiled for compiled in enrichers())
    scanners()


def mention(text: str, author: Author | None = None) -> Mention:
    return Mention(source_id="1", channel="twitter", text=text,
                   author=author or Author(handle="someone"), created_at=AT)


def assert_same(pair: tuple[Enricher, Enricher], m: Mention) -> None:
    compiled, python = pair
    expected = python.rules(m)  # the rules over kernels.py's kernels
    got = compiled.rules(m)  # the same rules over hotpath.pyx's
    if got != expected:
        diff = {f: (getattr(expected, f), getattr(got, f)) for f in expected.__struct_fields__
                if getattr(expected, f) != getattr(got, f)}
        pytest.fail(f"compiled kernels differ on {m.text[:200]!r}: {diff}")


def test_an_enricher_runs_the_compiled_kernels_unless_told_not_to(monkeypatch):
    assert Enricher().compiled, "hotpath is built but the Enricher does not use it"
    assert isinstance(Enricher().kernels, hotpath.Kernels)
    assert not Enricher(compiled=False).compiled
    monkeypatch.setenv("EV_PURE_PYTHON", "1")
    enrich._hotpath.cache_clear()
    try:
        pure = Enricher()
        assert not pure.compiled and isinstance(pure.kernels, kernels.Kernels)
        assert pure.rules(mention("so happy")) == enrichers()[0].rules(mention("so happy"))
    finally:
        enrich._hotpath.cache_clear()


def test_the_extension_is_built_from_the_current_source():
    source = Path(enrich.__file__).with_name("hotpath.pyx").read_bytes()
    assert hashlib.sha256(source).hexdigest() == hotpath.SOURCE_SHA256, \
        "hotpath.pyx changed after the extension was built: run `make install`"


def test_a_stale_extension_is_refused(monkeypatch):
    """An extension built from another hotpath.pyx than the one beside it is not run."""
    monkeypatch.setattr(hotpath, "SOURCE_SHA256", "0" * 64)
    enrich._hotpath.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="make install"):
            stale = Enricher()
        assert not stale.compiled
    finally:
        monkeypatch.undo()
        enrich._hotpath.cache_clear()
    assert Enricher().compiled


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
    for pair in pairs():
        for m in posts:
            assert_same(pair, m)


HOSTILE = ["", " ", "x" * 100_000, "\udcff invalid \ud800", "😡😡😡", "https://t.co/abc",
           "www.example.com/x?y=1", "Привет мир 你好 hello", "مرحبا ١٢٣٤٥٦",
           ":) :-) 8) ;p =D <3 :o :od",
           "a:)", "::)", "#NotHappy #fail #", "##x", "SO ANGRY AT THIS STUPID AIRLINE",
           "call 555-123-4567 or jo.b+x@mail.co.uk 4111 1111 1111 1111", "1 Main Street",
           "K\u212a 1 \u212a", "don\u2019t", "ǅ", "İstanbul", "\x00\x01\x7f", "!!!???!?",
           "Good Morning America is GREAT", "not bad at all, but terrible service",
           "soooo gooood!!! loveeee it, nooooo, SOOOO BAAAD, zzzz, #faiiil aaa",
           "No, it's great. not! good; never: bad? no.. nooooo, good"]


@pytest.mark.parametrize("text", HOSTILE)
def test_same_signals_on_hostile_input(text):
    for pair in pairs():
        assert_same(pair, mention(text))


# What the C loops read: letters, digits (ASCII and not), the emoticon, hashtag, '@' and PII
# characters, separators, other scripts, emoji, and the words the rules turn on.
PIECES = st.sampled_from([
    "a", "z", "Q", "é", "É", "ß", "д", "中", "_", "0", "7", "٣", " ", "  ", "\n", "\t", "-", "'",
    "\u2019", ":", ";", "=", "8", "(", ")", "[", "]", "d", "p", "o", "^", "/", "\\", "|", "*", "$",
    "@", "3", "<", "!", "?", "#", ".", "+", ",", "😀", "☀", "✈", "\U0001FAFF", "\u27bf",
    " not ", " no ", " but ", " very ", " so ", " kind of ", " good ", " GOOD ", " bad ",
    " delayed ", " thanks ", " you ", " your ", " refund ", " lawyer ", " fire ", " buy ",
    " yeah right ", " useless ", " still ", " awful ", " the ", " incompetent ",
    " #fail ", " #nothappy ", " Good Morning ", "http://x.co/a ", "www.a.b ",
    " soooo ", " goood ", "ooo", "eee", " loveeee ", " NOOO ", " no, ", " not. ", "never! ", ". ",
    "\u00a0", "\u3000", "\x1c",
    "acc no 123456", "555 123 4567", "12 High Road", "me@orbit.com", " ORBIT ", "@orbit ",
])
TEXT = st.lists(PIECES, max_size=30).map("".join)


# One test draws the texts for every kernel checked on TEXT (the whole Signals, the word cutter,
# the clause ends, the sentiment loop, the PII gate): each check still sees all 1,500 examples,
# while drawing them, not the checks, was most of the cost (~1 CPU-s of each of five tests of
# ~1.1-1.6 CPU-s when each drew its own). A failing check names itself in its assert.
@settings(max_examples=1_500, deadline=None)
@given(TEXT)
def test_the_kernels_answer_as_their_references_on_built_text(text):
    for pair in pairs():  # every field of the Signals
        assert_same(pair, mention(text))

    # the word cutter is the word regex
    lower = text.lower()
    assert hotpath.words(lower) == lexicons.WORD.findall(lower)
    for compiled, python in pairs():
        assert compiled.kernels.cut(lower) == python.kernels.cut(lower)
        # the word facts: the first judgement, failure and evaluative word, English, "you"
        assert compiled.kernels.words(lower, lower.isascii()) == \
            python.kernels.words(lower, lower.isascii())

    # the clause ends are the clause regex
    assert hotpath.clause_words(lower) == kernels._CLAUSE_END(lower)
    assert hotpath.clause_words(lower, True) == kernels._SENTENCE_END(lower)

    # the sentiment loop is its reference
    for compiled, python in pairs():
        for t in (text, "@" + text):
            low = t.lower().replace("\u2019", "'")
            scan = python.kernels.scan(low)
            tokens = python.kernels.words(low, low.isascii()).tokens
            assert compiled.kernels.sentiment(t, low, tokens, scan) == \
                python.kernels.sentiment(t, low, tokens, scan)
            assert compiled.kernels.read(t) == python.kernels.read(t)

    # the PII gate is pii.may_have
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
    compiled, python = pairs()[0]
    for ascii_text in (True, False):
        assert hotpath.may_have_pii(text, ascii_text) == pii.may_have(text, ascii_text)
        assert compiled.kernels.pii(text, ascii_text) == python.kernels.pii(text, ascii_text)


# the demo vocabulary's phrases, read when Hypothesis first draws
KEYS = st.deferred(lambda: st.sampled_from(sorted(enrichers()[1].automaton.keys())))


@functools.cache
def scanners() -> tuple[hotpath.Scanner, ...]:
    return tuple(hotpath.Scanner(e.automaton) for e in enrichers())  # built once


@settings(max_examples=1_500, deadline=None)
@given(st.lists(st.one_of(KEYS, PIECES), max_size=25).map("".join))
def test_the_table_scanner_finds_what_the_automaton_finds(text):
    for scanner, (compiled, python) in zip(scanners(), pairs(), strict=True):
        for folded in (text, text.lower()):
            assert scanner.iter(folded) == list(python.automaton.iter(folded))
            assert compiled.kernels.scan(folded) == python.kernels.scan(folded)


def test_past_the_scanner_limit_the_automaton_scans(monkeypatch):
    """A workspace vocabulary too big for 16-bit states keeps pyahocorasick's scan, with the
    same answers."""
    monkeypatch.setattr(hotpath, "MAX_STATES", 10)
    enricher = Enricher(DEMO)
    assert enricher.compiled
    for m in generate(300, seed=23, start=AT):
        assert_same((enricher, pairs()[1][1]), m)


def test_past_the_table_budget_the_automaton_scans(monkeypatch):
    """A vocabulary in a script of thousands of characters would make the table hundreds of
    MB: past the byte budget, the automaton's own scan."""
    monkeypatch.setattr(hotpath, "MAX_TABLE_BYTES", 1_000)
    enricher = Enricher(DEMO)
    for m in generate(200, seed=24, start=AT):
        assert_same((enricher, pairs()[1][1]), m)


def test_a_scanner_without_an_automaton_refuses_to_scan():
    blank = hotpath.Scanner.__new__(hotpath.Scanner)
    with pytest.raises(ValueError):
        blank.iter("abc")
    with pytest.raises(ValueError):
        scanners()[0].__init__(enrichers()[0].automaton)


@pytest.mark.parametrize("text", [
    "😡🙂✈" * 60, "1 Main St " * 30 + "a@b.co " * 30 + "555 123 4567 " * 5,
    "not good but great " * 40])
def test_same_signals_past_the_short_sorts(text):
    """Many reasons, many PII spans: the sorts the few-items path hands to list.sort."""
    for pair in pairs():
        assert_same(pair, mention(text))
