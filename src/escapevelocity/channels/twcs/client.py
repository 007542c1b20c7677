"""Replays a twcs file: each fetch hands over the mentions whose (sped-up) time has come since
the replay started. The cursor holds the start and how many were handed over, so a restarted
replay continues where it was, on the same schedule. Rows that break a bound are logged and
counted (services/twcs.py reads them, as `ev ingest` and `ev triage` do).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from escapevelocity.channels.base import Misconfigured, Page
from escapevelocity.channels.text import when
from escapevelocity.channels.twcs import parse
from escapevelocity.domain.records import Mention
from escapevelocity.services import twcs

log = logging.getLogger(__name__)


class ReplayConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        path = Path(str(settings["path"]))
        if not path.is_file():
            raise Misconfigured(f"no twcs file at {path}")
        good: list[Mention] = []
        self.rejected = 0
        for item in twcs.read(path):
            if isinstance(item, Mention):
                good.append(item)
            else:
                self.rejected += 1
                log.warning("twcs %s: %s", path.name, item)
        rows = parse.schedule(good)
        # Rows before `since` are history: handed over at once, marked historical (the public
        # sample starts with one 2011 tweet six years before the rest).
        since = when(str(settings["since"])) if settings.get("since") else None
        self.history = [r for r in rows if since and r.created_at < since]
        self.rows = rows[len(self.history):]
        self.speed = float(settings.get("speed") or 1.0)
        if self.speed <= 0:
            raise Misconfigured("speed must be above 0")
        self.live = bool(settings.get("live", True))
        self.batch = int(settings.get("batch") or 1000)
        self.keep = keep
        self.now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def fetch(self, cursor: str | None) -> Page:
        now = self.now()
        state = json.loads(cursor) if cursor else {"start": now.isoformat(), "done": 0}
        start = datetime.fromisoformat(state["start"])
        done = int(state["done"])
        n = (parse.due(self.rows, done, start, now, self.speed, self.batch) if self.live
             else min(self.batch, len(self.rows) - done))  # an import: all at once, as history
        first = self.rows[0].created_at if self.rows else now
        mentions: list[Mention] = []
        read = n
        if not state.get("history_done") and self.history:
            read += len(self.history)
            mentions += [msgspec.structs.replace(m, historical=True) for m in self.history
                         if self.keep(m)]
            state["history_done"] = True
        for m in self.rows[done:done + n]:
            if not self.keep(m):
                continue
            if self.live:
                mentions.append(msgspec.structs.replace(
                    m, created_at=parse.replay_time(m, first, start, self.speed)))
            else:
                mentions.append(msgspec.structs.replace(m, historical=True))
        state["done"] = done + n
        return Page(mentions, json.dumps(state), read, more=n == self.batch)

    def close(self) -> None:
        pass
