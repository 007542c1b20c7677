"""A customer profile, folded from what the workspace holds about one person: their cases and
mentions across channels, sentiment by day, CSAT answers, notes, CRM fields and the marks a
care team looks for first (VIP, influencer, journalist, verified). Pure: the service reads
the rows and events, this shapes them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from escapevelocity.domain import events as ev

MARK_CLASSES = ("influencer", "journalist")


@dataclass(frozen=True)
class Day:
    day: date
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    mean: float = 0.0  # mean sentiment score, -1 … 1

    @property
    def total(self) -> int:
        return self.negative + self.neutral + self.positive


@dataclass
class Profile:
    identities: list[tuple[str, str]]
    marks: list[str] = field(default_factory=list)
    name: str = ""
    followers: int = 0
    crm: dict[str, Any] = field(default_factory=dict)
    days: list[Day] = field(default_factory=list)
    csat: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def sentiment_by_day(points: Iterable[tuple[date, str, float]], *, last: int = 60) -> list[Day]:
    """(day, label, score) of each mention -> one Day per day seen, oldest first, the newest
    `last` days."""
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sums: dict[date, float] = defaultdict(float)
    for day, label, score in points:
        counts[day][label if label in ("negative", "neutral", "positive") else "neutral"] += 1
        sums[day] += score
    out = []
    for day in sorted(counts)[-last:]:
        c = counts[day]
        n = sum(c.values())
        out.append(Day(day, c["negative"], c["neutral"], c["positive"], round(sums[day] / n, 2)))
    return out


def marks(*, vip: bool, classes: Iterable[str], verified: bool, lists: Iterable[str],
          flags: Iterable[str]) -> list[str]:
    """The marks shown next to the name, in a fixed order."""
    lists, flags, classes = set(lists), set(flags), set(classes)
    out = []
    if vip or "vip" in lists or "vip" in flags:
        out.append("vip")
    out += [c for c in MARK_CLASSES if c in classes]
    if verified:
        out.append("verified")
    return out


def from_events(events: Sequence[ev.Event]) -> tuple[list[dict[str, Any]],
                                                      list[dict[str, Any]], dict[str, Any]]:
    """CSAT answers, notes and the newest CRM link among a person's case events."""
    csat, notes, crm = [], [], {}
    for e in events:
        if isinstance(e, ev.FollowupAnswered):
            csat.append({"case": e.stream, "at": e.at, "csat": e.csat, "thumbs": e.thumbs,
                         "text": e.text})
        elif isinstance(e, ev.NoteAdded):
            notes.append({"case": e.stream, "at": e.at, "by": e.actor, "text": e.text})
        elif isinstance(e, ev.CrmLinked) and (not crm or e.at >= crm["at"]):
            crm = {"crm_id": e.crm_id, "name": e.name, "email": e.email,
                   "lists": list(e.lists), "at": e.at}
    key = lambda item: item["at"]  # noqa: E731
    return sorted(csat, key=key, reverse=True), sorted(notes, key=key, reverse=True), crm
