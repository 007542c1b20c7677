"""Program governance: readiness before a spoke goes live, and training before a member replies.

The seeds' first step out of the help desk is to be proactive: give a business unit its
requirements before it asks, let it run in the open only once it has met them, and let a
person answer the public only once they have been educated (policies read, a drill passed).
Companies that skip the training and the mock drills are the ones whose rollout fails.

Everything here is a pure fold of the governance events (streams "governance:…", written by
services/governance.py): the hub's readiness checklist (versioned), each spoke's request,
checklist progress and approval, the workspace's policies (versioned texts) with each
member's acknowledgements, and each member's drill scores. `Program` is the folded state; the
shell keeps it as a document beside the log (a projection, rebuilt from the log by `replay`).

What the state decides, here and nowhere else:
- `overlay(org, program)`: the organisation with requested spokes added and each governed
  team's mode (`shadow` until its checklist is approved, then `live`). Routing sends a shadow
  team's cases to its hub; the access policy gives a shadow team no reply rights.
- `channel_approvable`, `sends_blocked`, `unit_team`: a business unit's own channel connection
  (requested on the same flow as a spoke) is created in shadow mode, its switch held at dry
  run, its mentions shown to the unit as "would get"; approval makes it live and routes what
  the playbook gives a hub to the unit.
- `training_gaps(program, member)`: what a member still lacks (a policy version not
  acknowledged, no passing drill score); engagement.approval_need holds their public replies
  for approval while the list is not empty.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

import msgspec

from escapevelocity.domain import events as ev
from escapevelocity.domain.events import Event
from escapevelocity.domain.org import Member, Organisation, Team

DOCUMENT = "governance"
LIVE, SHADOW = "live", "shadow"
MODES = (LIVE, SHADOW)
ID_RE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_TEXT = 20_000
MAX_ITEMS = 40
DEFAULT_MIN_SCORE = 70

# The seeds' requirements, given to a business unit before it asks (issue 23).
DEFAULT_CHECKLIST: tuple[tuple[str, str], ...] = (
    ("understanding", "Understanding of social media: the team knows how the channels work "
                      "and how customers talk there"),
    ("policies", "Awareness of policies: every member has read and acknowledged the "
                 "workspace's social media policies"),
    ("commitment", "Commitment to long-term effort: staffing and hours promised beyond the "
                   "launch"),
    ("tough_conversations", "Promise to engage in tough conversations: complaints and "
                            "criticism are answered, not avoided"),
    ("tools", "Tools and resources: people, time and access to the tools are in place"),
    ("business_plan", "Business plan: what the spoke is for and which goals it serves"),
    ("measurement", "How they will measure: the KPIs and targets the spoke reports on"),
)


class ChecklistItem(msgspec.Struct, frozen=True):
    id: str
    text: str


class Spoke(msgspec.Struct):
    """One business unit's spoke as governance knows it."""

    team: str
    name: str
    hub: str
    unit: str = ""
    reason: str = ""
    members: list[str] = []
    requested_by: str = ""
    requested_at: datetime | None = None
    done: dict[str, str] = {}  # checklist item id -> who completed it
    evidence: dict[str, str] = {}
    approved_by: str | None = None
    approved_at: datetime | None = None
    approved_version: int | None = None
    drafts: int = 0  # replies drafted in shadow mode

    @property
    def mode(self) -> str:
        return LIVE if self.approved_at is not None else SHADOW


REQUESTED, REJECTED, WITHDRAWN = "requested", "rejected", "withdrawn"


class ChannelRequest(msgspec.Struct):
    """A business unit's request for a channel connection of its own. `state`: requested (the
    hub has not connected it), shadow (connected, nothing sent), live, rejected, withdrawn."""

    connection: str
    channel: str
    team: str
    account: str = ""
    reason: str = ""
    members: list[str] = []
    requested_by: str = ""
    requested_at: datetime | None = None
    done: dict[str, str] = {}
    evidence: dict[str, str] = {}
    connected_by: str | None = None
    connected_at: datetime | None = None
    approved_by: str | None = None
    approved_at: datetime | None = None
    approved_version: int | None = None
    closed_by: str | None = None  # who rejected or withdrew it
    closed_at: datetime | None = None
    closed: str = ""  # REJECTED or WITHDRAWN
    why_closed: str = ""
    drafts: int = 0

    @property
    def state(self) -> str:
        if self.closed:
            return self.closed
        if self.approved_at is not None:
            return LIVE
        return SHADOW if self.connected_at is not None else REQUESTED

    @property
    def mode(self) -> str:
        return LIVE if self.state == LIVE else SHADOW

    @property
    def open(self) -> bool:
        return self.state in (REQUESTED, SHADOW)


class Policy(msgspec.Struct, frozen=True):
    id: str
    version: int
    title: str
    text: str
    published_by: str = ""
    published_at: datetime | None = None


class Program(msgspec.Struct):
    """The folded governance state (a projection of the log)."""

    checklist_version: int = 0
    checklist: list[ChecklistItem] = []
    spokes: dict[str, Spoke] = {}
    channels: dict[str, ChannelRequest] = {}  # connection name -> its request
    policies: dict[str, Policy] = {}  # id -> current version
    acks: dict[str, dict[str, int]] = {}  # member -> policy -> version acknowledged
    best_drill: dict[str, float] = {}  # member -> best drill score
    drills_passed: dict[str, int] = {}  # member -> how many passing scores
    min_score: int = DEFAULT_MIN_SCORE

    def items(self) -> list[ChecklistItem]:
        """The checklist in force: the hub's latest version, or the seeds' default."""
        return self.checklist or [ChecklistItem(i, t) for i, t in DEFAULT_CHECKLIST]


KINDS = (ev.CHECKLIST_SAVED, ev.SPOKE_REQUESTED, ev.READINESS_ITEM_DONE, ev.SPOKE_APPROVED,
         ev.SHADOW_DRAFTED, ev.POLICY_PUBLISHED, ev.POLICY_ACKNOWLEDGED, ev.TRAINING_RULE_SET,
         ev.DRILL_SCORED, ev.CHANNEL_REQUESTED, ev.CHANNEL_CONNECTED, ev.CHANNEL_APPROVED,
         ev.CHANNEL_REJECTED, ev.CHANNEL_WITHDRAWN)


def apply(p: Program, e: Event) -> Program:
    """The program after `e` (mutates and returns `p`; callers fold a fresh or decoded one)."""
    match e:
        case ev.ChecklistSaved():
            p.checklist_version = e.version
            p.checklist = [ChecklistItem(str(i["id"]), str(i["text"])) for i in e.items]
        case ev.ReadinessItemDone() if e.connection:
            if e.connection in p.channels:
                c = p.channels[e.connection]
                c.done = {**c.done, e.item: e.actor}
                c.evidence = {**c.evidence, e.item: e.evidence}
        case ev.ShadowDrafted() if e.connection:
            if e.connection in p.channels:
                p.channels[e.connection].drafts += 1
        case ev.ChannelRequested():
            p.channels[e.connection] = ChannelRequest(
                e.connection, e.channel, e.team, e.account, e.reason, list(e.members), e.actor,
                e.at)
        case ev.ChannelConnected() if e.connection in p.channels:
            c = p.channels[e.connection]
            c.connected_by, c.connected_at = e.actor, e.at
        case ev.ChannelApproved() if e.connection in p.channels:
            c = p.channels[e.connection]
            c.approved_by, c.approved_at, c.approved_version = e.actor, e.at, e.checklist_version
        case ev.ChannelRejected() if e.connection in p.channels:
            c = p.channels[e.connection]
            c.closed, c.closed_by, c.closed_at, c.why_closed = REJECTED, e.actor, e.at, e.reason
        case ev.ChannelWithdrawn() if e.connection in p.channels:
            c = p.channels[e.connection]
            c.closed, c.closed_by, c.closed_at, c.why_closed = WITHDRAWN, e.actor, e.at, e.note
        case ev.SpokeRequested():
            p.spokes[e.team] = Spoke(e.team, e.name, e.hub, e.unit, e.reason, list(e.members),
                                     e.actor, e.at)
        case ev.ReadinessItemDone() if e.team in p.spokes:
            s = p.spokes[e.team]
            s.done = {**s.done, e.item: e.actor}
            s.evidence = {**s.evidence, e.item: e.evidence}
        case ev.SpokeApproved() if e.team in p.spokes:
            s = p.spokes[e.team]
            s.approved_by, s.approved_at, s.approved_version = e.actor, e.at, e.checklist_version
        case ev.ShadowDrafted() if e.team in p.spokes:
            p.spokes[e.team].drafts += 1
        case ev.PolicyPublished():
            p.policies[e.policy] = Policy(e.policy, e.version, e.title, e.text, e.actor, e.at)
        case ev.PolicyAcknowledged():
            p.acks.setdefault(e.actor, {})[e.policy] = e.version
        case ev.TrainingRuleSet():
            p.min_score = e.min_drill_score
        case ev.DrillScored():
            p.best_drill[e.member] = max(p.best_drill.get(e.member, 0.0), e.score)
            if e.score >= e.min_score:
                p.drills_passed[e.member] = p.drills_passed.get(e.member, 0) + 1
    return p


def replay(events: Iterable[Event]) -> Program:
    p = Program()
    for e in sorted(events, key=lambda x: x.seq or 0):
        apply(p, e)
    return p


def encode(p: Program) -> str:
    return msgspec.json.encode(p).decode()


def decode(text: str | None) -> Program:
    return msgspec.json.decode(text, type=Program) if text else Program()


# --- readiness -------------------------------------------------------------------------------

def missing(p: Program, team: str) -> list[ChecklistItem]:
    """Checklist items the spoke has not completed yet (against the checklist in force)."""
    s = p.spokes.get(team)
    done = s.done if s else {}
    return [i for i in p.items() if i.id not in done]


def approvable(p: Program, team: str, approver: Member) -> str | None:
    """Why the spoke cannot be approved by `approver` now, or None when it can."""
    s = p.spokes.get(team)
    if s is None:
        return f"no spoke {team!r} was requested"
    if s.mode == LIVE:
        return f"{team} is already live"
    gaps = missing(p, team)
    if gaps:
        return f"{team}'s readiness checklist is not complete: " + ", ".join(
            i.id.replace("_", " ") for i in gaps)  # read as words: "tough conversations"
    if approver.id == s.requested_by or approver.id in s.members:
        return "the hub approves a spoke's readiness, not its own members"
    return None


def check_items(items: list[dict[str, str]]) -> list[ChecklistItem]:
    """A checklist from a form or a file; raises ValueError naming the bad line."""
    out: list[ChecklistItem] = []
    for raw in items:
        iid, text = str(raw.get("id", "")).strip(), " ".join(str(raw.get("text", "")).split())
        if not ID_RE.match(iid):
            raise ValueError(f"checklist item id {iid!r}: use a-z, 0-9, '-' or '_' (up to 32)")
        if not text or len(text) > 500:
            raise ValueError(f"checklist item {iid}: say what is required, up to 500 characters")
        if any(i.id == iid for i in out):
            raise ValueError(f"checklist item {iid} appears twice")
        out.append(ChecklistItem(iid, text))
    if not out or len(out) > MAX_ITEMS:
        raise ValueError(f"a checklist has 1 to {MAX_ITEMS} items")
    return out


def parse_lines(text: str) -> list[dict[str, str]]:
    """The checklist editor's text: one item a line, "id: what is required"."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        iid, sep, rest = line.partition(":")
        if not sep:
            raise ValueError(f"checklist line {line.strip()[:60]!r}: write 'id: what is required'")
        out.append({"id": iid.strip(), "text": rest.strip()})
    return out


def overlay(org: Organisation, p: Program) -> Organisation:
    """The organisation with governance applied: requested spokes that the applied YAML does
    not list are added under their hub; each governed team takes its mode; the members named
    in a request join its team. A team governance never heard of keeps the YAML's mode."""
    if not p.spokes:
        return org
    teams = list(org.teams)
    ids = {t.id: i for i, t in enumerate(teams)}
    for s in p.spokes.values():
        if s.team in ids:
            t = teams[ids[s.team]]
            teams[ids[s.team]] = msgspec.structs.replace(t, mode=s.mode)
        elif org.team(s.hub) is not None:
            teams.append(Team(id=s.team, name=s.name, kind="spoke", hub=s.hub, mode=s.mode,
                              overflow=s.hub))
            ids[s.team] = len(teams) - 1
    joins: dict[str, list[str]] = {}
    for s in p.spokes.values():
        if s.team in ids:
            for m in s.members:
                joins.setdefault(m, []).append(s.team)
    members = [msgspec.structs.replace(m, teams=[*m.teams, *(t for t in joins[m.id]
                                                             if t not in m.teams)])
               if m.id in joins else m for m in org.members]
    return msgspec.structs.replace(org, teams=teams, members=members)


def member_teams(member: Member, p: Program) -> Member:
    """One member's record with the spokes they were named in (Org.member's overlay)."""
    extra = [s.team for s in p.spokes.values() if member.id in s.members
             and s.team not in member.teams]
    return msgspec.structs.replace(member, teams=[*member.teams, *extra]) if extra else member


# --- a unit's own channel ------------------------------------------------------------------

def channel_missing(p: Program, connection: str) -> list[ChecklistItem]:
    c = p.channels.get(connection)
    done = c.done if c else {}
    return [i for i in p.items() if i.id not in done]


def channel_approvable(p: Program, connection: str, approver: Member) -> str | None:
    """Why the channel request cannot be approved by `approver` now, or None when it can. The
    same checklist and the same separation of duties as a spoke; and the hub must have
    connected it (in shadow) first, so the unit has seen what it would get."""
    c = p.channels.get(connection)
    if c is None:
        return f"no channel {connection!r} was requested"
    if c.state != SHADOW:
        return {LIVE: f"{connection} is already live",
                REQUESTED: f"the hub has not connected {connection} yet: connect it in shadow "
                           "mode first",
                REJECTED: f"{connection} was rejected", WITHDRAWN: f"{connection} was withdrawn"
                }[c.state]
    gaps = channel_missing(p, connection)
    if gaps:
        return f"{connection}'s readiness checklist is not complete: " + ", ".join(
            i.id.replace("_", " ") for i in gaps)
    if approver.id == c.requested_by or approver.id in c.members:
        return "the hub approves a unit's readiness, not the unit's own members"
    return None


def sends_blocked(p: Program, connection: str) -> bool:
    """Nothing may be sent through this connection: a unit asked for it and the hub has not
    approved it (or rejected it, or the unit withdrew it). A connection governance never heard
    of follows its switch."""
    c = p.channels.get(connection)
    return c is not None and c.state != LIVE


def owners(p: Program) -> dict[str, str]:
    """Live unit-owned connections: connection name -> the unit's team."""
    return {c.connection: c.team for c in p.channels.values() if c.state == LIVE}


def unit_team(decided: str, via: str, owned: dict[str, str], org: Organisation) -> str:
    """The team a mention that came through `via` goes to: a live unit-owned connection takes
    what the playbook gave a hub (the catch-all); what it gave a specialised team (legal,
    crisis, …) stays there, so the unit's own channel cannot bypass a rule."""
    owner = owned.get(via) if via else None
    if owner is None or owner == decided or org.team(owner) is None:
        return decided
    team = org.team(decided)
    return owner if team is None or team.kind == "hub" else decided


# --- training --------------------------------------------------------------------------------

def training_required(p: Program) -> bool:
    """Training gates replies once the workspace has published a policy: before that there is
    nothing to acknowledge, and the gate would only stop everyone."""
    return bool(p.policies)


def training_gaps(p: Program, member_id: str) -> list[str]:
    """What the member still lacks before their public replies go out unapproved; empty when
    trained (or when the workspace asks for no training)."""
    if not training_required(p):
        return []
    acked = p.acks.get(member_id, {})
    gaps = [f"acknowledge policy {pol.id} v{pol.version}" for pol in p.policies.values()
            if acked.get(pol.id) != pol.version]
    if not p.drills_passed.get(member_id):
        best = p.best_drill.get(member_id)
        gaps.append(f"pass a drill with a score of {p.min_score} or more"
                    + (f" (best so far {best:.0f})" if best is not None else ""))
    return gaps
