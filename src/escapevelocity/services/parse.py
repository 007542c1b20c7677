"""The edge: turn untrusted bytes (JSONL, CSV, HTTP bodies) into validated Mentions.

Every problem becomes a `Problem` with its line (or item) number and a reason a person can act
on; good items are always kept. Sizes are bounded here so nothing downstream has to care.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from escapevelocity.domain.records import (
    CHANNELS,
    KINDS,
    MAX_FIELD_CHARS,
    MAX_TEXT_CHARS,
    Author,
    Mention,
)

MAX_LINE_BYTES = 64_000


@dataclass(frozen=True)
class Problem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class MentionIn(msgspec.Struct, forbid_unknown_fields=False):
    """The wire shape: the Mention record, with the author either an object or a handle."""

    source_id: str
    channel: str
    text: str
    author: Author | str
    created_at: datetime
    kind: str = "post"
    in_reply_to: str | None = None
    thread_id: str | None = None
    url: str = ""
    lang: str = ""
    to: str = ""  # the handle the channel says the post was sent to or replies to


_decoder = msgspec.json.Decoder(MentionIn)


def _clean(text: str) -> str:
    # Lone surrogates cannot be stored or rendered; replace rather than reject the mention.
    return text.encode("utf-8", "replace").decode("utf-8") if not text.isascii() else text


def validate(item: MentionIn) -> Mention:
    """Raise ValueError with a clear reason when the item breaks a bound or a vocabulary."""
    author = Author(handle=item.author) if isinstance(item.author, str) else item.author
    if not item.source_id.strip() or len(item.source_id) > 200:
        raise ValueError("source_id must be 1 to 200 characters")
    if item.channel not in CHANNELS:
        raise ValueError(f"unknown channel {item.channel!r}; channels: {', '.join(CHANNELS)}")
    if item.kind not in KINDS:
        raise ValueError(f"unknown kind {item.kind!r}; kinds: {', '.join(KINDS)}")
    if len(item.text) > MAX_TEXT_CHARS:
        raise ValueError(f"text is {len(item.text)} characters; the limit is {MAX_TEXT_CHARS}")
    handle = author.handle.strip().lstrip("@")
    if not handle or len(handle) > 200:
        raise ValueError("author handle must be 1 to 200 characters")
    for name, value in (("author name", author.name), ("author bio", author.bio),
                        ("url", item.url), ("in_reply_to", item.in_reply_to or ""),
                        ("thread_id", item.thread_id or ""), ("to", item.to)):
        if len(value) > MAX_FIELD_CHARS:
            raise ValueError(f"{name} is longer than {MAX_FIELD_CHARS} characters")
    if author.followers < 0:
        raise ValueError("author followers cannot be negative")
    created = item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=UTC)
    return Mention(
        source_id=item.source_id, channel=item.channel, text=_clean(item.text),
        author=Author(handle=_clean(handle), name=_clean(author.name), followers=author.followers,
                      verified=author.verified, bio=_clean(author.bio)),
        created_at=created.astimezone(UTC), kind=item.kind, in_reply_to=item.in_reply_to,
        thread_id=item.thread_id, url=item.url, lang=item.lang, to=_clean(item.to.strip()))


def parse_date(text: str) -> str:
    """A date as people and spreadsheets write it ("2026-11-20 10:03", "2026-11-20T10:03Z",
    "2026-11-20") in ISO 8601 with seconds, which the record's decoder takes; a text that is
    not a date is passed on unchanged, for the decoder's own error."""
    text = (text or "").strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        return text


def _reason(exc: Exception) -> str:
    return str(exc).replace("Object missing required field", "missing required field")


def from_object(obj: Any) -> Mention:
    return validate(msgspec.convert(obj, MentionIn))


def parse_jsonl(lines: Iterable[bytes]) -> Iterator[Mention | Problem]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            yield Problem(number, f"line is {len(raw)} bytes; the limit is {MAX_LINE_BYTES}")
            continue
        try:
            yield validate(_decoder.decode(raw))
        except UnicodeDecodeError:
            yield Problem(number, "not valid UTF-8")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            yield Problem(number, _reason(exc))


CSV_COLUMNS = ("source_id", "channel", "kind", "text", "author_handle", "author_name",
               "author_followers", "author_verified", "author_bio", "created_at", "in_reply_to",
               "thread_id", "url", "to")


def parse_csv(text: Iterable[str]) -> Iterator[Mention | Problem]:
    reader = csv.DictReader(text)
    missing = {"source_id", "channel", "text", "author_handle", "created_at"} - set(
        reader.fieldnames or ())
    if missing:
        yield Problem(1, f"CSV header lacks {', '.join(sorted(missing))}")
        return
    for row in reader:
        number = reader.line_num
        try:
            followers = int(row.get("author_followers") or 0)
            item = {
                "source_id": row["source_id"], "channel": row["channel"],
                "kind": row.get("kind") or "post", "text": row["text"] or "",
                "author": {"handle": row["author_handle"] or "",
                           "name": row.get("author_name") or "",
                           "followers": followers,
                           "verified": (row.get("author_verified") or "").lower()
                           in ("1", "true", "yes"),
                           "bio": row.get("author_bio") or ""},
                "created_at": parse_date(row["created_at"] or ""),
                "in_reply_to": row.get("in_reply_to") or None,
                "thread_id": row.get("thread_id") or None, "url": row.get("url") or "",
                "to": row.get("to") or "",
            }
            yield from_object(item)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            yield Problem(number, _reason(exc))


FORMATS = ("auto", "mentions", "twcs")


def read_file(path: Path, fmt: str = "auto") -> Iterator[Mention | Problem]:
    """JSONL (default) or CSV by extension; the twcs columns (services/twcs.py) when `fmt` is
    twcs or, with auto, when the first line has them. Streams: a 100k-line file is never held
    whole."""
    from escapevelocity.services import twcs

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "twcs" or (fmt == "auto" and str(path) != "-" and twcs.detect(path)):
        yield from twcs.read(path)
        return
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            yield from parse_csv(fh)
    else:
        with path.open("rb") as fh:
            yield from parse_jsonl(fh)


def parse_body(body: bytes, max_batch: int) -> tuple[list[Mention], list[Problem]]:
    """An HTTP body: one mention object or a list of them. Item numbers count from 1."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValueError("body is an empty list; send one mention or a list of mentions")
    if len(items) > max_batch:
        raise ValueError(f"batch of {len(items)} mentions; the limit is {max_batch} per request")
    good, bad = [], []
    for number, obj in enumerate(items, 1):
        try:
            good.append(from_object(obj))
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            bad.append(Problem(number, _reason(exc)))
    return good, bad


def to_csv_row(m: Mention) -> dict[str, Any]:
    return {"source_id": m.source_id, "channel": m.channel, "kind": m.kind, "text": m.text,
            "author_handle": m.author.handle, "author_name": m.author.name,
            "author_followers": m.author.followers, "author_verified": m.author.verified,
            "author_bio": m.author.bio, "created_at": m.created_at.isoformat(),
            "in_reply_to": m.in_reply_to or "", "thread_id": m.thread_id or "", "url": m.url,
            "to": m.to}


