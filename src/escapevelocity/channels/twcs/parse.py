"""The twcs format ("Customer Support on Twitter": tweet_id, author_id, inbound, created_at,
text, response_tweet_id(s), in_response_to_tweet_id), as CSV (the original: times like
"Tue Oct 31 22:10:47 +0000 2017", reply ids comma-joined) or JSONL (ISO times, lists), and the
replay schedule (pure): which rows are due when a replay that started at `start` runs at
`speed` times real time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from escapevelocity.channels.text import mention
from escapevelocity.domain.records import Author, Mention

TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"
MAX_ROWS = 3_000_000  # the whole public set is ~2.8M rows; replay sorts it in memory


@dataclass(frozen=True)
class Row:
    tweet_id: str
    author_id: str
    inbound: bool
    created_at: datetime
    text: str
    in_response_to: str | None


def _time(value: str) -> datetime:
    try:
        return datetime.strptime(value, TWITTER_TIME).astimezone(UTC)
    except ValueError:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def row(obj: Mapping[str, Any]) -> Row:
    inbound = obj.get("inbound")
    if isinstance(inbound, str):
        inbound = inbound.strip().lower() in ("true", "1", "yes")
    reply = obj.get("in_response_to_tweet_id")
    reply = str(reply).removesuffix(".0") if reply not in (None, "", "nan") else None
    return Row(str(obj["tweet_id"]), str(obj["author_id"]), bool(inbound),
               _time(str(obj["created_at"])), str(obj.get("text") or ""), reply)


def read_rows(path: Path) -> Iterator[Row]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            for obj in csv.DictReader(fh):
                yield row(obj)
    else:
        with path.open("rb") as fh:
            for line in fh:
                if line.strip():
                    yield row(json.loads(line))


def to_mention(r: Row, created_at: datetime | None = None) -> Mention:
    return mention(source_id=r.tweet_id, channel="twitter", text=r.text,
                   author=Author(handle=r.author_id), created_at=created_at or r.created_at,
                   kind="reply" if r.in_response_to else "post", in_reply_to=r.in_response_to)


def schedule(rows: Iterable[Row]) -> list[Row]:
    """Customer tweets (inbound) in the order they were written; brands' replies are not
    mentions."""
    out = sorted((r for r in rows if r.inbound), key=lambda r: (r.created_at, r.tweet_id))
    if len(out) > MAX_ROWS:
        raise ValueError(f"more than {MAX_ROWS} rows to replay")
    return out


def replay_time(r: Row, first: datetime, start: datetime, speed: float) -> datetime:
    """When row `r` is due: as long after `start` as it was written after `first`, / speed."""
    return start + (r.created_at - first) / speed


def due(rows: list[Row], done: int, start: datetime, now: datetime, speed: float,
        limit: int) -> int:
    """How many rows after the first `done` are due at `now` (at most `limit`)."""
    if not rows:
        return 0
    first = rows[0].created_at
    n = done
    while n < len(rows) and n - done < limit and replay_time(rows[n], first, start,
                                                             speed) <= now:
        n += 1
    return n - done


