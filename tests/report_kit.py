"""Reports in tests: a workspace with ten days of traffic, and KPIs computed independently.

`fill` ingests generated mentions on several days (the clock moves), then answers, resolves
and rates some of the cases through the ordinary case commands' write path (casetx.commit).
`from_log` computes the figures again from the raw `events` table alone, with its own simple
rules (not the store's rollups, not domain/kpis.py): what the report pages must show.
"""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.demo.generator import generate
from escapevelocity.domain import events as ev
from escapevelocity.services import casetx
from escapevelocity.services.ingest import batches, ingest_batch

# The business calendar the calendar tests put on the "support" track: Berlin office hours.
OFFICE = {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}}
OFFICE_TRACK = "support"


def with_office_calendar(ws) -> None:
    """A new active playbook version: the demo's, with the support track's SLA on OFFICE."""
    import yaml

    with ws.store.begin() as tx:
        _, source = tx.playbooks.active()
    data = yaml.safe_load(source)
    data.setdefault("calendars", {})["office"] = OFFICE
    data["tracks"][OFFICE_TRACK]["calendar"] = "office"
    ws.save_playbook(yaml.safe_dump(data, sort_keys=False), author="system",
                     note="office hours for support (reports test)")


def office_minutes(a: datetime, b: datetime) -> float:
    """Business minutes of OFFICE in [a, b), day by day in Berlin time: the tests' own
    arithmetic (zoneinfo and datetime only), not domain/calendar.py's."""
    zone = ZoneInfo("Europe/Berlin")
    total = 0.0
    day = a.astimezone(zone).date()
    while datetime.combine(day, time(0), zone) < b:
        if day.weekday() < 5:
            lo = max(a, datetime.combine(day, time(9), zone))
            hi = min(b, datetime.combine(day, time(17), zone))
            if hi > lo:
                total += (hi - lo).total_seconds() / 60
        day += timedelta(days=1)
    return total


def fill(ws, clock, *, days: int = 10, per_day: int = 40, seed: int = 11,
         end: datetime | None = None) -> None:
    """`days` days of traffic ending at `end` (default: the clock's now, which it restores)."""
    end = end or clock.now()
    rng = random.Random(seed)
    triager = ws.triager()
    for d in range(days, 0, -1):
        at = end - timedelta(days=d - 1, hours=rng.randint(1, 5))
        if hasattr(clock, "set"):
            clock.set(at)
        mentions = generate(per_day, seed=seed * 100 + d, start=at - timedelta(hours=1))
        for batch in batches(iter(mentions), 50):
            ingest_batch(ws.store, triager, at, batch)
    if hasattr(clock, "set"):
        clock.set(end)
    with ws.store.begin() as tx:
        rows = tx.conn.execute(sa.select(t.cases.c.id, t.cases.c.opened_at, t.cases.c.respond)
                               .order_by(t.cases.c.id)).all()
    todo: dict[str, list] = {}
    for case_id, opened, respond in rows:
        opened = opened if opened.tzinfo else opened.replace(tzinfo=UTC)
        roll = rng.random()
        if roll < 0.55 and respond:  # answered after 5 min to 2 days
            reply_at = min(opened + timedelta(minutes=rng.choice([5, 20, 45, 90, 300, 2000])),
                           end)
            events = [ev.Replied(stream=case_id, at=reply_at, actor="sam", text="hello")]
            if rng.random() < 0.6:
                done = min(reply_at + timedelta(minutes=rng.randint(10, 3000)), end)
                events.append(ev.Resolved(stream=case_id, at=done, actor="sam"))
                if rng.random() < 0.5:
                    events.append(ev.FollowupAnswered(stream=case_id, at=done, actor="sam",
                                                      csat=rng.randint(1, 5)))
            todo[case_id] = events
        elif roll < 0.65:  # closed without an answer
            todo[case_id] = [ev.Resolved(stream=case_id, at=min(
                opened + timedelta(hours=3), end), actor="sam")]
    _commit(ws, todo)


def _commit(ws, events_by_case: dict) -> None:
    """Each case's events through the case commands' write path, in one transaction."""
    with ws.store.begin() as tx:
        for case_id, events in sorted(events_by_case.items()):
            casetx.commit(tx, casetx.load(tx, case_id), *events)


def from_log(store, start: date, end: date, now: datetime, *, office: bool = False) -> dict:
    """The figures of cases opened in days [start, end), from the event log alone. `office`:
    the support track's times are OFFICE business minutes (with_office_calendar), the
    others' elapsed minutes."""
    with store.begin() as tx:
        rows = tx.conn.execute(sa.select(t.events.c.stream, t.events.c.kind, t.events.c.at,
                                         t.events.c.data).order_by(t.events.c.seq)).all()
    cases: dict[str, dict] = {}
    for stream, kind, at, data in rows:
        if ":" in stream:
            continue
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        d = json.loads(data)
        c = cases.setdefault(stream, {"resolved": False, "first": None, "team": None,
                                      "csat": None, "assignee": None, "sla_due": None})
        if kind == "opened":
            c.update(opened=at, channel=d["channel"])
        elif kind == "decided":
            dec, sig = d["decision"], d["signals"]
            c["topics"] = sorted({str(x) for x in sig.get("topics") or ()})
            c.update(respond=dec["respond"], team=dec["team"], track=dec["track"],
                     sla=dec["sla_minutes"], visibility=dec.get("visibility", "public"),
                     situation=sig["situation"], sentiment=sig["sentiment_label"],
                     rule=dec["rule_id"], sla_due=c["opened"] + timedelta(
                         minutes=dec["sla_minutes"]))
        elif kind == "signals_revised" and d.get("first"):
            c.update(situation=d["signals"]["situation"],
                     sentiment=d["signals"]["sentiment_label"])
            c["topics"] = sorted({str(x) for x in d["signals"].get("topics") or ()})
        elif kind == "assigned":
            c["team"], c["assignee"] = d.get("team"), d.get("member")
        elif kind == "replied" and c["first"] is None:
            c["first"] = at
        elif kind == "resolved":
            c["resolved"] = True
            c["resolved_at"] = at
        elif kind == "reopened":
            c["resolved"] = False
        elif kind == "followup_answered" and d.get("csat") is not None:
            c["csat"] = d["csat"]
        elif kind == "sla_clock":
            c["sla_due"] = datetime.fromisoformat(d["due"]) if d.get("due") else None
    out: Counter = Counter()
    channels: Counter = Counter()
    ttfr: list[float] = []
    ttr: list[float] = []
    topics: dict[str, Counter] = defaultdict(Counter)
    timed: Counter = Counter()  # cases with a business time (answered or resolved), by track

    def minutes(c: dict, a: datetime, b: datetime) -> float:
        if office and c["track"] == OFFICE_TRACK:
            return office_minutes(a, b)
        return (b - a).total_seconds() / 60
    sla_team: dict[str, Counter] = defaultdict(Counter)
    no_reply: Counter = Counter()
    at_risk = 0
    queues: Counter = Counter()
    for c in cases.values():
        waiting = c["first"] is None and not c["resolved"] and c["respond"]
        if waiting and c["sla_due"] is not None and c["sla_due"] <= now + timedelta(
                minutes=30):
            at_risk += 1
        if c["respond"] and not c["resolved"]:
            queues[c["team"]] += 1
        if not start <= c["opened"].date() < end:
            continue
        out["cases"] += 1
        channels[c["channel"]] += 1
        for topic in c.get("topics") or [""]:
            topics[topic][c["sentiment"]] += 1
        if c["resolved"]:
            ttr.append(minutes(c, c["opened"], c["resolved_at"]))
        if c["resolved"] or c["first"] is not None:
            timed[c["track"]] += 1
        if not c["respond"]:
            out["no_reply"] += 1
            no_reply[c["rule"]] += 1
        else:
            out["needs_reply"] += 1
            if c["first"] is not None:
                out["responded"] += 1
                used = minutes(c, c["opened"], c["first"])
                ttfr.append(used)
                outcome = "met" if used <= c["sla"] else "late"
                out[f"sla_{outcome}"] += 1
                sla_team[c["team"]][outcome] += 1
            elif c["resolved"]:
                out["missed"] += 1
                sla_team[c["team"]]["missed"] += 1
        out["private"] += c["visibility"] == "private"
        out["leads"] += c["track"] == "sales_lead" or c["situation"] == "lead"
        out["resolved" if c["resolved"] else "open"] += 1
        if c["csat"] is not None:
            out["csat_n"] += 1
            out["csat_sum"] += c["csat"]
    return {"totals": dict(out), "channels": dict(channels), "no_reply": dict(no_reply),
            "ttfr_median": statistics.median_low(ttfr) if ttfr else None,
            "ttfr_p90": sorted(ttfr)[max(0, -(-9 * len(ttfr) // 10) - 1)] if ttfr else None,
            "ttr_median": statistics.median_low(ttr) if ttr else None,
            "ttfr_all": sorted(ttfr), "topics": {k: dict(v) for k, v in topics.items()},
            "timed": dict(timed),
            "sla_team": {k: dict(v) for k, v in sla_team.items()}, "at_risk": at_risk,
            "queues": dict(queues)}


# --- the rows that are not case counts: approvals, incidents, drills ----------------------------

def synthetic_scorecard(at: datetime, run: str, **figures):
    """A drill_scorecard event for a run that did not happen (a full drill takes a while)."""
    from escapevelocity.services.drill import card_event

    return card_event(synthetic_card(at, **figures), run, at, timeline=[
        {"at": at, "kind": "opened", "actor": "sam", "text": "drill: outage"}])


def synthetic_card(at: datetime, *, delay: float | None = 12.0, routing: float | None = 0.875,
                   met: tuple[bool, ...] = (True, False)):
    """A Scorecard with every field at its type's zero, these figures and checks."""
    import msgspec

    from escapevelocity.drill.score import Scorecard

    zero = {"IntType": 0, "FloatType": 0.0, "StrType": "", "BoolType": False,
            "ListType": [], "DictType": {}, "UnionType": None, "StructType": {},
            "DateTimeType": at.isoformat()}
    fields = {f.name: zero[type(f.type).__name__]
              for f in msgspec.inspect.type_info(Scorecard).fields}
    fields.update(scenario="service-outage", title="Network outage", detection_delay_min=delay,
                  routing_accuracy=routing, detected=delay is not None,
                  regular_group={"sla_met": 3, "breached": 1},
                  checks=[[f"check {i}", "x", "y", ok] for i, ok in enumerate(met)])
    return msgspec.convert(fields, type=Scorecard)


def beyond_cases(store, start: date, end: date, now: datetime) -> dict:
    """The report's rows that are not case counts, from the raw `events` table alone:
    reply drafts decided by kind (the minutes the decision recorded), playbook versions'
    waits, drafts waiting now, incidents' minutes at a crisis level in the period and the
    cases they affected, people's drill scores and the drill runs' scorecards."""
    with store.begin() as tx:
        rows = tx.conn.execute(sa.select(t.events.c.seq, t.events.c.stream, t.events.c.kind,
                                         t.events.c.at, t.events.c.data)
                               .order_by(t.events.c.seq)).all()
    lo = datetime.combine(start, time(0), UTC)
    hi = datetime.combine(end, time(0), UTC)
    decided: dict[str, list] = defaultdict(list)
    asked: dict[str, tuple] = {}
    pending: dict[tuple, datetime] = {}
    levels: dict[str, list] = defaultdict(list)
    opened: dict[str, datetime] = {}
    track: dict[str, tuple] = {}
    scores: dict[str, list] = defaultdict(list)
    runs = []
    for seq, stream, kind, at, data in rows:
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        d = json.loads(data)
        if kind in ("approved", "rejected"):
            pending.pop((stream, d.get("draft", "")), None)
            if isinstance(d.get("waited"), int | float) and start <= at.date() < end:
                decided[d.get("approval_kind") or "reply"].append((stream, d["waited"]))
        elif kind == "approval_requested":
            pending[(stream, d["draft"])] = at
        elif kind == "approval_withdrawn":
            pending.pop((stream, d.get("draft", "")), None)
        elif kind in ("playbook_requested", "spoke_requested"):
            asked[stream] = at
        elif kind in ("playbook_approved", "playbook_rejected", "spoke_approved") \
                and stream in asked:
            began = asked.pop(stream)
            if lo <= at < hi:
                decided["spoke" if kind == "spoke_approved" else "playbook_version"].append(
                    (stream, (at - began).total_seconds() / 60))
        elif kind in ("incident_opened", "incident_level"):
            levels[stream].append((at, d.get("level")))
        elif kind == "incident_stood_down":
            levels[stream].append((at, None))
        elif kind == "opened":
            opened[stream] = at
        elif kind == "decided":
            track[stream] = (d["decision"]["track"], d["signals"]["situation"])
        elif kind == "signals_revised" and d.get("first"):
            track[stream] = (track.get(stream, ("", ""))[0], d["signals"]["situation"])
        elif kind == "drill_scored" and lo <= at < hi:
            scores[d.get("drill") or "?"].append((d["member"], d["score"]))
        elif kind == "drill_scorecard" and lo <= at < hi:
            runs.append({"seq": seq, **d})
    stop = min(hi, now)
    incidents = {}
    for stream, marks in levels.items():
        crisis = 0.0
        for (at, level), nxt in zip(marks, [*marks[1:], (None, None)], strict=True):
            if level in ("crisis1", "crisis2", "crisis3"):
                a, b = max(at, lo), min(nxt[0] or stop, stop)
                crisis += max(0.0, (b - a).total_seconds() / 60)
        closed = marks[-1][0] if marks[-1][1] is None else None
        if marks[0][0] >= stop or (closed is not None and closed < lo):
            continue
        affected = sorted(c for c, at in opened.items()
                          if marks[0][0] <= at and (closed is None or at < closed)
                          and "crisis" in track.get(c, ()))
        incidents[stream] = {"crisis_minutes": crisis, "affected": affected}
    return {"decided": dict(decided), "waiting": {k: (now - v).total_seconds() / 60
                                                  for k, v in pending.items()},
            "incidents": incidents, "scores": dict(scores), "runs": runs}


def legal_draft(workspace, clock) -> str:
    """A legal-risk case whose reply by ana waits for approval (the playbook holds it)."""
    from engage_kit import LEGAL, open_case

    from escapevelocity.services import cases

    case_id = open_case(workspace, clock, LEGAL)
    cases.claim(workspace.store, clock, case_id, "ana")
    cases.reply(workspace.store, clock, case_id, "ana", "We're sorry. Please DM us.")
    return case_id


def decided_legal_drafts(workspace, clock) -> list[str]:
    """Two legal drafts omar decided: approved after 45 minutes, rejected after 200."""
    from escapevelocity.services import approvals

    done = []
    for minutes, decide in ((45, "approve"), (200, "reject")):
        case_id = legal_draft(workspace, clock)
        [draft] = [d.id for d in approvals.drafts(workspace.store, case_id, "omar")]
        clock.advance(minutes=minutes)
        if decide == "approve":
            approvals.approve(workspace.store, clock, case_id, "omar", draft)
        else:
            approvals.reject(workspace.store, clock, case_id, "omar", draft, "not this wording")
        done.append(case_id)
    return done
