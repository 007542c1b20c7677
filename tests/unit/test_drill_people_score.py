"""Scoring a drill played by people, pure: each player's claims, answers within SLA, playbook
followed or not, hand-offs and approvals asked, and the team's figures."""

from datetime import UTC, datetime, timedelta

from escapevelocity.domain import events as ev
from escapevelocity.drill.people import score

T0 = datetime(2026, 5, 22, 17, 0, tzinfo=UTC)


def _e(case, kind, minutes, actor="system", **data):
    return ev.make(case, kind, T0 + timedelta(minutes=minutes), actor, data)


def _case(case, respond=True):
    return [_e(case, ev.OPENED, 0, author="kim", channel="twitter", title="t"),
            _e(case, ev.DECIDED, 0, decision={"respond": respond, "track": "support"},
               signals={})]


def test_each_player_and_the_team_are_scored_from_the_sandbox_log():
    streams = {
        "c1": [*_case("c1"), _e("c1", ev.CLAIMED, 2, "ana", until=T0.isoformat()),
               _e("c1", ev.REPLIED, 6, "ana", text="hi")],
        "c2": [*_case("c2"), _e("c2", ev.CLAIMED, 4, "leo", until=T0.isoformat()),
               _e("c2", ev.APPROVAL_REQUESTED, 90, "leo", draft="d", approver="omar",
                  due=T0.isoformat()),
               _e("c2", ev.REPLIED, 95, "leo", text="hi", approved_by="omar")],
        "c3": [*_case("c3", respond=False), _e("c3", ev.REPLIED, 3, "leo", text="lol"),
               _e("c3", ev.ASSIGNED, 4, "leo", team="pr", by="leo")],
        "c4": [*_case("c4")],  # nobody answered
    }
    cases = {c: {"sla_due": T0 + timedelta(minutes=60)} for c in streams}
    card = score(("ana", "leo"), cases, streams)
    ana, leo = card.people
    assert (ana.claims, ana.answers, ana.within_sla, ana.followed, ana.against) == (1, 1, 1, 1, 0)
    assert ana.claim_minutes == 2 and ana.answer_minutes == 6
    assert (leo.answers, leo.within_sla, leo.followed, leo.against) == (2, 1, 1, 1)
    assert leo.approvals_asked == 1 and leo.escalations == 1
    assert ana.score > leo.score > 0
    assert (card.team.needing_answer, card.team.answered) == (3, 2)
    assert card.team.approvals_asked == 1 and card.team.players == 2
    idle = score(("eva",), cases, streams).people[0]
    assert idle.score == 0 and idle.cases == 0
