"""What a search with words finds over many hits (issue 18 at scale), on SQLite and PostgreSQL.

The store reads the newest hits of the words in steps (COUNT_WINDOW, x4, up to SEARCH_WINDOW)
and stops once a page is full. Here the windows are made small and the answer is checked
against the definition, worked out in Python from the rows written: the hits newest first, the
window the first size of the schedule whose hits fill the page (or that is not full), the
cases (distinct, at their newest hit) or mentions in it that pass the filters, and the page a
slice of those. Pages, counts and "more" must be exactly that, whatever the steps read.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.domain import cases as projection
from escapevelocity.domain import search
from escapevelocity.domain.cases import OPEN_STATES
from escapevelocity.domain.search import Query

STATES = ("queued", "assigned", "resolved", "claimed", "replied", "resolved", "closed")
CHANNELS = ("twitter", "email", "forum")
SENTIMENTS = ("negative", "neutral", "positive")


def _fixture(ws, now, n_cases: int = 150) -> dict[str, dict]:
    """`n_cases` cases of two mentions; the word "quetzal" in most mentions, "ocelot" in a
    few; the filters' columns varied. Returns the cases' attributes by id."""
    with ws.store.begin() as tx:
        team = tx.org.load().teams[0].id
    cases, rows, attrs = [], [], {}
    for i in range(n_cases):
        case_id = f"cqz{i:06d}"
        opened = now - timedelta(minutes=5 * (n_cases - i))
        a = {"state": STATES[i % len(STATES)], "channel": CHANNELS[i % 3],
             "sentiment": SENTIMENTS[(i // 3) % 3], "team": team}
        attrs[case_id] = a
        case = projection.Case(
            id=case_id, **a, priority="p2", opened_at=opened, updated_at=opened,
            last_mention_at=opened, author_handle=f"qz{i}", mention_count=2,
            situation="question", author_class="customer", version=1, title=f"case {i}")
        cases.append(case)
        for k in range(2):
            n = 2 * i + k
            words = ["quetzal"] if n % 5 else []
            words += ["ocelot"] if n % 11 == 0 else []
            text = " ".join(["a note", *words, f"number {n}"])
            body = json.dumps({"source_id": f"qz{n}", "channel": a["channel"], "text": text,
                               "author": {"handle": f"qz{i}"}, "created_at": opened.isoformat()})
            rows.append((a["channel"], f"qz{n}", case_id, f"qz{i}",
                         opened + timedelta(minutes=k), opened, body, "{}", False))
    with ws.store.begin() as tx:
        tx.cases.insert(cases)
        tx.mentions.insert_rows_ignoring(rows)
    return attrs


def _expected(ws, attrs, q: Query, word: str, filters) -> tuple[list, int, bool]:
    """The page, count and "more" of `q`, from the definition (see the module's docstring)."""
    with ws.store.engine.connect() as conn:
        hits = [(m, c) for m, c, body in conn.execute(
            sa.select(t.mentions.c.id, t.mentions.c.case_id, t.mentions.c.body)
            .order_by(t.mentions.c.id.desc()))
            if word in json.loads(body)["text"].split()]
    want = q.offset + q.per_page
    size = search.COUNT_WINDOW
    while True:
        window = hits[:size]
        passing = [(m, c) for m, c in window if c in attrs and filters(attrs[c])]
        found = list(dict.fromkeys(c for _, c in passing)) if q.show == "cases" else [
            m for m, _ in passing]
        full = len(window) >= size
        if len(found) >= want or not full or size >= search.SEARCH_WINDOW:
            return found[q.offset:want], len(found), full
        size = min(size * 4, search.SEARCH_WINDOW)


@pytest.mark.parametrize("count_window, search_window", [(4, 100), (10, 37), (1000, 100_000)])
def test_pages_counts_and_more_are_those_of_the_window_definition(
        workspace, clock, monkeypatch, count_window, search_window):
    monkeypatch.setattr(search, "COUNT_WINDOW", count_window)
    monkeypatch.setattr(search, "SEARCH_WINDOW", search_window)
    attrs = _fixture(workspace, clock.now())
    with workspace.store.begin() as tx:
        teams = sorted(t.id for t in tx.org.load().teams)
    shapes = [
        ("quetzal", {}, lambda a: True),
        ("ocelot", {}, lambda a: True),
        ("quetzal", {"channel": "twitter", "sentiment": "negative", "status": "open"},
         lambda a: a["channel"] == "twitter" and a["sentiment"] == "negative"
         and a["state"] in OPEN_STATES),
        ("quetzal", {"status": "resolved"}, lambda a: a["state"] == "resolved"),
        ("quetzal", {"channel": "email"}, lambda a: a["channel"] == "email"),
    ]
    checked = 0
    for word, params, filters in shapes:
        for show in ("cases", "mentions"):
            # Pages whose end (`want`) lies inside, past or exactly at a window's size.
            for per_page, page in ((7, 1), (7, 2), (7, 3), (7, 5), (7, 9), (7, 20), (4, 1),
                                   (4, 4), (10, 1), (1000, 1)):
                q = Query(text=word, show=show, page=page, per_page=per_page, **params)
                with workspace.store.begin() as tx:
                    read = tx.search.mentions if show == "mentions" else tx.search.cases
                    rows, total, more = read(q, teams, clock.now())
                page_ids, want_total, want_more = _expected(workspace, attrs, q, word, filters)
                ids = [r.id if show == "cases" else r["id"] for r in rows]
                assert ids == page_ids, (word, params, show, page)
                assert (total, more) == (want_total, want_more), (word, params, show, page)
                checked += bool(page_ids)
    assert checked > 20  # the shapes do find pages, deep ones included
