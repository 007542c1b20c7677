"""NATS JetStream behind the intake: the durable log of accepted mentions and the work queue
the triage workers pull from (the scale-out deployment, EV_BUS=nats://host:4222).

Streams and subjects (PREFIX from EV_NATS_PREFIX, default "ev"; tests use their own):

    <PREFIX>_MENTIONS  subjects <prefix>.mentions.<p>   work queue: a message is gone once acked
    <PREFIX>_DEAD      subject  <prefix>.dead           poison messages, kept for a person to see
    KV <PREFIX>_leases                                  one key per clock tick (who runs it)

A message is a JSON list of mentions (msgspec `Mention` wire shape), all of one partition `p`
(a hash of channel and author): an author's posts stay in one partition, in order. Each
partition has its own durable pull consumer whose `max_ack_pending` is one fetch, so a
partition is worked by one worker at a time and its messages are triaged in the order they
were accepted (a follow-up after its first post, a reply after the post it answers when both
come from the same author); the partitions spread the load across workers.

Acknowledgement comes after the worker's transaction commits; a worker killed before that
leaves its messages unacknowledged and JetStream delivers them again after ACK_WAIT (ingest
finds them stored by key and adds nothing: effects are idempotent). A message delivered
MAX_DELIVER times without success, or one that does not decode, goes to the dead-letter stream
with the reason, for `ev dead list` / `ev dead replay` (and the /admin/dead page).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from escapevelocity.domain.records import Mention

PARTITIONS = 8
# A fetched batch not acknowledged this long is delivered again (to any worker): longer than
# the slowest batch on a busy machine, short enough that a killed worker's batch is not
# stuck for long. Set when the consumers are created (a new EV_NATS_PREFIX picks it up).
ACK_WAIT_S = float(os.environ.get("EV_NATS_ACK_WAIT", "30"))
MAX_DELIVER = 5  # then the message is dead-lettered
# Messages a worker takes from one partition at a time, and so the partition's in-flight
# limit (max_ack_pending): at ~12 mentions a message (a 100-mention HTTP batch over 8
# partitions), a fetch is a few thousand mentions, one transaction.
FETCH = int(os.environ.get("EV_NATS_FETCH", "256"))
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(list[Mention])


def prefix_from_env(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("EV_NATS_PREFIX", "ev")


def partition_of(m: Mention, partitions: int = PARTITIONS) -> int:
    """The partition of an author on a channel (stable across processes and restarts)."""
    h = hashlib.blake2b(f"{m.channel}\0{m.author.handle}".encode(), digest_size=4).digest()
    return int.from_bytes(h, "big") % partitions


def encode(mentions: Sequence[Mention]) -> bytes:
    return _enc.encode(list(mentions))


def decode(data: bytes) -> list[Mention]:
    return _dec.decode(data)


@dataclass
class Dead:
    """One dead-lettered message: what it held and why it died."""

    seq: int
    subject: str  # where it came from
    reason: str
    deliveries: int
    data: bytes

    def mentions(self) -> list[Mention] | None:
        try:
            return decode(self.data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None


class JetStream:
    """One NATS connection and the intake's streams, consumers and lease bucket."""

    def __init__(self, url: str, prefix: str = "ev", partitions: int = PARTITIONS) -> None:
        self.url, self.prefix, self.partitions = url, prefix, partitions
        self.stream = f"{prefix.upper()}_MENTIONS"
        self.dead_stream = f"{prefix.upper()}_DEAD"
        self.dead_subject = f"{prefix}.dead"
        self.nc: Any = None
        self.js: Any = None
        self._subs: dict[int, Any] = {}
        self._kv: Any = None
        self._notices: set[asyncio.Future] = set()

    def subject(self, partition: int) -> str:
        return f"{self.prefix}.mentions.{partition}"

    async def connect(self, name: str = "ev") -> JetStream:
        import nats

        # Reconnect for ever: a NATS restart is an outage to ride out, not a reason to exit.
        self.nc = await nats.connect(self.url, name=name, max_reconnect_attempts=-1,
                                     reconnect_time_wait=0.25, connect_timeout=2,
                                     allow_reconnect=True)
        self.js = self.nc.jetstream(timeout=5)
        await self._ensure()
        return self

    async def _ensure(self) -> None:
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError

        for config in (
            StreamConfig(name=self.stream, subjects=[f"{self.prefix}.mentions.*"],
                         retention=RetentionPolicy.WORK_QUEUE, storage=StorageType.FILE),
            StreamConfig(name=self.dead_stream, subjects=[self.dead_subject],
                         storage=StorageType.FILE),
        ):
            # exists with other settings: keep what the operator has
            with contextlib.suppress(BadRequestError):
                await self.js.add_stream(config)

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            await self.nc.close()

    # --- intake (HTTP, `ev ingest --bus`) --------------------------------------------------------

    async def publish(self, mentions: Sequence[Mention]) -> int:
        """Durably in the stream (every publish acknowledged by JetStream) or raises: one
        message per partition the batch touches, in the batch's order within each."""
        groups: dict[int, list[Mention]] = {}
        for m in mentions:
            groups.setdefault(partition_of(m, self.partitions), []).append(m)
        await asyncio.gather(*(self.js.publish(self.subject(p), encode(group))
                               for p, group in groups.items()))
        return len(mentions)

    async def publish_raw(self, partition: int, data: bytes) -> None:
        await self.js.publish(self.subject(partition), data)

    # --- workers ---------------------------------------------------------------------------------

    async def consumer(self, partition: int) -> Any:
        """The partition's durable pull consumer (created on first use, shared by workers)."""
        sub = self._subs.get(partition)
        if sub is None:
            from nats.js.api import AckPolicy, ConsumerConfig

            sub = await self.js.pull_subscribe(
                self.subject(partition), durable=f"triage-{partition}", stream=self.stream,
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_S,
                                      max_deliver=-1, max_ack_pending=FETCH))
            self._subs[partition] = sub
        return sub

    async def fetch(self, partition: int, batch: int = FETCH, timeout: float = 0.25
                    ) -> list[Any]:
        import nats.errors

        sub = await self.consumer(partition)
        try:
            return await sub.fetch(batch, timeout=timeout)
        except (TimeoutError, nats.errors.TimeoutError):
            return []

    async def dead_letter(self, msg: Any, reason: str, data: bytes | None = None) -> None:
        """Keep a poison message (or the poison part of one) in the dead-letter stream."""
        deliveries = msg.metadata.num_delivered if msg.metadata else 0
        await self.js.publish(self.dead_subject, msg.data if data is None else data,
                              headers={"Ev-Subject": msg.subject, "Ev-Reason": reason[:500],
                                       "Ev-Deliveries": str(deliveries)})

    async def lag(self) -> int:
        """Mentions messages not yet acknowledged (waiting or in hand), across partitions."""
        info = await self.js.stream_info(self.stream)
        return int(info.state.messages)

    # --- change notices: live views on every replica --------------------------------------------

    @property
    def changes_subject(self) -> str:
        return f"{self.prefix}.changes"

    def commit_hook(self, loop: asyncio.AbstractEventLoop) -> Any:
        """A store `on_commit` hook (called from any thread): tell every replica's live views
        that the log moved (core NATS, best effort: views also poll, more slowly)."""
        def hook() -> None:
            loop.call_soon_threadsafe(self._notice)
        return hook

    def _notice(self) -> None:
        if self.nc is not None and self.nc.is_connected:
            task = asyncio.ensure_future(self.nc.publish(self.changes_subject, b""))
            self._notices.add(task)  # held until done (the loop keeps weak references)
            task.add_done_callback(self._notices.discard)

    async def on_changes(self, callback: Any) -> None:
        async def cb(_msg: Any) -> None:
            callback()
        await self.nc.subscribe(self.changes_subject, cb=cb)

    # --- leases: once per tick across all workers ------------------------------------------------

    async def take_tick(self, slot: int, holder: str, ttl_s: float) -> bool:
        """True for exactly one caller per `slot` (a tick's number): a KV create, which fails
        when the key exists. Keys expire after a few ticks (the bucket's TTL)."""
        from nats.js.errors import BadRequestError, KeyWrongLastSequenceError

        if self._kv is None:
            try:
                self._kv = await self.js.create_key_value(
                    bucket=f"{self.prefix.upper()}_leases", ttl=max(ttl_s * 4, 2.0))
            except BadRequestError:
                self._kv = await self.js.key_value(f"{self.prefix.upper()}_leases")
        try:
            await self._kv.create(f"tick.{slot}", holder.encode())
            return True
        except KeyWrongLastSequenceError:
            return False

    # --- dead letters: inspect and replay --------------------------------------------------------

    async def dead(self, limit: int = 200) -> list[Dead]:
        from nats.js.errors import NotFoundError

        info = await self.js.stream_info(self.dead_stream)
        out: list[Dead] = []
        seq = info.state.first_seq
        while seq and seq <= info.state.last_seq and len(out) < limit:
            try:
                raw = await self.js.get_msg(self.dead_stream, seq)
            except NotFoundError:  # replayed (deleted) or purged
                seq += 1
                continue
            h = raw.headers or {}
            out.append(Dead(seq, h.get("Ev-Subject", ""), h.get("Ev-Reason", ""),
                            int(h.get("Ev-Deliveries", "0") or 0), raw.data or b""))
            seq += 1
        return out

    async def dead_one(self, seq: int) -> Dead | None:
        """One dead letter by its sequence; None when it is gone (replayed, discarded)."""
        from nats.js.errors import NotFoundError

        try:
            raw = await self.js.get_msg(self.dead_stream, seq)
        except NotFoundError:
            return None
        h = raw.headers or {}
        return Dead(seq, h.get("Ev-Subject", ""), h.get("Ev-Reason", ""),
                    int(h.get("Ev-Deliveries", "0") or 0), raw.data or b"")

    async def requeue(self, dead: Dead) -> int:
        """Put a dead letter's mentions back on the intake (by partition), then delete it from
        the dead letters; returns how many mentions went back (0: it does not decode, and stays).
        Published before it is deleted: a crash between the two leaves it in both places, and a
        second replay is harmless, since intake stores a mention once per channel and source id."""
        mentions = dead.mentions()
        if not mentions:
            return 0
        await self.publish(mentions)
        await self.discard(dead.seq)
        return len(mentions)

    async def discard(self, seq: int) -> bool:
        """Delete a dead letter for good (the caller records why, before)."""
        from nats.js.errors import NotFoundError

        try:
            return bool(await self.js.delete_msg(self.dead_stream, seq))
        except NotFoundError:
            return False

    async def replay(self, seqs: Iterable[int]) -> int:
        """Requeue these dead letters; ones that do not decode stay dead. Returns how many
        went back."""
        done = 0
        for seq in dict.fromkeys(seqs):
            dead = await self.dead_one(seq)
            if dead is not None and await self.requeue(dead):
                done += 1
        return done
