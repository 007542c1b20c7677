"""Benchmark of routing decisions: `route()` for an organisation of 200 members, on one core.

Ten teams of twenty (two hubs, eight spokes) in five time zones with day shifts, capacities
5..30, skills and languages; every strategy is timed (least load, round robin, expertise with a
response history). Cases are generated before timing; once half the total capacity
is in use each assignment resolves the oldest open case, so members are busy but teams are
rarely full. The baseline is the first implementation (linear scans over all
members and the shift parsed on every check), run here in the same process.

    python -m escapevelocity.bench.routing
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta

from escapevelocity.domain.org import STRATEGIES, Member, Organisation, load_org
from escapevelocity.domain.records import Decision, Signals
from escapevelocity.domain.routing import RoutingState, route

TARGET = 20_000  # assignments per second on one core
TOPICS = ("billing", "mobile", "broadband", "app", "orbit_one", "sales", "legal", "pr")
LANGS = ("en", "es", "de", "fr", "pt")
ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Singapore", "UTC")


def organisation(members: int = 200, teams: int = 10, strategy: str | None = None,
                 seed: int = 5) -> Organisation:
    rnd = random.Random(seed)
    team_rows = [{"id": f"t{i}", "name": f"Team {i}", "kind": "hub" if i < 2 else "spoke",
                  "hub": None if i < 2 else f"t{i % 2}", "overflow": None if i < 2 else f"t{i % 2}",
                  "strategy": strategy or STRATEGIES[i % 3]} for i in range(teams)]
    people = []
    for i in range(members):
        start = rnd.choice((0, 6, 8, 9, 12, 16))
        people.append({
            "id": f"m{i:03}", "name": f"Member {i}", "teams": [f"t{i % teams}"],
            "skills": {t: rnd.randint(1, 5) for t in rnd.sample(TOPICS, 3)},
            "languages": ["en", *rnd.sample(LANGS[1:], rnd.randint(0, 2))],
            "capacity": rnd.randint(5, 30),
            "shift": {"tz": rnd.choice(ZONES), "start": f"{start:02}:00",
                      "end": f"{(start + 10) % 24:02}:00"}})
    return load_org({"teams": team_rows, "members": people})


def cases(org: Organisation, n: int, seed: int = 11) -> list[tuple[Decision, Signals]]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        team = org.teams[rnd.randrange(len(org.teams))].id
        d = Decision(track="support", respond=True, team=team, priority="p3", sla_minutes=60,
                     rule_id="r", playbook_version="b", explanation="")
        s = Signals(0.0, "neutral", "question", topics=(rnd.choice(TOPICS),),
                    language=rnd.choice(LANGS))
        out.append((d, s))
    return out


def _time(org: Organisation, work: list, now: datetime, fn) -> tuple[float, int]:
    state = RoutingState(presence={m.id: "online" for m in org.members},
                         first_reply={(m.id, "support"): float(i % 50)
                                      for i, m in enumerate(org.members)})
    assigned: deque[str] = deque()
    steady = sum(m.capacity for m in org.members) // 2  # open cases held at half of capacity
    routed = 0
    started = time.perf_counter()
    for d, s in work:
        a = fn(d, s, org, state, now)
        if a.member:
            routed += 1
            assigned.append(a.member)
            if len(assigned) > steady:  # the oldest open case is resolved
                state.freed(assigned.popleft())
    return len(work) / (time.perf_counter() - started), routed


def run(n: int = 50_000, runs: int = 5, baseline_n: int = 5_000) -> dict:
    now = datetime(2026, 11, 18, 13, 0, tzinfo=UTC)  # a Wednesday, most shifts on
    lines, figures = [], {}
    for strategy in STRATEGIES:
        org = organisation(strategy=strategy)
        work = cases(org, n)
        rates = []
        for r in range(runs):
            rate, routed = _time(org, work, now + timedelta(minutes=r), route)
            rates.append(rate)
        base = statistics.median(_time(org, work[:baseline_n], now, _baseline_route)[0]
                                 for _ in range(3))
        rate = statistics.median(rates)
        figures[strategy] = {"assignments_per_s": round(rate), "baseline_per_s": round(base),
                             "routed_to_member": routed}
        lines.append({"figure": f"{strategy}: {rate:,.0f} assignments/s ({rate / base:.1f}× the "
                                f"first implementation, {routed:,}/{n:,} to a member)",
                      "target": f"≥ {TARGET:,}/s", "met": rate >= TARGET})
    return {"name": "routing", "members": 200, "cases": n, "runs": runs,
            "strategies": figures, "lines": lines}


# --- the first implementation, kept as the baseline -------------------------------------------

def _covers(member: Member, at: datetime) -> bool:
    from datetime import time as dtime
    from zoneinfo import ZoneInfo

    shift = member.shift
    local = at.astimezone(ZoneInfo(shift.tz))
    if ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()] not in shift.days:
        return False
    start, now = dtime.fromisoformat(shift.start), local.time()
    if shift.end == "24:00":
        return now >= start
    end = dtime.fromisoformat(shift.end)
    return start <= now < end if start <= end else (now >= start or now < end)


def _baseline_route(decision, signals, org, state, now):
    from escapevelocity.domain.records import Assignment

    team_id, seen = decision.team, set()
    load = state.load
    while team_id and team_id not in seen:
        seen.add(team_id)
        team = next(t for t in org.teams if t.id == team_id)
        members = [m for m in org.members if team_id in m.teams]
        cands = [m for m in members if state.presence.get(m.id) == "online"
                 and load.get(m.id, 0) < m.capacity and _covers(m, now)]
        if cands:
            if team.strategy == "round_robin":
                pos = state.cursor.get(team_id, 0) % len(cands)
                state.cursor[team_id] = pos + 1
                m = cands[pos]
            elif team.strategy == "expertise":
                m = max(cands, key=lambda m: (
                    max((m.skills.get(t, 0) for t in signals.topics), default=0) * 2
                    + (3 if signals.language in m.languages else 0)
                    + 2 * (1 - load.get(m.id, 0) / m.capacity), m.id))
            else:
                m = min(cands, key=lambda m: (load.get(m.id, 0) / m.capacity, m.id))
            state.assigned(m.id)
            return Assignment(team_id, m.id, team.strategy, f"routed to {m.name}")
        team_id = team.overflow
    return Assignment(decision.team, None, "queue", "queued")


def main() -> int:
    result = run()
    for line in result["lines"]:
        print(f"{line['figure']}  (target {line['target']}: {'met' if line['met'] else 'missed'})")
    return 0 if all(line["met"] for line in result["lines"]) else 1


if __name__ == "__main__":
    sys.exit(main())
