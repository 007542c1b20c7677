"""Jetstream over a websocket (`websockets`' sync client). Each fetch connects with the stored
cursor (Jetstream replays from a time_us cursor), reads until the stream is idle or a page is
full, and disconnects: a restart of the server mid-stream, or of us, resumes from the last
event handed to intake.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from escapevelocity.channels.base import (
    CredentialsExpired,
    Misconfigured,
    Page,
    RateLimited,
    Transient,
    retry_after_seconds,
)
from escapevelocity.channels.bluesky import identity, parse
from escapevelocity.domain.records import Mention

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 1_000_000


class JetstreamConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        self.url = str(settings.get("jetstream_url")
                       or "wss://jetstream2.us-east.bsky.network/subscribe")
        self.dids = list(settings.get("dids") or ())
        self.handles: dict[str, str] = dict(settings.get("handles") or {})
        self.max_events = int(settings.get("max_events") or 2000)
        self.idle = float(settings.get("idle_seconds") or 2.0)
        self.timeout = float(settings.get("timeout") or 10.0)
        self.keep = keep
        self.rejected = 0
        # Accounts named by handle or DID (`accounts`): resolved to DIDs on the first fetch.
        raw = settings.get("accounts") or ()
        self.accounts = [str(a).strip() for a in (raw.split(",") if isinstance(raw, str) else raw)
                         if str(a).strip()]
        self.resolver = str(settings.get("resolver_url") or settings.get("pds_url")
                            or identity.DEFAULT_RESOLVER)
        self._resolved = not self.accounts

    def resolve_accounts(self) -> None:
        """Handles to DIDs (com.atproto.identity.resolveHandle), once; a failure raises the
        runner's errors (an unknown handle is Misconfigured, a network error Transient)."""
        if self._resolved:
            return
        for account in self.accounts:
            did = identity.resolve_handle(self.resolver, account, self.timeout)
            if not account.startswith("did:"):
                self.handles.setdefault(did, account.removeprefix("@"))
            if did not in self.dids:
                self.dids.append(did)
        self._resolved = True

    def _address(self, cursor: str | None) -> str:
        params: list[tuple[str, str]] = [("wantedCollections", parse.POST)]
        params += [("wantedDids", d) for d in self.dids]
        if cursor:
            params.append(("cursor", cursor))
        return f"{self.url}?{urlencode(params)}"

    def fetch(self, cursor: str | None) -> Page:
        from websockets.exceptions import InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        self.resolve_accounts()
        try:
            with connect(self._address(cursor), open_timeout=self.timeout,
                         max_size=MAX_MESSAGE_BYTES, close_timeout=1) as ws:
                return self._read(ws, cursor)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status == 429:
                wait = retry_after_seconds(exc.response.headers.get("Retry-After"))
                raise RateLimited("Jetstream: 429", wait) from None
            if status in (401, 403):
                raise CredentialsExpired(f"Jetstream refused: {status}") from None
            raise Transient(f"Jetstream handshake: HTTP {status}") from None
        except InvalidURI as exc:
            raise Misconfigured(f"bad jetstream_url: {exc}") from None
        except (OSError, TimeoutError) as exc:
            raise Transient(f"Jetstream unreachable: {exc}") from None

    def _read(self, ws: Any, cursor: str | None) -> Page:
        from websockets.exceptions import ConnectionClosed

        mentions: list[Mention] = []
        read = 0
        last = cursor
        while read < self.max_events:
            try:
                raw = ws.recv(timeout=self.idle)
            except TimeoutError:
                break  # idle: caught up
            except ConnectionClosed as exc:
                if read:  # what was read is handed over; the next fetch resumes after it
                    log.info("Jetstream closed mid-stream after %d events: %s", read, exc)
                    return Page(mentions, last, read, more=True)
                raise Transient(f"Jetstream closed: {exc}") from None
            try:
                event = json.loads(raw)
                time_us = int(event["time_us"])
            except (ValueError, KeyError, TypeError) as exc:
                # Not an event: no post can be read from it, and stopping here would stall
                # the stream on it forever. Counted and logged; the next one counts.
                self.rejected += 1
                log.warning("Jetstream sent a message that is not an event: %s", exc)
                continue
            read += 1
            ident = parse.identity(event)
            if ident:
                self.handles[ident[0]] = ident[1]
            try:
                m = parse.event(event, self.handles)
            except (ValueError, KeyError, TypeError) as exc:
                self.rejected += 1
                log.warning("Jetstream event %s rejected: %s", time_us, exc)
                m = None
            if m is not None and self.keep(m):
                mentions.append(m)
            last = str(time_us)
        return Page(mentions, last, read, more=read >= self.max_events)

    def close(self) -> None:
        pass
