"""Who hears about what: an event of the log becomes notifications for members (pure).

The event log is the record; a notification is derived from one event (plus the case as it
stood, the organisation, each member's preferences and the time) and says who, what kind, a
short text, a link and how urgent. `route` then says which transports carry it: the web app
always (the bell), email and the Slack-compatible webhook as the member chose, and at night —
outside the member's shift or inside their quiet hours — only urgent kinds, and only to members
on call (the on-call rotation decides who is woken). No I/O here: services/notify.py stores
and delivers.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from escapevelocity.domain import events as ev
from escapevelocity.domain.cases import Case
from escapevelocity.domain.org import Member, Organisation

# Kinds a member can turn off one by one (preferences) and see in the bell.
ASSIGNED = "assigned"
MENTION = "mention"  # an internal note names the member
APPROVAL = "approval"  # a reply waits for the member's approval
SLA_WARNING = "sla_warning"
SLA_BREACH = "sla_breach"
ESCALATION = "escalation"
CHANNEL_HEALTH = "channel_health"
CRISIS = "crisis"
SEND_FAILED = "send_failed"  # a live reply the member wrote did not reach the network
KINDS = (ASSIGNED, MENTION, APPROVAL, SLA_WARNING, SLA_BREACH, ESCALATION, CHANNEL_HEALTH,
         CRISIS, SEND_FAILED)

WEB, EMAIL, SLACK = "web", "email", "slack"
TRANSPORTS = (WEB, EMAIL, SLACK)
NORMAL, URGENT = "normal", "urgent"
TEXT_CHARS = 300


class Prefs(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A member's choices. `quiet` is ("22:00", "07:00") in `tz` (default: their shift's zone);
    outside their shift or inside quiet hours only urgent kinds go out, and only when on call."""

    muted: list[str] = []  # kinds the member does not want at all
    transports: list[str] = msgspec.field(default_factory=lambda: [WEB, EMAIL])  # + slack
    quiet_start: str = ""  # HH:MM, empty: no quiet hours beyond the shift
    quiet_end: str = ""
    tz: str = ""
    slack_url: str = ""  # the member's own Slack-compatible webhook (else the workspace's)
    browser: bool = True  # browser notifications where the member allows them


DEFAULT_PREFS = Prefs()


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    member: str
    kind: str
    text: str
    link: str
    urgency: str
    # What it is about: the event's stream (a case id, "incident:<id>"), or a page's subject
    # ("incident:<id>", "connection:<name>"); not always a case, so not called case_id.
    stream: str
    at: datetime
    seq: int | None = None  # the event it comes from
    outside: bool = True  # may go by email / Slack (False: the pager already reached them)


def _clip(text: Any) -> str:
    s = " ".join(str(text or "").split())
    return s if len(s) <= TEXT_CHARS else s[: TEXT_CHARS - 1] + "…"


def _link(stream: str) -> str:
    if stream.startswith(ev.INCIDENT_PREFIX):
        return f"/incidents/{stream.removeprefix(ev.INCIDENT_PREFIX)}"
    return f"/cases/{stream}"


def _team_people(org: Organisation, to: str | None) -> list[str]:
    """A ladder target: a member id, or "team:<id>" meaning that team's lead (else members)."""
    if not to:
        return []
    if to.startswith("team:"):
        team = org.team(to.removeprefix("team:"))
        if team is None:
            return []
        return [team.lead] if team.lead else [m.id for m in org.members_of(team.id)]
    return [to]


def _lead(org: Organisation, team_id: str | None) -> str | None:
    team = org.team(team_id) if team_id else None
    return team.lead if team and team.lead else None


def derive(event: ev.Event, org: Organisation, case: Case | None
           ) -> list[Notification]:
    """The notifications one event produces. `case`: the case projection as it stands (for the
    assignee and team of SLA events), None for incidents. Nobody is told of their own act."""
    d, kind = event.data, event.kind
    title = _clip((case.title if case else "") or event.stream)
    out: list[tuple[str, str, str, str]] = []  # member, kind, text, urgency
    outside = True
    if kind == ev.ASSIGNED and d.get("member"):
        urgent = URGENT if d.get("escalation") else NORMAL
        out.append((d["member"], ASSIGNED, f"Assigned to you: {title}", urgent))
    elif kind == ev.NOTE_ADDED:
        for who in d.get("mentions", ()):
            out.append((who, MENTION, f"{event.actor} mentioned you on {title}: "
                        f"{_clip(d.get('text'))}", NORMAL))
    elif kind == ev.APPROVAL_REQUESTED and d.get("approver"):
        out.append((d["approver"], APPROVAL, f"A reply waits for your approval: {title}", NORMAL))
    elif kind == ev.APPROVAL_ESCALATED and d.get("to"):
        out.append((d["to"], APPROVAL, f"Approval overdue ({d.get('overdue_minutes', 0)} min), "
                    f"now yours: {title}", URGENT))
    elif kind in (ev.SLA_WARNING, ev.SLA_BREACHED):
        clock = str(d.get("clock", "")).replace("_", " ")
        assignee = case.assignee if case else None
        lead = _lead(org, case.team if case else None)
        if kind == ev.SLA_WARNING:
            who = [assignee or lead]
            text, nk, urg = f"SLA {clock} due soon: {title}", SLA_WARNING, NORMAL
        else:
            who = [assignee, lead]
            text, nk, urg = f"SLA {clock} breached: {title}", SLA_BREACH, URGENT
        out += [(w, nk, text, urg) for w in who if w]
    elif kind == ev.ESCALATED and d.get("action") != "reassign":  # reassign: its ASSIGNED tells
        urg = URGENT if d.get("action") == "page_on_call" else NORMAL
        action = str(d.get("action")).replace("_", " ")
        for who in _team_people(org, d.get("to")):
            out.append((who, ESCALATION, f"Escalated to you ({action}): {title}", urg))
    elif kind == ev.SEND_FAILED and d.get("what") == "reply" and d.get("by"):
        out.append((d["by"], SEND_FAILED, f"Your reply was NOT sent ({d.get('via')}): "
                    f"{_clip(d.get('error'))[:120]} — {title}", NORMAL))
    elif kind == ev.INCIDENT_PAGED and d.get("member"):
        # The crisis pager sent it already when it says so; the bell shows it either way, and
        # a page that failed or was only recorded goes out through the member's transports.
        outside = not d.get("ok") or d.get("channel") in ("", "recording")
        out.append((d["member"], CRISIS, f"Crisis {d.get('role')}: you are paged for "
                    f"{event.stream}", URGENT))
    seen: set[tuple[str, str]] = set()
    result = []
    for member, nk, text, urg in out:
        if member == event.actor or (member, nk) in seen or org.member(member) is None:
            continue
        seen.add((member, nk))
        result.append(Notification(member=member, kind=nk, text=_clip(text),
                                   link=_link(event.stream), urgency=urg,
                                   stream=event.stream, at=event.at, seq=event.seq,
                                   outside=outside))
    return result


def _hhmm(value: str) -> time | None:
    try:
        return time.fromisoformat(value) if value else None
    except ValueError:
        return None


def quiet(member: Member, prefs: Prefs, now: datetime) -> bool:
    """Night for this member: off shift, or inside their quiet hours."""
    if not member.shift.covers(now):
        return True
    start, end = _hhmm(prefs.quiet_start), _hhmm(prefs.quiet_end)
    if start is None or end is None or start == end:
        return False
    try:
        zone = ZoneInfo(prefs.tz or member.shift.tz)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = now.astimezone(zone).time()
    return start <= local < end if start < end else (local >= start or local < end)


def on_call(org: Organisation, member_id: str) -> bool:
    return any(member_id in t.on_call for t in org.teams)


def route(note: Notification, org: Organisation, prefs: Prefs, now: datetime) -> list[str]:
    """The transports that carry `note` now: [] when the member muted the kind; the web app
    always otherwise; email/Slack as preferred, and at night only urgent and only on call."""
    member = org.member(note.member)
    if member is None or note.kind in prefs.muted:
        return []
    out = [WEB]
    wanted = [t for t in prefs.transports if t in (EMAIL, SLACK)] if note.outside else []
    if not wanted:
        return out
    if quiet(member, prefs, now) and not (note.urgency == URGENT and on_call(org, member.id)):
        return out
    return out + wanted


def load_prefs(raw: str | bytes | None) -> Prefs:
    if not raw:
        return DEFAULT_PREFS
    prefs = msgspec.json.decode(raw, type=Prefs)
    problems = [k for k in prefs.muted if k not in KINDS]
    problems += [t for t in prefs.transports if t not in TRANSPORTS]
    if problems or (prefs.quiet_start and _hhmm(prefs.quiet_start) is None) or (
            prefs.quiet_end and _hhmm(prefs.quiet_end) is None):
        raise ValueError(f"notification preferences: unknown {problems or 'quiet time (HH:MM)'}")
    if prefs.slack_url and not prefs.slack_url.startswith("https://"):
        # a member's own URL is fetched by the server: https only, never an inside address
        raise ValueError("notification preferences: a Slack webhook URL starts with https://")
    return prefs
