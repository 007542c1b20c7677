"""Live routing against the real store (SQLite and PostgreSQL): response history from the log
reaches ingest's routing, lapsed claims of members who left are requeued, and auto-away follows
real activity (claims, replies) on the injected clock."""

from datetime import timedelta

from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases as commands
from escapevelocity.services.ingest import ingest, ingest_batch
from escapevelocity.services.intake import Intake
from escapevelocity.services.live_routing import ReplyHistory, history_for, live_presence
from escapevelocity.services.sla import tick

BILL = "my bill is wrong, I was overcharged twice"


def _ingest(ws, clock, texts, start=0):
    ms = [Mention(f"m{start + i}", "twitter", t, Author(f"user{start + i}"), clock.now())
          for i, t in enumerate(texts)]
    return ingest(ws.store, ws.triager(), clock, ms).case_ids


def _take(ws, clock, text, n):
    """The running app's path: Intake passes the workspace's auto-away to routing."""
    batch = [Mention(f"m{n}", "twitter", text, Author(f"user{n}"), clock.now())]
    return Intake(ws).take(batch).case_ids


def _case(ws, cid):
    with ws.store.begin() as tx:
        return tx.cases.get(cid)


def _log(ws, cid):
    with ws.store.begin() as tx:
        return tx.events.stream(cid)


def test_ingest_prefers_the_member_who_answers_billing_faster(workspace, clock):
    a, b = _ingest(workspace, clock, [BILL, BILL + " again"])
    assert _case(workspace, a).assignee == "tom"  # billing 5/5, no history yet
    clock.advance(minutes=2)
    commands.claim(workspace.store, clock, b, "ana")
    commands.reply(workspace.store, clock, b, "ana", "Sorry! Please DM us your account.")
    clock.advance(minutes=53)
    commands.claim(workspace.store, clock, a, "tom")
    commands.reply(workspace.store, clock, a, "tom", "Sorry, looking into it.")
    history_for(workspace.store).expire()  # the cache looks again at most every 30 s
    [c] = _ingest(workspace, clock, [BILL + " third time"], start=2)
    case = _case(workspace, c)
    assert case.assignee == "ana"
    [assigned] = [e for e in _log(workspace, c) if e.kind == ev.ASSIGNED]
    assert "median first reply 2 min on support" in assigned.data["explanation"]
    assert history_for(workspace.store).medians[("tom", "support")] == 55


def test_history_is_read_incrementally_and_at_most_every_ttl(workspace, clock):
    now = [0.0]
    h = ReplyHistory(ttl=30, monotonic=lambda: now[0])
    budgets = {}
    [a] = _ingest(workspace, clock, [BILL])
    with workspace.store.begin() as tx:
        assert h.get(tx, budgets, clock.now()) == {}
    clock.advance(minutes=4)
    commands.claim(workspace.store, clock, a, "tom")
    commands.reply(workspace.store, clock, a, "tom", "On it.")
    with workspace.store.begin() as tx:
        now[0] = 29
        assert h.get(tx, budgets, clock.now()) == {}  # not looked yet
        now[0] = 31
        assert h.get(tx, budgets, clock.now()) == {("tom", "support"): 4}
        seq = h.seq
    clock.advance(minutes=30)
    commands.claim(workspace.store, clock, a, "tom")
    commands.reply(workspace.store, clock, a, "tom", "Fixed now.")  # not a first reply
    with workspace.store.begin() as tx:
        assert h.refresh(tx, budgets, clock.now()) == 0
        assert h.seq > seq and list(h.times[("tom", "support")]) == [4]


def test_a_lapsed_claim_of_a_member_who_went_offline_goes_back(workspace, clock):
    [a] = _ingest(workspace, clock, [BILL])
    commands.claim(workspace.store, clock, a, "tom")  # a 10-minute lease
    workspace.set_presence("tom", "offline")
    clock.advance(minutes=5)
    r = tick(workspace)
    assert (r.released, r.requeued) == (0, 0)  # the lease still runs: tom may be reconnecting
    assert _case(workspace, a).claimed_by == "tom"
    clock.advance(minutes=6)
    r = tick(workspace)
    assert (r.released, r.requeued, r.drained) == (1, 1, 1)
    case = _case(workspace, a)
    assert case.claimed_by is None and case.assignee not in (None, "tom")
    kinds = [(e.kind, e.data.get("member", "-")) for e in _log(workspace, a)][-3:]
    assert kinds[0] == (ev.RELEASED, "-") and kinds[1] == (ev.ASSIGNED, None)
    assert tick(workspace).events == []  # idempotent


def test_a_lapsed_claim_of_a_member_still_online_stays(workspace, clock):
    [a] = _ingest(workspace, clock, [BILL])
    commands.claim(workspace.store, clock, a, "tom")
    clock.advance(minutes=30)
    r = tick(workspace)
    assert (r.released, r.requeued) == (0, 0)
    assert _case(workspace, a).claimed_by == "tom"


def test_auto_away_follows_claims_and_replies(workspace, clock):
    workspace.away_after = timedelta(minutes=10)  # what the running app switches on
    [a] = _ingest(workspace, clock, [BILL])
    assert _case(workspace, a).assignee == "tom"
    clock.advance(minutes=30)
    with workspace.store.begin() as tx:
        seen = live_presence(tx, clock.now(), workspace.away_after)
    assert seen["tom"] == "away" and seen["ana"] == "away"
    assert tick(workspace).requeued == 0  # away keeps its work; only offline loses it
    [b] = _take(workspace, clock, BILL + " again", 1)
    assert _case(workspace, b).state == "queued"  # everyone idle: nobody is routed to
    commands.claim(workspace.store, clock, b, "ana")  # ana acts: she is online again
    commands.reply(workspace.store, clock, b, "ana", "Sorry, DM us please.")
    [c] = _take(workspace, clock, BILL + " third time", 2)
    assert _case(workspace, c).assignee == "ana"
    clock.advance(minutes=35)  # tom idle 65 min: offline; ana idle 35 min: away
    r = tick(workspace)
    assert r.requeued == 1 and r.drained == 0  # tom's case waits for someone active
    assert _case(workspace, a).state == "queued"
    assert _case(workspace, c).assignee == "ana"  # away keeps its work
    commands.claim(workspace.store, clock, c, "ana")
    clock.advance(minutes=1)
    assert tick(workspace).drained == 1  # ana is active again: the queue drains to her
    assert _case(workspace, a).assignee == "ana"


def test_ingest_batch_without_auto_away_uses_declared_presence(workspace, clock):
    clock.advance(hours=5)
    r = ingest_batch(workspace.store, workspace.triager(), clock.now(),
                     [Mention("x1", "twitter", BILL, Author("u1"), clock.now())])
    assert _case(workspace, r.case_ids[0]).assignee == "tom"


def test_a_new_case_queues_behind_older_ones_for_its_team(workspace, clock):
    for m in ("tom", "mei", "priya", "joe", "ana", "leo", "sam", "eva"):
        workspace.set_presence(m, "offline")
    old = _ingest(workspace, clock, [BILL, BILL + " again"])
    assert {_case(workspace, c).state for c in old} == {"queued"}
    workspace.set_presence("tom", "online")  # tom has room now, but two cases were first
    clock.advance(minutes=1)
    [new] = _ingest(workspace, clock, [BILL + " third time"], start=2)
    case = _case(workspace, new)
    assert (case.state, case.assignee) == ("queued", None)
    [assigned] = [e for e in _log(workspace, new) if e.kind == ev.ASSIGNED]
    assert "older cases wait there first" in assigned.data["explanation"]
    clock.advance(minutes=1)
    r = tick(workspace)
    assert r.drained == 3
    order = sorted((e.seq, e.stream) for c in (*old, new) for e in _log(workspace, c)
                   if e.kind == ev.ASSIGNED and e.data.get("member") == "tom")
    assert {cid for _, cid in order[:2]} == set(old) and order[2][1] == new  # earliest due first
    [later] = _ingest(workspace, clock, [BILL + " fourth time"], start=3)
    assert _case(workspace, later).assignee == "tom"  # no queue left: routed at once
