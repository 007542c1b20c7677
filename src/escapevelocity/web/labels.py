"""Labels that read as words: identifiers and durations as a person would say them.

Pages show stored names (`community_manager`, `legal_review`, `sla_breached`) and minute
budgets (1440); these filters turn them into "community manager" and "1 day" at the edge, so
the records keep their identifiers and people read words.
"""

from __future__ import annotations

from typing import Any


def words(value: Any) -> str:
    """`first_response` -> "first response"; anything else as text."""
    if value is None:
        return ""
    return str(value).replace("_", " ").replace("-", " ") if isinstance(value, str) \
        else str(value)


def level_name(value: Any) -> str:
    """A crisis level as people say it: "crisis2" -> "Crisis level 2", "watch" -> "Watch"
    (the level ids stay in the records, the playbook and the CSS classes)."""
    level = "" if value is None else str(value)
    if level.startswith("crisis") and level[6:].isdigit():
        return f"Crisis level {level[6:]}"
    return words(level).capitalize()


def minutes(value: Any) -> str:
    """A duration in minutes as words: 45 -> "45 min", 90 -> "1 h 30 min", 1440 -> "1 day",
    10080 -> "7 days"; empty -> "—"."""
    if value in (None, ""):
        return "—"
    try:
        total = int(value)
    except (TypeError, ValueError):
        return str(value)
    if total < 60:
        return f"{total} min"
    days, rest = divmod(total, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day" + ("s" if days != 1 else ""))
    if hours:
        parts.append(f"{hours} h")
    if mins:
        parts.append(f"{mins} min")
    return " ".join(parts)


def _who(value: Any) -> str:
    if not value:
        return "nobody"
    value = str(value)
    return f"team {value.removeprefix('team:')}" if value.startswith("team:") else value


def describe(event: Any) -> str:
    """One history line in words: what happened, to whom, and what changed."""
    kind = getattr(event, "kind", "")
    d = getattr(event, "data", {}) or {}
    clock = words(d.get("clock") or "")
    if kind == "escalated":
        action, to = d.get("action", ""), d.get("to")
        share = f"{round(100 * float(d.get('at_share') or 0))}% of the {clock} SLA"
        if action == "notify_assignee":
            return f"escalation at {share}: told {_who(to)}"
        if action == "reassign":
            if to:
                return (f"escalation at {share}: reassigned from {_who(d.get('previous'))} "
                        f"to {to}")
            return (f"escalation at {share}: not reassigned, nobody else had room"
                    + (f" ({d['note']})" if d.get("note") else ""))
        if action == "notify_lead":
            return f"escalation at {share}: told the team lead, {_who(to)}"
        if action == "page_on_call":
            return f"escalation at {share}: paged {_who(to)} (on call)"
        return f"escalation at {share}: {words(action)} {_who(to)}"
    if kind in ("sla_breached", "sla_warning"):
        what = "breached" if kind == "sla_breached" else "warning"
        return (f"{clock} SLA {what}: {minutes(round(float(d.get('used') or 0)))} of "
                f"{minutes(round(float(d.get('budget') or 0)))} used")
    if kind == "assigned":
        who = d.get("member") or "the queue"
        return f"assigned to {who}" + (f" ({d['team']})" if d.get("team") else "")
    if kind == "approval_requested":
        return f"reply held for approval by {d.get('approver') or d.get('group') or 'an approver'}"
    if kind == "approval_escalated":
        return f"approval passed on to {d.get('to') or 'the next approver'}"
    if kind == "approved":
        return "approved the reply; it was sent"
    if kind == "rejected":
        return "rejected the reply"
    if kind == "approval_withdrawn":
        return "withdrew the draft"
    return words(kind)


def install(env: Any) -> None:
    env.filters.update(words=words, minutes=minutes, describe=describe, level=level_name)
