"""Bluesky Jetstream events → Mention (pure).

Jetstream sends one JSON object per websocket message: `commit` events carry the record that
was created (`app.bsky.feed.post` for posts), `identity` events a DID's current handle. A post
is identified by its at:// URI (did + collection + rkey), the same everywhere. Authors are
DIDs on the wire; the handle is filled from identity events or the connection's `handles`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from escapevelocity.channels.text import mention, when
from escapevelocity.domain.records import Author, Mention

CHANNEL = "bluesky"
POST = "app.bsky.feed.post"


def post_uri(did: str, rkey: str) -> str:
    return f"at://{did}/{POST}/{rkey}"


def identity(event: Mapping[str, Any]) -> tuple[str, str] | None:
    """(did, handle) from an identity event."""
    if event.get("kind") != "identity":
        return None
    ident = event.get("identity") or {}
    if ident.get("did") and ident.get("handle"):
        return str(ident["did"]), str(ident["handle"])
    return None


def event(e: Mapping[str, Any], handles: Mapping[str, str] | None = None) -> Mention | None:
    """A created post, or None for anything else (deletes, likes, identity, account)."""
    if e.get("kind") != "commit":
        return None
    commit = e["commit"]
    if commit.get("operation") != "create" or commit.get("collection") != POST:
        return None
    did, rkey, record = str(e["did"]), str(commit["rkey"]), commit["record"]
    if not isinstance(record, Mapping) or not isinstance(record.get("text"), str):
        raise ValueError("a post record without text")
    handle = (handles or {}).get(did, did)
    reply = record.get("reply") or {}
    parent = (reply.get("parent") or {}).get("uri")
    root = (reply.get("root") or {}).get("uri")
    langs = record.get("langs") or []
    return mention(
        source_id=post_uri(did, rkey), channel=CHANNEL, text=record["text"],
        author=Author(handle=handle), created_at=when(record.get("createdAt") or
                                                     e["time_us"] / 1_000_000),
        kind="reply" if parent else "post", in_reply_to=parent, thread_id=root,
        url=f"https://bsky.app/profile/{handle}/post/{rkey}",
        lang=str(langs[0]) if langs else "")
