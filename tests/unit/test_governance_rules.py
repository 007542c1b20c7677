"""Program governance, pure: the readiness fold, shadow mode in routing and in the access
policy, the training gate in the approval rule, and the maturity assessment."""

from datetime import UTC, datetime, timedelta

from escapevelocity.domain import access, engagement, governance, maturity
from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.org import load_org
from escapevelocity.domain.routing import Need, RoutingState, assign

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
ORG = load_org({
    "teams": [{"id": "hub", "name": "Hub", "kind": "hub"},
              {"id": "care", "name": "Care", "hub": "hub"}],
    "members": [{"id": "sam", "name": "Sam", "teams": ["hub"], "role": "strategist"},
                {"id": "ana", "name": "Ana", "teams": ["hub"]},
                {"id": "lucy", "name": "Lucy", "teams": ["care"], "role": "liaison"},
                {"id": "hugo", "name": "Hugo", "teams": ["care"], "role": "liaison"}],
})
STREAM = ev.GOVERNANCE_PREFIX + "spoke:hr"


def _e(kind, actor="hugo", at=NOW, **data):
    return ev.make(STREAM, kind, at, actor, data)


def _requested() -> governance.Program:
    return governance.replay([_e(ev.SPOKE_REQUESTED, team="hr", name="People", hub="hub",
                                 members=["hugo"])])


def test_a_requested_spoke_is_in_shadow_until_its_completed_checklist_is_approved():
    p = _requested()
    assert p.spokes["hr"].mode == governance.SHADOW
    assert [i.id for i in governance.missing(p, "hr")] == [i for i, _ in
                                                          governance.DEFAULT_CHECKLIST]
    sam = ORG.member("sam")
    assert "not complete" in governance.approvable(p, "hr", sam)
    for item, _ in governance.DEFAULT_CHECKLIST:
        governance.apply(p, _e(ev.READINESS_ITEM_DONE, team="hr", item=item, evidence="yes"))
    assert governance.missing(p, "hr") == []
    assert "not its own members" in governance.approvable(p, "hr", ORG.member("hugo"))
    assert governance.approvable(p, "hr", sam) is None
    governance.apply(p, _e(ev.SPOKE_APPROVED, actor="sam", team="hr", checklist_version=0))
    assert p.spokes["hr"].mode == governance.LIVE
    # the projection round-trips through its document
    assert governance.decode(governance.encode(p)).spokes["hr"].mode == governance.LIVE


def test_an_edited_checklist_is_what_readiness_is_judged_against():
    p = _requested()
    governance.apply(p, ev.make("governance:checklist", ev.CHECKLIST_SAVED, NOW, "sam", {
        "version": 1, "items": [{"id": "plan", "text": "A business plan"}]}))
    assert [i.id for i in governance.missing(p, "hr")] == ["plan"]
    assert governance.parse_lines("a: one\n\nb: two") == [{"id": "a", "text": "one"},
                                                         {"id": "b", "text": "two"}]


def test_shadow_spoke_cases_go_to_its_hub_and_its_members_may_not_send():
    org = governance.overlay(ORG, _requested())
    hr = org.team("hr")
    assert hr is not None and hr.mode == "shadow" and hr.hub == "hub"
    assert "hr" in org.member("hugo").teams and "care" in org.member("hugo").teams
    state = RoutingState(presence={m.id: "online" for m in org.members})
    a = assign(Need("hr"), org, state, NOW)
    assert a.team == "hub" and "hr in shadow mode" in a.explanation
    # a member only on shadow teams may not claim or reply, whatever the case
    solo = governance.overlay(ORG, governance.replay([_e(
        ev.SPOKE_REQUESTED, actor="ana", team="hr", name="People", hub="hub", members=[])]))
    case = {"team": "hr", "state": "queued", "assignee": None, "claimed_by": None,
            "claim_until": None, "approval_state": "", "approver": None}
    allowed = access.allowed_actions(solo, solo.member("ana"), case, NOW)
    assert access.VIEW in allowed and not allowed & access.SHADOW_WITHHELD
    # once approved the same case may be claimed
    live = _requested()
    for item, _ in governance.DEFAULT_CHECKLIST:
        governance.apply(live, _e(ev.READINESS_ITEM_DONE, team="hr", item=item))
    governance.apply(live, _e(ev.SPOKE_APPROVED, actor="sam", team="hr"))
    org = governance.overlay(ORG, live)
    assert access.CLAIM in access.allowed_actions(org, org.member("hugo"), case, NOW)
    assert assign(Need("hr"), org, state, NOW).team == "hr"


def test_training_gaps_and_the_approval_they_force_on_public_replies():
    p = governance.Program()
    assert governance.training_gaps(p, "lucy") == []  # nothing published: no gate
    governance.apply(p, ev.make("governance:policy:social", ev.POLICY_PUBLISHED, NOW, "sam",
                                {"policy": "social", "version": 1, "title": "T", "text": "x"}))
    gaps = governance.training_gaps(p, "lucy")
    assert gaps == ["acknowledge policy social v1", "pass a drill with a score of 70 or more"]
    governance.apply(p, ev.make("governance:member:lucy", ev.POLICY_ACKNOWLEDGED, NOW, "lucy",
                                {"policy": "social", "version": 1}))
    governance.apply(p, ev.make("governance:member:lucy", ev.DRILL_SCORED, NOW, "system",
                                {"member": "lucy", "score": 60.0, "min_score": 70}))
    assert governance.training_gaps(p, "lucy") == [
        "pass a drill with a score of 70 or more (best so far 60)"]
    case = Case(id="c1", visibility="public", approval="")
    need = engagement.approval_need(case, ORG.member("lucy"), "Hello",
                                    engagement.Policy(), governance.training_gaps(p, "lucy"))
    assert need is not None and "lucy has not completed training" in need.reasons[0]
    assert engagement.approval_need(Case(id="c1", visibility="private", approval=""),
                                    ORG.member("lucy"), "Hello", engagement.Policy(),
                                    governance.training_gaps(p, "lucy")) is None
    governance.apply(p, ev.make("governance:member:lucy", ev.DRILL_SCORED,
                                NOW + timedelta(days=1), "system",
                                {"member": "lucy", "score": 85.0, "min_score": 70}))
    assert governance.training_gaps(p, "lucy") == []
    # a new version of the policy must be acknowledged again
    governance.apply(p, ev.make("governance:policy:social", ev.POLICY_PUBLISHED, NOW, "sam",
                                {"policy": "social", "version": 2, "title": "T", "text": "y"}))
    assert governance.training_gaps(p, "lucy") == ["acknowledge policy social v2"]


def test_maturity_places_the_program_and_every_statement_names_existing_facts():
    demo = maturity.Facts(hubs=1, spokes=5, spokes_live=5, cases=100, cases_by_spokes=40,
                          members=11)
    a = maturity.assess(demo)
    assert (a.stage, a.model) == ("novice", "hub-and-spoke")
    assert a.next_step.text.startswith("Review the playbook")
    for s in [*a.statements, a.next_step]:
        assert s.facts and all(f in a.facts for f in s.facts), s
    central = maturity.assess(maturity.Facts(hubs=1, spokes=2, spokes_live=0, cases=10))
    assert central.model == "centralised"
    assert central.next_step.text.startswith("Bring a business unit through readiness")
    assert maturity.assess(maturity.Facts()).model == "decentralised"
    best = maturity.Facts(hubs=2, spokes=6, spokes_live=6, cases=100, cases_by_spokes=70,
                          drills_run=2, drills_passed=2, playbook_reviews=3, kpis_tracked=4,
                          members=10, members_trained=9, training_required=True)
    top = maturity.assess(best)
    assert (top.stage, top.model) == ("mature", "holistic")
    changes = {c.fact: c for c in maturity.compare(demo, best)}
    assert changes["drills_passed"].delta == 2 and changes["hubs"].before == 1
