"""The intake's dead letters (scale-out mode): replay them onto the intake or discard them, one
outcome per message, each act an audited event.

A dead letter is a message no worker could triage (it does not decode, or failed
MAX_DELIVER deliveries: adapters/bus/jetstream.py). After fixing the cause an admin puts it
back on the intake (`replay`): intake stores a mention once per channel and source id, so a
replayed mention that was stored before (a message that died after its commit, a replay
repeated after a crash) never makes a second case. A message that cannot be fixed is
`discard`ed with a reason. Both are for members who may configure the workspace (the web page
and `ev dead … --by`); the operator's shell without `--by` acts as the system, as before.

The audit is a `config_changed` event on stream "config:dead_letters", one per message, that
keeps what the message held (its mentions' keys, or its size when it does not decode), so a
discarded mention can still be found in the record. A discard is recorded before the message
is deleted (a failure between the two leaves the message, never an unrecorded deletion); a
replay is recorded after the mentions are back on the intake (nothing is lost if it is not).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from escapevelocity.adapters.bus.jetstream import Dead
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.services.casetx import authorize

log = logging.getLogger(__name__)
STREAM = ev.config_stream("dead_letters")
REPLAYED, DISCARDED, GONE, KEPT, FAILED = "replayed", "discarded", "gone", "kept", "failed"
REASON_CHARS = 300
KEYS_KEPT = 100  # mention keys recorded per message (a message holds a few dozen)


class DeadLetterBus(Protocol):
    async def dead_one(self, seq: int) -> Dead | None: ...
    async def requeue(self, dead: Dead) -> int: ...
    async def discard(self, seq: int) -> bool: ...


@dataclass(frozen=True)
class Outcome:
    seq: int
    outcome: str  # replayed / discarded / gone / kept / failed
    detail: str

    @property
    def ok(self) -> bool:
        return self.outcome in (REPLAYED, DISCARDED)


async def replay(store: SqlStore, clock: Clock, bus: DeadLetterBus, member: str | None,
                 seqs: list[int]) -> list[Outcome]:
    """Put these dead letters back on the intake; one outcome per sequence, in order."""
    await asyncio.to_thread(_may, store, member)

    async def one(seq: int) -> Outcome:
        dead = await bus.dead_one(seq)
        if dead is None:
            return Outcome(seq, GONE, "not in the dead letters (replayed or discarded)")
        back = await bus.requeue(dead)
        if not back:
            return Outcome(seq, KEPT, "it does not decode: nothing to replay (discard it)")
        await asyncio.to_thread(_audit, store, clock, member, dead, REPLAYED, "")
        return Outcome(seq, REPLAYED, f"{back} mention(s) back on the intake")

    return [await _each(one, seq) for seq in dict.fromkeys(seqs)]


async def discard(store: SqlStore, clock: Clock, bus: DeadLetterBus, member: str | None,
                  seqs: list[int], reason: str) -> list[Outcome]:
    """Delete these dead letters for good, saying why (required); one outcome per sequence."""
    reason = " ".join(reason.split())[:REASON_CHARS]
    if not reason:
        raise ValueError("say why these messages are discarded")
    await asyncio.to_thread(_may, store, member)

    async def one(seq: int) -> Outcome:
        dead = await bus.dead_one(seq)
        if dead is None:
            return Outcome(seq, GONE, "not in the dead letters (replayed or discarded)")
        await asyncio.to_thread(_audit, store, clock, member, dead, DISCARDED, reason)
        if await bus.discard(seq):
            return Outcome(seq, DISCARDED, reason)
        # gone meanwhile (another admin): the record says it was asked, with why
        return Outcome(seq, GONE, "removed meanwhile by someone else")

    return [await _each(one, seq) for seq in dict.fromkeys(seqs)]


async def _each(one: Callable[[int], Awaitable[Outcome]], seq: int) -> Outcome:
    """One message's act; a failure (NATS or the database away) is that message's outcome,
    and the others are still tried."""
    try:
        return await one(seq)
    except Exception as exc:
        log.warning("dead letter %s: %s", seq, exc)
        return Outcome(seq, FAILED, f"{exc.__class__.__name__}: {str(exc)[:200]}")


def history(store: SqlStore, limit: int = 50) -> list[ev.Event]:
    """Replays and discards, newest first (shown under the dead letters)."""
    with store.begin() as tx:
        return list(reversed(tx.events.stream(STREAM)))[:limit]


def _may(store: SqlStore, member: str | None) -> None:
    if member is not None:
        with store.begin() as tx:
            authorize(tx, member, perm.CONFIGURE)


def _audit(store: SqlStore, clock: Clock, member: str | None, dead: Dead, state: str,
           reason: str) -> None:
    mentions = dead.mentions()
    held: dict[str, Any] = {"subject": dead.subject[:200], "reason": dead.reason[:500],
                            "deliveries": dead.deliveries, "bytes": len(dead.data)}
    if mentions is not None:
        held["mentions"] = [m.key[:300] for m in mentions[:KEYS_KEPT]]
        held["count"] = len(mentions)
    with store.begin() as tx:
        tx.events.append([ev.ConfigChanged(
            stream=STREAM, at=clock.now(), actor=member or ev.SYSTEM, what="dead_letter",
            name=str(dead.seq), before=held, after={"state": state, "why": reason})])
