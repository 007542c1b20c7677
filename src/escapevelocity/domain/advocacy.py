"""Super users and advocates: who, among the people writing to us, helps other customers and
speaks well of us, scored from what the workspace already holds, with the evidence shown.

Evidence, per author (channel, handle):
- helpful answers: another customer thanked them by handle ("thanks @kim, that worked"), or
  their answer on the community site was linked in our reply (channel "community");
- repeated positive mentions of their own;
- happy follow-ups (a CSAT answer that came back happy on their case);
- reach (followers).
`score` weighs them (helping others most: that is what a super user is) and `candidates`
keeps authors with evidence of more than one kind, or who helped at least twice. Pure: the
service gathers the facts from the log and the mentions.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable

import msgspec

HELPED, POSITIVE, HAPPY = 3.0, 1.0, 2.0  # points per piece of evidence
POSITIVE_CAP = 10  # repeated praise counts, but cannot outweigh helping others
MIN_SCORE = 4.0
EVIDENCE_SHOWN = 6
_THANKS = re.compile(r"\b(?:thanks|thank you|thank u|thx|ty|cheers|kudos)\b[^@\n]{0,30}"
                     r"@([A-Za-z0-9_][A-Za-z0-9_.-]{0,40})", re.IGNORECASE)
LEDGER_ENTRIES = ("accepted", "declined", "activity", "reward")


def thanked(text: str) -> list[str]:
    """The handles a post thanks ("thanks @kim", "thank you so much @lee")."""
    return [h.lower().rstrip(".") for h in _THANKS.findall(text or "")][:5]


class AuthorFacts(msgspec.Struct, kw_only=True):
    channel: str
    handle: str
    followers: int = 0
    helped: list[tuple[str, str]] = []  # (case id, who thanked them)
    positive: list[str] = []  # case ids of their positive mentions
    happy: list[str] = []  # case ids with a happy follow-up
    linked: list[str] = []  # case ids where our reply linked their community answer
    topics: dict[str, int] = {}  # the topics they helped or spoke well on


class Candidate(msgspec.Struct, frozen=True):
    channel: str
    handle: str
    score: float
    evidence: tuple[str, ...]
    cases: tuple[str, ...]
    topics: tuple[str, ...]


def score(f: AuthorFacts) -> float:
    return round(HELPED * (len(f.helped) + len(f.linked))
                 + POSITIVE * min(len(f.positive), POSITIVE_CAP)
                 + HAPPY * len(f.happy) + math.log10(max(f.followers, 0) + 1), 2)


def evidence(f: AuthorFacts) -> tuple[str, ...]:
    out = []
    if f.helped:
        by = sorted({b for _, b in f.helped})
        out.append(f"thanked for helping by {len(by)} other customer{'s' if len(by) != 1 else ''}"
                   f" (@{', @'.join(by[:3])})")
    if f.linked:
        out.append(f"their community answer linked in {len(f.linked)} of our "
                   f"repl{'ies' if len(f.linked) != 1 else 'y'}")
    if f.positive:
        out.append(f"{len(f.positive)} positive mention{'s' if len(f.positive) != 1 else ''}")
    if f.happy:
        out.append(f"{len(f.happy)} happy follow-up{'s' if len(f.happy) != 1 else ''}")
    if f.followers:
        out.append(f"{f.followers:,} followers")
    return tuple(out)


def candidates(facts: Iterable[AuthorFacts], min_score: float = MIN_SCORE) -> list[Candidate]:
    """Authors worth inviting, best first, with their evidence and the cases behind it."""
    out = []
    for f in facts:
        kinds = sum(1 for x in (f.helped or f.linked, f.positive, f.happy) if x)
        helped = len(f.helped) + len(f.linked)
        if not (kinds >= 2 or helped >= 2 or len(f.positive) >= 3):
            continue
        s = score(f)
        if s < min_score:
            continue
        cases = tuple(dict.fromkeys([c for c, _ in f.helped] + f.linked + f.happy
                                    + f.positive))
        topics = tuple(t for t, _ in sorted(f.topics.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(Candidate(f.channel, f.handle, s, evidence(f), cases[:EVIDENCE_SHOWN],
                             topics[:5]))
    return sorted(out, key=lambda c: (-c.score, c.channel, c.handle))


def stream(channel: str, handle: str) -> str:
    """An advocate's stream id (the log keeps stream ids in 32 characters: a digest)."""
    digest = hashlib.blake2b(f"{channel}:{handle.lower()}".encode(), digest_size=8).hexdigest()
    return f"advocate:{digest}"


def status(entries: Iterable[str]) -> str:
    """invited, accepted or declined: the latest answer to the invitation."""
    state = "invited"
    for e in entries:
        if e in ("accepted", "declined"):
            state = e
    return state


def good_at(advocates: Iterable[tuple[str, str, tuple[str, ...]]], topics: Iterable[str]
            ) -> tuple[str, str] | None:
    """An accepted super user (channel, handle) whose topics meet the question's, if any."""
    wanted = set(topics)
    for _channel, handle, theirs in advocates:
        shared = wanted & set(theirs)
        if shared:
            return handle, ", ".join(sorted(shared))
    return None
