"""The scorecard of a drill played by people: each player and the team. Pure.

A drill's sandbox holds the case log the players wrote by working the injected mentions in the
normal inbox. From it, per player: how fast they claimed and answered (simulated minutes from
the case opening), how many answers landed within the case's SLA, whether they followed the
playbook (answered what it said to answer, left alone what it said to watch), the hand-offs
(escalations) they made and the approvals they asked for. The score (0-100) weighs speed
within SLA (40), following the playbook (30) and taking a fair share of the work (30); the
team's is the players' mean, with how much of what needed an answer got one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.events import Event


@dataclass(frozen=True)
class PersonScore:
    member: str
    cases: int = 0  # cases they claimed, answered or handed on
    claims: int = 0
    answers: int = 0  # replies sent or drafts held for approval
    within_sla: int = 0
    followed: int = 0  # answers and closures as the playbook said
    against: int = 0  # answered what the playbook said to leave alone
    escalations: int = 0  # hand-offs to another team or member
    approvals_asked: int = 0
    claim_minutes: float | None = None  # median, simulated time from opening
    answer_minutes: float | None = None
    score: float = 0.0
    case_ids: tuple[str, ...] = ()  # the sandbox cases behind `cases` (the reports list them)


@dataclass(frozen=True)
class TeamScore:
    players: int
    cases: int
    needing_answer: int
    answered: int
    answer_minutes: float | None
    escalations: int
    approvals_asked: int
    score: float


@dataclass(frozen=True)
class PeopleCard:
    people: list[PersonScore]
    team: TeamScore
    weights: dict[str, int] = field(default_factory=lambda: {"speed": 40, "playbook": 30,
                                                             "share": 30})


def _minutes(a: datetime, b: datetime) -> float:
    return max(0.0, (b - a).total_seconds() / 60)


def _median(xs: Sequence[float]) -> float | None:
    return round(statistics.median(xs), 1) if xs else None


def score(players: Sequence[str], cases: Mapping[str, Mapping[str, Any]],
          streams: Mapping[str, Iterable[Event]]) -> PeopleCard:
    """`cases`: the sandbox projection by case id (sla_due); `streams`: each case's events."""
    per: dict[str, dict[str, Any]] = {p: {"cases": set(), "claims": [], "answers": [],
                                          "within": 0, "followed": 0, "against": 0,
                                          "escalations": 0, "approvals": 0}
                                      for p in players}
    needing = answered = 0
    first_answers: list[float] = []
    for case_id, events in streams.items():
        events = list(events)
        opened = next((e.at for e in events if e.kind == ev.OPENED), None)
        if opened is None:
            continue
        decided = [e for e in events if isinstance(e, ev.Decided)]
        respond = bool(decided[-1].decision.get("respond", True)) if decided else True
        due = cases.get(case_id, {}).get("sla_due")
        if due is not None and due.tzinfo is None:  # SQLite reads back naive UTC
            due = due.replace(tzinfo=UTC)
        needing += respond
        seen_claim: set[str] = set()
        seen_answer: set[str] = set()
        first = None
        for e in events:
            who = e.actor
            if e.kind in (ev.REPLIED, ev.APPROVAL_REQUESTED) and first is None:
                first = e.at
            if who not in per:
                continue
            p = per[who]
            if e.kind == ev.CLAIMED and who not in seen_claim:
                seen_claim.add(who)
                p["cases"].add(case_id)
                p["claims"].append(_minutes(opened, e.at))
            elif e.kind in (ev.REPLIED, ev.APPROVAL_REQUESTED) and who not in seen_answer:
                if e.kind == ev.REPLIED and getattr(e, "approved_by", None):
                    continue  # the approved draft was counted when it was asked for
                seen_answer.add(who)
                p["cases"].add(case_id)
                p["answers"].append(_minutes(opened, e.at))
                p["within"] += due is None or e.at <= due
                p["followed" if respond else "against"] += 1
                p["approvals"] += e.kind == ev.APPROVAL_REQUESTED
            elif e.kind == ev.RESOLVED and not respond and who not in seen_answer:
                p["cases"].add(case_id)
                p["followed"] += 1
            elif e.kind == ev.ASSIGNED and getattr(e, "by", None) == who:
                p["cases"].add(case_id)
                p["escalations"] += 1
        if respond and first is not None:
            answered += 1
            first_answers.append(_minutes(opened, first))
    fair = max(1.0, needing / max(1, len(players)))
    people = []
    for member, p in per.items():
        answers = len(p["answers"])
        handled = p["followed"] + p["against"]
        speed = p["within"] / answers if answers else 0.0
        playbook = p["followed"] / handled if handled else 0.0
        share = min(1.0, handled / fair)
        people.append(PersonScore(
            member, len(p["cases"]), len(p["claims"]), answers, p["within"], p["followed"],
            p["against"], p["escalations"], p["approvals"], _median(p["claims"]),
            _median(p["answers"]), round(40 * speed + 30 * playbook + 30 * share, 1),
            tuple(sorted(p["cases"]))))
    team = TeamScore(len(players), len(streams), needing, answered, _median(first_answers),
                     sum(x.escalations for x in people), sum(x.approvals_asked for x in people),
                     round(statistics.mean(x.score for x in people), 1) if people else 0.0)
    return PeopleCard(people, team)
