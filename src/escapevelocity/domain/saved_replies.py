"""The saved-reply library: replies a team has written once, by team and situation, with
variables, checked against each channel's length limit, offered first where they fit.

Pure: the records, the fold of their history (`saved_reply_changed` events: the log is the
record and the audit), filling variables, the per-channel length check and the ranking the
composer uses. The service (services/saved_replies.py) reads and writes; the web page edits.

Variables: {{author}} (the author's name, else handle), {{handle}}, {{agent}} (the member
replying), {{team}}, {{case}}. Unknown variables are left as they are, so a typo shows in the
preview instead of vanishing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import msgspec

# a name is part of its stream id ("saved-reply:<name>"), which the log keeps in 32 characters
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,19}")
MAX_TEXT = 2_000
VARIABLES = ("author", "handle", "agent", "team", "case")
_VAR = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
# What each network accepts in one post (characters); channels not listed: the reply limit.
CHANNEL_LIMITS = {"twitter": 280, "x": 280, "bluesky": 300, "mastodon": 500, "threads": 500,
                  "instagram": 2_200, "facebook": 8_000, "reddit": 10_000}


class SavedReply(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    text: str
    team: str = ""  # empty: every team
    situations: tuple[str, ...] = ()  # empty: any situation
    title: str = ""


class ReplyError(ValueError):
    pass


def check(reply: SavedReply, teams: Iterable[str], situations: Iterable[str]) -> SavedReply:
    """The reply as it may be saved, or ReplyError saying what to fix."""
    if not NAME.fullmatch(reply.name):
        raise ReplyError("a name is 1-20 lower-case letters, digits, - or _")
    text = reply.text.strip()
    if not text:
        raise ReplyError("the text is empty")
    if len(text) > MAX_TEXT:
        raise ReplyError(f"the text is {len(text)} characters; the limit is {MAX_TEXT}")
    unknown = sorted(set(_VAR.findall(text)) - set(VARIABLES))
    if unknown:
        raise ReplyError(f"unknown variable {', '.join(unknown)}; use "
                         + ", ".join("{{" + v + "}}" for v in VARIABLES))
    if reply.team and reply.team not in set(teams):
        raise ReplyError(f"no team {reply.team!r}")
    bad = sorted(set(reply.situations) - set(situations))
    if bad:
        raise ReplyError(f"unknown situation {', '.join(bad)}")
    return msgspec.structs.replace(reply, text=text, title=reply.title.strip()[:120],
                                   situations=tuple(dict.fromkeys(reply.situations)))


def fold(changes: Iterable[tuple[str, Mapping | None]]) -> dict[str, SavedReply]:
    """The library now, from its history in log order: (name, record or None when deleted)."""
    out: dict[str, SavedReply] = {}
    for name, record in changes:
        if record is None:
            out.pop(name, None)
        else:
            out[name] = msgspec.convert(record, type=SavedReply)
    return out


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with the known variables replaced (also the playbook's {author_name})."""
    text = text.replace("{author_name}", values.get("author", "")).replace(
        "{handle}", values.get("handle", ""))
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def limit(channel: str, default: int) -> int:
    return min(CHANNEL_LIMITS.get(channel.lower(), default), default)


def too_long(text: str, channel: str, default: int) -> str | None:
    """Why `text` does not fit `channel`, or None."""
    cap = limit(channel, default)
    if len(text) > cap:
        return f"{len(text)} characters; {channel} takes {cap}"
    return None


def ranked(replies: Iterable[SavedReply], situation: str | None, team: str | None
           ) -> list[SavedReply]:
    """The replies a case may use (its team's and everyone's), those written for its
    situation first, then general ones, by name."""
    fit = [r for r in replies if not r.team or r.team == team]
    return sorted(fit, key=lambda r: (0 if situation and situation in r.situations
                                      else 1 if not r.situations else 2, r.name))


def preselect(replies: Sequence[SavedReply], situation: str | None) -> str:
    """The saved reply to preselect: the first written for the case's situation, else none."""
    return next((r.name for r in replies if situation and situation in r.situations), "")
