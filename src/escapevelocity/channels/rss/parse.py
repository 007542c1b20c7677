"""RSS/Atom entries → Mention (pure), over what feedparser makes of a feed's bytes.

An entry is identified by its feed-given id (guid / atom:id), else its link; prefixed with the
feed's URL so two feeds' "1" and "1" stay apart. Blogs and forums have no handles: the author
is the entry's author name, else the feed's host.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from escapevelocity.channels.text import html_to_text, mention
from escapevelocity.domain.records import MAX_TEXT_CHARS, Author, Mention


def parse_feed(data: bytes) -> Any:
    import feedparser  # the `channels` extra

    return feedparser.parse(data)


def entry(e: Mapping[str, Any], feed_url: str, *, channel: str = "web",
          fallback_time: datetime | None = None) -> Mention:
    ident = str(e.get("id") or e.get("link") or "")
    if not ident:
        raise ValueError("an entry without id or link")
    title = html_to_text(str(e.get("title") or ""))
    content = e.get("content") or []
    body_html = (content[0].get("value") if content else None) or e.get("summary") or ""
    body = html_to_text(str(body_html))
    text = f"{title}\n\n{body}".strip() if body and body != title else title
    if len(text) > MAX_TEXT_CHARS:  # a whole blog post: what fits is what an agent reads
        text = text[: MAX_TEXT_CHARS - 1] + "…"
    stamp = e.get("published_parsed") or e.get("updated_parsed")
    if stamp:
        created = datetime.fromtimestamp(calendar.timegm(stamp), UTC)
    elif fallback_time is not None:
        created = fallback_time
    else:
        raise ValueError(f"entry {ident!r} has no date")
    host = urlsplit(feed_url).hostname or "feed"
    name = str(e.get("author") or "")
    source = f"{feed_url}#{ident}"
    return mention(
        source_id=source if len(source) <= 200 else ident[-200:], channel=channel, text=text,
        author=Author(handle=(name or host)[:200], name=name[:200]), created_at=created,
        kind="post", url=str(e.get("link") or "")[:512], lang=str(e.get("language") or ""))
