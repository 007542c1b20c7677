"""What a listening query would have caught over the mentions already stored: the check an
admin runs before saving a query, so a typo does not silently drop a week of complaints."""

from __future__ import annotations

from dataclasses import dataclass, field

from escapevelocity.domain.listening import Post, Query
from escapevelocity.domain.records import Mention


@dataclass
class Preview:
    query: str
    scanned: int = 0
    matched: list[Mention] = field(default_factory=list)
    by_channel: dict[str, int] = field(default_factory=dict)


def preview(store, query: str, *, limit: int = 10_000, channel: str | None = None) -> Preview:
    q = Query(query)  # QueryError (a ValueError) says where the query is wrong
    with store.begin() as tx:
        mentions = tx.connections.recent_mentions(limit, channel)
    out = Preview(query, scanned=len(mentions))
    for m in mentions:
        if q(Post(m.text, m.author.handle, m.lang)):
            out.matched.append(m)
            out.by_channel[m.channel] = out.by_channel.get(m.channel, 0) + 1
    return out
