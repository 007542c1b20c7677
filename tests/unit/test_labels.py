"""Labels read as words: minute budgets as durations, identifiers without underscores, and an
escalation step that says who was told and what changed."""

from __future__ import annotations

from datetime import UTC, datetime

from escapevelocity.domain import events as ev
from escapevelocity.web.labels import describe, minutes, words

AT = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)


def test_minutes_and_words():
    assert [minutes(v) for v in (45, 60, 90, 1440, 2880, 10080, 1500, None)] == [
        "45 min", "1 h", "1 h 30 min", "1 day", "2 days", "7 days", "1 day 1 h", "—"]
    assert words("community_manager") == "community manager"
    assert words("sales_lead") == "sales lead"


def _step(action: str, **data) -> ev.Event:
    return ev.make("c1", ev.ESCALATED, AT, ev.SYSTEM, {
        "clock": "first_response", "action": action, "at_share": 1.0, **data})


def test_escalation_steps_name_who_was_told_and_what_changed():
    assert describe(_step("notify_assignee", to="tom")) == (
        "escalation at 100% of the first response SLA: told tom")
    assert describe(_step("reassign", to="mei", previous="tom")) == (
        "escalation at 100% of the first response SLA: reassigned from tom to mei")
    assert describe(_step("reassign", to=None, previous="tom", note="nobody free")) == (
        "escalation at 100% of the first response SLA: not reassigned, nobody else had room "
        "(nobody free)")
    assert describe(_step("notify_lead", to="team:care")).endswith("told the team lead, team care")
    assert describe(_step("page_on_call", to="nina")).endswith("paged nina (on call)")
    assert "escalated" not in describe(_step("reassign", to="mei", previous="tom"))
