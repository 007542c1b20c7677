"""The "Customer Support on Twitter" (twcs) format at the edge: tweet_id, author_id, inbound,
created_at, text, response_tweet_ids, in_response_to_tweet_id, as CSV (the published file) or
JSONL (../shared/data/twcs_sample).

Inbound tweets become mentions on twitter; the brands' own (outbound) tweets are not
mentions and are skipped, but they say who a customer replied to: a reply to a brand's
tweet gets `to` = that brand's handle, which brand relevance reads (domain/relevance.py).
Every row is hostile input like any other: it goes through parse.validate.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from escapevelocity.services.parse import WINDOW, Problem, Window, from_object, parse_date

COLUMNS = frozenset({"tweet_id", "author_id", "inbound", "created_at", "text"})
MAX_AUTHORS = 2_000_000  # tweet -> author memo for reply targets; bounded


def looks_like(keys: Iterable[str]) -> bool:
    return set(keys) >= COLUMNS


def _date(value: Any) -> str:
    """ISO (the sample) or Twitter's "Tue Oct 31 22:10:47 +0000 2017" (the published CSV)."""
    text = str(value or "").strip()
    try:
        return datetime.strptime(text, "%a %b %d %H:%M:%S %z %Y").isoformat()
    except ValueError:
        return parse_date(text)


def _inbound(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def mentions(rows: Iterable[tuple[int, dict[str, Any] | None]], now: datetime | None = None,
             window: Window = WINDOW) -> Iterator[Any]:
    """(line number, row) in; Mention or Problem out, inbound rows only."""
    authors: dict[str, str] = {}
    for number, row in rows:
        if row is None:
            yield Problem(number, "not a JSON object")
            continue
        tweet, author = str(row.get("tweet_id") or ""), str(row.get("author_id") or "")
        if len(authors) < MAX_AUTHORS and tweet:
            authors[tweet] = author
        if not _inbound(row.get("inbound")):
            continue  # the brand's own tweet: not a mention
        parent = str(row.get("in_response_to_tweet_id") or "").split(".")[0]  # CSV floats
        replied_to = authors.get(parent, "") if parent else ""
        try:
            yield from_object({
                "source_id": tweet, "channel": "twitter", "text": str(row.get("text") or ""),
                "author": {"handle": author}, "created_at": _date(row.get("created_at")),
                "kind": "reply" if parent else "post", "in_reply_to": parent or None,
                "to": f"@{replied_to}" if replied_to and replied_to != author else ""},
                now, window)
        except (ValueError, TypeError) as exc:
            yield Problem(number, str(exc).replace("Object missing required field",
                                                   "missing required field"))


def read(path: Path, now: datetime | None = None, window: Window = WINDOW) -> Iterator[Any]:
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            reader = csv.DictReader(fh)
            yield from mentions(((reader.line_num, row) for row in reader), now, window)
        return
    with path.open("rb") as fh:
        def rows() -> Iterator[tuple[int, dict[str, Any] | None]]:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw.decode("utf-8", "replace"))
                except (ValueError, RecursionError):
                    obj = None
                yield number, obj if isinstance(obj, dict) else None
        yield from mentions(rows(), now, window)


def detect(path: Path) -> bool:
    """Is this file twcs? Reads its first line only."""
    with path.open("rb") as fh:
        first = fh.readline(1 << 16).decode("utf-8", "replace")
    if path.suffix.lower() == ".csv":
        return looks_like(c.strip() for c in next(csv.reader([first]), []))
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and looks_like(obj)
