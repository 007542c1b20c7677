"""The collision guard under real concurrency: threads with their own database connections
(one engine each) released together by a barrier. Runs on SQLite and PostgreSQL; PostgreSQL is
required when CI is set (conftest.require via the pg_url fixture)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from engage_kit import SUPPORT, add_members, events, open_case

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.services import cases
from escapevelocity.services.casetx import ConversationChanged

RIVALS = 50


def race(n: int, url: str, work) -> list[object]:
    """Run work(i, store) in n threads at once, each on its own engine and connection;
    returns each thread's result or exception."""
    stores = [SqlStore(url) for _ in range(n)]
    for s in stores:  # open every connection before the start line
        with s.begin():
            pass
    barrier = threading.Barrier(n)
    out: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i, stores[i])
        except Exception as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    return out


@pytest.fixture
def crowd(workspace):
    add_members(workspace, [{"id": f"m{i:02d}", "name": f"Member {i}", "teams": ["hub", "care"]}
                            for i in range(RIVALS)])
    return workspace


def test_fifty_concurrent_claims_have_exactly_one_winner(crowd, clock, db_url):
    cid = open_case(crowd, clock, SUPPORT)
    out = race(RIVALS, db_url, lambda i, s: cases.claim(s, clock, cid, f"m{i:02d}"))
    winners = [o for o in out if isinstance(o, ev.Event)]
    losers = [o for o in out if isinstance(o, ClaimTaken)]
    assert len(winners) == 1, Counter(type(o).__name__ for o in out)
    assert len(losers) == RIVALS - 1, [o for o in out if not isinstance(o, (ClaimTaken,
                                                                            ev.Event))][:3]
    winner = winners[0].actor
    assert {x.holder for x in losers} == {winner}  # every loser is told who has it
    claims = [e for e in events(crowd, cid) if e.kind == ev.CLAIMED]
    assert [e.actor for e in claims] == [winner]


def test_two_members_racing_to_claim_and_reply_send_one_reply(crowd, clock, db_url):
    """Both opened the case page (seen_seq) before racing. The loser either cannot claim
    (ClaimTaken) or, if the winner already replied and so released the lease, is stopped by the
    send-time guard because the conversation changed; either way the message names the winner."""
    for _ in range(5):
        cid = open_case(crowd, clock, SUPPORT)
        seen = events(crowd, cid)[-1].seq

        def work(i: int, store: SqlStore, cid: str = cid, seen: int = seen) -> object:
            member = ("ana", "priya")[i]
            cases.claim(store, clock, cid, member)
            return cases.reply(store, clock, cid, member, f"Sorry! {member} here, DM us.",
                               seen_seq=seen)

        out = race(2, db_url, work)
        sent = [o for o in out if isinstance(o, ev.Event)]
        refused = [o for o in out if isinstance(o, (ClaimTaken, ConversationChanged))]
        assert len(sent) == 1 and len(refused) == 1, out
        winner = sent[0].actor
        if isinstance(refused[0], ClaimTaken):
            assert refused[0].holder == winner
        else:
            assert [(e.kind, e.actor) for e in refused[0].changes] == [(ev.REPLIED, winner)]
            assert f"replied by {winner}" in str(refused[0])
        assert [e.actor for e in events(crowd, cid) if e.kind == ev.REPLIED] == [winner]
