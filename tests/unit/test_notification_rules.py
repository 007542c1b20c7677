"""The pure mapping from an event to notifications, and the transports each one takes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from escapevelocity.domain import events as ev
from escapevelocity.domain import notifications as dn
from escapevelocity.domain.cases import Case, replace
from escapevelocity.domain.org import Member, Organisation, Shift, Team

DAY = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday, noon UTC
NIGHT = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
OFFICE = Shift(tz="UTC", days=["mon", "tue", "wed", "thu", "fri"], start="08:00", end="18:00")

ORG = Organisation(
    teams=[Team(id="care", name="Care", lead="lena", on_call=["omar"])],
    members=[Member(id="ana", name="Ana", teams=["care"], email="ana@x.test", shift=OFFICE),
             Member(id="lena", name="Lena", teams=["care"], email="lena@x.test", shift=OFFICE),
             Member(id="omar", name="Omar", teams=["care"], email="omar@x.test", shift=OFFICE)])
CASE = Case(id="c1", title="Router down again", assignee="ana", team="care")


def event(kind: str, actor: str = ev.SYSTEM, **data) -> ev.Event:
    return ev.make("c1", kind, DAY, actor, data, seq=7)


def who(notes: list[dn.Notification]) -> list[tuple[str, str, str]]:
    return [(n.member, n.kind, n.urgency) for n in notes]


def test_assignment_tells_the_assignee_with_a_link():
    notes = dn.derive(event(ev.ASSIGNED, member="ana", team="care"), ORG, CASE)
    assert who(notes) == [("ana", "assigned", "normal")]
    assert notes[0].link == "/cases/c1" and "Router down again" in notes[0].text
    assert notes[0].seq == 7


def test_queued_assignment_and_self_acts_tell_nobody():
    assert dn.derive(event(ev.ASSIGNED, member=None, team="care"), ORG, CASE) == []
    assert dn.derive(event(ev.ASSIGNED, actor="ana", member="ana", team="care"), ORG, CASE) == []


def test_note_mentions_tell_each_named_member_but_not_the_author_nor_strangers():
    e = event(ev.NOTE_ADDED, actor="lena", text="@ana @lena @ghost look", mentions=["ana", "lena",
                                                                                    "ghost"])
    assert who(dn.derive(e, ORG, CASE)) == [("ana", "mention", "normal")]


def test_approvals_waiting_and_overdue():
    assert who(dn.derive(event(ev.APPROVAL_REQUESTED, actor="ana", approver="lena",
                              draft="d1", due=DAY), ORG, CASE)) \
        == [("lena", "approval", "normal")]
    assert who(dn.derive(event(ev.APPROVAL_ESCALATED, to="omar", overdue_minutes=5,
                              due=DAY), ORG, CASE)) \
        == [("omar", "approval", "urgent")]


def test_sla_warning_tells_the_assignee_and_a_breach_also_the_lead():
    assert who(dn.derive(event(ev.SLA_WARNING, clock="first_response"), ORG, CASE)) == [
        ("ana", "sla_warning", "normal")]
    assert who(dn.derive(event(ev.SLA_BREACHED, clock="first_response"), ORG, CASE)) == [
        ("ana", "sla_breach", "urgent"), ("lena", "sla_breach", "urgent")]
    queued = replace(CASE, assignee=None)
    assert who(dn.derive(event(ev.SLA_WARNING, clock="first_response"), ORG, queued)) == [
        ("lena", "sla_warning", "normal")]


def test_escalation_ladder_targets_and_urgency():
    assert who(dn.derive(event(ev.ESCALATED, action="notify_lead", to="lena"), ORG, CASE)) == [
        ("lena", "escalation", "normal")]
    assert who(dn.derive(event(ev.ESCALATED, action="page_on_call", to="omar"), ORG, CASE)) == [
        ("omar", "escalation", "urgent")]
    assert who(dn.derive(event(ev.ESCALATED, action="notify_assignee", to="team:care"),
                         ORG, CASE)) == [("lena", "escalation", "normal")]
    # reassign is told by the ASSIGNED event that follows it, once
    assert dn.derive(event(ev.ESCALATED, action="reassign", to="omar"), ORG, CASE) == []


def test_crisis_page_links_the_incident_and_is_not_sent_twice():
    e = ev.make("incident:i1", ev.INCIDENT_PAGED, DAY, ev.SYSTEM, {"role": "pr-oncall",
                                                                    "member": "omar"})
    notes = dn.derive(e, ORG, None)
    assert who(notes) == [("omar", "crisis", "urgent")] and notes[0].link == "/incidents/i1"
    assert dn.route(notes[0], ORG, dn.DEFAULT_PREFS, NIGHT) == ["web", "email"]  # unpaged
    paged = ev.make("incident:i1", ev.INCIDENT_PAGED, DAY, ev.SYSTEM, {
        "role": "pr-oncall", "member": "omar", "ok": True, "channel": "email"})
    [n] = dn.derive(paged, ORG, None)
    assert dn.route(n, ORG, dn.DEFAULT_PREFS, NIGHT) == ["web"]  # the pager reached him


def note(member: str, urgency: str = "normal", kind: str = "assigned") -> dn.Notification:
    return dn.Notification(member=member, kind=kind, text="t", link="/cases/c1",
                           urgency=urgency, stream="c1", at=DAY)


def test_by_day_everyone_gets_their_chosen_transports():
    prefs = dn.Prefs(transports=["web", "email", "slack"])
    assert dn.route(note("ana"), ORG, prefs, DAY) == ["web", "email", "slack"]
    assert dn.route(note("ana"), ORG, dn.DEFAULT_PREFS, DAY) == ["web", "email"]


def test_at_night_only_on_call_members_are_woken_and_only_for_urgent_kinds():
    assert dn.route(note("ana", "urgent"), ORG, dn.DEFAULT_PREFS, NIGHT) == ["web"]
    assert dn.route(note("omar", "normal"), ORG, dn.DEFAULT_PREFS, NIGHT) == ["web"]
    assert dn.route(note("omar", "urgent"), ORG, dn.DEFAULT_PREFS, NIGHT) == ["web", "email"]


def test_quiet_hours_inside_a_shift_count_as_night():
    prefs = dn.Prefs(quiet_start="11:00", quiet_end="13:00")
    assert dn.route(note("ana"), ORG, prefs, DAY) == ["web"]
    overnight = dn.Prefs(quiet_start="22:00", quiet_end="12:30")
    assert dn.quiet(ORG.member("ana"), overnight, DAY)
    assert not dn.quiet(ORG.member("ana"), dn.Prefs(quiet_start="13:00", quiet_end="14:00"), DAY)


def test_muted_kinds_reach_nobody_not_even_the_bell():
    prefs = dn.Prefs(muted=["sla_warning"])
    assert dn.route(note("ana", kind="sla_warning"), ORG, prefs, DAY) == []
    assert dn.route(note("ana"), ORG, prefs, DAY) == ["web", "email"]


def test_preferences_are_validated():
    assert dn.load_prefs(None) == dn.DEFAULT_PREFS
    assert dn.load_prefs('{"muted": ["mention"], "transports": ["slack"]}').muted == ["mention"]
    for bad in ('{"muted": ["everything"]}', '{"transports": ["pigeon"]}',
                '{"quiet_start": "25:99"}', '{"slack_url": "javascript:alert(1)"}',
                '{"slack_url": "http://127.0.0.1:5432/"}'):
        with pytest.raises(ValueError):
            dn.load_prefs(bad)


def test_text_is_bounded():
    long = replace(CASE, title="x" * 5000)
    [n] = dn.derive(event(ev.ASSIGNED, member="ana", team="care"), ORG, long)
    assert len(n.text) <= dn.TEXT_CHARS
