"""Producers build the typed event structs directly; the stored payload (`payload_json`, the
`data` column) must be byte for byte what the old dict path (`make`: a dict converted to the
kind's struct) stored. Two checks, no database:

- a sample of kinds, each as its producer used to write it (the dict, with datetimes as ISO
  text where the producer sent text) beside the typed constructor the producer uses now;
- the pure producers (claim, reply, resolve, follow-up, answer, SLA marks, the escalation
  ladder, the tick) run for real, and each event they return is already in the form the dict
  path would have stored (an int in a float field, or a datetime given as text, would not be).
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from escapevelocity.domain import cases as projection
from escapevelocity.domain import engagement
from escapevelocity.domain import events as ev
from escapevelocity.domain.escalation import escalate
from escapevelocity.domain.events import Event
from escapevelocity.domain.plans.commands import plan_claim, plan_reply, plan_resolve
from escapevelocity.domain.plans.sla_tick import TickState, plan_tick
from escapevelocity.domain.routing import Need, RoutingState
from escapevelocity.domain.sla import done_keys, fold, sla_events
from tests.unit.test_plans import opened
from tests.unit.test_sla import BUDGETS, ORG

T0 = datetime(2026, 11, 20, 14, 0, 0, 123456, tzinfo=UTC)
LATER = T0 + timedelta(minutes=15)
SYS = ev.SYSTEM


def as_before(stream: str, kind: str, at: datetime, actor: str,
              data: dict[str, Any]) -> Event:
    """The old producers' path (`events.make`): the dict checked for unknown keys and
    converted to the kind's struct."""
    return ev.make(stream, kind, at, actor, data)


# (the dict a producer passed before, the typed event it builds now)
SAMPLES: list[tuple[str, dict[str, Any], Event]] = [
    (ev.CLAIMED, {"until": LATER.isoformat()},
     ev.Claimed(stream="c1", at=T0, actor="ana", until=LATER)),
    (ev.CLAIMED, {"until": LATER.isoformat(), "override": True, "from": "tom"},
     ev.Claimed(stream="c1", at=T0, actor="ana", until=LATER, override=True, from_="tom")),
    (ev.REPLIED, {"text": "hi", "template": "", "visibility": "public", "dry_run": True},
     ev.Replied(stream="c1", at=T0, actor="ana", text="hi", template="", visibility="public",
                dry_run=True, connection=None)),
    (ev.REPLIED, {"text": "hi", "template": "t", "visibility": "public", "dry_run": False,
                  "draft": "d3", "approved_by": "lee", "edited": False, "connection": "masto"},
     ev.Replied(stream="c1", at=T0, actor="ana", text="hi", template="t", visibility="public",
                dry_run=False, draft="d3", approved_by="lee", edited=False,
                connection="masto")),
    (ev.RELEASED, {}, ev.Released(stream="c1", at=T0, actor="ana")),
    (ev.REOPENED, {"note": "again"}, ev.Reopened(stream="c1", at=T0, actor="ana", note="again")),
    (ev.ASSIGNED, {"team": "care", "member": "tom", "by": "ana"},
     ev.Assigned(stream="c1", at=T0, actor="ana", team="care", member="tom", by="ana")),
    (ev.NOTE_ADDED, {"text": "@tom look", "mentions": ["tom"]},
     ev.NoteAdded(stream="c1", at=T0, actor="ana", text="@tom look", mentions=["tom"])),
    (ev.TAGS_CHANGED, {"add": ["vip"], "remove": []},
     ev.TagsChanged(stream="c1", at=T0, actor="ana", add=["vip"], remove=[])),
    (ev.FLAGS_CHANGED, {"add": [], "remove": ["legal"]},
     ev.FlagsChanged(stream="c1", at=T0, actor="ana", add=[], remove=["legal"])),
    (ev.CRM_LINKED, {"crm_id": "42", "name": "Kim", "email": "k@x.org", "lists": [],
                     "source": "lookup hook"},
     ev.CrmLinked(stream="c1", at=T0, actor=SYS, crm_id="42", name="Kim", email="k@x.org",
                  lists=[], source="lookup hook")),
    (ev.APPROVAL_REQUESTED, {"draft": "d4", "text": "hi", "template": "", "visibility": "public",
                             "reasons": ["risk"], "group": "legal", "approver": "lee",
                             "due": LATER.isoformat(), "rotation": ["lee", "max"]},
     ev.ApprovalRequested(stream="c1", at=T0, actor="ana", draft="d4", text="hi", template="",
                          visibility="public", reasons=["risk"], group="legal",
                          approver="lee", due=LATER, rotation=["lee", "max"])),
    (ev.APPROVED, {"draft": "d4", "text": "hi", "note": "", "submitter": "ana",
                   "waited": 12.5, "approval_kind": "risk"},
     ev.Approved(stream="c1", at=T0, actor="lee", draft="d4", text="hi", note="",
                 submitter="ana", waited=12.5, approval_kind="risk")),
    (ev.REJECTED, {"draft": "d4", "note": "no", "submitter": "ana", "waited": None,
                   "approval_kind": "risk+edited"},
     ev.Rejected(stream="c1", at=T0, actor="lee", draft="d4", note="no", submitter="ana",
                 waited=None, approval_kind="risk+edited")),
    (ev.APPROVAL_ESCALATED, {"draft": "d4", "from": "lee", "to": "max",
                             "due": LATER.isoformat(), "level": 2, "overdue_minutes": 3},
     ev.ApprovalEscalated(stream="c1", at=T0, actor=SYS, draft="d4", from_="lee", to="max",
                          due=LATER, level=2, overdue_minutes=3)),
    (ev.APPROVAL_ALTERNATIVE, {"draft": "d4", "text": "or", "option": 1},
     ev.ApprovalAlternative(stream="c1", at=T0, actor="ana", draft="d4", text="or", option=1)),
    (ev.CORRECTED, {"signal": "situation", "label": "praise", "was": "complaint", "why": "",
                    "text": "love it", "mention": "twitter:1"},
     ev.Corrected(stream="c1", at=T0, actor="ana", signal="situation", label="praise",
                  was="complaint", why="", text="love it", mention="twitter:1")),
    (ev.SEND_FAILED, {"what": "reply", "via": "mastodon", "connection": "m", "attempts": 3,
                      "text": "hi", "error": "503", "reply": 17, "key": "k", "by": "ana"},
     ev.SendFailed(stream="c1", at=T0, actor=SYS, what="reply", via="mastodon", connection="m",
                   attempts=3, text="hi", error="503", reply=17, key="k", by="ana")),
    (ev.REPLY_SENT, {"reply": 17, "key": "k", "via": "mastodon", "connection": "m",
                     "network_id": "9", "url": "", "visibility": "public", "attempts": 1},
     ev.ReplySent(stream="c1", at=T0, actor=SYS, reply=17, key="k", via="mastodon",
                  connection="m", network_id="9", url="", visibility="public", attempts=1)),
    (ev.FOLLOWUP_SENT, {"ask": "csat", "text": "how?", "via": "email", "to": "k@x.org",
                        "visibility": "private", "dry_run": True, "network_id": None,
                        "attempts": 1},
     ev.FollowupSent(stream="c1", at=T0, actor=SYS, ask="csat", text="how?", via="email",
                     to="k@x.org", visibility="private", dry_run=True, network_id=None,
                     attempts=1)),
    (ev.TOKEN_CREATED, {"token": "t1", "name": "ci", "token_kind": "service", "member": None,
                        "scopes": ["ingest"], "expires_at": LATER},
     ev.TokenCreated(stream="token:t1", at=T0, actor="sam", token="t1", name="ci",
                     token_kind="service", member=None, scopes=["ingest"], expires_at=LATER)),
    (ev.SECOND_FACTOR_ENROLLED, {"member": "ana", "removed": True},
     ev.SecondFactorEnrolled(stream="member:ana", at=T0, actor="sam", member="ana",
                             removed=True)),
    (ev.SECOND_FACTOR_ROLES, {"roles": ["admin"], "previous": []},
     ev.SecondFactorRoles(stream="access:roles", at=T0, actor="sam", roles=["admin"],
                          previous=[])),
    (ev.MEMBER_SIGNED_ON, {"member": "kim", "email": "k@x.org", "role": "agent",
                           "previous_role": None, "provisioned": True},
     ev.MemberSignedOn(stream="member:kim", at=T0, actor="kim", member="kim", email="k@x.org",
                       role="agent", previous_role=None, provisioned=True)),
    (ev.CHECKLIST_SAVED, {"version": 2, "note": "", "items": [{"id": "a", "text": "A"}]},
     ev.ChecklistSaved(stream="governance:checklist", at=T0, actor="sam", version=2, note="",
                       items=[{"id": "a", "text": "A"}])),
    (ev.SPOKE_APPROVED, {"team": "hr", "note": "", "checklist_version": 2},
     ev.SpokeApproved(stream="governance:spoke:hr", at=T0, actor="sam", team="hr", note="",
                      checklist_version=2)),
    (ev.DRILL_SCORED, {"member": "ana", "drill": "d", "score": 71.5, "min_score": 70,
                       "details": {"replies": 3}},
     ev.DrillScored(stream="governance:member:ana", at=T0, actor=SYS, member="ana", drill="d",
                    score=71.5, min_score=70, details={"replies": 3})),
    (ev.TRAINING_RULE_SET, {"min_drill_score": 80},
     ev.TrainingRuleSet(stream="governance:training", at=T0, actor="sam", min_drill_score=80)),
]


@pytest.mark.parametrize(("kind", "data", "typed"), SAMPLES,
                         ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(SAMPLES)])
def test_the_typed_constructor_stores_what_the_dict_path_stored(kind, data, typed):
    before = as_before(typed.stream, kind, typed.at, typed.actor, data)
    assert typed.kind == kind
    assert ev.payload_json(typed) == ev.payload_json(before)
    assert typed == before  # and the same event in memory (a datetime, not its text)


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_a_datetime_stores_as_its_iso_text_did_in_any_zone(zone):
    """Producers sent due times as ISO text (`due.isoformat()`); now the datetime itself, which
    may carry a business calendar's zone: the stored text is the same."""
    due = LATER.astimezone(ZoneInfo(zone))
    typed = ev.FollowupScheduled(stream="c1", at=T0, actor=SYS, due=due, ask="csat")
    before = as_before("c1", ev.FOLLOWUP_SCHEDULED, T0, SYS,
                       {"due": due.isoformat(), "ask": "csat"})
    assert ev.payload_json(typed) == ev.payload_json(before)


def stored_as_before(events: list[Event]) -> None:
    """Each event is already what the dict path made of its fields: nothing changes when its
    payload goes through that path again (an int in a float field would come back a float,
    an ISO text in a datetime field a datetime)."""
    assert events
    for e in events:
        again = as_before(e.stream, e.kind, e.at, e.actor, e.data)
        assert ev.payload_json(e) == ev.payload_json(again), e.kind
        assert msgspec.json.encode(e) == msgspec.json.encode(again), e.kind


def test_the_case_commands_store_as_before():
    case = projection.replay("c1", opened())
    rules = engagement.load_policy(None)
    claim = plan_claim(case, "tom", T0, timedelta(minutes=10))
    override = plan_claim(projection.apply(case, claim), "ana", T0, timedelta(minutes=10),
                          override=True)
    assert isinstance(override, ev.Claimed) and override.from_ == "tom"
    claimed = projection.apply(case, claim)
    reply = plan_reply(claimed, "tom", "hello", T0, rules, dry_run=False, connection="masto")
    dry = plan_reply(claimed, "tom", "hello", T0, rules)
    assert isinstance(dry, ev.Replied) and dry.connection is None
    answered = projection.apply(claimed, reply)
    resolved = plan_resolve(answered, "tom", T0, rules)
    assert [e.kind for e in resolved] == [ev.RESOLVED, ev.FOLLOWUP_SCHEDULED]
    answer = engagement.answer_events(answered, 5, None, "great", SYS, T0, rules,
                                      mention="twitter:2")
    assert [e.kind for e in answer] == [ev.FOLLOWUP_ANSWERED, ev.FOLLOWUP_INVITED]
    stored_as_before([claim, override, reply, dry, *resolved, *answer])


def test_sla_marks_and_the_ladder_store_as_before():
    """The budgets are whole minutes (ints): the stored budget, used and share stay floats."""
    log = opened()
    state = RoutingState(presence={"tom": "online", "ana": "online"})
    now = T0 + timedelta(minutes=100)
    case = fold("c1", log, BUDGETS, now)
    marks = sla_events(case, 0.75, done_keys(log), now)
    assert [e.kind for e in marks] == [ev.SLA_WARNING, ev.SLA_BREACHED]
    assert '"budget":60.0' in ev.payload_json(marks[0])
    rungs = escalate(case, ORG, done_keys(log), state, Need("care"), now)
    assert {e.kind for e in rungs} == {ev.ESCALATED, ev.ASSIGNED}
    alone = escalate(case, ORG, set(), RoutingState(presence={"tom": "online"}), Need("care"),
                     now)
    assert any(getattr(e, "note", None) for e in alone)  # nobody else: the rung says why
    stored_as_before([*marks, *rungs, *alone])


def test_the_tick_stores_as_before():
    """A lapsed claim of a member gone offline is released; unclaimed work of a member gone
    offline is requeued, then handed to who is on."""
    log = [*opened(), ev.Claimed(stream="c1", at=T0, actor="tom",
                                 until=T0 + timedelta(minutes=10))]
    cases = {"c1": projection.replay("c1", log), "c2": projection.replay("c2", opened("c2"))}
    later = T0 + timedelta(minutes=130)
    pending, _ = plan_tick(TickState(cases, {"c1": log}, ["c1"]), BUDGETS, ORG,
                           RoutingState(presence={"tom": "offline", "ana": "online"}), later)
    kinds = [e.kind for e in pending["c1"]]
    assert {ev.SLA_BREACHED, ev.ESCALATED, ev.RELEASED, ev.ASSIGNED, ev.SLA_CLOCK} <= set(kinds)
    requeued, drained = pending["c2"]
    assert (requeued.member, requeued.previous, drained.member) == (None, "tom", "ana")
    stored_as_before([*pending["c1"], *pending["c2"]])


def test_no_producer_builds_an_event_from_a_dict():
    """Producers construct the kind's struct; `events.make` (a dict payload, checked only at
    run time) is left to tests that hold events as data."""
    src = Path(ev.__file__).parents[1]
    calls = []
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "make" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("ev", "events")):
                calls.append(f"{path.relative_to(src)}:{node.lineno}")
            if (isinstance(node, ast.ImportFrom) and (node.module or "").endswith("events")
                    and any(a.name == "make" for a in node.names)):
                calls.append(f"{path.relative_to(src)}:{node.lineno} (import)")
    assert calls == []


def test_a_missing_or_misspelt_field_fails_where_the_event_is_made():
    with pytest.raises(TypeError, match="until"):
        ev.Claimed(stream="c1", at=T0, actor="ana")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="untill"):
        ev.Claimed(stream="c1", at=T0, actor="ana", until=T0, untill=T0)  # type: ignore[call-arg]
