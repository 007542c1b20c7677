"""Load fairness: 10,000 cases, 20 members with different capacities and shifts.

Three days at five-minute steps on a simulated clock. Each step: presence follows the shifts,
members claim and resolve some of their cases, unclaimed work of members who went offline goes
back to the queue, new cases join the queue, and the queue is drained earliest-due first.
Checked at every step: nobody above capacity, nobody offline holding unclaimed work, and within
each team no waiting case is due before a case just assigned from the queue.
"""

import random
from datetime import UTC, datetime, timedelta

from escapevelocity.domain.org import load_org
from escapevelocity.domain.routing import Need, RoutingState, Waiting, drain, stranded

ZONES = ("Europe/London", "America/New_York", "Asia/Singapore", "Europe/Berlin")


def org_of_twenty():
    rnd = random.Random(3)
    members = []
    for i in range(20):
        start = (i * 5) % 24
        members.append({
            "id": f"m{i:02}", "name": f"M{i}",
            "teams": ["hub"] if i < 4 else ["care" if i % 2 else "sales"],
            "capacity": rnd.randint(3, 15), "skills": {"billing": rnd.randint(1, 5)},
            "shift": {"tz": ZONES[i % 4], "start": f"{start:02}:00",
                      "end": f"{(start + 9) % 24:02}:00",
                      "days": ["mon", "tue", "wed", "thu", "fri", "sat"] if i % 3 else
                      ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}})
    return load_org({
        "teams": [{"id": "hub", "name": "Hub", "kind": "hub", "strategy": "least_load"},
                  {"id": "care", "name": "Care", "hub": "hub", "strategy": "expertise",
                   "overflow": "hub"},
                  {"id": "sales", "name": "Sales", "hub": "hub", "strategy": "round_robin"}],
        "members": members})


def test_ten_thousand_cases_fair_fifo_and_nothing_stranded():
    org = org_of_twenty()
    rnd = random.Random(11)
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    steps, step = 4 * 24 * 12, timedelta(minutes=5)  # arrivals over three days, then one more
    arrivals: dict[int, list[Waiting]] = {}
    cases: dict[str, Waiting] = {}
    for i in range(10_000):
        k = rnd.randrange(3 * 24 * 12)
        at = start + k * step
        sla = rnd.choice((15, 60, 60, 240))
        team = rnd.choice(("care", "care", "sales", "hub"))
        arrivals.setdefault(k, []).append(
            Waiting(f"c{i:05}", Need(team, "support", ("billing",), "en"),
                    at + timedelta(minutes=sla), at))
        cases[f"c{i:05}"] = arrivals[k][-1]
    state = RoutingState()
    waiting: dict[str, Waiting] = {}
    held: dict[str, tuple[str, bool]] = {}  # case -> (member, claimed)
    done = assigned_from_queue = requeued = 0
    for k in range(steps):
        now = start + k * step
        state.presence = {m.id: "online" if m.shift.covers(now) else "offline" for m in org.members}
        # members work: claim some unclaimed cases, resolve some claimed ones
        for cid, (who, claimed) in list(held.items()):
            if state.presence[who] != "online":
                continue
            if claimed and rnd.random() < 0.5:
                del held[cid]
                state.freed(who)
                done += 1
            elif not claimed and rnd.random() < 0.5:
                held[cid] = (who, True)
        # nobody offline keeps unclaimed work
        for cid in stranded([(c, w, cl) for c, (w, cl) in held.items()], state.presence):
            who, _ = held.pop(cid)
            state.freed(who)
            waiting[cid] = cases[cid]
            requeued += 1
        for w in arrivals.get(k, ()):
            waiting[w.case_id] = w
        out = drain(waiting.values(), org, state, now)
        taken = {cid for cid, _ in out}
        for cid, a in out:
            held[cid] = (a.member, False)
            assigned_from_queue += 1
        for team in ("care", "sales", "hub"):
            got = [waiting[c].due for c in taken if waiting[c].need.team == team]
            left = [w.due for c, w in waiting.items() if c not in taken and w.need.team == team]
            if got and left:
                assert max(got) <= min(left), f"step {k}: {team} skipped an earlier-due case"
        for cid in taken:
            del waiting[cid]
        # invariants
        loads: dict[str, int] = {}
        for who, _ in held.values():
            loads[who] = loads.get(who, 0) + 1
        assert loads == {m: n for m, n in state.load.items() if n}
        for m in org.members:
            assert loads.get(m.id, 0) <= m.capacity, f"{m.id} above capacity at step {k}"
        assert not stranded([(c, w, cl) for c, (w, cl) in held.items()], state.presence)
    assert assigned_from_queue >= 10_000 and requeued > 0 and done > 9_500
    assert len(waiting) + len(held) + done == 10_000
