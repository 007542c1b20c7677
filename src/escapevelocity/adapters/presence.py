"""Presence on a case: who has it open and who is typing a reply, for a few seconds at a time.

A small port (`Presence`) with two implementations, chosen by the same setting that chooses
the deployment (EV_BUS): the embedded one keeps it in this process's memory
(`MemoryPresence`); the scale-out one keeps it in a NATS JetStream key-value bucket
(`NatsPresence`), so every `ev serve` replica behind the load balancer sees every viewer: the
collision guard's "who else is here" holds when two members' pages are served by two
replicas. The page beats every few seconds, so a lost entry comes back by itself and a closed
tab fades out after `TTL`. Nothing here is a record: presence is never logged.

The calls are async because the NATS one waits on the network; `beat` and `leave` answer who
is here after the change, so a heartbeat costs the scale-out mode one read and one write.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
from datetime import datetime, timedelta
from typing import Any, Protocol

TTL = timedelta(seconds=15)
STATES = ("viewing", "typing")
log = logging.getLogger(__name__)


class PresenceUnavailable(RuntimeError):
    """The shared presence store cannot be reached (NATS down): who else is on a case is
    unknown for now. Pages carry on without it; nothing durable depends on it."""


class Presence(Protocol):
    async def beat(self, case_id: str, member: str, state: str, now: datetime
                   ) -> dict[str, str]: ...

    async def leave(self, case_id: str, member: str, now: datetime) -> dict[str, str]: ...

    async def on(self, case_id: str, now: datetime) -> dict[str, str]: ...


def _check(state: str) -> None:
    if state not in STATES:
        raise ValueError(f"presence is one of {', '.join(STATES)}")


class MemoryPresence:
    """One process's presence (the embedded deployment has one web process)."""

    def __init__(self, ttl: timedelta = TTL) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._seen: dict[str, dict[str, tuple[str, datetime]]] = {}

    async def beat(self, case_id: str, member: str, state: str, now: datetime
                   ) -> dict[str, str]:
        _check(state)
        with self._lock:
            self._seen.setdefault(case_id, {})[member] = (state, now + self._ttl)
        return await self.on(case_id, now)

    async def leave(self, case_id: str, member: str, now: datetime) -> dict[str, str]:
        with self._lock:
            self._seen.get(case_id, {}).pop(member, None)
        return await self.on(case_id, now)

    async def on(self, case_id: str, now: datetime) -> dict[str, str]:
        """member -> viewing/typing, for the entries not yet expired (and drops the rest)."""
        with self._lock:
            here = self._seen.get(case_id, {})
            for member in [m for m, (_, until) in here.items() if until <= now]:
                del here[member]
            if not here:
                self._seen.pop(case_id, None)
            return {m: state for m, (state, _) in sorted(here.items())}


# --- the scale-out store: NATS JetStream key-value ------------------------------------------

Here = dict[str, tuple[str, float]]  # member -> (state, until as a POSIX timestamp)
MAX_TRIES = 8  # compare-and-set rounds lost to other replicas' beats on the same case


def _key(case_id: str) -> str:
    """A KV key allows [-/_=.A-Za-z0-9]: the case id, whatever it holds, in base64url."""
    return "case." + base64.urlsafe_b64encode(case_id.encode()).decode().rstrip("=")


def _decode(raw: bytes | None) -> Here:
    """What another replica wrote; anything malformed counts as nobody (the next beat
    overwrites it)."""
    try:
        data = json.loads(raw or b"{}")
        return {str(m): (str(v[0]), float(v[1])) for m, v in data.items()
                if isinstance(v, list) and len(v) == 2 and v[0] in STATES}
    except (ValueError, TypeError, AttributeError, IndexError):
        return {}


def _live(here: Here, now: datetime) -> Here:
    t = now.timestamp()
    return {m: v for m, v in here.items() if v[1] > t}


def _shown(here: Here) -> dict[str, str]:
    return {m: state for m, (state, _) in sorted(here.items())}


class NatsPresence:
    """Presence in the KV bucket `<PREFIX>_presence`, shared by every replica.

    One key per case holds its members' entries ({member: [state, until]}); a beat reads it,
    drops the expired entries, sets its own and writes it back only if nobody wrote in between
    (the KV's compare-and-set on the revision; a lost race reads again). The bucket's max age
    is the heartbeat expiry `ttl`: a case nobody beat on for that long has no key at all, and
    each entry also carries its own expiry, so a closed tab fades out while others beat on.

    NATS down: every call raises `PresenceUnavailable` at once (no wait on a dead connection),
    logged once when it starts and once when it ends, not at every heartbeat.
    """

    def __init__(self, nc: Any, prefix: str = "ev", ttl: timedelta = TTL,
                 timeout_s: float = 2.0, js_options: dict[str, str] | None = None) -> None:
        self._nc = nc
        # js_options: the JetStream domain or API prefix (jetstream.api_from_env)
        self._js_options = js_options or {}
        self._js = nc.jetstream(timeout=timeout_s, **self._js_options)
        self.bucket = f"{prefix.upper()}_presence"
        self._ttl = ttl
        self._kv: Any = None
        self._down = False

    async def beat(self, case_id: str, member: str, state: str, now: datetime
                   ) -> dict[str, str]:
        _check(state)
        until = (now + self._ttl).timestamp()
        return await self._change(case_id, now, lambda here: {**here, member: (state, until)})

    async def leave(self, case_id: str, member: str, now: datetime) -> dict[str, str]:
        return await self._change(
            case_id, now, lambda here: {m: v for m, v in here.items() if m != member})

    async def on(self, case_id: str, now: datetime) -> dict[str, str]:
        async def read() -> dict[str, str]:
            here, _ = await self._read(await self._bucket(), _key(case_id))
            return _shown(_live(here, now))
        return await self._guarded(read())

    # --- inside ----------------------------------------------------------------------------

    async def _bucket(self) -> Any:
        if not self._nc.is_connected:
            raise PresenceUnavailable("not connected to NATS")
        if self._kv is None:
            from nats.js.errors import BadRequestError

            from escapevelocity.adapters.bus.jetstream import kv_under_api

            try:
                kv = await self._js.create_key_value(
                    bucket=self.bucket, ttl=self._ttl.total_seconds(), history=1)
            except BadRequestError:  # made already (with other settings: the operator's)
                kv = await self._js.key_value(self.bucket)
            self._kv = kv_under_api(kv, self._js_options)
        return self._kv

    @staticmethod
    async def _read(kv: Any, key: str) -> tuple[Here, int]:
        from nats.js.errors import KeyNotFoundError

        try:
            entry = await kv.get(key)
        except KeyNotFoundError:  # nobody here lately (expired by the bucket's max age)
            return {}, 0
        return _decode(entry.value), entry.revision

    async def _change(self, case_id: str, now: datetime, change: Any) -> dict[str, str]:
        async def cas() -> dict[str, str]:
            from nats.js.errors import KeyWrongLastSequenceError

            kv, key = await self._bucket(), _key(case_id)
            for _ in range(MAX_TRIES):
                here, revision = await self._read(kv, key)
                new = change(_live(here, now))
                body = json.dumps({m: [s, u] for m, (s, u) in new.items()}).encode()
                try:
                    if revision:
                        await kv.update(key, body, last=revision)
                    else:
                        await kv.create(key, body)
                    return _shown(new)
                except KeyWrongLastSequenceError:
                    continue  # another replica's beat came first: read again
            raise PresenceUnavailable(f"{MAX_TRIES} concurrent writers on one case")
        return await self._guarded(cas())

    async def _guarded(self, call: Any) -> dict[str, str]:
        """Turns the client's failures into `PresenceUnavailable`, logging the change of
        state (down, back) once."""
        import nats.errors

        try:
            result = await call
        except PresenceUnavailable as exc:
            self._went_down(str(exc))
            raise
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            self._kv = None  # made again on the next call (a NATS that lost its store)
            self._went_down(f"{exc.__class__.__name__}: {exc}"[:200])
            raise PresenceUnavailable(f"NATS did not answer ({exc.__class__.__name__})") \
                from None
        if self._down:
            self._down = False
            log.info("presence is back: the %s bucket answers", self.bucket)
        return result

    def _went_down(self, why: str) -> None:
        if not self._down:
            self._down = True
            log.warning("presence unavailable (%s): case pages show no other viewers "
                        "until NATS answers again", why)
