"""Run a drill: replay a scenario's stream through the real pipeline into a sandbox workspace.

    drill = Drill.prepare(load("product-recall"), Path("var/drills/x.db"), speed=24)
    card = drill.run()          # blocks; drill.control pauses, resumes, speeds up, fires injects

The sandbox is its own SQLite file, marked as a drill sandbox; a live database is never used.
Time is a SimulatedClock starting at the scenario's start: at --speed 24 a simulated day takes
an hour of wall time. With `fast=True` the same clock is driven by a virtual wall that jumps a
step at a time, so the whole scenario runs as fast as the machine allows (CI, reports).
Each step ingests the mentions whose time has come — the crisis service observes them first,
so a rising level changes the decisions of the very batch that raised it — ticks the crisis
service, lets the simulated team work, and records the level for the scorecard.
"""

from __future__ import annotations

import hashlib
import heapq
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import yaml

from escapevelocity.adapters.notify.pager import RecordingPager
from escapevelocity.domain import events as ev
from escapevelocity.domain.clock import SimulatedClock
from escapevelocity.drill import generate as gen
from escapevelocity.drill import report
from escapevelocity.drill.people import PeopleCard
from escapevelocity.drill.people import score as score_people
from escapevelocity.drill.scenario import DrillError, Scenario, with_overlay
from escapevelocity.drill.score import Scorecard, score
from escapevelocity.services import approvals, sla
from escapevelocity.services.crisis import CrisisMode, timeline
from escapevelocity.services.drill_responders import SimulatedTeam
from escapevelocity.services.ingest import ingest_batch
from escapevelocity.services.seed import _text, seed_demo
from escapevelocity.services.workspace import Workspace

SANDBOX_DOCUMENT = "sandbox"
STEP = timedelta(minutes=1)  # simulated time between two steps
WORKER_EVERY = timedelta(minutes=15)  # SLA and approval escalation ticks, in simulated time
_NO_TICK_YET = datetime.min.replace(tzinfo=UTC)  # before any worker tick


class DrillControl:
    """Commands from the director (CLI keys, the web page), applied by the runner's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._commands: deque[tuple[str, Any]] = deque()
        self.stop_requested = False

    def _put(self, name: str, arg: Any = None) -> None:
        with self._lock:
            self._commands.append((name, arg))

    def pause(self) -> None:
        self._put("pause")

    def resume(self) -> None:
        self._put("resume")

    def set_speed(self, speed: float) -> None:
        if not 0 < speed <= 10_000:
            raise ValueError("speed is between 0 and 10000")
        self._put("speed", float(speed))

    def fire(self, inject: str) -> None:
        self._put("inject", inject)

    def stop(self) -> None:
        self.stop_requested = True

    def take(self) -> list[tuple[str, Any]]:
        with self._lock:
            out = list(self._commands)
            self._commands.clear()
        return out


class _VirtualWall:
    """A wall clock that only moves when the runner says (fast mode)."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Drill:
    scenario: Scenario
    path: Path
    workspace: Workspace
    clock: SimulatedClock
    plan: gen.Plan
    mode: CrisisMode
    team: SimulatedTeam
    fast: bool = False
    control: DrillControl = field(default_factory=DrillControl)
    levels: list[tuple[datetime, str]] = field(default_factory=list)
    fired: list[tuple[datetime, str, str]] = field(default_factory=list)
    ingested: int = 0
    done: bool = False
    scorecard: Scorecard | None = None
    _wall: _VirtualWall | None = None
    _extra: int = 0
    _queue: list[tuple[datetime, int, Any]] = field(default_factory=list)
    _next_tick: datetime = _NO_TICK_YET
    incident_events: list[Any] = field(default_factory=list)
    # Drills played by people (issue 23): invited members work the sandbox inbox; the
    # simulated responders play alongside them (`simulated`) or not at all. A people drill
    # runs until the director stops it, so nobody is cut off mid-reply.
    players: tuple[str, ...] = ()
    simulated: bool = True
    people: PeopleCard | None = None
    on_finish: Any = None  # called with the drill once scored (records scores in the live log)
    app: Any = None  # the sandbox's web app, built when the first player joins

    # --- set-up ------------------------------------------------------------------------------

    @classmethod
    def prepare(cls, scenario: Scenario, path: Path, *, speed: float = 24.0, fast: bool = False,
                live_url: str | None = None, players: tuple[str, ...] = (),
                simulated: bool = True) -> Drill:
        """A fresh sandbox at `path` (an existing file must be an earlier drill's sandbox)."""
        path = Path(path)
        if live_url and live_url.startswith("sqlite:///") and \
                Path(live_url.removeprefix("sqlite:///")).resolve() == path.resolve():
            raise DrillError(f"{path} is the live workspace database; drills use a sandbox")
        if path.exists():
            if not _is_sandbox(path):
                raise DrillError(f"{path} exists and is not a drill sandbox; choose another file")
            path.unlink()
            for suffix in ("-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        wall = _VirtualWall() if fast else None
        clock = SimulatedClock(scenario.start, speed, wall=wall or time.monotonic)
        clock.pause()  # nothing moves until run()
        ws = Workspace.open(f"sqlite:///{path}", clock)
        with ws.store.begin() as tx:
            tx.documents.put(SANDBOX_DOCUMENT, f"drill:{scenario.name}", clock.now())
        plan = gen.plan(scenario)
        seed_demo(ws, password=None, online=True)
        vocab = yaml.safe_load(_text("demo", "vocabulary.yaml")) or {}
        for key, handles in plan.known.items():
            vocab[key] = sorted({*vocab.get(key, []), *handles})
        ws.set_vocabulary(yaml.safe_dump(vocab, sort_keys=False, allow_unicode=True))
        with ws.store.begin() as tx:
            active = tx.playbooks.active()
        assert active is not None
        ws.save_playbook(with_overlay(active[1], scenario), author="drill",
                         note=f"crisis overlay for the drill {scenario.name}")
        pager = RecordingPager()  # drills never page real people
        mode = CrisisMode(ws.store, clock, pager)
        triager = ws.triager()
        mode.learn([(i.mention, triager.signals(i.mention)) for i in plan.history])
        with ws.store.begin() as tx:
            org = tx.org.load()
        unknown = [p for p in players if org.member(p) is None]
        if unknown:
            raise DrillError(f"not in the drill's organisation: {', '.join(unknown)}")
        if players and not simulated:  # routing hands the cases to the players only
            for m in org.members:
                ws.set_presence(m.id, "online" if m.id in players else "offline")
        responders = scenario.responders
        if players and simulated:  # the simulated team does not answer for the players
            on_duty = responders.on_duty or [m.id for m in org.members if m.role != "approver"]
            responders = msgspec.structs.replace(
                responders, on_duty=[m for m in on_duty if m not in players])
        team = SimulatedTeam(ws.store, clock, org, responders, mode)
        drill = cls(scenario, path, ws, clock, plan, mode, team, fast=fast, _wall=wall,
                    players=tuple(players), simulated=simulated)
        drill._queue = [(i.mention.created_at, n, i) for n, i in enumerate(plan.items)]
        heapq.heapify(drill._queue)
        return drill

    # --- reading -----------------------------------------------------------------------------

    @property
    def end(self) -> datetime:
        return self.scenario.start + timedelta(hours=self.scenario.duration_hours)

    def status(self) -> dict[str, Any]:
        now = min(self.clock.now(), self.end)
        total = (self.end - self.scenario.start).total_seconds()
        return {"scenario": self.scenario.name, "title": self.scenario.title,
                "now": now.isoformat(), "level": self.mode.level,
                "incident": self.mode.state.incident, "speed": self.clock.speed,
                "paused": self.clock._paused_at is not None and not self.done,
                "progress": round((now - self.scenario.start).total_seconds() / total, 4),
                "ingested": self.ingested, "replies": self.team.replies,
                "pages": len(self.mode.pager.pages), "done": self.done,
                "players": list(self.players), "simulated": self.simulated,
                "injects": [{"name": i.name, "at": i.at, "description": i.description}
                            for i in self.scenario.injects],
                "fired": [{"at": at.isoformat(), "name": n} for at, n, _ in self.fired]}

    # --- running -----------------------------------------------------------------------------

    def run(self, on_step: Any = None) -> Scorecard:
        clock = self.clock
        clock.resume()
        paused = False
        last = self.scenario.start
        self.levels.append((last, self.mode.level))
        stand_down = self.scenario.responders.stand_down_after
        stand_down_at = (self.scenario.start + timedelta(hours=stand_down)
                         if stand_down is not None else None)
        while not self.control.stop_requested:
            for name, arg in self.control.take():
                if name == "pause":
                    clock.pause()
                    paused = True
                elif name == "resume":
                    clock.resume()
                    paused = False
                elif name == "speed":
                    clock.set_speed(arg)
                elif name == "inject":
                    self._fire(arg, clock.now())
            if paused:
                time.sleep(0.05)
                continue
            target = last + STEP
            if self._wall is not None:
                self._wall.t += STEP.total_seconds() / clock.speed
            else:
                wait = (target - clock.now()).total_seconds() / clock.speed
                if wait > 0:
                    time.sleep(min(wait, 0.25))
                    continue
            now = min(clock.now(), self.end)
            self._step(now)
            last = now
            if stand_down_at is not None and now >= stand_down_at and self.mode.state.incident:
                self.mode.stand_down(by="sam", note="drill: the incident commander stands down")
                stand_down_at = None
            if on_step is not None:
                on_step(self)
            if now >= self.end and not self.players:
                break
        clock.pause()
        return self.finish()

    def _step(self, now: datetime) -> None:
        batch = []
        while self._queue and self._queue[0][0] <= now:
            batch.append(heapq.heappop(self._queue)[2])
        if batch:
            mentions = [i.mention for i in batch]
            triager = self.workspace.triager()
            signals = triager.signals_many(mentions)  # enriched once, used twice
            self.mode.observe(mentions, signals)
            ingest_batch(self.workspace.store, triager, now, mentions,
                         context=self.mode.context(), signals=signals)
            self.ingested += len(batch)
        self.mode.tick(now)
        if now >= self._next_tick:  # the workers the live service runs every minute or so
            sla.tick(self.workspace, now)
            approvals.tick(self.workspace.store, self.clock, now)
            self._next_tick = now + WORKER_EVERY
        if self.simulated:
            self.team.step(now)
        if self.mode.level != self.levels[-1][1]:
            self.levels.append((now, self.mode.level))

    def _fire(self, name: str, now: datetime) -> None:
        inject = self.scenario.inject(name)
        self._extra += 1
        writer = gen.writer_for(self.scenario, salt=self._extra)
        items = gen.inject_posts(self.scenario, inject, now, writer.rng, writer)
        n = len(self.plan.items) + 100_000 * self._extra
        for k, item in enumerate(items):
            heapq.heappush(self._queue, (item.mention.created_at, n + k, item))
        self.plan.items.extend(items)
        self.fired.append((now, name, inject.description))

    def finish(self) -> Scorecard:
        now = min(self.clock.now(), self.end)
        if self.mode.state.incident and self.scenario.responders.stand_down_after is None:
            self.mode.stand_down(by="sam", note="drill ended")
        store = self.workspace.store
        with store.begin() as tx:
            rows = tx.cases.outcomes()
        cases = {r["id"]: r for r in rows}
        incident_events = []
        for incident_id in {e for e in _incident_ids(self)}:
            incident_events += timeline(store, incident_id)
        injects = sorted(self.plan.injects + [(at, n, d) for at, n, d in self.fired])
        incident_events.sort(key=lambda e: (e.at, e.seq or 0))
        self.incident_events = incident_events
        self.scorecard = score(self.scenario, self.plan.items, cases, incident_events,
                               self.levels, self.team.summary(), injects, end=now)
        if self.players:
            with store.begin() as tx:
                streams = tx.events.streams(tx.events.case_streams())
            self.people = score_people(self.players, cases, streams)
        try:  # done once the scores are recorded: whoever sees `done` finds them in the log
            if self.on_finish is not None:
                self.on_finish(self)
        finally:
            self.done = True
        return self.scorecard

    def report_html(self) -> str:
        if self.scorecard is None:
            raise RuntimeError("the drill has not finished")
        return report.render(self.scorecard, report.timeline_rows(self.incident_events),
                             self.scenario.timezone)


# --- the scorecard in the live workspace's log ------------------------------------------------

RUN_PREFIX = ev.GOVERNANCE_PREFIX + "drill:"  # + a digest of the run id: streams are 32 chars
TIMELINE_ROWS = 200  # the report shows at most this many timeline rows
PERSON_CASES = 200  # sandbox case ids kept per player's score


def run_id(drill: Drill) -> str:
    """One run of a scenario: its sandbox file's name (scenario and wall time of the start)."""
    return drill.path.stem[:120]


def run_stream(run: str) -> str:
    """The run's stream: the log's stream ids are at most 32 characters, a run id longer."""
    return RUN_PREFIX + hashlib.sha256(run.encode()).hexdigest()[:14]


def scorecard_event(drill: Drill, at: datetime, actor: str = ev.SYSTEM) -> ev.DrillScorecard:
    """The finished drill's scorecard as a live-log event (domain/events.DrillScorecard)."""
    if drill.scorecard is None:
        raise RuntimeError("the drill has not finished")
    return card_event(drill.scorecard, run_id(drill), at, players=drill.players,
                      timezone=drill.scenario.timezone,
                      timeline=report.timeline_rows(drill.incident_events), actor=actor)


def card_event(card: Scorecard, run: str, at: datetime, *, players: Any = (),
               timezone: str = "UTC", timeline: list[dict[str, Any]] | None = None,
               actor: str = ev.SYSTEM) -> ev.DrillScorecard:
    """A scorecard as a drill_scorecard event: its headline figures (score: the share of
    its checks met, in percent) and the whole card, to render the run's report again."""
    met = sum(1 for c in card.checks if c[3])
    regular = card.regular_group.sla_met_share
    rows = (timeline or [])[:TIMELINE_ROWS]
    return ev.DrillScorecard(
        stream=run_stream(run), at=at, actor=actor, run=run, scenario=card.scenario,
        title=card.title, detection_delay_min=card.detection_delay_min,
        routing_accuracy=(None if card.routing_accuracy is None
                          else round(card.routing_accuracy, 4)),
        sla_met=None if regular is None else round(regular, 4),
        checks_met=met, checks=len(card.checks),
        score=round(100 * met / len(card.checks), 1) if card.checks else 0.0,
        players=list(players), timezone=timezone, card=msgspec.to_builtins(card),
        timeline=[{**r, "at": r["at"].isoformat()} for r in rows])


def record_scorecard(store: Any, clock: Any, drill: Drill) -> ev.DrillScorecard:
    """Append the finished drill's scorecard to a live workspace's log (the reports list
    drill runs from it): whoever finishes a drill, the web director or `ev drill run`."""
    e = scorecard_event(drill, clock.now())
    with store.begin() as tx:
        tx.events.append([e])
    return e


def card_of(e: ev.DrillScorecard) -> Scorecard:
    """The Scorecard a drill_scorecard event carries, to render its report again (its
    plots' rows start with an instant, which JSON kept as text)."""
    card = msgspec.convert(e.card, type=Scorecard)
    for rows in (card.hourly, card.levels, card.injects):
        for r in rows:
            if r and isinstance(r[0], str):
                r[0] = datetime.fromisoformat(r[0])
    return card


def report_of(e: ev.DrillScorecard) -> str:
    """A recorded run's after-action report, from its event alone."""
    rows = [{**r, "at": datetime.fromisoformat(r["at"])} for r in e.timeline
            if isinstance(r, dict) and isinstance(r.get("at"), str)]
    return report.render(card_of(e), rows, e.timezone or "UTC")


def person_details(drill: Drill, p: Any) -> dict[str, Any]:
    """What a player's drill_scored event keeps besides the score: their counts, the run,
    and the sandbox cases they handled (the reports list them behind a drill score)."""
    return {"answers": p.answers, "within_sla": p.within_sla, "followed": p.followed,
            "escalations": p.escalations, "approvals_asked": p.approvals_asked,
            "run": run_id(drill), "cases": list(p.case_ids[:PERSON_CASES])}


def _incident_ids(drill: Drill) -> list[str]:
    from escapevelocity.services.crisis import incidents

    return [i["id"] for i in incidents(drill.workspace.store)]


def _is_sandbox(path: Path) -> bool:
    from escapevelocity.adapters.store.documents import peek_sqlite

    body = peek_sqlite(path, SANDBOX_DOCUMENT)
    return bool(body and body.startswith("drill:"))


# --- drills started from the web director page ------------------------------------------------

RUNNING: dict[str, Drill] = {}


def start_in_background(drill: Drill) -> threading.Thread:
    RUNNING[drill.scenario.name] = drill
    thread = threading.Thread(target=drill.run, name=f"drill-{drill.scenario.name}", daemon=True)
    thread.start()
    return thread
