"""Listening queries: the parser and evaluator (domain/listening.py), by example and by
property (Hypothesis): canonical text round-trips, the evaluator agrees with Python's boolean
operators on any tree, and no input crashes the parser with anything but QueryError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from escapevelocity.domain.listening import (
    EVERYTHING,
    And,
    Not,
    Or,
    Post,
    Query,
    QueryError,
    Term,
    matches,
    parse,
    render,
)


def keeps(query: str, text: str, handle: str = "", lang: str = "") -> bool:
    return Query(query)(Post(text, handle, lang))


@pytest.mark.parametrize(("query", "text", "handle", "lang", "kept"), [
    ("acme", "Acme broke my phone", "", "", True),
    ("acme", "acmeville is lovely", "", "", False),  # whole words only
    ('"broken checkout"', "the checkout is broken", "", "", False),
    ('"broken checkout"', "Broken   checkout again!", "", "", True),
    ("refund -giveaway", "refund please", "", "", True),
    ("refund -giveaway", "refund giveaway!", "", "", False),
    ("refund NOT giveaway", "refund giveaway", "", "", False),
    ("(refund OR chargeback) lang:en", "chargeback filed", "", "en-GB", True),
    ("(refund OR chargeback) lang:en", "chargeback filed", "", "de", False),
    ("@acme_help", "hello", "acme_help", "", True),
    ("@acme_help", "hey @acme_help you there?", "someone", "", True),
    ("@rosa", "hi", "rosa@fosstodon.org", "", True),  # a fediverse handle's local part
    ("#refund", "I want a #refund now", "", "", True),
    ("refund", "I want a #refund now", "", "", True),
    ("a OR b c", "c", "", "", False),  # AND binds tighter: a OR (b AND c)
    ("a OR b c", "a", "", "", True),
    ("", "anything at all", "", "", True),
    ("café", "CAFÉ closed", "", "", True),
])
def test_examples(query, text, handle, lang, kept):
    assert keeps(query, text, handle, lang) is kept


@pytest.mark.parametrize(("query", "where"), [
    ('"unclosed', "unclosed quote"), ("(a OR b", "unclosed parenthesis"),
    ("a OR", "ends where a term"), ("lang:english", "bad language"), ("a )", "unexpected"),
    ("@", "empty handle"), ("(" * 40 + "a" + ")" * 40, "nests deeper"), ("x" * 2001, "at most"),
])
def test_errors_say_where(query, where):
    with pytest.raises(QueryError, match=where):
        parse(query)


def test_search_terms_are_the_positive_ones():
    q = Query('(refund OR "double charge") -giveaway @acme lang:en NOT (spam OR NOT urgent)')
    assert q.search_terms() == ["refund", '"double charge"', "@acme", "urgent"]


# --- properties --------------------------------------------------------------------------------

WORDS = st.sampled_from(["acme", "refund", "broken", "phone", "late", "café", "x1"])
terms = st.one_of(
    WORDS.map(lambda w: Term("word", w)),
    st.lists(WORDS, min_size=2, max_size=3).map(lambda ws: Term("phrase", " ".join(ws))),
    st.sampled_from(["acme_help", "rosa"]).map(lambda h: Term("handle", h)),
    st.sampled_from(["en", "de"]).map(lambda lang: Term("lang", lang)),
)
trees = st.recursive(terms, lambda inner: st.one_of(
    inner.map(Not),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
    st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
), max_leaves=12)
posts = st.builds(Post, st.lists(WORDS, max_size=8).map(" ".join),
                  st.sampled_from(["", "acme_help", "rosa@fosstodon.org", "bob"]),
                  st.sampled_from(["", "en", "de", "en-US"]))


def reference(node, post: Post) -> bool:
    """A second, deliberately naive reading of a tree (the spec, not the implementation)."""
    text = " " + " ".join(post.text.casefold().split()) + " "
    if isinstance(node, Term):
        if node.kind in ("word", "phrase"):
            return f" {node.value} " in text
        if node.kind == "handle":
            return post.handle.split("@")[0] == node.value
        return post.lang.split("-")[0] == node.value
    if isinstance(node, Not):
        return not reference(node.item, post)
    if isinstance(node, And):
        return all(reference(i, post) for i in node.items)
    return any(reference(i, post) for i in node.items)


def _flat(node):
    """Parsing the rendered text flattens nested ANDs in ANDs, ORs in ORs: same meaning."""
    if isinstance(node, Not):
        return Not(_flat(node.item))
    if isinstance(node, And | Or):
        out = []
        for i in map(_flat, node.items):
            out += i.items if type(i) is type(node) else [i]
        return type(node)(tuple(out))
    return node


@settings(max_examples=300, deadline=None)
@given(trees)
def test_render_then_parse_is_the_same_query(tree):
    assert parse(render(tree)) == _flat(tree)


@settings(max_examples=300, deadline=None)
@given(trees, posts)
def test_evaluator_agrees_with_the_reference(tree, post):
    assert matches(tree, post) is reference(tree, post)


@settings(max_examples=200, deadline=None)
@given(trees, posts)
def test_not_and_de_morgan(tree, post):
    assert matches(Not(Not(tree)), post) is matches(tree, post)
    other = Term("word", "acme")
    assert matches(Not(And((tree, other))), post) is matches(Or((Not(tree), Not(other))), post)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_or_says_why(text):
    try:
        node = parse(text)
    except QueryError:
        return
    matches(node, Post(text))  # and evaluates without error


def test_empty_query_is_everything():
    assert parse("   ") == EVERYTHING and matches(EVERYTHING, Post(""))
