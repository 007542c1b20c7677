"""The drill scorecard: a pure function of the scenario, its ground truth and what happened.

Inputs are plain records read by the shell: the generated items, the sandbox's cases (id ->
track, rule, times), the incident timeline events, the level changes, the simulated team's
summary and the injects. Figures:
- detection: did an alert fire, how long after the onset, at which level; the peak level
  declared against the expected one;
- routing: share of crisis posts whose case landed on the scenario's expected track (all, and
  those decided while a crisis level was active), per persona;
- time to first response and SLA breaches per group (crisis posts, regular customers);
- approvals requested and granted, their wait, the holding statement;
- regular customers' service level during the crisis (SLA met, first response) and how many
  of their cases were pulled into the crisis track.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

import msgspec

from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import case_id_for
from escapevelocity.domain.clock import utc
from escapevelocity.domain.crisis import RANK
from escapevelocity.domain.events import Event
from escapevelocity.drill.generate import DrillItem
from escapevelocity.drill.scenario import Scenario


class Group(msgspec.Struct, kw_only=True):
    cases: int = 0  # cases that need an answer
    answered: int = 0
    sla_met: int = 0
    breached: int = 0  # answered late, or due before the end and not answered
    # Over every case that needs an answer; one still unanswered at the end counts with its
    # wait so far (a lower bound), so an overwhelmed team cannot look fast by answering few.
    median_first_response_min: float | None = None
    p90_first_response_min: float | None = None

    @property
    def sla_met_share(self) -> float | None:
        due = self.sla_met + self.breached
        return self.sla_met / due if due else None


class Scorecard(msgspec.Struct, kw_only=True):
    scenario: str
    title: str
    start: datetime
    end: datetime
    onset: datetime
    mentions: int
    crisis_mentions: int
    # detection
    detected: bool
    first_alert_at: datetime | None
    detection_delay_min: float | None
    crisis_declared_at: datetime | None  # first crisis level (crisis1 or worse)
    crisis_delay_min: float | None
    detected_in_time: bool
    expected_level: str
    peak_level: str
    right_level: bool
    alerts: int
    alert_reasons: list[str]
    # routing
    routing_cases: int
    routing_accuracy: float | None
    routing_accuracy_in_crisis: float | None
    routing_by_persona: dict[str, list[float]]  # persona -> [cases, accuracy]
    misrouted: list[list[Any]]  # [persona, kind, expected, got, count], most frequent first
    regular_into_crisis: int
    # response
    crisis_group: Group
    regular_group: Group
    regular_before: Group  # regular customers before the onset (a reference, often small)
    sla_breaches: int
    breaches_by_track: dict[str, int]
    approvals_requested: int
    approvals_granted: int
    approval_median_wait_min: float | None
    statement_after_min: float | None  # holding statement, minutes after the first crisis level
    pages: int
    paged_roles: list[str]
    first_page_delay_min: float | None
    # for the plots
    hourly: list[list[Any]]  # [hour start, regular, crisis, level]
    levels: list[list[Any]]  # [at, level]
    injects: list[list[Any]]  # [at, name, description]
    checks: list[list[Any]]  # [what, figure, target, met]


def _minutes(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    return round((utc(b) - utc(a)).total_seconds() / 60, 1)


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1)


def _group(cases: list[dict[str, Any]], end: datetime) -> Group:
    g = Group()
    times: list[float] = []
    for c in cases:
        if not c["respond"]:
            continue
        g.cases += 1
        opened, first, due = c["opened_at"], c["first_response_at"], c["sla_due"]
        if first is not None:
            g.answered += 1
            times.append((utc(first) - utc(opened)).total_seconds() / 60)
            if due is not None and utc(first) > utc(due):
                g.breached += 1
            else:
                g.sla_met += 1
        else:
            times.append(max(0.0, (end - utc(opened)).total_seconds() / 60))
            if due is not None and utc(due) < end:
                g.breached += 1
    g.median_first_response_min = _quantile(times, 0.5)
    g.p90_first_response_min = _quantile(times, 0.9)
    return g


def level_at(levels: list[tuple[datetime, str]], at: datetime) -> str:
    current = "normal"
    for when, level in levels:
        if when <= at:
            current = level
        else:
            break
    return current


def score(s: Scenario, items: list[DrillItem], cases: dict[str, dict[str, Any]],
          incident_events: list[Event], levels: list[tuple[datetime, str]],
          team: dict[str, Any], injects: list[tuple[datetime, str, str]], *,
          end: datetime) -> Scorecard:
    onset = s.start + timedelta(hours=s.onset_hours)
    end = utc(end)
    alerts = [e for e in incident_events if e.kind == ev.INCIDENT_DETECTED]
    alerts.sort(key=lambda e: e.at)
    first_alert = alerts[0].at if alerts else None
    crisis_at = next((when for when, level in levels if level.startswith("crisis")), None)
    peak = max((level for _, level in levels), key=lambda lv: RANK[lv], default="normal")
    delay = _minutes(onset, first_alert)
    in_time = delay is not None and 0 <= delay <= s.expected.detect_within_hours * 60 and (
        first_alert is not None)

    # routing: the case each crisis post opened (follow-ups join a case and are not decided)
    by_persona: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: Counter = Counter()
    total = right = total_crisis = right_crisis = 0
    crisis_cases, regular_cases, regular_early = [], [], []
    into_crisis = 0
    for item in items:
        case = cases.get(case_id_for(item.mention.key))
        if case is None:
            continue
        at = utc(case["opened_at"])
        if item.origin == "regular":
            if case["track"] == "crisis" and at >= onset:
                into_crisis += 1
            (regular_cases if at >= onset else regular_early).append(case)
            continue
        crisis_cases.append(case)
        if not item.expected_track:
            continue
        ok = case["track"] == item.expected_track
        total += 1
        right += ok
        tally = by_persona[item.persona]
        tally[0] += 1
        tally[1] += ok
        if level_at(levels, at).startswith("crisis"):
            total_crisis += 1
            right_crisis += ok
        if not ok:
            wrong[(item.persona, item.kind, item.expected_track, case["track"])] += 1

    crisis_group = _group(crisis_cases, end)
    regular_group = _group(regular_cases, end)
    before = _group(regular_early, end)
    breaches: Counter = Counter()
    for c in cases.values():
        if not c["respond"]:
            continue
        first, due = c["first_response_at"], c["sla_due"]
        if due is not None and ((first is not None and utc(first) > utc(due)) or
                                (first is None and utc(due) < end)):
            breaches[c["track"]] += 1

    pages = [e for e in incident_events if e.kind == ev.INCIDENT_PAGED]
    statement = team.get("statement_at")
    waits = team.get("approval_wait_minutes") or []

    hourly = _hourly(s, items, levels, end)
    accuracy = round(right / total, 4) if total else None
    accuracy_crisis = round(right_crisis / total_crisis, 4) if total_crisis else None
    card = Scorecard(
        scenario=s.name, title=s.title, start=s.start, end=end, onset=onset,
        mentions=len(items), crisis_mentions=sum(1 for i in items if i.origin == "crisis"),
        detected=first_alert is not None, first_alert_at=first_alert,
        detection_delay_min=delay, crisis_declared_at=crisis_at,
        crisis_delay_min=_minutes(onset, crisis_at), detected_in_time=in_time,
        expected_level=s.expected.level, peak_level=peak,
        right_level=peak == s.expected.level, alerts=len(alerts),
        alert_reasons=[f"{(e.data.get('alert') or {}).get('key', '*')} {e.data.get('reason', '')}"
                       for e in alerts[:8]],
        routing_cases=total, routing_accuracy=accuracy,
        routing_accuracy_in_crisis=accuracy_crisis,
        routing_by_persona={p: [n, round(ok / n, 4)] for p, (n, ok) in sorted(by_persona.items())},
        misrouted=[[*k, n] for k, n in wrong.most_common(10)],
        regular_into_crisis=into_crisis,
        crisis_group=crisis_group, regular_group=regular_group, regular_before=before,
        sla_breaches=sum(breaches.values()), breaches_by_track=dict(breaches.most_common()),
        approvals_requested=team.get("approvals_requested", 0),
        approvals_granted=team.get("approvals_granted", 0),
        approval_median_wait_min=_quantile(list(waits), 0.5),
        statement_after_min=_minutes(crisis_at, statement) if statement else None,
        pages=len(pages), paged_roles=sorted({e.data.get("role", "") for e in pages}),
        first_page_delay_min=_minutes(onset, pages[0].at) if pages else None,
        hourly=hourly, levels=[[at, lv] for at, lv in levels],
        injects=[[at, n, d] for at, n, d in injects], checks=[])
    card.checks = checks(card)
    return card


def checks(card: Scorecard) -> list[list[Any]]:
    """The scorecard's headline lines: what, figure, target, met."""
    out: list[list[Any]] = []
    delay = card.detection_delay_min
    out.append(["detection after onset", "none" if delay is None else f"{delay:.0f} min",
                "an alert in time", card.detected_in_time])
    out.append(["peak level declared", card.peak_level, card.expected_level, card.right_level])
    acc = card.routing_accuracy_in_crisis
    out.append(["routing accuracy in crisis mode", "n/a" if acc is None else f"{acc:.1%}",
                ">= 90%", acc is not None and acc >= 0.9])
    g = card.crisis_group
    med = g.median_first_response_min
    out.append(["crisis posts: median first response",
                "n/a" if med is None else f"{med:.0f} min ({g.answered} of {g.cases} answered)",
                "<= 60 min", med is not None and med <= 60])
    share = card.regular_group.sla_met_share
    out.append(["regular customers: SLA met during the crisis",
                "n/a" if share is None else f"{share:.1%}", ">= 80%",
                share is not None and share >= 0.8])
    out.append(["approvals granted", f"{card.approvals_granted} of {card.approvals_requested}",
                "all", card.approvals_granted == card.approvals_requested])
    out.append(["on-call paged", f"{card.pages} pages", ">= 1", card.pages >= 1])
    return out


def _hourly(s: Scenario, items: list[DrillItem], levels: list[tuple[datetime, str]],
            end: datetime) -> list[list[Any]]:
    hours = max(1, int((end - s.start).total_seconds() // 3600) + 1)
    regular = [0] * hours
    crisis = [0] * hours
    for item in items:
        h = int((utc(item.mention.created_at) - s.start).total_seconds() // 3600)
        if 0 <= h < hours:
            (regular if item.origin == "regular" else crisis)[h] += 1
    out = []
    for h in range(hours):
        at = s.start + timedelta(hours=h)
        worst = level_at(levels, at)
        for when, lv in levels:
            if at <= when < at + timedelta(hours=1) and RANK[lv] > RANK[worst]:
                worst = lv
        out.append([at, regular[h], crisis[h], worst])
    return out
