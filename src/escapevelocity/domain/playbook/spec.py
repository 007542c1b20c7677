"""The playbook format: msgspec specs for the YAML document (playbooks/schema.json is generated
from these) and the finite vocabularies a playbook may name."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

PRIORITIES = ("p1", "p2", "p3", "p4")
LEVELS = ("normal", "watch", "crisis1", "crisis2", "crisis3")
CRISIS_LEVELS = ("crisis1", "crisis2", "crisis3")
NO_RESPONSE_REASONS = (
    "spam", "troll", "venting_no_ask", "competitor_bait", "legal_hold", "off_topic",
    "already_answered", "bot", "monitor_only", "crisis_hold",
)
# The finite signal vocabulary (domain/enrich.py emits these); check reasons over it.
SITUATIONS = ("complaint", "question", "praise", "feedback", "lead", "crisis", "legal",
              "misinformation", "spam", "off_topic", "venting", "other")
SENTIMENTS = ("negative", "neutral", "positive")
AUTHOR_CLASSES = ("customer", "prospect", "influencer", "journalist", "employee", "partner",
                  "competitor", "troll", "bot")


# --- the format (msgspec specs; playbooks/schema.json is generated from these) ----------------

class Sla(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Minutes to first response, next response and resolution."""

    first_response: int
    next_response: int | None = None
    resolution: int | None = None


class Track(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A lane with its SLA, owning team and default priority."""

    team: str
    sla: Sla
    priority: str = "p3"
    approval: str = ""  # who approves replies on this track (a team or role), empty: nobody
    respond: bool = True
    description: str = ""
    calendar: str = ""  # business calendar the SLA clock runs on, empty: around the clock


class Then(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A rule's decision. Unset fields come from the track."""

    track: str | None = None
    respond: bool | None = None
    reason: str = ""
    visibility: str | None = None
    team: str | None = None
    priority: str | None = None
    sla_minutes: int | None = None
    approval: str | None = None
    template: str | None = None
    tags: list[str] = []
    flags: list[str] = []
    notify: list[str] = []
    stop: bool = True
    # May an approved answer be sent without a person (domain/answers/guard.py decides, and
    # never in a crisis, to an angry, influential or press author)? Off unless a rule says so.
    auto_reply: bool | None = None


class RuleSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One if-then rule: `when` (conditions ANDed; all/any/not combine) then a decision."""

    id: str
    then: Then
    when: dict[str, Any] = {}
    description: str = ""


class Calendar(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Business hours per weekday ("mon-fri": "09:00-17:30") in a time zone, and holidays."""

    timezone: str = "UTC"
    hours: dict[str, str] = msgspec.field(default_factory=lambda: {"mon-fri": "09:00-17:00"})
    holidays: list[date] = []


class Window(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A time window such as a launch; naive times are UTC."""

    start: datetime
    end: datetime
    description: str = ""


class CrisisOverlay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rules put ahead of all others while the crisis level is one of `levels`."""

    rules: list[RuleSpec]
    levels: list[str] = msgspec.field(default_factory=lambda: list(CRISIS_LEVELS))
    description: str = ""


class SpokeOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Rules a spoke team owns for its slice; they may only decide for that team."""

    team: str
    rules: list[RuleSpec]
    when: dict[str, Any] = {}  # the slice; ANDed into every rule of the override
    before: str | None = None  # hub rule to insert before; default: the hub's first rule for team
    description: str = ""


class Overlays(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    crisis: CrisisOverlay | None = None
    spokes: list[SpokeOverride] = []


class PlaybookSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A whole playbook document."""

    name: str
    tracks: dict[str, Track]
    rules: list[RuleSpec]
    default: Then
    teams: list[str] = []
    templates: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    calendars: dict[str, Calendar] = {}
    windows: dict[str, list[Window]] = {}
    overlays: Overlays = Overlays()
    activation_approval: str = ""  # who must approve activating a new version (e.g. legal)
    description: str = ""
