"""Crisis mode: detection → incident → playbook crisis overlay → paging → stand down.

The shell around the pure detectors (domain/crisis). Callers feed it the mentions they ingest
(`observe`, with their signals) and tick it from the clock when traffic is quiet (`tick`); it
answers with the decision `context()` to pass to ingest, so while a level is active every new
case is decided with `Context(crisis_level=...)` and the playbook's crisis overlay applies.

    mode = CrisisMode.open(store, clock, pager)
    mode.observe(batch, signals)                        # before ingest: the level may rise
    ingest_batch(store, triager, now, batch, context=mode.context())

State: the incident stream in the event log ("incident:<id>", kinds INCIDENT_* in
domain/events.py) is the record; the current level and open incident are also kept in the
`crisis` document so every process agrees on them. Detectors raise the level on their own
(never lower it); a person declares any level and a person stands down. Pages go out after the
state change is committed, and each page's outcome is appended to the timeline.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec

from escapevelocity.adapters.notify.pager import Page, Pager, RecordingPager
from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.crisis import (
    LEVELS,
    RANK,
    Alert,
    CrisisMonitor,
    OpsDetector,
    Settings,
    hour_index,
    hour_start,
    snapshot,
)
from escapevelocity.domain.events import Event
from escapevelocity.domain.playbook import Context
from escapevelocity.domain.records import Mention, Signals
from escapevelocity.services.retry import retrying

DOCUMENT = "crisis"
DETECTORS = "crisis_detectors"  # the detectors' learned state (domain/crisis/snapshot.py)
# What the detectors count: mentions written at most LATE ago (older ones are a backfill, not
# a spike) and at most SKEW ahead (clock skew; a later date is refused or ignored, never
# allowed to move the open hour). COUNTED_KEYS: the keys this process remembers counting.
LATE = timedelta(hours=24)
SKEW = timedelta(minutes=15)
COUNTED_KEYS = 200_000
# Who is paged at each level (all of them again when the level rises).
PAGED_ROLES: dict[str, tuple[str, ...]] = {
    "normal": (), "watch": (),
    "crisis1": ("pr-oncall",),
    "crisis2": ("pr-oncall", "legal-oncall"),
    "crisis3": ("pr-oncall", "legal-oncall", "exec-oncall"),
}
# Operational signals say the team is behind, not what the crisis is: they may open a watch
# or a level-1 incident, never more on their own.
OPS_MAX_LEVEL = "crisis1"


class CrisisState(msgspec.Struct, kw_only=True):
    level: str = "normal"
    incident: str | None = None  # "incident:<id>" while one is open
    opened_at: datetime | None = None
    since: datetime | None = None  # when the current level started
    peak: str = "normal"  # highest level of the open incident
    reason: str = ""


def default_roster(org: Any) -> dict[str, str]:
    """On-call roles from the organisation: the first member of PR, of Legal, and the hub's
    strategist (an `oncall` document {role: member} overrides)."""
    roster: dict[str, str] = {}
    for member in org.members:
        if "pr" in member.teams:
            roster.setdefault("pr-oncall", member.id)
        if "legal" in member.teams:
            roster.setdefault("legal-oncall", member.id)
        if member.role == "strategist":
            roster.setdefault("exec-oncall", member.id)
    return roster


class CrisisMode:
    def __init__(self, store: SqlStore, clock: Clock, pager: Pager | None = None, *,
                 settings: Settings | None = None, monitor: CrisisMonitor | None = None,
                 ops: OpsDetector | None = None, roster: dict[str, str] | None = None,
                 url: str = "") -> None:
        self.store, self.clock = store, clock
        self.pager = pager or RecordingPager()
        self.monitor = monitor or CrisisMonitor(settings)
        self.ops = ops or OpsDetector()
        self.url = url  # base URL of the web app for links in pages, when known
        self.alerts: list[Alert] = []  # every alert seen by this process, in order
        self._ops_hour: int | None = None
        self._counted: OrderedDict[str, None] = OrderedDict()  # keys counted, newest last
        with store.begin() as tx:
            raw = tx.documents.get(DOCUMENT)
            self.state = msgspec.json.decode(raw, type=CrisisState) if raw else CrisisState()
            own = monitor is None and ops is None and settings is None
            saved = tx.documents.get(DETECTORS) if own else None
            if saved:  # what the detectors learned before the restart (saved each tick)
                self._restore(saved)
            if roster is None:
                doc = tx.documents.get("oncall")
                roster = (msgspec.yaml.decode(doc) if doc else None) or default_roster(
                    tx.org.load())
        self.roster = roster

    # --- reading -----------------------------------------------------------------------------

    @property
    def level(self) -> str:
        return self.state.level

    def context(self, **fields: Any) -> Context:
        """The decision context for new cases: the crisis level plus any other fields."""
        return Context(crisis_level=self.state.level, **fields)

    # --- detection ---------------------------------------------------------------------------

    def learn(self, items: Sequence[tuple[Mention, Signals]]) -> int:
        """Feed history to the detectors without acting on alerts (a quiet start, drills)."""
        for m, s in items:
            self.monitor.observe(m.created_at, s.sentiment_label == "negative", s.topics, m.key)
        return len(items)

    def observe(self, mentions: Sequence[Mention], signals: Sequence[Signals]) -> list[Alert]:
        """Feed a batch to the detectors (call before ingesting it) and act on any alert.

        Only mentions that will be newly stored count (`fresh`), so a client's retry, a
        channel's redelivery or the documented re-run after a crash cannot inflate a spike,
        and only times inside the detection window, so one far-future date cannot move the
        open hour away and blind the detectors."""
        alerts: list[Alert] = []
        watch = self.monitor.observe
        for m, s in self.fresh(mentions, signals):
            if m.historical:  # a backfill or an import: last year's posts are no crisis today
                continue
            found = watch(m.created_at, s.sentiment_label == "negative", s.topics, m.key,
                          s.keywords)
            if found:
                alerts += found
        if alerts:
            self.act(alerts)
        return alerts

    def fresh(self, mentions: Sequence[Mention], signals: Sequence[Signals]
              ) -> list[tuple[Mention, Signals]]:
        """The batch's mentions not stored yet, not already counted by this process (the same
        batch in flight twice), each once, and written inside [now - LATE, now + SKEW]."""
        now = self.clock.now()
        earliest, latest = now - LATE, now + SKEW
        todo = {}
        for m, s in zip(mentions, signals, strict=True):
            if earliest <= m.created_at <= latest and m.key not in self._counted:
                todo.setdefault(m.key, (m, s))
        if todo:
            keys = [(m.channel, m.source_id) for m, _ in todo.values()]

            def read() -> set[str]:
                with self.store.begin() as tx:
                    return set(tx.mentions.case_ids(keys))
            stored = retrying(read, what="crisis: stored keys")
            todo = {k: v for k, v in todo.items() if k not in stored}
        for key in todo:
            self._counted[key] = None
        while len(self._counted) > COUNTED_KEYS:
            self._counted.popitem(last=False)
        return list(todo.values())

    def tick(self, now: datetime | None = None) -> list[Alert]:
        """Close quiet hours in the detectors and test the operational signals once an hour."""
        now = now or self.clock.now()
        alerts = self.monitor.tick(now)
        hour = hour_index(now)
        if self._ops_hour is None:
            self._ops_hour = hour
        elif hour > self._ops_hour:
            backlog, due, breached = self._ops_counts(hour_start(self._ops_hour), hour_start(hour))
            alerts += self.ops.update(hour - 1, backlog=backlog, due=due, breached=breached)
            self._ops_hour = hour
        if alerts:
            self.act(alerts)
        self.save(now)
        return alerts

    def save(self, now: datetime | None = None) -> None:
        """Keep what the detectors learned (domain/crisis/snapshot.py): a restarted process
        goes on from here instead of relearning from a quiet start. Called each tick."""
        raw = snapshot.dump({"monitor": self.monitor, "ops": self.ops,
                             "ops_hour": self._ops_hour}).decode()
        with self.store.begin() as tx:
            tx.documents.put(DETECTORS, raw, now or self.clock.now())

    def _restore(self, raw: str) -> None:
        try:
            state = snapshot.load(raw)
        except (ValueError, KeyError, TypeError, msgspec.DecodeError):
            state = None  # another version's or damaged: start afresh, as before
        if state is not None:
            self.monitor, self.ops = state["monitor"], state["ops"]
            self._ops_hour = state["ops_hour"]

    def _ops_counts(self, start: datetime, end: datetime) -> tuple[int, int, int]:
        with self.store.begin() as tx:
            backlog = tx.cases.backlog()
            rows = tx.cases.due_between(start, end)
        breached = sum(1 for due, first in rows if first is None or _aware(first) > _aware(due))
        return backlog, len(rows), breached

    # --- incidents ---------------------------------------------------------------------------

    def act(self, alerts: Sequence[Alert]) -> str:
        """Record the alerts on the incident (opening one if none is open) and raise the level
        to the worst of them. Returns the level after."""
        now = self.clock.now()
        self.alerts += alerts
        worst = max(alerts, key=lambda a: RANK[_capped(a)])
        target = _capped(worst)
        events: list[Event] = []
        incident = self.state.incident
        if incident is None:
            incident = self._new_incident(now)
            events.append(ev.IncidentOpened(stream=incident, at=now, actor=ev.SYSTEM,
                                            level=target, reason=worst.reason, by=ev.SYSTEM))
        for a in alerts:
            events.append(ev.IncidentDetected(stream=incident, at=now, actor=ev.SYSTEM,
                                              alert=msgspec.to_builtins(a), reason=a.reason))
        raise_to = target if RANK[target] > RANK[self.state.level] else None
        return self._change(events, incident, raise_to, worst.reason, ev.SYSTEM, now)

    def declare(self, level: str, by: str, reason: str = "") -> str:
        """A person sets the level (up or down, but not to normal: that is `stand_down`)."""
        if level not in LEVELS or level == "normal":
            raise ValueError(f"declare one of {', '.join(LEVELS[1:])}; stand down to end")
        now = self.clock.now()
        events: list[Event] = []
        incident = self.state.incident
        if incident is None:
            incident = self._new_incident(now)
            events.append(ev.IncidentOpened(stream=incident, at=now, actor=by, level=level,
                                            reason=reason or "declared", by=by))
        target = level if level != self.state.level else None
        return self._change(events, incident, target, reason or f"declared by {by}", by, now)

    def note(self, text: str, by: str, kind: str = "decision") -> Event:
        """A decision or an approved holding statement on the open incident's timeline."""
        if self.state.incident is None:
            raise ValueError("no open incident")
        e = ev.IncidentNote(stream=self.state.incident, at=self.clock.now(), actor=by,
                            text=text[:4000], note_kind=kind)
        with self.store.begin() as tx:
            tx.events.append([e])
        return e

    def stand_down(self, by: str, note: str = "") -> str | None:
        """A person ends the incident; the workspace goes back to normal. Returns its id."""
        incident = self.state.incident
        if incident is None:
            return None
        now = self.clock.now()
        state = CrisisState()
        e = ev.IncidentStoodDown(stream=incident, at=now, actor=by, by=by, note=note[:4000],
                                 peak=self.state.peak, previous=self.state.level)
        self._commit([e], state)
        return incident

    # --- internals ---------------------------------------------------------------------------

    def _new_incident(self, now: datetime) -> str:
        incident = ev.incident_stream(f"{now:%Y%m%d-%H%M%S}")
        if self.state.incident == incident or self._exists(incident):
            incident += f"-{int(now.microsecond / 1000):03d}"
        self.state = msgspec.structs.replace(self.state, incident=incident, opened_at=now,
                                             peak="normal")
        return incident

    def _exists(self, incident: str) -> bool:
        with self.store.begin() as tx:
            return tx.events.exists(incident)

    def _change(self, events: list[Event], incident: str, level: str | None, reason: str,
                by: str, now: datetime) -> str:
        state = self.state
        pages: tuple[str, ...] = ()
        if level is not None:
            events.append(ev.IncidentLevel(stream=incident, at=now, actor=by, level=level,
                                           previous=state.level, reason=reason, by=by))
            peak = level if RANK[level] > RANK[state.peak] else state.peak
            state = msgspec.structs.replace(state, level=level, since=now, peak=peak,
                                            reason=reason)
            if RANK[level] > RANK[self.state.level]:
                pages = PAGED_ROLES[level]
        self._commit(events, state)
        if pages:
            self._page(incident, level or state.level, reason, pages, now)
        return self.state.level

    def _commit(self, events: list[Event], state: CrisisState) -> None:
        with self.store.begin() as tx:
            tx.events.append(events)
            tx.documents.put(DOCUMENT, msgspec.json.encode(state).decode(),
                                    self.clock.now())
        self.state = state

    def _page(self, incident: str, level: str, reason: str, roles: tuple[str, ...],
              now: datetime) -> None:
        results: list[Event] = []
        link = f"{self.url}/incidents/{incident}" if self.url else ""
        for role in roles:
            member = self.roster.get(role)
            if member is None:
                results.append(ev.IncidentPaged(stream=incident, at=now, actor=ev.SYSTEM,
                                                role=role, member=None, channel="", ok=False,
                                                detail="nobody on call for this role"))
                continue
            page = Page(incident=incident, role=role, member=member, level=level,
                        summary=reason[:300], at=now, url=link)
            result = self.pager.page(page)
            results.append(ev.IncidentPaged(stream=incident, at=now, actor=ev.SYSTEM,
                                            role=role, member=member, channel=result.channel,
                                            ok=result.ok, detail=result.detail))
        with self.store.begin() as tx:
            tx.events.append(results)

    @classmethod
    def open(cls, store: SqlStore, clock: Clock, pager: Pager | None = None,
             **kwargs: Any) -> CrisisMode:
        return cls(store, clock, pager, **kwargs)


def _capped(alert: Alert) -> str:
    if alert.signal in ("backlog", "sla_breach") and RANK[alert.level] > RANK[OPS_MAX_LEVEL]:
        return OPS_MAX_LEVEL
    return alert.level


def _aware(value: datetime) -> datetime:
    from escapevelocity.domain.clock import utc

    return utc(value)


# --- reading incidents (for pages, reports and the CLI) ----------------------------------------

def timeline(store: SqlStore, incident: str) -> list[Event]:
    with store.begin() as tx:
        return tx.events.stream(incident)


def incidents(store: SqlStore) -> list[dict[str, Any]]:
    """Every incident, newest first: id, opened, level at opening, and whether it is closed."""
    with store.begin() as tx:
        heads = tx.events.incident_heads()
    out: dict[str, dict[str, Any]] = {}
    for e in heads:
        item = out.setdefault(e.stream, {"id": e.stream, "opened_at": e.at, "level": "normal",
                                         "peak": "normal", "closed_at": None})
        if isinstance(e, ev.IncidentOpened | ev.IncidentLevel):
            item["level"] = e.level
            if RANK[e.level] > RANK[item["peak"]]:
                item["peak"] = e.level
        else:
            item["closed_at"] = e.at
    return sorted(out.values(), key=lambda i: i["opened_at"], reverse=True)


def after_action(store: SqlStore, incident: str, now: datetime) -> Any:
    """The after-action report of a live incident (domain/crisis/after_action), from its
    timeline and the cases opened while it was open; None when there is no such incident."""
    from escapevelocity.domain.crisis.after_action import summarise

    with store.begin() as tx:
        events = tx.events.stream(incident)
        opened = next((e.at for e in events if e.kind == ev.INCIDENT_OPENED), None)
        if opened is None:
            return None
        closed = next((e.at for e in events if e.kind == ev.INCIDENT_STOOD_DOWN), None)
        rows = tx.cases.opened_between(opened, closed or now, limit=100_000)
    return summarise(incident, events, rows, now)
