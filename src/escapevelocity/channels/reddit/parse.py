"""Reddit things → Mention (pure): submissions (t3) and comments (t1), as the API's listing JSON
(`{"kind": "t3", "data": {...}}`) or the `data` of one thing, or PRAW's objects' attributes
(where `author` and `subreddit` are objects whose str() is their name).

A thing is identified by its fullname (t3_…, t1_…); a comment's parent is its `parent_id`,
so a reply joins the case of the post it answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from escapevelocity.channels.text import mention, when
from escapevelocity.domain.records import Author, Mention

CHANNEL = "reddit"
BASE = "https://www.reddit.com"


def _name(value: Any) -> str:
    if value is None:
        return "[deleted]"
    if isinstance(value, Mapping):
        return str(value.get("name") or value.get("display_name") or "")
    return str(value)


def thing(obj: Mapping[str, Any]) -> Mention | None:
    kind = obj.get("kind")
    data = obj["data"] if kind in ("t1", "t3") and "data" in obj else obj
    fullname = str(data.get("name") or "")
    if not fullname and data.get("id"):
        fullname = ("t1_" if "body" in data else "t3_") + str(data["id"])
    if fullname.startswith("t3_"):
        title = str(data.get("title") or "")
        body = str(data.get("selftext") or "")
        text = f"{title}\n\n{body}".strip() if body else title
        kind_, parent, thread = "post", None, fullname
    elif fullname.startswith("t1_"):
        text = str(data.get("body") or "")
        kind_ = "comment"
        parent = str(data.get("parent_id") or "") or None
        thread = str(data.get("link_id") or "") or None
    else:
        return None
    author = _name(data.get("author"))
    if author == "[deleted]" or text in ("[deleted]", "[removed]"):
        return None
    permalink = str(data.get("permalink") or "")
    return mention(
        source_id=fullname, channel=CHANNEL, text=text,
        author=Author(handle=f"u/{author}", name=author),
        created_at=when(float(data["created_utc"])), kind=kind_, in_reply_to=parent,
        thread_id=thread, url=BASE + permalink if permalink.startswith("/") else permalink,
        lang="")
