"""Super users and the advocacy program: candidates scored from the workspace's own record
(domain/advocacy.py), invitations and the ledger (accepted, declined, activity, reward) as
events on each advocate's stream, counted in the `advocacy` rollup; and routing a question a
super user is good at to the "community" spoke, with the SLA clock it already has.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import msgspec

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import advocacy as adv
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.services import answers
from escapevelocity.services.casetx import CaseError, authorize, commit, load

RECENT_MENTIONS = 50_000  # how far back candidates are looked for
COMMUNITY_TEAM = "community"
_mention = msgspec.json.Decoder(Mention)
_signals = msgspec.json.Decoder(Signals)


def facts(tx: Tx, limit: int = RECENT_MENTIONS) -> list[adv.AuthorFacts]:
    by: dict[tuple[str, str], adv.AuthorFacts] = {}

    def of(channel: str, handle: str) -> adv.AuthorFacts:
        key = (channel, handle.lower())
        if key not in by:
            by[key] = adv.AuthorFacts(channel=channel, handle=handle.lower(), topics={})
        return by[key]

    topics: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in tx.mentions.recent(limit):
        m, s = _mention.decode(row.body), _signals.decode(row.signals)
        f = of(row.channel, row.author_handle)
        f.followers = max(f.followers, m.author.followers)
        if s.sentiment_label == "positive":
            f.positive.append(row.case_id)
        for helper in adv.thanked(m.text):
            if helper != row.author_handle.lower():
                h = of(row.channel, helper)
                h.helped.append((row.case_id, row.author_handle.lower()))
                for t in s.topics:
                    topics[(row.channel, helper)][t] += 1
    happy = [e.stream for e in tx.events.of_kind(ev.FOLLOWUP_ANSWERED, limit=100_000)
             if isinstance(e, ev.FollowupAnswered) and e.happy]
    for case_id, case in tx.cases.get_many(set(happy)).items():
        of(case.channel, case.author_handle).happy.append(case_id)
    authors = {e.id: e.author for e in answers.community_entries(tx) if e.author}
    for e in tx.events.of_kind(ev.ANSWER_USED, limit=100_000):
        if isinstance(e, ev.AnswerUsed) and e.linked and authors.get(e.entry):
            of("community", authors[e.entry]).linked.append(e.stream)
    for key, counts in topics.items():
        by[key].topics = dict(counts)
    return list(by.values())


def program(tx: Tx) -> dict[str, dict[str, Any]]:
    """Everyone invited, by stream: who, status, topics, and their ledger in order."""
    out: dict[str, dict[str, Any]] = {}
    for e in tx.events.of_kind(ev.ADVOCATE_INVITED, limit=100_000):
        if isinstance(e, ev.AdvocateInvited):
            out[e.stream] = {"channel": e.channel, "handle": e.handle, "topics": e.topics,
                             "invited_by": e.actor, "at": e.at, "evidence": e.evidence,
                             "ledger": []}
    for e in tx.events.of_kind(ev.ADVOCATE_LEDGER, limit=100_000):
        if isinstance(e, ev.AdvocateLedger) and e.stream in out:
            out[e.stream]["ledger"].append(e)
    for record in out.values():
        record["status"] = adv.status(x.entry for x in record["ledger"])
    return out


def candidates(store: SqlStore) -> list[tuple[adv.Candidate, str]]:
    """Candidates with their program status ("" when not invited)."""
    with store.begin() as tx:
        found = adv.candidates(facts(tx))
        invited = program(tx)
    return [(c, invited.get(adv.stream(c.channel, c.handle), {}).get("status", ""))
            for c in found]


def invite(store: SqlStore, clock: Clock, member: str, channel: str, handle: str) -> Event:
    with store.begin() as tx:
        authorize(tx, member, perm.FOLLOWUP)
        found = {(c.channel, c.handle): c for c in adv.candidates(facts(tx))}
        c = found.get((channel, handle.lower()))
        if c is None:
            raise CaseError(f"{channel}:@{handle} is not a candidate now")
        s = adv.stream(channel, handle)
        if s in program(tx):
            raise CaseError(f"@{handle} was already invited")
        event = ev.AdvocateInvited(stream=s, at=clock.now(), actor=member, channel=channel,
                                   handle=c.handle, score=c.score, evidence=list(c.evidence),
                                   topics=list(c.topics))
        tx.events.append([event])
        return event


def record(store: SqlStore, clock: Clock, member: str, channel: str, handle: str, entry: str,
           text: str = "", case: str | None = None, value: str = "") -> Event:
    """One ledger line for an invited author: accepted, declined, activity, reward."""
    if entry not in adv.LEDGER_ENTRIES:
        raise CaseError(f"a ledger entry is one of {', '.join(adv.LEDGER_ENTRIES)}")
    with store.begin() as tx:
        authorize(tx, member, perm.FOLLOWUP)
        s = adv.stream(channel, handle)
        if s not in program(tx):
            raise CaseError(f"@{handle} has not been invited")
        event = ev.AdvocateLedger(stream=s, at=clock.now(), actor=member, entry=entry,
                                  text=text[:500], case=case or None, value=value[:100])
        tx.events.append([event])
        return event


def route_to_community(store: SqlStore, clock: Clock, case_ids: list[str]) -> list[str]:
    """Questions an accepted super user is good at go to the community spoke (when the
    organisation has one); the SLA clock is the case's own, unchanged. Returns the cases moved."""
    moved = []
    with store.begin() as tx:
        # the cheap question first: most batches of most workspaces stop here
        accepted = [(r["channel"], r["handle"], tuple(r["topics"]))
                    for r in program(tx).values() if r["status"] == "accepted"]
        if not accepted or tx.org.load().team(COMMUNITY_TEAM) is None:
            return moved
        for case_id in dict.fromkeys(case_ids):
            case = load(tx, case_id)
            if case.situation != "question" or case.team == COMMUNITY_TEAM \
                    or case.first_response_at is not None:
                continue
            rows = tx.mentions.of_case(case_id)
            topics = {t for r in rows for t in _signals.decode(r.signals).topics}
            hit = adv.good_at([a for a in accepted if a[0] == case.channel], topics)
            if hit is None:
                continue
            handle, shared = hit
            commit(tx, case, ev.Assigned(
                stream=case_id, at=clock.now(), actor="system", team=COMMUNITY_TEAM,
                member=None, strategy="community",
                explanation=f"super user @{handle} answers {shared} questions",
                previous=case.team))
            moved.append(case_id)
    return moved
