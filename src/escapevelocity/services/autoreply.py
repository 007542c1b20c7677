"""Automated replies: every path that may answer a case without a person comes here.

The paths: ingest (services/intake.Intake.take, after each batch), the worker's tick
(`tick`: cases decided in the last hour), `ev answers auto CASE`, the case page's button and
the API's POST /api/auto-replies. Each calls `attempt`, which reads the case, the
crisis level, the author's recent automated replies and the best approved answer inside one
write transaction (the case row locked), asks THE rule (domain/answers/guard.verdict), and
only on its yes sends through the outbound port and appends `replied` + `auto_replied`.

Reversible: `withdraw` deletes the message through the sender's `withdraw` (the dry-run sender
records it) and appends `auto_reply_withdrawn`; the case goes back to the queue. Measured:
`measure` reads what the customers did next (their next mention's sentiment, reopened cases).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import msgspec

from escapevelocity.adapters.outbound import DryRunSender, Senders, send_with_retries
from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import outbound
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.answers import guard
from escapevelocity.domain.cases import Case
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.services import answers
from escapevelocity.services.casetx import CaseError, authorize, commit, load
from escapevelocity.services.crisis import DOCUMENT as CRISIS_DOCUMENT
from escapevelocity.services.crisis import CrisisState

AUTO_ACTOR = answers.AUTO_ACTOR
PATHS = ("ingest", "worker", "cli", "web", "api")
TICK_LOOKBACK = timedelta(hours=1)  # the worker answers only fresh questions
CURSOR = "autoreply_cursor"
_mention = msgspec.json.Decoder(Mention)
_signals = msgspec.json.Decoder(Signals)


class Outcome(msgspec.Struct, frozen=True):
    case: str
    verdict: guard.Verdict
    event: Event | None = None


def crisis_level(tx: Tx) -> str:
    raw = tx.documents.get(CRISIS_DOCUMENT)
    return msgspec.json.decode(raw, type=CrisisState).level if raw else "normal"


def _author_key(case: Case) -> str:
    return f"{case.channel}:{case.author_handle}"


def ask_for(tx: Tx, case: Case, match: answers.Suggestion | None,
            now: datetime) -> guard.AutoReplyAsk:
    """What the rule needs to know about `case`, read from the store."""
    history = tx.events.stream(case.id)
    decided = next((e for e in reversed(history) if isinstance(e, ev.Decided)), None)
    decision = decided.decision if decided else {}
    signals = decided.signals if decided else {}
    rows = tx.mentions.of_case(case.id)
    first = min((_mention.decode(r.body) for r in rows), key=lambda m: m.created_at,
                default=None)
    sentiments = [_signals.decode(r.signals).sentiment_label for r in rows]
    key = _author_key(case)
    recent = [e.at for e in tx.events.of_kinds([ev.AUTO_REPLIED],
                                                since=now - guard.AUTHOR_WINDOW, limit=10_000)
              if isinstance(e, ev.AutoReplied) and e.author == key]
    return guard.AutoReplyAsk(
        playbook_allows=bool(decision.get("auto_reply")),
        situation=case.situation or signals.get("situation"),
        # the angriest thing the author said on this case counts
        sentiment="negative" if "negative" in sentiments else (
            case.sentiment or signals.get("sentiment_label")),
        author_class=case.author_class or signals.get("author_class"),
        reach=first.author.followers if first else 0,
        vip=bool(signals.get("vip")),
        crisis_level=crisis_level(tx),
        match_score=match.score if match else 0.0,
        answer_approved=bool(match and match.entry.approved),
        recent_auto_replies=recent, now=now,
        already_replied=bool(case.first_response_at) or case.state in (
            "replied", "resolved") or any(e.kind == ev.REPLIED for e in history))


def best_approved(store: SqlStore, question: str) -> answers.Suggestion | None:
    return next((s for s in answers.suggest(store, question, k=5) if s.entry.approved), None)


def attempt(store: SqlStore, clock: Clock, case_id: str, *, path: str,
            senders: Senders | None = None, by: str = "") -> Outcome:
    """Send the approved answer automatically if, and only if, the guard says yes."""
    if path not in PATHS:
        raise ValueError(f"unknown path {path!r}")
    now = clock.now()
    with store.begin() as tx:
        peek = tx.cases.get(case_id)
        if peek is None:
            raise CaseError(f"no case {case_id!r}")
        question = " ".join(_mention.decode(r.body).text for r in tx.mentions.of_case(case_id))
    match = best_approved(store, question or peek.title)
    with store.begin() as tx:
        case = load(tx, case_id)  # locked: a person replying meanwhile is seen here
        verdict = guard.verdict(ask_for(tx, case, match, now))
        if not verdict.allowed or match is None:
            return Outcome(case_id, verdict)
        name = ""
        rows = tx.mentions.of_case(case_id)
        if rows:
            author = _mention.decode(rows[0].body).author
            name = author.name or author.handle
        text = guard.compose(name, match.entry.answer)[:outbound_limit()]
        result, sent_dry = _send(tx, case, text, senders or Senders())
        if not result.ok:
            failed = ev.SendFailed(stream=case_id, at=now, actor=AUTO_ACTOR, what="auto_reply",
                                   error=str(result.error)[:500], text=text)
            commit(tx, case, failed)
            return Outcome(case_id, guard.Verdict(False, (f"send failed: {result.error}",)))
        replied = ev.Replied(stream=case_id, at=now, actor=AUTO_ACTOR, text=text,
                             template=f"auto:{match.entry.id}",
                             visibility=case.visibility or "public", dry_run=sent_dry)
        auto = ev.AutoReplied(stream=case_id, at=now, actor=AUTO_ACTOR, entry=match.entry.id,
                              score=match.score, text=text, reasons=list(verdict.reasons),
                              path=path, by=by[:64], author=_author_key(case),
                              network_id=result.network_id, dry_run=sent_dry)
        commit(tx, case, replied, auto)
        return Outcome(case_id, verdict, auto)


def outbound_limit() -> int:
    from escapevelocity.services.cases import MAX_REPLY_CHARS

    return MAX_REPLY_CHARS


def _send(tx: Tx, case: Case, text: str, senders: Senders) -> tuple[Any, bool]:
    mode = outbound.load_mode(tx.documents.get(outbound.MODE_DOCUMENT))
    sender = senders.get(case.channel) if mode.live(case.channel) else None
    if sender is None:
        sender = DryRunSender(case.channel)
    # a sender reads a target mapping (domain/outbound.Sender): here, the case's fields
    result, _ = send_with_retries(sender, msgspec.structs.asdict(case), text,
                                  case.visibility or "public",
                                  attempts=2, backoff=0.2)
    return result, bool(result.dry_run)


def withdraw(store: SqlStore, clock: Clock, case_id: str, member: str, note: str = "",
             senders: Senders | None = None) -> Event:
    """Take the case's automated reply back (delete it on the network) and requeue the case."""
    now = clock.now()
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.REPLY, case)
        history = tx.events.stream(case_id)
        autos = [e for e in history if isinstance(e, ev.AutoReplied)]
        if not autos or any(isinstance(e, ev.AutoReplyWithdrawn) for e in history
                            if e.seq and autos[-1].seq and e.seq > autos[-1].seq):
            raise CaseError("this case has no automated reply to withdraw")
        last = autos[-1]
        sender = (senders or Senders()).get(case.channel) if not last.dry_run else None
        sender = sender or DryRunSender(case.channel)
        take_back = getattr(sender, "withdraw", None)
        error = ""
        if take_back is None:
            error = f"{case.channel} cannot delete a sent message; reply with a correction"
        elif last.network_id:
            result = take_back(msgspec.structs.asdict(case), last.network_id)
            error = result.error or ""
        event = ev.AutoReplyWithdrawn(stream=case_id, at=now, actor=member,
                                      network_id=last.network_id, note=note[:500],
                                      error=error[:500])
        commit(tx, case, event)
        return event


def after_ingest(store: SqlStore, clock: Clock, case_ids: list[str],
                 senders: Senders | None = None) -> list[Outcome]:
    """The ingest path: try the cases a batch opened whose rule allows auto-replies."""
    out = []
    with store.begin() as tx:
        candidates = [c for c in dict.fromkeys(case_ids) if _allowed_by_rule(tx, c)]
    for case_id in candidates:
        out.append(attempt(store, clock, case_id, path="ingest", senders=senders))
    return out


def playbook_allows(playbook: Any) -> bool:
    """Does any rule of the active playbook allow automated replies? (Ingest asks nothing
    more of a workspace that never turned them on.)"""
    return any(r.then.auto_reply for r in playbook.spec.rules)


def _allowed_by_rule(tx: Tx, case_id: str) -> bool:
    decided = [e for e in tx.events.stream(case_id) if isinstance(e, ev.Decided)]
    return bool(decided and decided[-1].decision.get("auto_reply"))


def tick(store: SqlStore, clock: Clock, now: datetime | None = None,
         senders: Senders | None = None, playbook: Any = None) -> int:
    """The worker's path: cases decided since the last pass (within TICK_LOOKBACK) whose rule
    allows an automated reply; returns how many were sent. With `playbook` (the active one)
    allowing none, the pass only moves its cursor."""
    now = now or clock.now()
    with store.begin() as tx:
        raw = tx.documents.get(CURSOR)
        cursor = int(raw) if raw and raw.isdigit() else 0
        if playbook is not None and not playbook_allows(playbook):
            head = tx.events.last_seq()
            if head != cursor:
                tx.documents.put(CURSOR, str(head), now)
            return 0
        decided = tx.events.after(cursor, [ev.DECIDED], limit=20_000)
        last = max((e.seq or 0 for e in decided), default=cursor)
        fresh = [e.stream for e in decided if isinstance(e, ev.Decided)
                 and e.decision.get("auto_reply") and now - e.at <= TICK_LOOKBACK]
    sent = 0
    for case_id in dict.fromkeys(fresh):
        if attempt(store, clock, case_id, path="worker", senders=senders).event is not None:
            sent += 1
    with store.begin() as tx:
        tx.documents.put(CURSOR, str(last), now)
    return sent


def measure(store: SqlStore) -> dict[str, Any]:
    """What followed the automated replies: the customer's next mention's sentiment, reopened
    cases, withdrawn replies."""
    with store.begin() as tx:
        autos = [e for e in tx.events.of_kind(ev.AUTO_REPLIED, limit=100_000)
                 if isinstance(e, ev.AutoReplied)]
        streams = tx.events.streams(dict.fromkeys(e.stream for e in autos))
        next_sentiment: Counter[str] = Counter()
        for a in autos:
            later = [_signals.decode(r.signals).sentiment_label
                     for r in sorted(tx.mentions.of_case(a.stream),
                                     key=lambda r: _mention.decode(r.body).created_at)
                     if _mention.decode(r.body).created_at > a.at]
            next_sentiment[later[0] if later else "no reply"] += 1
    reopened = sum(1 for s in streams.values() if any(e.kind == ev.REOPENED for e in s))
    withdrawn = sum(1 for s in streams.values()
                    if any(e.kind == ev.AUTO_REPLY_WITHDRAWN for e in s))
    n = len(autos)
    return {"auto_replies": n, "next_sentiment": dict(next_sentiment), "reopened": reopened,
            "reopen_rate": round(reopened / n, 3) if n else None, "withdrawn": withdrawn,
            "cases": [a.stream for a in autos]}
