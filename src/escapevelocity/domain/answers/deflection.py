"""When a question was answered by the community: pure, so the resolve command and the
reports agree.

A case resolved with no reply from us, where someone other than the asker wrote in its thread
(a peer answering on the network), was resolved by the community: a deflection, counted with
the resolution (`community_resolved`, ref naming the peers). A member can also say so with a
link to the peer answer (services/answers.community_resolved).
"""

from __future__ import annotations

from collections.abc import Iterable


def peers(asker: str, authors: Iterable[str]) -> list[str]:
    """Who, other than the asker, wrote in the case's thread (handles, in order, once)."""
    me = asker.lower().lstrip("@")
    return list(dict.fromkeys(a.lower().lstrip("@") for a in authors
                              if a and a.lower().lstrip("@") != me))


def resolved_by_community(asker: str, authors: Iterable[str], replied: bool) -> str | None:
    """The ref of a community resolution ("peer answer by @kim"), or None."""
    if replied:
        return None
    found = peers(asker, authors)
    return f"peer answer by @{', @'.join(found[:3])}" if found else None
