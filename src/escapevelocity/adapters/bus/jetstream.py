"""NATS JetStream behind the intake: the durable log of accepted mentions and the work queue
the triage workers pull from (the scale-out deployment, EV_BUS=nats://host:4222).

Streams and subjects (PREFIX from EV_NATS_PREFIX, default "ev"; tests use their own):

    <PREFIX>_MENTIONS  subjects <prefix>.mentions.<p>   work queue: a message is gone once acked
    <PREFIX>_DEAD      subject  <prefix>.dead           poison messages, kept for a person to see
    KV <PREFIX>_leases                                  one key per clock tick (who runs it)
    KV <PREFIX>_partitions                              one key per partition being worked

A message is a JSON list of mentions (msgspec `Mention` wire shape), all of one partition `p`
(a hash of channel and author): an author's posts stay in one partition, in order. Each
partition has its own durable pull consumer, shared by all workers. The consumer alone does not
keep the order: its `max_ack_pending` counts messages, so after a partial fetch (fewer waiting
than FETCH) a second worker could fetch the partition's later messages while the first still
holds the earlier ones, and commit them first. So a worker fetches from a partition only while
it holds the partition's lease in the KV bucket <PREFIX>_partitions (a create, which fails when
another holds it; renewed while the worker works; deleted, expecting its own revision, after
the acknowledgements). A partition is thus worked by one worker at a time and its messages are
triaged in the order they were accepted (a follow-up after its first post, a reply after the
post it answers when both come from the same author); the partitions spread the load.

Acknowledgement comes after the worker's transaction commits; a worker killed before that
leaves its messages unacknowledged and JetStream delivers them again after ACK_WAIT (ingest
finds them stored by key and adds nothing: effects are idempotent). Its partition leases are
not renewed any more and expire a little after ACK_WAIT (the bucket's TTL), so the worker
that takes the partition over is handed the redelivered messages before any later one: a
lease is always written after the messages it guards were last handed out or kept in progress
(renewed before a fetch, and after each keep-alive). A message that fails is retried in place
while its partition's later messages wait behind it (services/triage_worker.py); one that
fails MAX_DELIVER times for good, or does not decode, goes to the dead-letter stream with the
reason, for `ev dead list` / `ev dead replay` (and the /admin/dead page).

The JetStream API is `$JS.API` unless EV_NATS_JS_DOMAIN (a leaf node reaching its hub's
JetStream: `$JS.<domain>.API`) or EV_NATS_API_PREFIX (an account importing another's) says
otherwise (`api_from_env`); the pull requests and the KV writes, which nats-py does not
route, go there too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from escapevelocity.domain.records import Mention

PARTITIONS = 8
DEFAULT_API = "$JS.API"
# A fetched batch not acknowledged this long is delivered again (to any worker): longer than
# the slowest batch on a busy machine, short enough that a killed worker's batch is not
# stuck for long. Set when the consumers are created (a new EV_NATS_PREFIX picks it up).
ACK_WAIT_S = float(os.environ.get("EV_NATS_ACK_WAIT", "30"))
MAX_DELIVER = 5  # then the message is dead-lettered
# A partition lease outlives the ack wait of the messages its dead holder had in hand by this
# much: whoever takes the partition over finds them due again (redeliveries come first).
LEASE_MARGIN_S = 1.0
# A worker keeps a busy partition's lease from round to round (no lease traffic while it is
# busy) for this long, then lets it go and leaves it alone for REST_S, long enough for a waiting
# worker (it tries every round, ~50 ms when idle) to take it: without that rest the worker that
# released would take it straight back, and one worker would do all the work.
HOLD_S = float(os.environ.get("EV_NATS_LEASE_HOLD", "0.3"))
REST_S = 0.2
PULL_ANSWER_S = 2.0  # the server answers a no-wait pull at once: longer means NATS is away
# Messages a worker takes from one partition at a time, and so the partition's in-flight
# limit (max_ack_pending): at ~12 mentions a message (a 100-mention HTTP batch over 8
# partitions), a fetch is a few thousand mentions, one transaction.
FETCH = int(os.environ.get("EV_NATS_FETCH", "256"))
_enc = msgspec.json.Encoder()
_dec = msgspec.json.Decoder(list[Mention])


def prefix_from_env(env: dict[str, str] | None = None) -> str:
    env = os.environ if env is None else env
    return env.get("EV_NATS_PREFIX", "ev")


def api_from_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """Where the JetStream API answers, as `JetStream`'s keyword arguments: EV_NATS_JS_DOMAIN
    (a leaf node or hub's JetStream domain: `$JS.<domain>.API`) or EV_NATS_API_PREFIX (an
    account that imports another's JetStream under its own prefix); neither: `$JS.API`. Both
    set is refused: which one the operator meant cannot be guessed."""
    env = os.environ if env is None else env
    domain = env.get("EV_NATS_JS_DOMAIN", "").strip()
    prefix = env.get("EV_NATS_API_PREFIX", "").strip().rstrip(".")
    if domain and prefix:
        raise ValueError("set EV_NATS_JS_DOMAIN or EV_NATS_API_PREFIX, not both")
    if domain and not _token(domain):
        raise ValueError(f"EV_NATS_JS_DOMAIN must be one subject token, got {domain!r}")
    if prefix and not all(_token(t) for t in prefix.split(".")):
        raise ValueError(f"EV_NATS_API_PREFIX must be a subject (JS.hub.API), got {prefix!r}")
    return {"domain": domain} if domain else {"api_prefix": prefix} if prefix else {}


def api_of(js_options: dict[str, str]) -> str:
    """The JetStream API's subject prefix for nats-py's `jetstream(**js_options)`."""
    if js_options.get("domain"):
        return f"$JS.{js_options['domain']}.API"
    return js_options.get("prefix") or DEFAULT_API


class _PutsUnderApi:
    """A JetStream context whose publishes to a KV bucket's keys go under the API prefix.

    nats-py (2.16) writes a key to `$KV.<bucket>.<key>` whatever the context's prefix; under a
    domain or an imported API prefix nothing answers there (a leaf node's own JetStream, or
    an account without one), and the write must go to `<api>.$KV.<bucket>.<key>`, which the
    server owning the bucket maps back (as nats.go does). Reads already go through the API."""

    def __init__(self, js: Any, api: str) -> None:
        self._js, self._api = js, api

    async def publish(self, subject: str, *args: Any, **kwargs: Any) -> Any:
        return await self._js.publish(f"{self._api}.{subject}", *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._js, name)


def kv_under_api(kv: Any, js_options: dict[str, str]) -> Any:
    """A nats-py KeyValue whose writes reach its bucket under this API (see _PutsUnderApi)."""
    api = api_of(js_options)
    if api != DEFAULT_API:
        kv._js = _PutsUnderApi(kv._js, api)
    return kv


def _token(text: str) -> bool:
    return bool(text) and not any(c in text for c in ".*> \t\r\n")


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

    def __init__(self, url: str, prefix: str = "ev", partitions: int = PARTITIONS, *,
                 domain: str | None = None, api_prefix: str | None = None) -> None:
        self.url, self.prefix, self.partitions = url, prefix, partitions
        # where JetStream's API answers (api_from_env): nats-py's context is told, and so is
        # `_pull`, which sends its pull requests itself
        if domain and api_prefix:
            raise ValueError("a JetStream domain or an API prefix, not both")
        self.js_options: dict[str, str] = (
            {"domain": domain} if domain else {"prefix": api_prefix.rstrip(".")}
            if api_prefix else {})
        self.api = api_of(self.js_options)
        self.stream = f"{prefix.upper()}_MENTIONS"
        self.dead_stream = f"{prefix.upper()}_DEAD"
        self.dead_subject = f"{prefix}.dead"
        self.nc: Any = None
        self.js: Any = None
        self._subs: dict[int, Any] = {}
        self._kv: Any = None
        self._notices: set[asyncio.Future] = set()
        # partition leases: who we are (one per connection), the bucket, what we hold
        self.holder = uuid.uuid4().hex
        self._parts: Any = None
        self._lease_ttl = ACK_WAIT_S + LEASE_MARGIN_S
        self._held: dict[int, int] = {}  # partition -> the lease's revision
        self._taken_at: dict[int, float] = {}  # partition -> when we took it (monotonic)
        self._renewed_at: dict[int, float] = {}  # partition -> its lease last written
        self._rest_until: dict[int, float] = {}  # partition -> not ours to take before
        self._renewer: asyncio.Task | None = None
        self._lease_lock = asyncio.Lock()  # a renewal and a release of one key never cross

    def subject(self, partition: int) -> str:
        return f"{self.prefix}.mentions.{partition}"

    @staticmethod
    def partition_of_subject(subject: str) -> int:
        """The partition a fetched message came from (its subject's last token)."""
        return int(subject.rsplit(".", 1)[1])

    def pull_subject(self, partition: int) -> str:
        """Where a pull request for the partition's consumer goes (under the configured API)."""
        return f"{self.api}.CONSUMER.MSG.NEXT.{self.stream}.triage-{partition}"

    async def connect(self, name: str = "ev") -> JetStream:
        import nats

        # Reconnect for ever: a NATS restart is an outage to ride out, not a reason to exit.
        self.nc = await nats.connect(self.url, name=name, max_reconnect_attempts=-1,
                                     reconnect_time_wait=0.25, connect_timeout=2,
                                     allow_reconnect=True)
        self.js = self.nc.jetstream(timeout=5, **self.js_options)
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
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._renewer
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

    async def fetch(self, partition: int, batch: int | None = None, timeout: float = 0.25
                    ) -> list[Any]:
        """The partition's next messages, when this connection holds (or can take) the
        partition's lease; nothing when another worker holds it (after `timeout`, as an empty
        fetch). Call it again, or `finished`, only once what it gave is acknowledged: with
        messages the lease stays held (and renewed); without, it is let go.

        `batch` defaults to FETCH as it is when called, the consumers' in-flight limit: a pull
        asking more than the limit while the limit is reached gets no closing status from the
        server, and `_pull` would wait PULL_ANSWER_S for it every round."""
        if batch is None:
            batch = FETCH
        if partition not in self._held and (
                time.monotonic() < self._rest_until.get(partition, 0.0)
                or not await self._take(partition)):
            await asyncio.sleep(timeout)  # as long as an empty fetch: a round, not a spin
            return []
        if time.monotonic() - self._renewed_at.get(partition, 0.0) > LEASE_MARGIN_S / 2:
            # kept from an earlier round: renewed now, the lease outlives by LEASE_MARGIN_S
            # at least the ack wait of what this fetch hands out (were this worker to die
            # with them, whoever takes the partition next finds them due first)
            await self.renew([partition])
            if time.monotonic() - self._renewed_at.get(partition, 0.0) > LEASE_MARGIN_S / 2:
                await asyncio.sleep(timeout)  # lost, or NATS away: not ours to fetch now
                return []
        try:
            msgs = await self._pull(partition, batch)
        except BaseException:
            with contextlib.suppress(Exception):
                await self.release(partition)
            raise
        if not msgs:
            await self.release(partition)
            await asyncio.sleep(timeout)  # nothing waiting: a round's pause, not a spin
        return msgs

    async def _pull(self, partition: int, batch: int) -> list[Any]:
        """One no-wait pull request on its own inbox: the server answers at once with what is
        waiting (up to `batch`) and, when that is less, a status that ends the answer; nothing
        comes after it. (nats-py's `fetch` leaves a lingering request when nothing is waiting,
        and what the server sends on it just after the client gave up is delivered to us but
        read by no one: with the lease let go, another worker would overtake those messages.)"""
        await self.consumer(partition)  # the durable exists
        queue: asyncio.Queue = asyncio.Queue()

        async def cb(msg: Any) -> None:
            queue.put_nowait(msg)

        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, cb=cb)
        msgs: list[Any] = []
        try:
            await self.nc.publish(self.pull_subject(partition),
                                  json.dumps({"batch": batch, "no_wait": True}).encode(),
                                  reply=inbox)
            loop = asyncio.get_running_loop()
            until = loop.time() + PULL_ANSWER_S
            while len(msgs) < batch:
                msg = await asyncio.wait_for(queue.get(), max(until - loop.time(), 0.001))
                if msg.headers and msg.headers.get("Status"):  # 404/408/409: the answer ends
                    break
                msgs.append(msg)
        except TimeoutError:  # NATS away: what came is ours; the rest is delivered again
            pass
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        return msgs

    async def finished(self, partition: int) -> None:
        """The partition's fetched messages are acknowledged: keep the lease for the next
        round, or, held HOLD_S already, let it go and rest from it (so the work spreads)."""
        taken = self._taken_at.get(partition)
        if taken is not None and time.monotonic() - taken >= HOLD_S:
            self._rest_until[partition] = time.monotonic() + REST_S
            await self.release(partition)

    async def _leases(self) -> Any:
        if self._parts is None:
            from nats.js.errors import BadRequestError

            bucket = f"{self.prefix.upper()}_partitions"
            try:
                parts = await self.js.create_key_value(
                    bucket=bucket, ttl=ACK_WAIT_S + LEASE_MARGIN_S)
            except BadRequestError:  # made before with other settings: its TTL is the lease's
                parts = await self.js.key_value(bucket)
            self._parts = kv_under_api(parts, self.js_options)
            info = await self.js.stream_info(f"KV_{bucket}")
            self._lease_ttl = float(info.config.max_age or self._lease_ttl)
        return self._parts

    async def _take(self, partition: int) -> bool:
        """Create the partition's lease key: fails while another holder's key lives (until it
        is deleted or its TTL runs out). A key of our own that we stopped renewing (`abandon`)
        counts as another's: its messages may still be in flight."""
        from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

        kv = await self._leases()
        try:
            self._held[partition] = await kv.create(f"p.{partition}", self.holder.encode())
            self._taken_at[partition] = self._renewed_at[partition] = time.monotonic()
        except KeyWrongLastSequenceError:
            return False
        except KeyNotFoundError:  # another's lease expired between the create and its check:
            return False  # free at the next round
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew())
        return True

    async def _renew(self) -> None:
        """Rewrite each held lease (expecting its revision) a few times a TTL, so it lives as
        long as this connection works the partition; one lost (expired, taken over) is dropped."""
        while self._held:
            await asyncio.sleep(self._lease_ttl / 4)
            await self.renew()

    async def renew(self, partitions: Iterable[int] | None = None) -> None:
        """Rewrite the held leases now (all, or these): each lives a TTL from here. The
        triage worker calls it after keeping its messages in progress, so a lease never runs
        out before the messages it guards are due again."""
        from nats.js.errors import KeyWrongLastSequenceError

        async with self._lease_lock:
            for partition in list(self._held if partitions is None else partitions):
                revision = self._held.get(partition)
                if revision is None:
                    continue
                try:
                    written = time.monotonic()
                    self._held[partition] = await self._parts.update(
                        f"p.{partition}", self.holder.encode(), last=revision)
                    self._renewed_at[partition] = written
                except KeyWrongLastSequenceError:
                    self._held.pop(partition, None)
                except Exception:  # NATS away: try again next time, while the TTL lasts
                    break  # (one timeout, not one a partition, with the lock held)

    async def release(self, partition: int) -> None:
        """Let the partition go (after its messages are acknowledged): delete the lease key,
        only if it is still ours."""
        from nats.js.errors import APIError

        async with self._lease_lock:
            revision = self._held.pop(partition, None)
            if revision is not None:
                with contextlib.suppress(APIError):  # not ours any more: nothing to let go
                    await self._parts.delete(f"p.{partition}", last=revision)

    def abandon(self, partition: int) -> None:
        """Stop renewing the partition's lease without deleting it (its messages were not all
        acknowledged): it expires after the ack wait, when they are due again."""
        self._held.pop(partition, None)

    async def hand_back(self, partition: int) -> None:
        """`abandon`, after one last renewal: the partition's unacknowledged messages (a
        message that kept failing and the later ones behind it) are due again an ack wait
        after they were last kept in progress, and the lease now outlives that, so whoever
        takes the partition next (this worker included) is handed them first, in order."""
        with contextlib.suppress(Exception):
            await self.renew([partition])
        self.abandon(partition)

    def holding(self) -> list[int]:
        return list(self._held)

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
                kv = await self.js.create_key_value(
                    bucket=f"{self.prefix.upper()}_leases", ttl=max(ttl_s * 4, 2.0))
            except BadRequestError:
                kv = await self.js.key_value(f"{self.prefix.upper()}_leases")
            self._kv = kv_under_api(kv, self.js_options)
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
