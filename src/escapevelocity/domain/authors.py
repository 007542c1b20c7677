"""Who is asking, from this workspace's own history of the author: a repeat author, a VIP, or
a troll the team has already tagged as abusive.

Identities cannot be confirmed, so history is the strongest evidence a workspace has: the same
handle on the same channel, and what the team said about its earlier cases. `with_history` is
pure: the store reads the history (`SqlStore.author_cases`), ingest applies it after the
rules have enriched the mention, and the playbook sees it as `Context.author_history` and
`Context.vip`.
"""

from __future__ import annotations

import msgspec

from escapevelocity.domain.records import Signals

# Tags or flags by which a team marks a case as abuse; two such cases make the author a troll
# (one could be a heated customer having a bad day).
ABUSE_TAGS = frozenset(["abuse", "abusive", "troll", "harassment", "threat"])
ABUSIVE_CASES = 2
# Classes the history does not override: what the workspace's lists say is kept.
LISTED = frozenset(["bot", "competitor", "partner", "journalist", "employee"])


class AuthorHistory(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the workspace already holds about one (channel, handle)."""

    cases: int = 0  # earlier cases opened by this author
    mentions: int = 0  # earlier mentions in them
    abusive: int = 0  # earlier cases tagged or flagged as abuse


def with_history(signals: Signals, history: AuthorHistory | None, vip: bool) -> Signals:
    """`signals` with the author's history applied: a troll after ABUSIVE_CASES abusive cases,
    the VIP flag, the count of earlier mentions, and a "because" that says so."""
    if history is None and not vip:
        return signals
    history = history or AuthorHistory()
    because = dict(signals.because)
    author_class = signals.author_class
    if history.abusive >= ABUSIVE_CASES and author_class not in LISTED | {"troll"}:
        author_class = "troll"
        because["author_class"] = (f"{history.abusive} earlier cases were tagged as abuse "
                                   "in this workspace")
    notes = []
    if vip:
        notes.append("on the workspace's VIP list")
    if history.mentions:
        notes.append(f"{history.mentions} earlier mention{'s' if history.mentions != 1 else ''}"
                     f" in {history.cases} case{'s' if history.cases != 1 else ''}")
    if notes:
        because["history"] = "; ".join(notes)
    return msgspec.structs.replace(signals, author_class=author_class, vip=vip,
                                   repeat=history.mentions, because=because)


def abusive(tags: str, flags: str) -> bool:
    """Does a case's comma-joined tags or flags mark it as abuse?"""
    marks = {t.strip().lower() for t in f"{tags},{flags}".split(",") if t.strip()}
    return not ABUSE_TAGS.isdisjoint(marks)
