"""Replays a twcs file: each fetch hands over the rows whose (sped-up) time has come since the
replay started. The cursor holds the start and how many rows were handed over, so a restarted
replay continues where it was, on the same schedule.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from escapevelocity.channels.base import Misconfigured, Page
from escapevelocity.channels.twcs import parse
from escapevelocity.domain.records import Mention


class ReplayConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        path = Path(str(settings["path"]))
        if not path.is_file():
            raise Misconfigured(f"no twcs file at {path}")
        rows = parse.schedule(parse.read_rows(path))
        # Rows before `since` are history: handed over at once, marked historical (the public
        # sample starts with one 2011 tweet six years before the rest).
        since = parse._time(str(settings["since"])) if settings.get("since") else None
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
        mentions = []
        read = n
        if not state.get("history_done") and self.history:
            read += len(self.history)
            mentions += [msgspec.structs.replace(parse.to_mention(r), historical=True)
                         for r in self.history]
            mentions = [m for m in mentions if self.keep(m)]
            state["history_done"] = True
        for r in self.rows[done:done + n]:
            at = parse.replay_time(r, first, start, self.speed) if self.live else None
            m = parse.to_mention(r, at)
            if self.keep(m):
                mentions.append(m if self.live else msgspec.structs.replace(m, historical=True))
        state["done"] = done + n
        more = n == self.batch
        return Page(mentions, json.dumps(state), read, more)

    def close(self) -> None:
        pass
