"""The edge: turn untrusted bytes (JSONL, CSV, HTTP bodies) into validated Mentions.

Every problem becomes a `Problem` with its line (or item) number and a reason a person can act
on; good items are always kept. Sizes are bounded here so nothing downstream has to care.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
MAX_LANG_CHARS = 35  # the longest BCP 47 tags in use fit; a language is not an essay


@dataclass(frozen=True)
class Window:
    """When a mention may have been written: not before the social web (historical imports
    are fine) and not more than `future` ahead of now (clock skew, time zones done wrong).
    Anything outside is refused at the edge: a far-future date once blinded the crisis
    detector and `9999-12-31T23:59:59-01:00` overflowed the UTC conversion mid-write."""

    earliest: datetime = datetime(2006, 1, 1, tzinfo=UTC)
    future: timedelta = timedelta(days=1)

    def check(self, created: datetime, now: datetime | None) -> datetime:
        """`created` in UTC, or ValueError saying why it is out of the window."""
        try:
            utc = created.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("created_at is out of range (its UTC time does not exist)") from None
        if utc < self.earliest:
            raise ValueError(f"created_at {utc:%Y-%m-%d} is before {self.earliest:%Y-%m-%d}")
        if now is not None and utc > now + self.future:
            hours = self.future.total_seconds() / 3600
            raise ValueError(f"created_at {utc.isoformat()} is more than {hours:g} hours "
                             "in the future")
        return utc


WINDOW = Window()


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


def _strings(item: MentionIn, author: Author) -> Iterator[tuple[str, str, int]]:
    """Every text field of the wire shape with its bound: (name, value, max characters)."""
    yield "source_id", item.source_id, 200
    yield "channel", item.channel, 32
    yield "kind", item.kind, 32
    yield "text", item.text, MAX_TEXT_CHARS
    yield "author handle", author.handle, 200
    for name, value in (("author name", author.name), ("author bio", author.bio),
                        ("url", item.url), ("in_reply_to", item.in_reply_to or ""),
                        ("thread_id", item.thread_id or ""), ("to", item.to)):
        yield name, value, MAX_FIELD_CHARS
    yield "lang", item.lang, MAX_LANG_CHARS


def validate(item: MentionIn, now: datetime | None = None, window: Window = WINDOW) -> Mention:
    """Raise ValueError with a clear reason when the item breaks a bound or a vocabulary.

    Every string is bounded and free of NUL (PostgreSQL cannot store it in text), and the
    time is inside `window` around `now` (None: only its lower bound): whatever passes here
    can be written on either database, so one bad item never takes a batch with it."""
    author = Author(handle=item.author) if isinstance(item.author, str) else item.author
    for name, value, limit in _strings(item, author):
        if len(value) > limit:
            raise ValueError(f"{name} is {len(value)} characters; the limit is {limit}")
        if "\x00" in value:
            raise ValueError(f"{name} contains a NUL character")
    if not item.source_id.strip() or len(item.source_id) > 200:
        raise ValueError("source_id must be 1 to 200 characters")
    if item.channel not in CHANNELS:
        raise ValueError(f"unknown channel {item.channel!r}; channels: {', '.join(CHANNELS)}")
    if item.kind not in KINDS:
        raise ValueError(f"unknown kind {item.kind!r}; kinds: {', '.join(KINDS)}")
    handle = author.handle.strip().lstrip("@")
    if not handle:
        raise ValueError("author handle must be 1 to 200 characters")
    if author.followers < 0:
        raise ValueError("author followers cannot be negative")
    if author.followers > 2**53:
        raise ValueError("author followers is not a plausible count")
    created = item.created_at if item.created_at.tzinfo else item.created_at.replace(tzinfo=UTC)
    created = window.check(created, now)
    return Mention(
        source_id=item.source_id, channel=item.channel, text=_clean(item.text),
        author=Author(handle=_clean(handle), name=_clean(author.name), followers=author.followers,
                      verified=author.verified, bio=_clean(author.bio)),
        created_at=created, kind=item.kind, in_reply_to=item.in_reply_to,
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


def from_object(obj: Any, now: datetime | None = None, window: Window = WINDOW) -> Mention:
    return validate(msgspec.convert(obj, MentionIn), now, window)


def parse_jsonl(lines: Iterable[bytes], now: datetime | None = None,
                window: Window = WINDOW) -> Iterator[Mention | Problem]:
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        if len(raw) > MAX_LINE_BYTES:
            yield Problem(number, f"line is {len(raw)} bytes; the limit is {MAX_LINE_BYTES}")
            continue
        try:
            yield validate(_decoder.decode(raw), now, window)
        except UnicodeDecodeError:
            yield Problem(number, "not valid UTF-8")
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            yield Problem(number, _reason(exc))
        except RecursionError:
            yield Problem(number, "JSON nested too deeply")


CSV_COLUMNS = ("source_id", "channel", "kind", "text", "author_handle", "author_name",
               "author_followers", "author_verified", "author_bio", "created_at", "in_reply_to",
               "thread_id", "url", "to")


def parse_csv(text: Iterable[str], now: datetime | None = None,
              window: Window = WINDOW) -> Iterator[Mention | Problem]:
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
            yield from_object(item, now, window)
        except (msgspec.ValidationError, ValueError, TypeError) as exc:
            yield Problem(number, _reason(exc))


FORMATS = ("auto", "mentions", "twcs")


def read_file(path: Path, fmt: str = "auto", now: datetime | None = None,
              window: Window = WINDOW) -> Iterator[Mention | Problem]:
    """JSONL (default) or CSV by extension; the twcs columns (services/twcs.py) when `fmt` is
    twcs or, with auto, when the first line has them. Streams: a 100k-line file is never held
    whole. `now` and `window`: when a mention may have been written (Window)."""
    from escapevelocity.services import twcs

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if fmt == "twcs" or (fmt == "auto" and str(path) != "-" and twcs.detect(path)):
        yield from twcs.read(path, now, window)
        return
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            yield from parse_csv(fh, now, window)
    else:
        with path.open("rb") as fh:
            yield from parse_jsonl(fh, now, window)


def parse_body(body: bytes, max_batch: int, now: datetime | None = None,
               window: Window = WINDOW) -> tuple[list[Mention], list[Problem]]:
    """An HTTP body: one mention object or a list of them. Item numbers count from 1."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ValueError(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec's own depth limit, raised before any stack is at risk
        raise ValueError("body is nested too deeply to be a mention or a list of them"
                         ) from None
    items = data if isinstance(data, list) else [data]
    if not items:
        raise ValueError("body is an empty list; send one mention or a list of mentions")
    if len(items) > max_batch:
        raise ValueError(f"batch of {len(items)} mentions; the limit is {max_batch} per request")
    good, bad = [], []
    for number, obj in enumerate(items, 1):
        try:
            good.append(from_object(obj, now, window))
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




def recheck(m: Mention) -> Mention:
    """A mention that was validated elsewhere (a web replica, before it went into the intake
    stream) checked again where it is stored (`ev worker`): the stream is input like any
    other. Keeps what only the shell sets (historical, via); no time window but the lower
    bound, since a backlog may be old by the time it is triaged."""
    checked = validate(msgspec.convert(msgspec.to_builtins(m), MentionIn), None)
    return msgspec.structs.replace(checked, historical=m.historical, via=m.via)
