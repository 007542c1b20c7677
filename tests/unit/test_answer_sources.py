"""Knowledge sources are hostile input: bounded, markup stripped, only http(s) links kept,
a broken feed refused with its reason."""

from __future__ import annotations

import json

import pytest

from escapevelocity.domain.answers import sources


def test_an_article_is_titled_by_its_heading_and_approved():
    e = sources.article("help/reset.md", "# Reset your password\nquestion: forgot it | locked "
                                         "out\n\nGo to Settings.\n")
    assert e.title == "Reset your password" and e.approved and e.source == "article"
    assert e.question == "Reset your password forgot it locked out"
    assert e.answer == "Go to Settings."
    assert sources.article("empty.md", "# Only a title\n") is None
    untitled = sources.article("dir/how-to-pay.md", "Pay by card.")
    assert untitled.title == "how to pay"


def test_a_json_feed_is_bounded_and_cleaned():
    items = [{"title": "<script>x</script>Q" + "q" * 1000, "content_html": "<b>A</b>" * 5,
              "url": "data:text/html,boom", "authors": [{"name": "@Peer"}]}] * 3
    got = sources.json_feed(json.dumps({"items": items}).encode())
    assert len(got) == 1  # the same item three times: one entry
    e = got[0]
    assert "<" not in e.title and len(e.title) <= sources.MAX_TITLE
    assert e.ref == "" and e.author == "peer" and not e.approved


@pytest.mark.parametrize("raw", [b"not json", b'{"items": "nope"}', b"[1, 2]"])
def test_a_broken_feed_is_refused_with_its_reason(raw):
    with pytest.raises(ValueError, match="not"):
        sources.json_feed(raw)
