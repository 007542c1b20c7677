"""Where answers come from, turned into knowledge entries (pure; the service reads the files).

- Markdown articles: the first `# ` heading is the title (the question it answers), an
  optional `question:` line lists more ways of asking (`|`-separated), the body is the answer.
  Articles are approved answers: a person wrote them for customers to read.
- A community site's JSON Feed (jsonfeed.org 1.1) or RSS/Atom (parsed by feedparser in the
  service): each item's title is the question, its text the peer answer, its link the ref.
  Peer answers are suggested and linked, never sent automatically (not approved).
- Resolved cases whose follow-up came back happy: the customer's question and our reply.

Everything here is hostile input: sizes are bounded, markup is kept as text (pages escape it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from escapevelocity.domain.answers.match import Entry

MAX_TITLE = 300
MAX_QUESTION = 2_000
MAX_ANSWER = 4_000
MAX_ITEMS = 5_000
_TAG = re.compile(r"<[^>]{0,2000}>")
_SPACE = re.compile(r"\s+")


def _id(*parts: str) -> str:
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=6).hexdigest()


def _plain(text: str, limit: int) -> str:
    """Markup stripped to words, whitespace folded, bounded."""
    return _SPACE.sub(" ", _TAG.sub(" ", text or "")).strip()[:limit]


def article(name: str, text: str) -> Entry | None:
    """A Markdown article as an entry, or None when it has no heading and no body."""
    title, asks, body = "", [], []
    for line in text[: MAX_ANSWER * 4].splitlines():
        stripped = line.strip()
        if not title and stripped.startswith("# "):
            title = stripped[2:].strip()[:MAX_TITLE]
        elif stripped.lower().startswith("question:") and not body:
            asks += [a.strip() for a in stripped[9:].split("|") if a.strip()]
        else:
            body.append(line)
    answer = "\n".join(body).strip()[:MAX_ANSWER]
    title = title or name.rsplit("/", 1)[-1].removesuffix(".md").replace("-", " ")
    if not answer:
        return None
    question = " ".join([title, *asks])[:MAX_QUESTION]
    return Entry(id="a" + _id(name), question=question, answer=answer, source="article",
                 ref=name[:MAX_TITLE], title=title, approved=True)


class _FeedAuthor(msgspec.Struct):
    name: str | None = None


class _FeedItem(msgspec.Struct):
    authors: list[_FeedAuthor] = []
    id: str | None = None
    url: str | None = None
    title: str | None = None
    content_text: str | None = None
    content_html: str | None = None
    summary: str | None = None


class _Feed(msgspec.Struct):
    items: list[_FeedItem] = []


def json_feed(raw: bytes) -> list[Entry]:
    """A JSON Feed's items as community entries; ValueError when it is not one."""
    try:
        feed = msgspec.json.decode(raw, type=_Feed)
    except msgspec.ValidationError as exc:
        raise ValueError(f"not a JSON Feed: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    return community((i.title or "", i.content_text or i.content_html or i.summary or "",
                      i.url or i.id or "", (i.authors[0].name or "") if i.authors else "")
                     for i in feed.items)


def community(items: Iterable[tuple[str, str, str, str]]) -> list[Entry]:
    """(title, text, link, author) as community entries (unapproved peer answers)."""
    out, seen = [], set()
    for n, (title, text, link, author) in enumerate(items):
        if n >= MAX_ITEMS:
            break
        title, answer = _plain(title, MAX_TITLE), _plain(text, MAX_ANSWER)
        link = str(link or "")[:MAX_TITLE]
        if not (title or answer):
            continue
        if not link.startswith(("https://", "http://")):
            link = ""  # a javascript: or data: link is never shown as one
        key = "p" + _id(link or title, answer[:200])
        if key in seen:  # a feed repeating an item: one entry
            continue
        seen.add(key)
        out.append(Entry(id=key, question=title or answer,
                         answer=answer, source="community", ref=link, title=title,
                         author=_plain(author, 100).lstrip("@").lower()))
    return out


def resolved_case(case_id: str, question: str, answer: str) -> Entry:
    """A resolved case with a happy follow-up: the question and the reply that answered it.
    Not approved for automation: it was written for one customer."""
    return Entry(id="r" + case_id, question=question[:MAX_QUESTION],
                 answer=answer[:MAX_ANSWER], source="case", ref=case_id)


def encode(entries: Iterable[Entry]) -> bytes:
    return msgspec.json.encode(list(entries))


def decode(raw: str | bytes | None) -> list[Entry]:
    return msgspec.json.decode(raw, type=list[Entry]) if raw else []


def as_dict(entry: Entry) -> Mapping[str, Any]:
    return msgspec.to_builtins(entry)
