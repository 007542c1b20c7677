"""Pure helpers the channels' parsers share: HTML to plain text, times, and building a Mention
through the one edge validator (services/parse.validate), so every channel has the same bounds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.parse import MentionIn, validate

_BREAKS = {"br", "p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "tr"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(0, self.hidden - 1)
        elif tag in _BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (posts arrive as HTML on Mastodon, RSS, email)."""
    if "<" not in html and "&" not in html:
        return html.strip()
    p = _Text()
    p.feed(html)
    p.close()
    lines = [" ".join(line.split()) for line in "".join(p.parts).splitlines()]
    return "\n".join(line for line in lines if line).strip()


def when(value: Any) -> datetime:
    """An ISO 8601 string (with Z), epoch seconds or a datetime, as an aware UTC datetime."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, int | float):
        dt = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str) and value:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    else:
        raise ValueError(f"not a time: {value!r}")
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


def mention(*, source_id: str, channel: str, text: str, author: Author, created_at: datetime,
            kind: str = "post", in_reply_to: str | None = None, thread_id: str | None = None,
            url: str = "", lang: str = "", to: str = "") -> Mention:
    """Validated as every edge validates (ValueError with the reason when a bound is broken)."""
    return validate(MentionIn(source_id=source_id, channel=channel, text=text, author=author,
                              created_at=created_at, kind=kind, in_reply_to=in_reply_to,
                              thread_id=thread_id, url=url, lang=lang or "", to=to))
