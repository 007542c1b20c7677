"""Mastodon payloads → Mention (pure). Accepts the API's JSON (fixtures) and what Mastodon.py
returns (the same dicts, with times already parsed).

A status is identified by its `uri`, the same on every instance, so a post seen through the
mentions stream and again through a hashtag search, or by two connections on different
instances, is one mention.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from escapevelocity.channels.text import html_to_text, mention, when
from escapevelocity.domain.records import Author, Mention

CHANNEL = "mastodon"


def author(account: Mapping[str, Any]) -> Author:
    return Author(handle=str(account["acct"]),
                  name=str(account.get("display_name") or account.get("username") or ""),
                  followers=max(0, int(account.get("followers_count") or 0)),
                  verified=False,  # Mastodon has no verified accounts; links are not identity
                  bio=html_to_text(str(account.get("note") or ""))[:500])


def status(s: Mapping[str, Any], *, kind: str | None = None, to: str = "") -> Mention:
    text = html_to_text(str(s.get("content") or ""))
    if s.get("spoiler_text"):
        text = f"[CW: {s['spoiler_text']}] {text}"
    visibility = s.get("visibility") or "public"
    return mention(
        source_id=str(s.get("uri") or s["id"]), channel=CHANNEL, text=text,
        author=author(s["account"]), created_at=when(s["created_at"]),
        kind=kind or ("dm" if visibility == "direct" else
                      "reply" if s.get("in_reply_to_id") else "post"),
        thread_id=str(s["in_reply_to_id"]) if s.get("in_reply_to_id") else None,
        url=str(s.get("url") or s.get("uri") or ""), lang=str(s.get("language") or ""), to=to)


def notification(n: Mapping[str, Any]) -> Mention | None:
    """A mention notification's status; other notification types are not mentions. It is
    addressed to us: `to` is the mentioned account of our own instance (its acct has no
    domain), which brand relevance reads."""
    if n.get("type") != "mention" or not n.get("status"):
        return None
    ours = [str(m.get("acct")) for m in n["status"].get("mentions") or ()
            if m.get("acct") and "@" not in str(m.get("acct"))]
    return status(n["status"], to=f"@{ours[0]}" if ours else "")
