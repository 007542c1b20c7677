"""The ingest plan: what a batch of new mentions does to the workspace. Pure.

The shell (services/ingest.py) reads what the store knows of the batch (`Seen`), enriches
the fresh mentions, and hands both here with `decide` (the playbook and routing on the live
routing state). `plan_batch` answers with the rows and events to write: which mentions are
duplicates, which open a case (opened, decided, assigned) and which join one (an author's
open case, or the case of the post they reply to). Joins to cases stored before the batch are
finished by `plan_joins` once the shell has read those cases under lock, because a resolved
case reopens (or records the answer to our satisfaction question) only on its current state.
Nothing here reads a clock or a database, so the tests run it on plain records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.domain import cases as projection
from escapevelocity.domain import engagement
from escapevelocity.domain import events as ev
from escapevelocity.domain.authors import AuthorHistory, with_history
from escapevelocity.domain.cases import Case
from escapevelocity.domain.events import Event
from escapevelocity.domain.playbook import Context
from escapevelocity.domain.records import Mention, Signals

_enc = msgspec.json.encode
# (decision, assignment) for a mention that opens a case: the playbook, then routing on the
# live routing state (which the callable updates as it hands out work).
Decide = Callable[[Mention, Signals, Context], tuple[Any, Any]]


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    opened: int = 0
    joined: int = 0
    case_ids: list[str] = field(default_factory=list)
    teams: set[str] = field(default_factory=set)
    stored: list[str] = field(default_factory=list)  # keys of the mentions newly stored

    def add(self, other: IngestReport) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.opened += other.opened
        self.joined += other.joined
        self.case_ids += other.case_ids
        self.teams |= other.teams
        self.stored += other.stored


@dataclass
class Seen:
    """What the store knew before the batch."""

    known: dict[str, str]  # stored mention key (the batch's and reply parents') -> case id
    by_author: dict[tuple[str, str], str]  # (channel, handle) -> newest open case in window
    history: dict[tuple[str, str], AuthorHistory]
    vips: frozenset[str] = frozenset()


@dataclass
class BatchPlan:
    report: IngestReport
    # in the store's MENTION_COLUMNS order, in arrival order: a case's first mention is the one
    # with the lowest row id (services/refine). Writers of the same mentions queue before they
    # read: ingest locks their authors in sorted order (Tx.lock_keys).
    mention_rows: list[tuple]
    new_cases: dict[str, Case]
    events: list[Event]  # of the cases this batch opens
    joins: list[Event]  # mention_added to cases stored before the batch (see plan_joins)
    texts: dict[str, str]  # mention key -> text, for answers to the satisfaction question


def plan_batch(batch: list[Mention], seen: Seen, signals: Mapping[str, Signals],
               decide: Decide, now: datetime, context: Context = Context()) -> BatchPlan:
    """`signals` holds the fresh mentions' signals by key (the first of a repeated key is
    the one ingested). Mutates `seen` as later mentions of the batch see earlier ones."""
    report = IngestReport()
    known, by_author, history, vips = seen.known, seen.by_author, seen.history, seen.vips
    stored = set(known)
    new_cases: dict[str, Case] = {}
    joins: list[Event] = []
    rows: list[tuple] = []
    events: list[Event] = []
    texts: dict[str, str] = {}
    for m in batch:
        key = m.key
        if key in stored:
            report.duplicates += 1
            continue
        stored.add(key)
        sig = signals[key]
        channel, handle = m.channel, m.author.handle
        prior = history.get((channel, handle))
        vip = bool(vips) and handle.lower().lstrip("@") in vips
        decide_in = context
        if prior is not None or vip:  # who is asking, from the workspace's own history
            sig = with_history(sig, prior, vip)
            decide_in = dataclasses.replace(
                context, author_history=prior.mentions if prior else 0, vip=vip)
        case_id = (known.get(f"{channel}:{m.in_reply_to}") if m.in_reply_to else None
                   ) or by_author.get((channel, handle))
        opened_case = not case_id
        if case_id:
            e = ev.MentionAdded(stream=case_id, at=now, actor=ev.SYSTEM, mention=key,
                                mention_at=m.created_at, situation=sig.situation)
            case = new_cases.get(case_id)
            if case is not None:
                new_cases[case_id] = projection.apply(case, e)
                events.append(e)
            else:
                joins.append(e)
                texts[key] = m.text
            report.joined += 1
        else:
            case_id = projection.case_id_for(key)
            d, a = decide(m, sig, decide_in)
            opened = [
                ev.Opened(stream=case_id, at=now, actor=ev.SYSTEM, mention=key, author=handle,
                          channel=channel, title=m.text[:projection.TITLE_CHARS],
                          mention_at=m.created_at),
                ev.Decided(stream=case_id, at=now, actor=ev.SYSTEM,
                           decision=msgspec.to_builtins(d), signals=msgspec.to_builtins(sig)),
                ev.Assigned(stream=case_id, at=now, actor=ev.SYSTEM, team=a.team,
                            member=a.member, strategy=a.strategy, explanation=a.explanation),
            ]
            events += opened
            new_cases[case_id] = projection.replay(case_id, opened)
            report.opened += 1
            report.teams.add(a.team)
        by_author[(channel, handle)] = case_id
        prior = prior or AuthorHistory()  # later mentions of this batch see this one
        history[(channel, handle)] = msgspec.structs.replace(
            prior, mentions=prior.mentions + 1, cases=prior.cases + opened_case)
        report.case_ids.append(case_id)
        report.stored.append(key)
        rows.append((channel, m.source_id, case_id, handle, m.created_at, now,
                     _enc(m).decode(), _enc(sig).decode(), sig.provisional))
        report.accepted += 1
        known.setdefault(key, case_id)
    return BatchPlan(report, rows, new_cases, events, joins, texts)


def plan_joins(current: dict[str, Case], joins: list[Event], texts: Mapping[str, str],
               rules: engagement.Policy | None, now: datetime
               ) -> tuple[dict[str, Case], list[Event]]:
    """Apply the joins to the cases as read under lock: a resolved case reopens, unless the
    mention answers our satisfaction question (then the answer is recorded). Returns the
    updated cases and the extra events (reopened, answered)."""
    current = dict(current)
    extra: list[Event] = []
    for e in joins:
        case = current[e.stream]
        updated = projection.apply(case, e)
        if case.state == "resolved":
            followed = _answer(case, texts.get(e.mention, ""), rules, now, e.mention)
            for f in followed or [ev.Reopened(stream=e.stream, at=now, actor=ev.SYSTEM,
                                              mention=e.mention)]:
                updated = projection.apply(updated, f)
                extra.append(f)
        current[e.stream] = updated
    return current, extra


def needs_policy(current: Mapping[str, Case]) -> bool:
    """Whether plan_joins will read the engagement policy (only for cases that asked)."""
    return any(c.state == "resolved" and c.followup_state == "asked"
               for c in current.values())


def _answer(case: Case, text: str, rules: engagement.Policy | None, now: datetime,
            mention: str) -> list[Event]:
    if case.followup_state != "asked" or not text or rules is None:
        return []
    csat, thumbs = engagement.parse_answer(text)
    if csat is None and thumbs is None:
        return []
    return engagement.answer_events(case, csat, thumbs, text, ev.SYSTEM, now, rules,
                                    mention=mention)
