"""`ev worker`: a stateless triage worker of the scale-out deployment.

It pulls accepted mentions from NATS JetStream (adapters/bus/jetstream.py), partition by
partition, triages and stores each fetch in one transaction through the same intake as the
embedded mode (services/intake.py: crisis detectors, then services/ingest.py), and
acknowledges the messages only after that transaction commits. Run any number of them on any
machine: a partition is fetched only by the worker holding its lease (one at a time, so an
author's posts are triaged in order), kept while busy and let go now and then so the work
spreads, never with unacknowledged messages in hand; what one
holds unacknowledged when it dies is delivered again to another, and ingest
finds already-stored mentions by their (channel, source id) key inside the same transaction,
so a redelivered mention never makes a second case or event.

The clock-driven jobs (SLA, approvals, follow-ups, crisis checks, retraining, refine) run once
per tick across all workers: each tick has a number (the clock's time over the period) and the
first worker to create that key in the NATS key-value bucket runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from escapevelocity.adapters.bus import jetstream
from escapevelocity.adapters.bus.jetstream import MAX_DELIVER, JetStream, decode, encode
from escapevelocity.services import metrics
from escapevelocity.services.ingest import DEFAULT_BATCH_SIZE
from escapevelocity.services.intake import Intake
from escapevelocity.services.parse import recheck
from escapevelocity.services.retry import transient
from escapevelocity.services.worker import tick_all

log = logging.getLogger(__name__)
# Mentions a transaction: `ev ingest`'s measured best batch (services/ingest.py); a round that
# fetched more commits (and acknowledges) in several.
BATCH_MENTIONS = DEFAULT_BATCH_SIZE
IDLE_FETCH_S = 0.05  # how long a round waits on partitions with nothing to give
STOP_GRACE_S = 10.0  # a stopping worker finishes its round (commit, acks) within this
# A message whose transaction failed is retried in place, its partition waiting behind it:
# first after this long, doubling up to RETRY_MAX_S (a poison message is dead-lettered after
# MAX_DELIVER attempts, ~4 s; a database that stays away is retried for an ack wait, then the
# partition is handed back and its messages come again after the lease runs out).
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 10.0


class TriageWorker:
    def __init__(self, intake: Intake, js: JetStream, *, tick_seconds: float | None = 5.0,
                 name: str | None = None, on_batch: Callable[[int], None] | None = None,
                 notifier: Any = None, webhooks: Any = None,
                 retry_first_s: float | None = None) -> None:
        self.intake, self.js, self.tick_seconds = intake, js, tick_seconds
        # the first wait before a failed message is tried again (RETRY_FIRST_S unless given:
        # tests of the retry's order need not wait the production schedule's seconds)
        self.retry_first_s = RETRY_FIRST_S if retry_first_s is None else retry_first_s
        # what `ev serve` ticks in the embedded mode: notifications out, CRM webhooks
        self.notifier, self.webhooks = notifier, webhooks
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.stop = asyncio.Event()
        self.on_batch = on_batch
        self.processed = 0
        self.ticked: list[int] = []  # the ticks this worker ran

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._consume())]
        if self.tick_seconds:
            tasks.append(asyncio.create_task(self._ticks()))
        try:
            await self.stop.wait()
            # the round in hand ends (committed, acknowledged) and its leases are let go, so
            # other workers need not wait for them to expire; then the rest is cancelled
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(tasks[0]), timeout=STOP_GRACE_S)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- triage ----------------------------------------------------------------------------------

    async def _consume(self) -> None:
        """Rounds over every partition at once: what the partitions hold is fetched together
        and triaged in one transaction (each partition's messages in their order), so a busy
        stream makes big batches and an idle one costs one short wait a round."""
        partitions = list(range(self.js.partitions))
        lag_at = 0.0
        while not self.stop.is_set():
            got = await asyncio.gather(*(self.js.fetch(p, timeout=IDLE_FETCH_S)
                                         for p in partitions), return_exceptions=True)
            msgs = []
            for p, result in zip(partitions, got, strict=True):
                if isinstance(result, BaseException):  # NATS away: it reconnects
                    log.warning("fetch from partition %s failed: %s %s", p,
                                result.__class__.__name__, result)
                else:
                    msgs += result
            if msgs:
                try:
                    stuck = await self.handle(msgs)
                except BaseException:
                    # some may be unacknowledged: their partitions stay leased until the leases
                    # expire, when those messages are due again (no later one overtakes them)
                    for p in self.js.holding():
                        self.js.abandon(p)
                    raise
                for p in stuck:  # the same, for the partitions a failing message held up
                    await self.js.hand_back(p)
                # all acknowledged (or dead-lettered): kept, or let go to spread
                await asyncio.gather(*(self.js.finished(p) for p in self.js.holding()),
                                     return_exceptions=True)
            else:
                if any(isinstance(r, BaseException) for r in got):
                    await asyncio.sleep(0.5)
                if time.monotonic() - lag_at > 1.0:  # the queue-lag gauge, once a second
                    lag_at = time.monotonic()
                    metrics.set_lag_from(await self._lag())
        # stopped between rounds: everything fetched is acknowledged, the partitions are free
        await asyncio.gather(*(self.js.release(p) for p in self.js.holding()),
                             return_exceptions=True)

    async def _lag(self) -> int | None:
        try:
            return await self.js.lag()
        except Exception:
            return None

    async def handle(self, msgs: list[Any]) -> set[int]:
        """Store a round in transactions of about BATCH_MENTIONS, each acknowledged after it
        commits; every message not yet acknowledged is kept in progress meanwhile (with its
        partition's lease). Undecodable messages are dead-lettered at once; when a transaction
        fails, its messages are tried one by one (`_one_by_one`) so one poison message does not
        hold back the rest, and never out of order within a partition.

        Returns the partitions left with unacknowledged messages (one of their messages kept
        failing for a transient reason for an ack wait, or the worker was asked to stop or
        lost the lease while it waited): the caller hands them back (`JetStream.hand_back`),
        never releases them, so their messages are delivered again, in order, before any
        later one of the partition."""
        good: list[tuple[Any, list]] = []
        for msg in msgs:
            try:
                mentions = decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                await self.js.dead_letter(msg, f"does not decode: {exc}")
                await msg.ack()
                metrics.DEAD.inc()
                continue
            ok, bad, why = [], [], ""
            for m in mentions:  # the stream is input too: every mention checked again
                try:
                    ok.append(recheck(m))
                except (ValueError, msgspec.ValidationError) as exc:
                    bad.append(m)
                    why = why or f"{m.key[:80]}: {exc}"
            if bad:  # the bad ones die alone; the rest of the message goes on
                await self.js.dead_letter(msg, f"invalid mention: {why}", data=encode(bad))
                metrics.DEAD.inc()
            good.append((msg, ok))
        chunks: list[list[tuple[Any, list]]] = [[]]
        size = 0
        for item in good:  # in round order: each partition's messages stay in order
            if size >= BATCH_MENTIONS:
                chunks.append([])
                size = 0
            chunks[-1].append(item)
            size += len(item[1])
        unacked = {id(msg): msg for msg, _ in good}
        stuck: set[int] = set()
        keeper = asyncio.create_task(self._keep(unacked))
        try:
            for chunk in chunks:
                # a partition stuck in an earlier chunk: its later messages wait with it
                chunk = [(msg, ms) for msg, ms in chunk if _partition(msg) not in stuck]
                if chunk:
                    await self._commit(chunk, unacked, stuck)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        return stuck

    async def _keep(self, unacked: dict[int, Any]) -> None:
        """While a round is worked (a long transaction, a message retried in place), keep its
        unacknowledged messages from being delivered again, then renew the leases: a lease
        thus always outlives the ack wait of the messages it guards."""
        while True:
            await asyncio.sleep(jetstream.ACK_WAIT_S / 3)
            for msg in list(unacked.values()):
                with contextlib.suppress(Exception):  # NATS away: the lease decides
                    await msg.in_progress()
            with contextlib.suppress(Exception):
                await self.js.renew()

    async def _ack(self, msg: Any, unacked: dict[int, Any]) -> None:
        await msg.ack()
        unacked.pop(id(msg), None)

    async def _commit(self, good: list[tuple[Any, list]], unacked: dict[int, Any],
                      stuck: set[int]) -> None:
        began = time.perf_counter()
        mentions = [m for _, ms in good for m in ms]
        try:
            if mentions:
                await asyncio.to_thread(self.intake.take, mentions)
        except Exception as exc:
            log.warning("batch of %s mentions failed (%s): trying message by message",
                        len(mentions), exc.__class__.__name__)
            await self._one_by_one(good, unacked, stuck)
            return
        for msg, _ in good:
            await self._ack(msg, unacked)
        self._done(len(mentions), began, good)

    async def _one_by_one(self, good: list[tuple[Any, list]], unacked: dict[int, Any],
                          stuck: set[int]) -> None:
        """Each partition's messages in order, each in its own transaction. A message that
        fails is retried in place with growing waits (`retry_first_s` doubling up to
        RETRY_MAX_S) while its partition's later messages wait behind it, unacknowledged and
        kept in progress. A message failing for good is dead-lettered after MAX_DELIVER
        attempts (deliveries before this one count) and the partition goes on. A transient
        failure (a database cut or busy beyond the intake's own retries) is retried for an
        ack wait; then the partition is `stuck` (handed back: its messages come again, in
        order, to whichever worker takes it next), so the round ends and this worker's other
        partitions go on. Other partitions are not held back by one that waits. Asked to
        stop, or the lease lost, while a message waits: its partition is `stuck` at once."""
        queues: dict[int, deque[tuple[Any, list]]] = {}
        for item in good:
            queues.setdefault(_partition(item[0]), deque()).append(item)
        failures: dict[int, int] = {}  # id(msg) -> failed attempts here
        due: dict[int, float] = {}  # a waiting partition -> when its failed message goes again
        since: dict[int, float] = {}  # a partition waiting on a transient failure -> since when
        while queues:
            for p in list(queues):
                if p in due:
                    if (self.stop.is_set() or p not in self.js.holding()
                            or time.monotonic() - since.get(p, math.inf) > jetstream.ACK_WAIT_S):
                        stuck.add(p)
                        del queues[p]
                        continue
                    if time.monotonic() < due[p]:
                        continue
                    del due[p]
                queue = queues[p]
                while queue:
                    failed = await self._try_one(*queue[0], failures, unacked)
                    if failed is not None:
                        wait, passing = failed
                        due[p] = time.monotonic() + wait
                        if passing:
                            since.setdefault(p, time.monotonic())
                        else:
                            since.pop(p, None)
                        break
                    queue.popleft()
                    since.pop(p, None)
                if not queue:
                    del queues[p]
            if queues:
                until = min(due.values()) - time.monotonic()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), timeout=max(until, 0.001))

    async def _try_one(self, msg: Any, ms: list, failures: dict[int, int],
                       unacked: dict[int, Any]) -> tuple[float, bool] | None:
        """One message in its own transaction: None when it is done with (committed and
        acknowledged, or dead-lettered), else how long to wait before trying it again and
        whether the failure was transient."""
        began = time.perf_counter()
        try:
            if ms:
                await asyncio.to_thread(self.intake.take, ms)
        except Exception as exc:
            failed = failures[id(msg)] = failures.get(id(msg), 0) + 1
            deliveries = msg.metadata.num_delivered if msg.metadata else 1
            attempts = deliveries - 1 + failed
            passing = transient(exc)
            if not passing and attempts >= MAX_DELIVER:
                log.error("message dead-lettered after %s attempts: %s", attempts, exc)
                await self.js.dead_letter(msg, f"{exc.__class__.__name__}: {exc}")
                await self._ack(msg, unacked)
                metrics.DEAD.inc()
                return None
            wait = min(self.retry_first_s * 2 ** (failed - 1), RETRY_MAX_S)
            log.warning("message on %s failed (attempt %s, %s: %s): its partition waits, "
                        "retried in %.2f s", msg.subject, attempts, exc.__class__.__name__,
                        str(exc).splitlines()[0][:200] if str(exc) else "", wait)
            return wait, passing
        await self._ack(msg, unacked)
        self._done(len(ms), began, [(msg, ms)])
        return None

    def _done(self, count: int, began: float, good: list[tuple[Any, list]]) -> None:
        self.processed += count
        metrics.PROCESSED.inc(count)
        metrics.BATCH_SECONDS.observe(time.perf_counter() - began)
        stamps = [m.metadata.timestamp for m, _ in good if m.metadata and m.metadata.timestamp]
        if stamps:  # accepted (published) -> committed here
            now = time.time()
            for at in stamps:
                metrics.ACCEPT_TO_CASE.observe(max(now - at.timestamp(), 0.0))
        if self.on_batch:
            self.on_batch(count)

    # --- clock jobs ------------------------------------------------------------------------------

    async def _ticks(self) -> None:
        period = float(self.tick_seconds or 5.0)
        while not self.stop.is_set():
            slot = int(self.intake.workspace.clock.now().timestamp() // period)
            try:
                mine = await self.js.take_tick(slot, self.name, period)
            except Exception as exc:
                log.warning("tick lease unavailable: %s", exc)
                mine = False
            if mine:
                self.ticked.append(slot)
                out = await asyncio.to_thread(tick_all, self.intake.workspace,
                                              self.intake.crisis, notifier=self.notifier,
                                              webhooks=self.webhooks)
                metrics.TICKS.inc()
                log.info("tick %s ran here", slot,
                         extra={"done": {k: _size(v) for k, v in out.done.items()},
                                "failed": out.failed})
            next_at = (slot + 1) * period
            wait = next_at - self.intake.workspace.clock.now().timestamp()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=max(wait, 0.05))


def _partition(msg: Any) -> int:
    return JetStream.partition_of_subject(msg.subject)


def _size(value: Any) -> Any:
    """What a tick job did, as a number for the log line (a count or the events' count)."""
    if isinstance(value, int):
        return value
    events = getattr(value, "events", value)
    return len(events) if hasattr(events, "__len__") else str(value)[:80]


async def serve(workspace: Any, url: str, prefix: str, *, tick_seconds: float | None,
                metrics_port: int | None = None, metrics_host: str = "127.0.0.1",
                api: dict[str, str] | None = None) -> None:
    """The `ev worker` process: connect, pull until SIGTERM/SIGINT. `api`: where the
    JetStream API answers (jetstream.api_from_env)."""
    import signal

    js = await JetStream(url, prefix, **(api or {})).connect(name="ev-worker")
    # every replica's live views hear of this worker's commits (web/live.py)
    workspace.store.on_commit.append(js.commit_hook(asyncio.get_running_loop()))
    from escapevelocity.adapters.notify.transports import transports_from_env
    from escapevelocity.services.notify import Notifier
    from escapevelocity.services.webhooks import Webhooks

    intake = Intake.open(workspace)
    notifier = Notifier(workspace.store, workspace.clock, transports_from_env(os.environ),
                        base_url=os.environ.get("EV_PUBLIC_URL", ""))
    worker = TriageWorker(intake, js, tick_seconds=tick_seconds, notifier=notifier,
                          webhooks=Webhooks.from_env(workspace.store, workspace.clock))
    if metrics_port:
        metrics.serve(metrics_port, metrics_host)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop.set)
    log.info("worker %s pulling from %s (%s)", worker.name, url, js.stream)
    try:
        await worker.run()
    finally:
        await js.close()
