"""A discrete-event simulation of a team working a stream of mentions. Pure and seeded.

Each simulated member is online exactly while on shift and answers with a response time drawn
from their own log-normal distribution (median and 90th percentile, from the organisation's
`simulation:` profiles). The real routing code assigns cases (`domain/routing.assign`), the
queue is drained earliest-due first whenever a member frees up or comes on shift, and cases a
member was given but had not picked up when their shift ended go back to the queue. SLA
attainment is measured with the real SLA budgets and business calendars (domain/sla.Budget).

Model, in order of events for one case: arrival → (queue) → assigned → picked up after a share
of the response time → first reply at the full response time → wrap-up, then the member's slot
frees. A customer's follow-up while the case is open asks for a next response; it goes to the
case's member when they are available (sticky), otherwise through routing again.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec

from escapevelocity.domain.org import Organisation
from escapevelocity.domain.routing import Need, RoutingState, Waiting, drain
from escapevelocity.domain.sla import Budget

Z90 = 1.2815515655446004  # the standard normal's 90th percentile
PICKUP_SHARE = 0.3  # a member opens a case after this share of their response time
WRAP_UP = timedelta(minutes=5)  # after replying, the slot stays busy this long


@dataclass(frozen=True)
class Profile:
    """Minutes to respond: log-normal with this median and 90th percentile."""

    median: float = 8.0
    p90: float = 45.0

    def sample(self, rnd: random.Random) -> float:
        mu = math.log(max(self.median, 0.01))
        sigma = max(0.0, (math.log(max(self.p90, self.median)) - mu) / Z90)
        return rnd.lognormvariate(mu, sigma)


def profiles_from(data: Mapping[str, Any] | None, member_ids: Iterable[str]) -> dict[str, Profile]:
    """`simulation: {default: {median, p90}, members: {id: {median, p90}}}` from the org YAML."""
    data = data or {}
    default = Profile(**data.get("default", {}))
    members = data.get("members", {})
    return {m: Profile(**members[m]) if m in members else default for m in member_ids}


@dataclass(frozen=True)
class Arrival:
    """One inbound mention, already decided by the playbook."""

    at: datetime
    conversation: str  # mentions of one conversation form one case
    need: Need
    respond: bool
    first_budget: float | None  # first-response minutes (the decision's sla_minutes)
    real_minutes: float | None = None  # the brand's real reply time, when the data has one


@dataclass
class _Case:
    id: str
    need: Need
    opened: datetime
    budget: float | None
    due: datetime | None
    member: str | None = None
    picked: bool = False
    first_reply: datetime | None = None
    token: int = 0  # bumps on every (re)assignment, so stale scheduled events are ignored
    waiting_since: datetime | None = None  # a follow-up awaiting a next response


@dataclass
class Result:
    strategy: str
    first_response: list[float] = field(default_factory=list)  # wall-clock minutes per case
    met: dict[str, list[bool]] = field(default_factory=dict)  # track -> first response met?
    next_met: dict[str, list[bool]] = field(default_factory=dict)
    load: dict[str, int] = field(default_factory=dict)  # member -> cases they replied to
    peak: dict[str, int] = field(default_factory=dict)  # member -> most open cases at once
    requeued: int = 0
    unanswered: int = 0
    not_responded: int = 0

    def percentile(self, q: float) -> float | None:
        xs = sorted(self.first_response)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else None

    @property
    def median(self) -> float | None:
        return statistics.median(self.first_response) if self.first_response else None

    def met_percent(self, track: str | None = None, clock: str = "first") -> float | None:
        table = self.met if clock == "first" else self.next_met
        xs = [x for t, v in table.items() if track in (None, t) for x in v]
        return 100.0 * sum(xs) / len(xs) if xs else None


class Simulation:
    """One strategy's run. `run_until(t)` processes every event up to `t`; runs of several
    strategies can be advanced side by side and paced against a wall clock."""

    def __init__(self, org: Organisation, arrivals: list[Arrival], budgets: Mapping[str, Budget],
                 profiles: Mapping[str, Profile], *, strategy: str | None = None,
                 seed: int = 1, tick: timedelta = timedelta(minutes=1)) -> None:
        if strategy:
            org = msgspec.structs.replace(org, teams=[
                msgspec.structs.replace(t, strategy=strategy) for t in org.teams])
        self.org, self.budgets, self.profiles = org, budgets, profiles
        self.result = Result(strategy or "as configured")
        self.rnd = random.Random(seed)
        self.state = RoutingState()
        self.cases: dict[str, _Case] = {}
        self.by_conversation: dict[str, str] = {}
        self.waiting: dict[str, _Case] = {}
        self.held: dict[str, list[str]] = {}  # member -> case ids
        self.history: dict[tuple[str, str], list[float]] = {}
        self.heap: list[tuple[datetime, int, str, Any]] = []
        self.seq = self.pending = 0
        self.tick = tick
        self.now = arrivals[0].at if arrivals else None
        for a in arrivals:
            self._push(a.at, "arrive", a)
        if arrivals:
            self._push(self.now, "shifts", None)

    def _push(self, at: datetime, kind: str, payload: Any) -> None:
        self.seq += 1
        self.pending += kind != "shifts"
        heapq.heappush(self.heap, (at, self.seq, kind, payload))

    @property
    def done(self) -> bool:
        return self.pending == 0

    def run_until(self, t: datetime) -> None:
        while self.heap and self.heap[0][0] <= t and self.pending:
            at, _, kind, payload = heapq.heappop(self.heap)
            self.pending -= kind != "shifts"
            self.now = at
            getattr(self, f"_on_{kind}")(payload)

    def run(self) -> Result:
        while not self.done:
            self.run_until(self.heap[0][0])
        self._finish()
        return self.result

    # --- events ---

    def _on_shifts(self, _: Any) -> None:
        """Every tick: presence follows shifts; the gone lose unclaimed work; drain the queue."""
        now = self.now
        before = self.state.presence
        self.state.presence = {m.id: "online" if m.shift.covers(now) else "offline"
                               for m in self.org.members}
        for mid, cids in self.held.items():
            if before.get(mid) == "online" and self.state.presence[mid] != "online":
                for cid in list(cids):
                    case = self.cases[cid]
                    if not case.picked:
                        self._unassign(case)
                        self.waiting[cid] = case
                        self.result.requeued += 1
        self._drain()
        nxt = now + self.tick
        if not self.waiting and not any(self.held.values()) and self.heap:
            nxt = max(nxt, self.heap[0][0])  # nothing to watch: jump over quiet time
        self._push(nxt, "shifts", None)

    def _on_arrive(self, a: Arrival) -> None:
        cid = self.by_conversation.get(a.conversation)
        case = self.cases.get(cid) if cid else None
        if case is not None:  # a follow-up: after a reply it asks for a next response
            if case.first_reply is not None and case.waiting_since is None:
                case.waiting_since = a.at
                budget = self.budgets.get(case.need.track)
                if budget and budget.next_response:
                    case.due = budget.calendar.add(a.at, budget.next_response)
                if case.member is None:
                    self.waiting[case.id] = case
                    self._drain()
                elif case.picked:  # they have it open: the next reply is theirs
                    self._schedule(case)
            return
        if not a.respond:
            self.result.not_responded += 1
            return
        cid = f"s{len(self.cases)}"
        budget = self.budgets.get(a.need.track)
        due = (budget.calendar.add(a.at, a.first_budget) if budget and a.first_budget
               else None)
        case = _Case(cid, a.need, a.at, a.first_budget, due)
        self.cases[cid] = case
        self.by_conversation[a.conversation] = cid
        self.waiting[cid] = case
        self._drain()

    def _on_pickup(self, payload: tuple[str, int]) -> None:
        case = self.cases[payload[0]]
        if case.token == payload[1]:
            case.picked = True

    def _on_reply(self, payload: tuple[str, int]) -> None:
        case = self.cases[payload[0]]
        if case.token != payload[1] or case.member is None:
            return
        member, track = case.member, case.need.track
        cal = self._calendar(track)
        if case.first_reply is None:
            case.first_reply = self.now
            minutes = (self.now - case.opened).total_seconds() / 60
            self.result.first_response.append(minutes)
            used = cal.minutes(case.opened, self.now)
            self.result.met.setdefault(track, []).append(case.budget is None or
                                                          used <= case.budget)
            self.history.setdefault((member, track), []).append(minutes)
            self.state.first_reply[(member, track)] = statistics.median(
                self.history[(member, track)][-50:])
        elif case.waiting_since is not None:
            budget = self.budgets.get(track)
            if budget and budget.next_response:
                used = cal.minutes(case.waiting_since, self.now)
                self.result.next_met.setdefault(track, []).append(used <= budget.next_response)
            case.waiting_since = None
        self.result.load[member] = self.result.load.get(member, 0) + 1
        self._push(self.now + WRAP_UP, "free", (case.id, case.token))

    def _on_free(self, payload: tuple[str, int]) -> None:
        case = self.cases[payload[0]]
        if case.token != payload[1] or case.member is None:
            return
        self._unassign(case)
        if case.waiting_since is not None:  # a follow-up came in during wrap-up
            self.waiting[case.id] = case
        self._drain()

    # --- helpers ---

    def _calendar(self, track: str):
        from escapevelocity.domain.calendar import ALWAYS

        budget = self.budgets.get(track)
        return budget.calendar if budget else ALWAYS

    def _unassign(self, case: _Case) -> None:
        if case.member:
            self.held[case.member].remove(case.id)
            self.state.freed(case.member)
        case.member, case.picked = None, False
        case.token += 1

    def _give(self, case: _Case, member: str) -> None:
        case.member, case.picked = member, False
        case.token += 1
        self.held.setdefault(member, []).append(case.id)
        n = len(self.held[member])
        self.result.peak[member] = max(self.result.peak.get(member, 0), n)
        self._schedule(case)

    def _schedule(self, case: _Case) -> None:
        minutes = self.profiles[case.member].sample(self.rnd)
        delay = timedelta(minutes=minutes)
        self._push(self.now + delay * PICKUP_SHARE, "pickup", (case.id, case.token))
        self._push(self.now + delay, "reply", (case.id, case.token))

    def _drain(self) -> None:
        if not self.waiting:
            return
        waiting = [Waiting(c.id, c.need, c.due, c.opened) for c in self.waiting.values()]
        for cid, a in drain(waiting, self.org, self.state, self.now):
            case = self.waiting.pop(cid)
            self._give(case, a.member)

    def _finish(self) -> None:
        self.result.unanswered = sum(1 for c in self.cases.values() if c.first_reply is None)
