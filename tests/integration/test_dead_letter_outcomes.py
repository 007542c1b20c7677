"""Replay and discard report one outcome per message, audit only what was done, and refuse who
may not configure (services/dead_letters.py), on SQLite and PostgreSQL with a bus double that
fails the way NATS does when it goes away mid-act."""

from __future__ import annotations

import asyncio

import pytest

from escapevelocity.adapters.bus.jetstream import Dead, encode
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import dead_letters as dl


class Bus:
    """Dead letters in memory; `broken` seqs fail to publish (a timeout, as NATS away)."""

    def __init__(self, dead: list[Dead], broken: set[int] = frozenset()) -> None:
        self.held = {d.seq: d for d in dead}
        self.broken, self.published = broken, []

    async def dead_one(self, seq: int) -> Dead | None:
        return self.held.get(seq)

    async def requeue(self, dead: Dead) -> int:
        mentions = dead.mentions()
        if not mentions:
            return 0
        if dead.seq in self.broken:
            raise TimeoutError("nats: timeout")
        self.published += mentions
        del self.held[dead.seq]
        return len(mentions)

    async def discard(self, seq: int) -> bool:
        return self.held.pop(seq, None) is not None


def _dead(seq: int, data: bytes) -> Dead:
    return Dead(seq, "ev.mentions.1", "TimeoutError", 5, data)


def _m(n: int, now) -> Mention:
    return Mention(source_id=f"o-{n}", channel="twitter", text="hi", author=Author(handle="a"),
                   created_at=now)


def test_each_message_has_its_outcome_and_only_what_was_done_is_audited(workspace, clock):
    ws = workspace
    bus = Bus([_dead(1, encode([_m(1, clock.now())])), _dead(2, encode([_m(2, clock.now())])),
               _dead(3, b"\xff"), _dead(4, encode([_m(4, clock.now())]))], broken={2})
    got = asyncio.run(dl.replay(ws.store, clock, bus, "sam", [1, 2, 3, 9, 1]))
    assert [(o.seq, o.outcome) for o in got] == [(1, dl.REPLAYED), (2, dl.FAILED),
                                                 (3, dl.KEPT), (9, dl.GONE)]
    assert "TimeoutError" in got[1].detail and [m.source_id for m in bus.published] == ["o-1"]
    with pytest.raises(ValueError, match="say why"):
        asyncio.run(dl.discard(ws.store, clock, bus, "sam", [3], " \n "))
    with pytest.raises(PermissionDenied):
        asyncio.run(dl.discard(ws.store, clock, bus, "ana", [3], "junk"))
    assert 3 in bus.held  # refused before anything was touched
    got = asyncio.run(dl.discard(ws.store, clock, bus, "sam", [3, 4], "junk\n\tbytes"))
    assert [(o.seq, o.outcome, o.detail) for o in got] == [(3, dl.DISCARDED, "junk bytes"),
                                                           (4, dl.DISCARDED, "junk bytes")]
    assert sorted(bus.held) == [2]
    audit = dl.history(ws.store)
    assert [(e.data["name"], e.data["after"]["state"]) for e in audit] == [
        ("4", "discarded"), ("3", "discarded"), ("1", "replayed")]
    assert audit[1].data["before"]["bytes"] == 1 and "mentions" not in audit[1].data["before"]
    assert audit[0].data["before"]["mentions"] == ["twitter:o-4"]
