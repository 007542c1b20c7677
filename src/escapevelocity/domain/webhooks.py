"""Which events a CRM or contact center hears about, and the signed body (pure).

Topics: case.created, case.escalated, case.resolved, lead.passed_to_sales (the case moved to a
sales team, or was tagged `lead`), csat.received. The body carries the case's routing facts and
the event, never the mention's text beyond its bounded title: the receiver fetches more through
the API with its own token. The signature is HMAC-SHA256 over "<timestamp>.<body>" with the
shared secret, so a receiver can refuse both forgeries and stale replays.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case

CASE_CREATED, CASE_ESCALATED, CASE_RESOLVED = "case.created", "case.escalated", "case.resolved"
LEAD_TO_SALES, CSAT_RECEIVED = "lead.passed_to_sales", "csat.received"
TOPICS = (CASE_CREATED, CASE_ESCALATED, CASE_RESOLVED, LEAD_TO_SALES, CSAT_RECEIVED)
SALES_TEAMS = frozenset({"sales"})
LEAD_TAGS = frozenset({"lead", "sales_lead"})
CASE_FIELDS = ("id", "state", "channel", "author_handle", "title", "team", "assignee", "track",
               "priority", "crm_id", "csat")
SIGNATURE, TIMESTAMP, DELIVERY = "X-EV-Signature", "X-EV-Timestamp", "X-EV-Delivery"


def topic(event: ev.Event) -> str | None:
    d = event.data
    if event.kind == ev.OPENED:
        return CASE_CREATED
    if event.kind == ev.ESCALATED:
        return CASE_ESCALATED
    if event.kind == ev.RESOLVED:
        return CASE_RESOLVED
    if event.kind == ev.FOLLOWUP_ANSWERED:
        return CSAT_RECEIVED
    if event.kind == ev.ASSIGNED and d.get("team") in SALES_TEAMS:
        return LEAD_TO_SALES
    if event.kind == ev.TAGS_CHANGED and LEAD_TAGS & set(d.get("add", ())):
        return LEAD_TO_SALES
    return None


def body(delivery_id: str, name: str, event: ev.Event, case: Case | None
         ) -> dict[str, Any]:
    facts = {k: getattr(case, k) if case else None for k in CASE_FIELDS}
    data = {k: v for k, v in event.data.items()
            if k in ("team", "member", "action", "clock", "csat", "thumbs", "happy", "add")}
    return {"delivery_id": delivery_id, "topic": name, "at": event.at.isoformat(),
            "case": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                     for k, v in facts.items()},
            "event": {"seq": event.seq, "kind": event.kind, "actor": event.actor, "data": data}}


def sign(secret: str, timestamp: str, raw: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, raw: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, raw), signature)
