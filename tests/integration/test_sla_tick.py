"""The SLA worker against the real store (SQLite and PostgreSQL), on a clock that is moved."""

from datetime import timedelta

from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases as commands
from escapevelocity.services.ingest import ingest
from escapevelocity.services.sla import first_reply_history, sla_attainment, tick


def _ingest(ws, clock, texts):
    ms = [Mention(f"m{i}", "twitter", t, Author(f"user{i}"), clock.now())
          for i, t in enumerate(texts)]
    return ingest(ws.store, ws.triager(), clock, ms).case_ids


def _log(ws, case_id):
    with ws.store.begin() as tx:
        return tx.events.stream(case_id)


def test_warning_breach_and_ladder_are_events_once(workspace, clock):
    [cid] = _ingest(workspace, clock, ["my bill is wrong, I was overcharged twice"])
    # The first look only records when to look again: the warning at 75% of 60 minutes.
    assert [e.kind for e in tick(workspace).events] == [ev.SLA_CLOCK]
    with workspace.store.begin() as tx:
        case = tx.cases.get(cid)
    assert case.next_deadline == clock.now() + timedelta(minutes=45)
    assert tick(workspace).events == []
    clock.advance(minutes=46)
    r = tick(workspace)
    assert (r.warnings, r.breaches, r.escalations) == (1, 0, 1)
    assert tick(workspace).events == []  # idempotent at the same instant
    clock.advance(minutes=15)
    r = tick(workspace)
    assert (r.warnings, r.breaches) == (0, 1)
    kinds = [(e.kind, e.data.get("action")) for e in _log(workspace, cid)]
    assert (ev.SLA_WARNING, None) in kinds and (ev.SLA_BREACHED, None) in kinds
    assert (ev.ESCALATED, "notify_assignee") in kinds and (ev.ESCALATED, "reassign") in kinds
    clock.advance(minutes=40)
    tick(workspace)
    actions = [e.data["action"] for e in _log(workspace, cid) if e.kind == ev.ESCALATED]
    assert actions == ["notify_assignee", "reassign", "notify_lead", "page_on_call"]
    lead = [e.data["to"] for e in _log(workspace, cid) if e.data.get("action") == "notify_lead"]
    assert lead == ["tom"]  # care's lead in the demo organisation
    report = sla_attainment(workspace)
    assert report.by_track[("first_response", "support")].breached == 1


def test_reply_stops_the_clock_and_counts_as_met(workspace, clock):
    [cid] = _ingest(workspace, clock, ["my bill is wrong, I was overcharged twice"])
    with workspace.store.begin() as tx:
        member = tx.cases.get(cid).assignee
    clock.advance(minutes=10)
    commands.claim(workspace.store, clock, cid, member)
    commands.reply(workspace.store, clock, cid, member, "Sorry about that, DM us please")
    clock.advance(minutes=200)
    r = tick(workspace)
    assert r.breaches == 0 and r.escalations == 0
    with workspace.store.begin() as tx:
        assert tx.cases.get(cid).sla_due is None  # waiting on the customer
    met = sla_attainment(workspace).by_member[("first_response", member)]
    assert (met.met, met.breached) == (1, 0)
    assert first_reply_history(workspace)[(member, "support")] == 10


def test_offline_members_lose_unclaimed_work_and_the_queue_drains(workspace, clock):
    for m in ("tom", "mei", "priya", "joe", "ana", "leo", "sam", "eva"):
        workspace.set_presence(m, "offline")
    ids = _ingest(workspace, clock, ["my bill is wrong again",
                                    "I was overcharged on my bill, please fix it"])
    with workspace.store.begin() as tx:
        assert {c.state for c in tx.cases.get_many(ids).values()} == {"queued"}
    workspace.set_presence("tom", "online")
    clock.advance(minutes=1)
    r = tick(workspace)
    assert r.drained == 2
    with workspace.store.begin() as tx:
        assert {c.assignee for c in tx.cases.get_many(ids).values()} == {"tom"}
    workspace.set_presence("tom", "offline")
    clock.advance(minutes=1)
    r = tick(workspace)
    assert r.requeued == 2
    with workspace.store.begin() as tx:
        cases = tx.cases.get_many(ids).values()
        assert {(c.state, c.assignee) for c in cases} == {("queued", None)}
    assert all(e.data["explanation"].startswith("requeued: tom went offline")
               for i in ids for e in _log(workspace, i)[-1:])
    clock.advance(minutes=1)
    assert tick(workspace).drained == 0  # nobody online: it waits


def test_rebuild_recomputes_the_next_deadline_from_the_log(workspace, clock):
    from escapevelocity.services.cases import rebuild_projection

    ids = _ingest(workspace, clock, ["my bill is wrong", "I was overcharged, fix it"])
    tick(workspace)
    clock.advance(minutes=50)
    tick(workspace)
    with workspace.store.begin() as tx:
        before = tx.cases.get_many(ids)
    assert all(c.next_deadline > clock.now() for c in before.values())
    rebuild_projection(workspace.store)
    with workspace.store.begin() as tx:
        assert tx.cases.get_many(ids) == before
        # only what is due is read: nothing now, both once their next deadline passes
        assert tx.cases.due_for_sla(clock.now(), 10) == []
        later = max(c.next_deadline for c in before.values())
        assert len(tx.cases.due_for_sla(later, 10)) == 2
