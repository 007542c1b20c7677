"""The triage worker's handling of a failing message, without a server (fakes for the
messages and the bus): a partition whose message waits holds back its own later messages,
in this chunk and in later ones, and nobody else's. The real-server tests are in
tests/integration/test_partition_order.py."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest

from escapevelocity.adapters.bus.jetstream import encode
from escapevelocity.demo.generator import generate
from escapevelocity.services import triage_worker
from escapevelocity.services.retry import Conflict
from escapevelocity.services.triage_worker import TriageWorker


class _Msg:
    def __init__(self, partition: int, mention: Any, log: list[str]) -> None:
        self.subject = f"t.mentions.{partition}"
        self.data = encode([mention])
        self.metadata = SimpleNamespace(num_delivered=1, timestamp=None)
        self.id, self.log = mention.source_id, log

    async def ack(self) -> None:
        self.log.append(f"ack {self.id}")

    async def in_progress(self) -> None:
        pass

    async def nak(self, delay: float | None = None) -> None:
        self.log.append(f"nak {self.id}")


class _Bus:
    """Holds the partitions it is told to; `dead` collects dead letters."""

    def __init__(self, held: list[int]) -> None:
        self.held, self.dead = held, []

    def holding(self) -> list[int]:
        return list(self.held)

    async def renew(self, partitions: Any = None) -> None:
        pass

    async def dead_letter(self, msg: Any, reason: str, data: bytes | None = None) -> None:
        self.dead.append(msg.id)


class _Intake:
    """Fails every transaction holding `bad` (with `error`), records what it stores."""

    def __init__(self, bad: str, error: Exception, log: list[str]) -> None:
        self.bad, self.error, self.log = bad, error, log

    def take(self, mentions: list) -> None:
        if any(m.source_id == self.bad for m in mentions):
            raise self.error
        self.log.extend(f"store {m.source_id}" for m in mentions)


@pytest.fixture
def quick(monkeypatch) -> None:
    monkeypatch.setattr(triage_worker, "BATCH_MENTIONS", 1)  # one chunk a message
    monkeypatch.setattr(triage_worker, "RETRY_FIRST_S", 0.01)
    monkeypatch.setattr("escapevelocity.adapters.bus.jetstream.ACK_WAIT_S", 0.2)


def _round(log: list[str]) -> list[_Msg]:
    """Partition 0: a0 a1 a2; partition 1: b0 b1; interleaved as a round gathers them."""
    base = next(iter(generate(1, seed=3, start=datetime.now(UTC))))
    ids = [(0, "a0"), (1, "b0"), (0, "a1"), (1, "b1"), (0, "a2")]
    return [_Msg(p, msgspec.structs.replace(base, source_id=i), log) for p, i in ids]


def test_a_transient_failure_outlasting_the_ack_wait_holds_only_its_partition(quick):
    log: list[str] = []
    bus = _Bus(held=[0, 1])
    worker = TriageWorker(_Intake("a1", Conflict("busy"), log), bus, tick_seconds=None)
    stuck = asyncio.run(worker.handle(_round(log)))
    assert stuck == {0}  # handed back: a1 and a2 come again, in order
    assert log == ["store a0", "ack a0", "store b0", "ack b0", "store b1", "ack b1"]


def test_a_lost_lease_or_a_stop_leaves_the_rest_of_the_partition_unacknowledged(quick):
    log: list[str] = []
    worker = TriageWorker(_Intake("a1", Conflict("busy"), log), _Bus(held=[1]),
                          tick_seconds=None)  # partition 0's lease is gone
    assert asyncio.run(worker.handle(_round(log))) == {0}
    assert "ack a2" not in log and "store a2" not in log and "ack b1" in log
    log.clear()
    worker = TriageWorker(_Intake("a1", Conflict("busy"), log), _Bus(held=[0, 1]),
                          tick_seconds=None)
    worker.stop.set()
    assert asyncio.run(worker.handle(_round(log))) == {0}
    assert "ack a2" not in log and "ack b1" in log


def test_a_poison_message_dies_after_max_deliver_attempts_then_its_partition_goes_on(quick):
    log: list[str] = []
    bus = _Bus(held=[0, 1])
    worker = TriageWorker(_Intake("a1", ValueError("bug"), log), bus, tick_seconds=None)
    assert asyncio.run(worker.handle(_round(log))) == set()
    assert bus.dead == ["a1"]
    assert log == ["store a0", "ack a0", "store b0", "ack b0", "ack a1", "store b1", "ack b1",
                   "store a2", "ack a2"]
    assert not [line for line in log if line.startswith("nak")]
