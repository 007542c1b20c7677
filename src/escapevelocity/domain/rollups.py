"""Counters kept from the event log as it is appended, so pages read a few rows, not the log.

A rollup is a named counter per key, moved only by events: the store adds each appended batch's
deltas in the same transaction as the events themselves, so a counter can never disagree with
the log it came from, and `ev workspace rebuild` recomputes every counter from the log alone.

Pages that scanned the log at every view (the playbook's hit counts decoded every DECIDED
event: 28 s at 176k cases; the Signals page's correction counts decoded every event: 97 s)
read these instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain import kpis

RULE_HITS = "rule_hits"  # key: "<playbook version> <rule id>"; DECIDED events per rule
CORRECTIONS = "corrections"  # key: "<signal> <label>"; CORRECTED events
# Answers and community (issue 22). DEFLECTION keys: "linked_peer" (a reply that linked a peer
# answer), "community_resolved", "answer_used <source>", "auto_replied", "auto_withdrawn";
# ADVOCACY keys: "invited", and the ledger's entries (accepted, declined, activity, reward).
# Each count's cases are the events of that kind (`ev answers report` lists them).
DEFLECTION = "deflection"
ADVOCACY = "advocacy"
SAVED_REPLIES = "saved_replies"  # key: a saved reply's name; replies sent with it (usage)
SAVED_PREFIX = "saved:"  # a Replied event's template naming a saved reply
# key: "<UTC day> <histogram bucket>" (domain/kpis.py); approvals decided, by minutes waited
APPROVAL_WAIT = "approval_wait"
NAMES = (RULE_HITS, CORRECTIONS, DEFLECTION, ADVOCACY, SAVED_REPLIES, APPROVAL_WAIT)
# the only events that move a counter
KINDS = frozenset({ev.DECIDED, ev.CORRECTED, ev.REPLIED, ev.ANSWER_USED, ev.COMMUNITY_RESOLVED,
                   ev.AUTO_REPLIED, ev.AUTO_REPLY_WITHDRAWN, ev.ADVOCATE_INVITED,
                   ev.ADVOCATE_LEDGER, ev.APPROVED, ev.REJECTED})
KEY_CHARS = 300  # keys are bounded: a hostile rule id or label cannot grow the table's rows


def _key(*parts: Any) -> str:
    return " ".join(str(p) for p in parts)[:KEY_CHARS]


def deltas(events: Iterable[Any]) -> Counter[tuple[str, str]]:
    """What a batch of events adds to each (rollup, key). Pure."""
    out: Counter[tuple[str, str]] = Counter()
    for e in events:
        if e.kind not in KINDS:
            continue
        data: Mapping[str, Any] = e.data if isinstance(e.data, Mapping) else {}
        if e.kind == ev.DECIDED:
            decision = data.get("decision") or {}
            if isinstance(decision, Mapping):
                out[(RULE_HITS, _key(decision.get("playbook_version", "?"),
                                     decision.get("rule_id", "?")))] += 1
        elif e.kind == ev.REPLIED:
            template = data.get("template") or ""
            if isinstance(template, str) and template.startswith(SAVED_PREFIX):
                out[(SAVED_REPLIES, _key(template[len(SAVED_PREFIX):]))] += 1
        elif e.kind in _COMMUNITY_KINDS:
            out.update(_community(e))
        elif e.kind in (ev.APPROVED, ev.REJECTED):
            waited = data.get("waited")
            if isinstance(waited, int | float):
                kind = data.get("approval_kind") or ""
                kind = kind if isinstance(kind, str) and kind in kpis.APPROVAL_KINDS else ""
                out[(APPROVAL_WAIT, _key(e.at.astimezone(UTC).date().isoformat(),
                                         kpis.bucket(max(0.0, waited)),
                                         *((kind,) if kind else ())))] += 1
        elif "signal" in data and "label" in data:
            out[(CORRECTIONS, _key(data["signal"], data["label"]))] += 1
    return out


_COMMUNITY_KINDS = frozenset({ev.ANSWER_USED, ev.COMMUNITY_RESOLVED, ev.AUTO_REPLIED,
                             ev.AUTO_REPLY_WITHDRAWN, ev.ADVOCATE_INVITED, ev.ADVOCATE_LEDGER})


def _community(e: Any) -> Counter[tuple[str, str]]:
    out: Counter[tuple[str, str]] = Counter()
    match e:
        case ev.AnswerUsed():
            out[(DEFLECTION, _key("answer_used", e.source or "?"))] += 1
            if e.linked:
                out[(DEFLECTION, "linked_peer")] += 1
        case ev.CommunityResolved():
            out[(DEFLECTION, "community_resolved")] += 1
        case ev.AutoReplied():
            out[(DEFLECTION, "auto_replied")] += 1
        case ev.AutoReplyWithdrawn():
            out[(DEFLECTION, "auto_withdrawn")] += 1
        case ev.AdvocateInvited():
            out[(ADVOCACY, "invited")] += 1
        case ev.AdvocateLedger():
            out[(ADVOCACY, _key(e.entry))] += 1
    return out


def rule_hits(rows: Mapping[str, int], version: str | None = None) -> Counter[str]:
    """Hits per rule id from the RULE_HITS rollup, for one playbook version or all."""
    hits: Counter[str] = Counter()
    for key, count in rows.items():
        v, _, rule = key.partition(" ")
        if version is None or v == version:
            hits[rule] += count
    return hits


def pairs(rows: Mapping[str, int]) -> dict[str, dict[str, int]]:
    """"<a> <b>" keyed counts as {a: {b: count}} (corrections by signal and label)."""
    out: dict[str, dict[str, int]] = {}
    for key, count in rows.items():
        a, _, b = key.partition(" ")
        out.setdefault(a, {})[b] = out.get(a, {}).get(b, 0) + count
    return out
