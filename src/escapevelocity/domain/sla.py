"""SLA clocks on business calendars, folded from a case's events. Pure.

Three clocks per case, each measured in business minutes on the track's calendar:
- first_response: from the case opening to the first reply;
- next_response: from each customer message that follows a reply to the next reply;
- resolution: from opening to resolution, paused while waiting on the customer (from a reply
  until the customer writes again), resumed when a resolved case is reopened.
The first-response budget is the decision's `sla_minutes` (a rule may shorten it); the others
come from the track's `sla` in the playbook. A clock with no budget is not measured. Cases the
playbook decided not to answer have no response clocks.

A clock is identified by (clock, since): `since` is the instant it started, so each response
cycle warns once, breaches once and climbs the ladder once, however often `tick` runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from escapevelocity.domain import events as ev
from escapevelocity.domain.calendar import ALWAYS, BusinessCalendar
from escapevelocity.domain.events import Event

CLOCKS = ("first_response", "next_response", "resolution")
_NUDGE = timedelta(seconds=1)


@dataclass(frozen=True)
class Budget:
    """A track's SLA in business minutes and the calendar it is counted on."""

    first_response: float | None
    next_response: float | None = None
    resolution: float | None = None
    calendar: BusinessCalendar = ALWAYS

    def of(self, clock: str) -> float | None:
        return getattr(self, clock)


def budgets_from_playbook(playbook: Any) -> dict[str, Budget]:
    """Each track's budget on its calendar (domain/calendar.track_calendars)."""
    from escapevelocity.domain.calendar import track_calendars

    calendars = track_calendars(playbook)
    return {name: Budget(t.sla.first_response, t.sla.next_response, t.sla.resolution,
                         calendars[name]) for name, t in playbook.spec.tracks.items()}


@dataclass(frozen=True)
class Clock:
    clock: str
    since: datetime
    budget: float  # business minutes
    used: float  # business minutes counted so far (to `stopped` or to now)
    due: datetime | None  # when the budget runs out; None once stopped or while paused
    stopped: datetime | None = None  # when it was met (or the case resolved)
    paused: bool = False
    run_from: datetime | None = None  # start of the running stretch (None unless running)
    used_before: float = 0.0  # business minutes used before `run_from`

    @property
    def share(self) -> float:
        return self.used / self.budget if self.budget else 0.0

    @property
    def breached(self) -> bool:
        return self.used > self.budget

    @property
    def running(self) -> bool:
        return self.stopped is None and not self.paused

    @property
    def key(self) -> tuple[str, str]:
        return self.clock, self.since.isoformat()


@dataclass
class _Span:
    clock: str
    since: datetime
    budget: float
    runs: list[list[Any]] = field(default_factory=list)  # [start, end or None]
    stopped: datetime | None = None

    def pause(self, at: datetime) -> None:
        if self.runs and self.runs[-1][1] is None:
            self.runs[-1][1] = at

    def resume(self, at: datetime) -> None:
        if self.stopped is None and (not self.runs or self.runs[-1][1] is not None):
            self.runs.append([at, None])

    def stop(self, at: datetime) -> None:
        if self.stopped is None:
            self.pause(at)
            self.stopped = at


@dataclass(frozen=True)
class CaseClocks:
    """What the log says about one case's SLA: its track, team, who answered, the clocks."""

    case_id: str
    track: str | None
    team: str | None
    assignee: str | None
    responder: str | None  # who sent the first reply
    clocks: tuple[Clock, ...]
    calendar: BusinessCalendar = ALWAYS

    def current(self) -> Clock | None:
        """The running clock due soonest: the one the inbox should show."""
        live = [c for c in self.clocks if c.running and c.due is not None]
        return min(live, key=lambda c: c.due) if live else None


def fold(case_id: str, events: Iterable[Event], budgets: Mapping[str, Budget],
         now: datetime) -> CaseClocks:
    """Fold a case's events into its SLA clocks as of `now`."""
    spans: list[_Span] = []
    first = nxt = res = None
    track = team = assignee = responder = None
    opened: datetime | None = None
    budget: Budget | None = None
    replied = waiting = resolved = False
    respond = True
    for e in events:
        if e.at > now:
            break
        k = e.kind
        if k == ev.OPENED:
            opened = e.at
        elif k == ev.DECIDED:
            dec = e.decision
            track, team, respond = dec["track"], dec["team"], dec.get("respond", True)
            base = budgets.get(track) or Budget(None)
            fr = dec.get("sla_minutes") or base.first_response
            budget = Budget(fr, base.next_response, base.resolution, base.calendar)
            start = opened or e.at
            if respond and fr:
                first = _Span("first_response", start, fr)
                first.resume(start)
                spans.append(first)
            if budget.resolution:
                res = _Span("resolution", start, budget.resolution)
                res.resume(start)
                spans.append(res)
        elif k == ev.ASSIGNED:
            team, assignee = e.team, e.member
        elif k == ev.CLAIMED and assignee is None:
            assignee = e.actor
        elif k == ev.REPLIED:
            if first and first.stopped is None:
                first.stop(e.at)
                responder = e.actor
            if nxt and nxt.stopped is None:
                nxt.stop(e.at)
            replied = waiting = True
            if res:
                res.pause(e.at)  # waiting on the customer
        elif k in (ev.MENTION_ADDED, ev.REOPENED):
            if k == ev.REOPENED:
                resolved = False
                if res:
                    res.stopped = None  # the resolution clock runs on from where it stopped
            if resolved:
                continue
            if waiting or k == ev.REOPENED:
                waiting = False
                if res:
                    res.resume(e.at)
                if respond and replied and budget and budget.next_response and (
                        nxt is None or nxt.stopped is not None):
                    nxt = _Span("next_response", e.at, budget.next_response)
                    nxt.resume(e.at)
                    spans.append(nxt)
        elif k == ev.RESOLVED:
            resolved = True
            for s in spans:
                s.stop(e.at)
    cal = budget.calendar if budget else ALWAYS
    return CaseClocks(case_id, track, team, assignee, responder,
                      tuple(_measure(s, cal, now) for s in spans), cal)


def _measure(s: _Span, cal: BusinessCalendar, now: datetime) -> Clock:
    used = 0.0
    due = None
    for start, end in s.runs:
        used += cal.minutes(start, end or now)
    running = bool(s.runs) and s.runs[-1][1] is None and s.stopped is None
    start, before = None, 0.0
    if running:
        start = s.runs[-1][0]
        before = used - cal.minutes(start, now)
        due = cal.add(start, max(0.0, s.budget - before))
    return Clock(s.clock, s.since, s.budget, used, due, s.stopped,
                 paused=s.stopped is None and not running, run_from=start, used_before=before)


def next_deadline(case: CaseClocks, warn_at: float, ladder: Iterable[float],
                  done: set[tuple[str, str, str]], now: datetime) -> datetime | None:
    """The next instant the tick has something to write for this case, if nothing else
    happens: a running clock reaching the warning share, its budget (the breach) or a rung
    of the escalation ladder (`ladder`: the rungs' shares, in order) not yet in `done`.
    None when no clock runs. Any event on the case brings the tick back sooner (cases.apply)."""
    soonest: datetime | None = None
    steps = list(ladder)
    for c in case.clocks:
        if not c.running or c.run_from is None or not c.budget:
            continue
        marks = [(ev.SLA_WARNING, warn_at), (ev.SLA_BREACHED, 1.0 + 1e-9)]
        marks += [(f"{ev.ESCALATED}:{i}", share) for i, share in enumerate(steps)]
        for kind, share in marks:
            if (kind, *c.key) in done:
                continue
            at = case.calendar.add(c.run_from, max(0.0, share * c.budget - c.used_before))
            at = max(at, now + _NUDGE)  # reached but not written: float rounding; soon
            if soonest is None or at < soonest:
                soonest = at
    return soonest


# --- events a tick writes ------------------------------------------------------------------------

_MARKS: dict[str, type[ev.SlaWarning] | type[ev.SlaBreached]] = {
    ev.SLA_WARNING: ev.SlaWarning, ev.SLA_BREACHED: ev.SlaBreached}


def sla_events(case: CaseClocks, warn_at: float, done: set[tuple[str, str, str]],
               now: datetime) -> list[Event]:
    """Warning and breach events not yet in the log (`done` holds (kind, clock, since))."""
    out: list[Event] = []
    for c in case.clocks:
        if c.stopped is not None and not c.breached:
            continue
        for kind, reached in ((ev.SLA_WARNING, c.share >= warn_at), (ev.SLA_BREACHED, c.breached)):
            if reached and (kind, *c.key) not in done:
                out.append(_MARKS[kind](
                    stream=case.case_id, at=now, actor=ev.SYSTEM, clock=c.clock,
                    since=c.since.isoformat(), budget=float(c.budget),
                    used=round(float(c.used), 2), due=c.due, track=case.track, team=case.team,
                    assignee=case.assignee))
                done.add((kind, *c.key))
    return out


def done_keys(events: Iterable[Event]) -> set[tuple[str, str, str]]:
    """(kind, clock, since) of warnings, breaches and escalation steps already logged; steps
    as (escalated:<step>, clock, since)."""
    out = set()
    for e in events:
        if e.kind in (ev.SLA_WARNING, ev.SLA_BREACHED):
            out.add((e.kind, e.clock, e.since))
        elif e.kind == ev.ESCALATED:
            out.add((f"{ev.ESCALATED}:{e.step}", e.clock, e.since))
    return out


# --- "SLA met %": a projection of the event log ---------------------------------------------------

@dataclass
class Tally:
    met: int = 0
    breached: int = 0

    @property
    def total(self) -> int:
        return self.met + self.breached

    @property
    def percent(self) -> float | None:
        return 100.0 * self.met / self.total if self.total else None


# (clock, team, track, who, breached): one decided clock, all "SLA met %" needs of it. `who` is
# the first responder for the first-response clock, the assignee for the others.
Outcome = tuple[str, str | None, str | None, str | None, bool]


def outcomes(case: CaseClocks) -> list[Outcome]:
    """The case's decided clocks: each stopped clock, and each running clock past its budget;
    a clock still running within budget is not decided yet."""
    return [(c.clock, case.team, case.track,
             case.responder if c.clock == "first_response" else case.assignee, c.breached)
            for c in case.clocks if c.stopped is not None or c.breached]


@dataclass
class Attainment:
    """Met and breached clocks by track, team and member, per clock kind."""

    by_track: dict[tuple[str, str], Tally] = field(default_factory=dict)  # (clock, track)
    by_team: dict[tuple[str, str], Tally] = field(default_factory=dict)
    by_member: dict[tuple[str, str], Tally] = field(default_factory=dict)

    def add(self, case: CaseClocks) -> None:
        for outcome in outcomes(case):
            self.count(outcome, 1)

    def count(self, outcome: Outcome, n: int) -> None:
        """Add `n` clocks of one outcome (n may be negative: a refolded case taken back)."""
        clock, team, track, who, breached = outcome
        for table, key in ((self.by_track, track), (self.by_team, team), (self.by_member, who)):
            if key:
                tally = table.setdefault((clock, key), Tally())
                if breached:
                    tally.breached += n
                else:
                    tally.met += n

    def rows(self, clock: str = "first_response") -> list[tuple[str, str, Tally]]:
        out = []
        for scope, table in (("track", self.by_track), ("team", self.by_team),
                             ("member", self.by_member)):
            out += [(scope, key, t) for (c, key), t in sorted(table.items()) if c == clock]
        return out


def attainment(events_by_case: Mapping[str, list[Event]], budgets: Mapping[str, Budget],
               now: datetime) -> Attainment:
    """SLA met % from the log alone: each closed clock is met or breached; a running clock
    counts once it is past its budget."""
    result = Attainment()
    for case_id, events in events_by_case.items():
        result.add(fold(case_id, events, budgets, now))
    return result
