"""Events: every change is one of these, appended to the log with its stream, time and actor.

The log is the record. The inbox, dashboards and reports are projections of it (cases.py);
`ev workspace rebuild` recomputes the projection from the log alone.

Each kind is its own msgspec struct, and `Event` is their tagged union (tag field `kind`):
a producer cannot forget a field the projection needs, a reader gets attributes instead of
`data["..."]`, and the same structs are the messages the bus carries (`msgspec.json.encode`
gives `{"kind": "claimed", "stream": ..., "until": ...}` and decodes back to the struct).

The store keeps the shape it always had: columns `stream`, `kind`, `at`, `actor`, `seq`, and
the payload fields as JSON in `data` (`payload_json`, `from_row`), so logs written before the
structs existed decode unchanged. Only the fields the case projection cannot do without are
required; the others have defaults, so a log written by an older release (which may lack a
key) still decodes.

Streams. An event belongs to one stream: a case (its id, "c…"), an incident
("incident:<id>") or a playbook version ("playbook:<n>"). `stream_kind` says which; only case
streams fold into the case projection.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

# --- streams -------------------------------------------------------------------------------------

CASE = "case"
INCIDENT = "incident"
PLAYBOOK = "playbook"
CONFIG = "config"
WORKSPACE = "workspace"
GOVERNANCE = "governance"
ORG = "org"
INCIDENT_PREFIX = "incident:"
PLAYBOOK_PREFIX = "playbook:"
CONFIG_PREFIX = "config:"  # workspace settings changed by admins (outbound mode, connections)
WORKSPACE_PREFIX = "workspace:"  # workspace settings edited in the web app (goals, issue 19)
GOVERNANCE_PREFIX = "governance:"  # readiness, policies, training (issue 23)
VIEW_PREFIX = "view:"  # a saved search view (issue 18)
PERSON_PREFIX = "person:"  # linked author identities (issue 18)
ORG_PREFIX = "org:"  # the organisation and settings the admin pages change ("org:members", …)
TOKEN_PREFIX = "token:"  # API tokens made and revoked (issue 21)
MEMBER_PREFIX = "member:"  # a member's own settings: second factor (issue 21)
ACCESS_PREFIX = "access:"  # workspace-wide access settings: roles that need a second factor
# Community and answers (issue 22): an author in the advocacy program, a saved reply, the
# knowledge store: workspace records with their own history, not cases.
ADVOCATE_PREFIX = "advocate:"
SAVED_REPLY_PREFIX = "saved-reply:"
KNOWLEDGE_PREFIX = "knowledge:"
# Every stream that is not a case's: the rebuild folds only the others into cases.
NON_CASE_PREFIXES = (INCIDENT_PREFIX, PLAYBOOK_PREFIX, CONFIG_PREFIX, WORKSPACE_PREFIX,
                     GOVERNANCE_PREFIX, VIEW_PREFIX, PERSON_PREFIX, ORG_PREFIX, TOKEN_PREFIX,
                     MEMBER_PREFIX, ACCESS_PREFIX, ADVOCATE_PREFIX,
                     SAVED_REPLY_PREFIX, KNOWLEDGE_PREFIX)
SYSTEM = "system"
# A stream is a prefix and one or two names of up to 32 characters each (a team, a connection,
# a member): the event log's column holds this many (migration 0026).
MAX_STREAM = 200


def stream_kind(stream: str) -> str:
    """Which aggregate a stream id names: `case`, or the name of its non-case prefix
    (`incident`, `playbook`, `config`, `token`, `advocate`, …): one list, NON_CASE_PREFIXES,
    says both what the rebuild skips and what this answers."""
    for prefix in NON_CASE_PREFIXES:
        if stream.startswith(prefix):
            return prefix[:-1]
    return CASE


def incident_stream(incident_id: str) -> str:
    return INCIDENT_PREFIX + incident_id


def playbook_stream(version: int) -> str:
    return f"{PLAYBOOK_PREFIX}{version}"


def config_stream(what: str) -> str:
    return f"{CONFIG_PREFIX}{what}"[:32]


# --- the base

class EventBase(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """What every event has. `seq` is the log position, assigned by the store."""

    COMMON: ClassVar[frozenset[str]] = frozenset({"kind", "stream", "at", "actor", "seq"})

    stream: str
    at: datetime
    actor: str
    seq: int | None = None

    def __post_init__(self) -> None:
        # The log's column holds MAX_STREAM characters on every backend; SQLite would take a
        # longer one silently and PostgreSQL refuse it, so the event refuses it first.
        if len(self.stream) > MAX_STREAM:
            raise ValueError(f"an event stream is at most {MAX_STREAM} characters: "
                             f"{self.stream[:40]!r}… has {len(self.stream)}")

    @property
    def kind(self) -> str:
        return self.__struct_config__.tag  # type: ignore[return-value]

    @property
    def data(self) -> dict[str, Any]:
        """The payload as plain JSON values (the stored `data` column's shape), for generic
        views: the audit log, the history list, the API's event feed. Typed code reads the
        fields instead."""
        out = msgspec.to_builtins(self)
        for k in EventBase.COMMON:
            out.pop(k, None)
        return out


# --- case lifecycle (adding a kind means adding its projection in cases.apply)

class Opened(EventBase, frozen=True, kw_only=True, tag="opened"):
    """A new conversation."""
    mention: str = ""
    author: str
    channel: str
    title: str
    mention_at: datetime | None = None


class MentionAdded(EventBase, frozen=True, kw_only=True, tag="mention_added"):
    """A reply or follow-up joined the case."""
    mention: str = ""
    mention_at: datetime | None = None
    situation: str | None = None


class Decided(EventBase, frozen=True, kw_only=True, tag="decided"):
    """The playbook's decision and the signals it used, as plain records (a log written under
    an older Decision or Signals shape must still decode); `corrected`: the correction that
    made the case be decided again (signal, from, to, why)."""
    decision: dict[str, Any]
    signals: dict[str, Any]
    corrected: dict[str, Any] | None = None


class Assigned(EventBase, frozen=True, kw_only=True, tag="assigned"):
    """Routing's answer (member None: queued)."""
    team: str | None
    member: str | None = None
    strategy: str = ""
    explanation: str = ""
    by: str | None = None
    previous: str | None = None
    escalation: bool = False


class Claimed(EventBase, frozen=True, kw_only=True, tag="claimed"):
    """A member took the lease to answer (`override`: taken from `from_`)."""
    until: datetime
    override: bool = False
    from_: str | None = msgspec.field(name="from", default=None)


class Released(EventBase, frozen=True, kw_only=True, tag="released"):
    """The lease was given up, or lapsed (`expired`) while its holder was offline."""
    holder: str | None = None
    expired: bool = False
    reason: str = ""


class Replied(EventBase, frozen=True, kw_only=True, tag="replied"):
    """A reply was written, directly or as an approved draft. Live (`dry_run` false), it is
    then sent through `connection` and a `reply_sent` or `send_failed` event follows."""
    text: str = ""
    template: str | None = None
    visibility: str = ""
    dry_run: bool = False
    draft: str | None = None
    approved_by: str | None = None
    edited: bool | None = None
    connection: str | None = None


class Resolved(EventBase, frozen=True, kw_only=True, tag="resolved"):
    note: str = ""


class Reopened(EventBase, frozen=True, kw_only=True, tag="reopened"):
    """By a member (`note`) or by a new mention on a resolved case (`mention`)."""
    note: str = ""
    mention: str | None = None


class NoteAdded(EventBase, frozen=True, kw_only=True, tag="note_added"):
    text: str = ""
    mentions: list[str] = []


# --- SLAs and escalation: `clock` is first_response / next_response / resolution and `since` the
# instant that clock started (its ISO text: with `clock`, the key that warns and breaches once).

class SlaClock(EventBase, frozen=True, kw_only=True, tag="sla_clock"):
    """The running clock's due time on its business calendar; None while paused. `next`: when
    the tick must look again (the next warning, breach or ladder step); None: never; UNSET in
    logs written before the tick computed it (the projection then keeps its own)."""
    clock: str | None = None
    due: datetime | None = None
    next: datetime | msgspec.UnsetType | None = msgspec.UNSET


class _SlaMark(EventBase, frozen=True, kw_only=True):
    """A warning or breach of one clock (`used` of `budget` minutes)."""
    clock: str = ""
    since: str = ""
    budget: float = 0.0
    used: float = 0.0
    due: datetime | None = None
    track: str | None = None
    team: str | None = None
    assignee: str | None = None


class SlaWarning(_SlaMark, frozen=True, kw_only=True, tag="sla_warning"):
    pass


class SlaBreached(_SlaMark, frozen=True, kw_only=True, tag="sla_breached"):
    pass


class Escalated(EventBase, frozen=True, kw_only=True, tag="escalated"):
    """One rung of the ladder (`action` to `to`)."""
    clock: str = ""
    since: str = ""
    step: int = 0
    action: str = ""
    at_share: float = 0.0
    used: float = 0.0
    budget: float = 0.0
    to: str | None = None
    track: str | None = None
    team: str | None = None
    previous: str | None = None
    note: str | None = None


# --- engagement: approvals, tags and flags, CRM link, follow-up and satisfaction

class ApprovalRequested(EventBase, frozen=True, kw_only=True, tag="approval_requested"):
    """A reply held as a draft for `approver`."""
    draft: str
    text: str = ""
    template: str | None = None
    visibility: str = ""
    reasons: list[str] = []
    group: str = ""
    approver: str
    due: datetime
    rotation: list[str] = []


class ApprovalAlternative(EventBase, frozen=True, kw_only=True, tag="approval_alternative"):
    """The submitter offers another wording."""
    draft: str = ""
    text: str = ""
    option: int = 0


class ApprovalEdited(EventBase, frozen=True, kw_only=True, tag="approval_edited"):
    draft: str = ""
    text: str = ""


class Approved(EventBase, frozen=True, kw_only=True, tag="approved"):
    """The reply is sent in the same transaction (a Replied event follows)."""
    draft: str = ""
    text: str = ""
    note: str = ""
    submitter: str = ""
    waited: float | None = None  # minutes since the draft was submitted (reports, issue 19)
    approval_kind: str = ""  # why it waited (kpis.approval_kind); "" in older logs: a reply


class Rejected(EventBase, frozen=True, kw_only=True, tag="rejected"):
    draft: str = ""
    note: str = ""
    submitter: str = ""
    waited: float | None = None  # minutes since the draft was submitted (reports, issue 19)
    approval_kind: str = ""  # why it waited (domain/kpis.approval_kind)


class ApprovalEscalated(EventBase, frozen=True, kw_only=True, tag="approval_escalated"):
    """The approval SLA ran out: the next approver on call."""
    draft: str = ""
    from_: str | None = msgspec.field(name="from", default=None)
    to: str | None
    due: datetime
    level: int = 1
    overdue_minutes: int = 0


class ApprovalWithdrawn(EventBase, frozen=True, kw_only=True, tag="approval_withdrawn"):
    draft: str = ""


class _LabelChange(EventBase, frozen=True, kw_only=True):
    add: list[str] = []
    remove: list[str] = []


class TagsChanged(_LabelChange, frozen=True, kw_only=True, tag="tags_changed"):
    pass


class FlagsChanged(_LabelChange, frozen=True, kw_only=True, tag="flags_changed"):
    pass


class CrmLinked(EventBase, frozen=True, kw_only=True, tag="crm_linked"):
    crm_id: str
    name: str = ""
    email: str = ""  # what a CRM lookup found (services/webhooks.py), for the follow-up
    lists: list[str] = []
    source: str = ""


class FollowupScheduled(EventBase, frozen=True, kw_only=True, tag="followup_scheduled"):
    due: datetime
    ask: str = ""


class FollowupSent(EventBase, frozen=True, kw_only=True, tag="followup_sent"):
    """The satisfaction question went out (`via` a private route to `to`; dry-run or sent)."""
    ask: str = ""
    text: str = ""
    visibility: str = ""
    dry_run: bool = False
    via: str | None = None
    to: str | None = None
    network_id: str | None = None
    attempts: int = 0


class FollowupAnswered(EventBase, frozen=True, kw_only=True, tag="followup_answered"):
    """CSAT 1-5 or thumbs up/down; `mention` when the answer arrived as a post."""
    csat: int | None = None
    thumbs: str | None = None
    happy: bool = False
    text: str = ""
    mention: str | None = None


class FollowupInvited(EventBase, frozen=True, kw_only=True, tag="followup_invited"):
    """A happy customer was invited to update the public post."""
    text: str = ""
    visibility: str = ""
    dry_run: bool = False


class FollowupCancelled(EventBase, frozen=True, kw_only=True, tag="followup_cancelled"):
    reason: str = ""


class SendFailed(EventBase, frozen=True, kw_only=True, tag="send_failed"):
    """A message to the customer could not be sent after its retries (`what`: followup,
    reply); shown on the case; a follow-up's state becomes "failed"."""
    what: str = ""
    via: str | None = None
    error: str = ""
    attempts: int = 0
    text: str = ""
    reply: int | None = None  # a reply's failure: the seq of its `replied` event
    key: str = ""  # the send's idempotency key
    by: str = ""  # who wrote the reply (told in the bell)
    connection: str = ""


class ReplySent(EventBase, frozen=True, kw_only=True, tag="reply_sent"):
    """A live reply reached the network (`reply`: the seq of its `replied` event): the
    network's id of what was posted, through which connection, after how many tries. One per
    reply: `key` is the idempotency key the network saw."""
    reply: int = 0
    key: str = ""
    via: str = ""  # the channel (mastodon, bluesky, …)
    connection: str = ""
    network_id: str = ""
    url: str = ""
    visibility: str = ""
    attempts: int = 0


# --- learning

class Corrected(EventBase, frozen=True, kw_only=True, tag="corrected"):
    """A member corrected one signal of a case's mention; per-signal models learn from these.
    The case projection only counts it as an update."""
    signal: str = ""
    label: str = ""
    was: str | None = None
    text: str = ""
    mention: str | None = None
    why: str = ""


class SignalsRevised(EventBase, frozen=True, kw_only=True, tag="signals_revised"):
    """A learned model's full answer, read from sentence vectors after ingest answered from
    words alone. The projection takes the revised situation and sentiment for a first mention."""
    mention: str = ""
    signals: dict[str, Any] = {}
    first: bool = False
    changed: list[str] = []


# --- incidents (crisis mode; stream "incident:<id>", folded by services/crisis.py) ---------------

class IncidentOpened(EventBase, frozen=True, kw_only=True, tag="incident_opened"):
    level: str = ""
    reason: str = ""
    by: str = ""


class IncidentDetected(EventBase, frozen=True, kw_only=True, tag="incident_detected"):
    """A detector alert and its reason."""
    alert: dict[str, Any] = {}
    reason: str = ""


class IncidentLevel(EventBase, frozen=True, kw_only=True, tag="incident_level"):
    level: str = ""
    previous: str = ""
    reason: str = ""
    by: str = ""


class IncidentPaged(EventBase, frozen=True, kw_only=True, tag="incident_paged"):
    role: str = ""
    member: str | None = None
    channel: str = ""
    ok: bool = False
    detail: str = ""


class IncidentNote(EventBase, frozen=True, kw_only=True, tag="incident_note"):
    """Decisions and approved holding statements (`note_kind`: decision / statement; stored as
    `note_kind` since migration 0008, which renamed the old `kind` key: it clashed with the
    tag)."""
    text: str = ""
    note_kind: str = "decision"


class IncidentStoodDown(EventBase, frozen=True, kw_only=True, tag="incident_stood_down"):
    """Ended by a person."""
    by: str = ""
    note: str = ""
    peak: str = ""
    previous: str = ""


# --- playbook versions (stream "playbook:<version>", services/playbooks.py) -----------------------

class PlaybookSaved(EventBase, frozen=True, kw_only=True, tag="playbook_saved"):
    name: str = ""
    note: str = ""


class PlaybookRequested(EventBase, frozen=True, kw_only=True, tag="playbook_requested"):
    """Activation asked of `approver`."""
    approver: str = ""
    replaces: int | None = None
    note: str = ""
    approvers: list[str] = []


class PlaybookApproved(EventBase, frozen=True, kw_only=True, tag="playbook_approved"):
    """`approver` is the team or role the approving member stood for."""
    approver: str = ""
    note: str = ""


class PlaybookRejected(EventBase, frozen=True, kw_only=True, tag="playbook_rejected"):
    approver: str = ""
    note: str = ""


class PlaybookActivated(EventBase, frozen=True, kw_only=True, tag="playbook_activated"):
    previous: int | None = None
    approved_by: str | None = None


# --- workspace settings (stream "config:<what>"): the audit of admins' changes ---------------

class ConfigChanged(EventBase, frozen=True, kw_only=True, tag="config_changed"):
    """An admin changed a setting: `what` (outbound_mode, connection), `name` (which
    connection), the values before and after (never secrets: `secrets` names the ones that
    were set)."""
    what: str = ""
    name: str = ""
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    secrets: list[str] = []


# --- API tokens and second factors (stream "token:<id>" / "member:<id>" / "access", issue 21) -

class TokenCreated(EventBase, frozen=True, kw_only=True, tag="token_created"):
    """An API token was made (never its secret: its public id, name, kind and scopes)."""
    token: str = ""
    name: str = ""
    token_kind: str = "service"
    member: str | None = None
    scopes: list[str] = []
    expires_at: datetime | None = None


class TokenRevoked(EventBase, frozen=True, kw_only=True, tag="token_revoked"):
    token: str = ""
    name: str = ""


class SecondFactorEnrolled(EventBase, frozen=True, kw_only=True, tag="second_factor_enrolled"):
    """A member confirmed a TOTP second factor (or an admin removed one: `removed`)."""
    member: str = ""
    removed: bool = False


class MemberSignedOn(EventBase, frozen=True, kw_only=True, tag="member_signed_on"):
    """Single sign-on made or changed a member: provisioned, or given the role their groups
    at the provider map to (stream "member:<id>")."""
    member: str = ""
    email: str = ""
    role: str = ""
    previous_role: str | None = None
    provisioned: bool = False


class SecondFactorRoles(EventBase, frozen=True, kw_only=True, tag="second_factor_roles"):
    """The roles that must have a second factor before replying publicly or approving."""
    roles: list[str] = []
    previous: list[str] = []


# --- workspace settings (stream "workspace:<what>") ----------------------------------------------

class GoalsSaved(EventBase, frozen=True, kw_only=True, tag="goals_saved"):
    """The business goals and their KPI targets (the YAML as saved; domain/goals.py)."""
    text: str = ""
    previous: str = ""


# --- program governance (streams "governance:…", services/governance.py) --------------------

class ChecklistSaved(EventBase, frozen=True, kw_only=True, tag="checklist_saved"):
    """A version of the hub's readiness checklist (items: id and text)."""
    version: int
    items: list[dict[str, Any]] = []
    note: str = ""


class SpokeRequested(EventBase, frozen=True, kw_only=True, tag="spoke_requested"):
    """A business unit asked for a spoke (or a channel of its own): it starts in shadow mode."""
    team: str
    name: str = ""
    hub: str = ""
    unit: str = ""
    reason: str = ""
    members: list[str] = []


class ReadinessItemDone(EventBase, frozen=True, kw_only=True, tag="readiness_item_done"):
    team: str
    item: str
    evidence: str = ""
    connection: str = ""  # set: the item is met by the team's channel request, not a spoke


class SpokeApproved(EventBase, frozen=True, kw_only=True, tag="spoke_approved"):
    """The hub approved the spoke's completed checklist: live routing and reply rights."""
    team: str
    checklist_version: int = 0
    note: str = ""


class ShadowDrafted(EventBase, frozen=True, kw_only=True, tag="shadow_drafted"):
    """A shadow spoke's member drafted the reply they would have sent (nothing is sent)."""
    team: str
    case: str
    text: str = ""
    connection: str = ""  # set: drafted for a case that came through a shadow connection


class ChannelRequested(EventBase, frozen=True, kw_only=True, tag="channel_requested"):
    """A business unit asked for a channel connection of its own (issue 23): the hub connects
    it in shadow mode and makes it live once its readiness checklist is approved."""
    connection: str  # the name the connection will have
    channel: str  # the network (channels/<name>)
    team: str  # the unit that will staff it
    account: str = ""  # the account or handle on the network
    reason: str = ""
    members: list[str] = []


class ChannelConnected(EventBase, frozen=True, kw_only=True, tag="channel_connected"):
    """The hub created the requested connection, in shadow mode (its switch dry run)."""
    connection: str


class ChannelApproved(EventBase, frozen=True, kw_only=True, tag="channel_approved"):
    """The hub approved the request's completed checklist: the connection is live."""
    connection: str
    checklist_version: int = 0
    note: str = ""


class ChannelRejected(EventBase, frozen=True, kw_only=True, tag="channel_rejected"):
    connection: str
    reason: str


class ChannelWithdrawn(EventBase, frozen=True, kw_only=True, tag="channel_withdrawn"):
    connection: str
    note: str = ""


class PolicyPublished(EventBase, frozen=True, kw_only=True, tag="policy_published"):
    policy: str
    version: int
    title: str = ""
    text: str = ""


class PolicyAcknowledged(EventBase, frozen=True, kw_only=True, tag="policy_acknowledged"):
    policy: str
    version: int


class TrainingRuleSet(EventBase, frozen=True, kw_only=True, tag="training_rule_set"):
    min_drill_score: int


class DrillScored(EventBase, frozen=True, kw_only=True, tag="drill_scored"):
    """A member's score in a drill played by people (min_score: the pass mark then)."""
    member: str
    drill: str = ""
    score: float = 0.0
    min_score: int = 0
    details: dict[str, Any] = {}


class DrillScorecard(EventBase, frozen=True, kw_only=True, tag="drill_scorecard"):
    """A drill run finished (stream "governance:drill:<digest of the run id>"): its
    scorecard, so the live workspace's reports list drill runs over a period and can show a
    run's report after its sandbox and the process that ran it are gone. The headline
    figures are fields (the report's columns); `card` is the whole drill/score.py Scorecard
    as JSON and `timeline` the incident timeline rows of its report (at most 200)."""
    run: str
    scenario: str = ""
    title: str = ""
    detection_delay_min: float | None = None  # first alert after the onset
    routing_accuracy: float | None = None  # crisis posts on their expected track
    sla_met: float | None = None  # regular customers' first-response SLA during the crisis
    checks_met: int = 0
    checks: int = 0
    score: float = 0.0  # checks met, in percent
    players: list[str] = []  # members who played (empty: the simulated team alone)
    timezone: str = "UTC"
    card: dict[str, Any] = {}
    timeline: list[dict[str, Any]] = []


# --- search and people (issue 18): streams "view:<id>" and "person:<id>" ----------------------

class ViewSaved(EventBase, frozen=True, kw_only=True, tag="view_saved"):
    name: str
    owner_kind: str  # member / team
    owner: str
    query: str  # the URL query string


class ViewDeleted(EventBase, frozen=True, kw_only=True, tag="view_deleted"):
    name: str = ""


class IdentitiesLinked(EventBase, frozen=True, kw_only=True, tag="identities_linked"):
    """Two (channel, handle) identities are one person: the profile shows both."""

    identities: list[str]  # "channel:handle" of every identity now in the person


class IdentityUnlinked(EventBase, frozen=True, kw_only=True, tag="identity_unlinked"):
    identity: str  # "channel:handle" taken out of the person



# --- administration (stream "org:<section>", services/admin.py) ---------------------------------

class OrgChanged(EventBase, frozen=True, kw_only=True, tag="org_changed"):
    """An admin changed the organisation or a setting: what (`section`, `target`), how
    (`change`: created, updated, deactivated, reactivated, imported) and the record before and
    after, so the change can be read, and undone, from the log."""
    section: str = ""
    target: str = ""
    change: str = ""
    before: Any = None
    after: Any = None
    note: str = ""



# --- answers, community and automation (issue 22)

class AnswerUsed(EventBase, frozen=True, kw_only=True, tag="answer_used"):
    """The reply sent with it came from a suggested answer (domain/answers): which entry, from
    where (case, article, community), its score, whether the member edited it, and whether the
    reply linked to a peer answer instead of restating it (a deflection)."""
    entry: str = ""
    source: str = ""
    ref: str = ""
    score: float = 0.0
    edited: bool = False
    linked: bool = False


class CommunityResolved(EventBase, frozen=True, kw_only=True, tag="community_resolved"):
    """The community answered the question and we did not reply (a deflection); `ref` is the
    peer answer's link."""
    ref: str = ""
    note: str = ""


class AutoReplied(EventBase, frozen=True, kw_only=True, tag="auto_replied"):
    """An automated reply went out (with the Replied event it accompanies): the approved
    answer, its score, the guard's reasons, by which path, and the network's id (to withdraw)."""
    entry: str = ""
    score: float = 0.0
    text: str = ""
    reasons: list[str] = []
    path: str = ""
    by: str = ""  # who asked for it on the web, CLI or API path (empty: ingest, worker)
    author: str = ""
    network_id: str | None = None
    dry_run: bool = True


class AutoReplyWithdrawn(EventBase, frozen=True, kw_only=True, tag="auto_reply_withdrawn"):
    """A member took an automated reply back (deleted on the network through the outbound
    port)."""
    network_id: str | None = None
    note: str = ""
    error: str = ""


class AdvocateInvited(EventBase, frozen=True, kw_only=True, tag="advocate_invited"):
    """A member invited an author to the advocacy program (stream advocate:<channel>:<handle>),
    with the evidence that made them a candidate."""
    channel: str = ""
    handle: str = ""
    score: float = 0.0
    evidence: list[str] = []
    topics: list[str] = []  # what they help with (routing sends such questions their way)
    note: str = ""


class AdvocateLedger(EventBase, frozen=True, kw_only=True, tag="advocate_ledger"):
    """One line of the advocacy ledger: accepted, declined, activity or reward."""
    entry: str = ""  # accepted | declined | activity | reward
    text: str = ""
    case: str | None = None
    value: str = ""


class SavedReplyChanged(EventBase, frozen=True, kw_only=True, tag="saved_reply_changed"):
    """A saved reply was created, edited or deleted (stream saved-reply:<name>); the full
    record after the change (empty when deleted)."""
    name: str = ""
    reply: dict[str, Any] = {}
    deleted: bool = False


class KnowledgeChanged(EventBase, frozen=True, kw_only=True, tag="knowledge_changed"):
    """Articles or a community feed were loaded into the knowledge store (stream
    knowledge:<source>)."""
    source: str = ""
    entries: int = 0
    origin: str = ""


Event = (Opened | MentionAdded | Decided | Assigned | Claimed | Released | Replied | Resolved
         | Reopened | NoteAdded | SlaClock | SlaWarning | SlaBreached | Escalated
         | ApprovalRequested | ApprovalAlternative | ApprovalEdited | Approved | Rejected
         | ApprovalEscalated | ApprovalWithdrawn | TagsChanged | FlagsChanged | CrmLinked
         | FollowupScheduled | FollowupSent | FollowupAnswered | FollowupInvited
         | FollowupCancelled | SendFailed | Corrected | SignalsRevised | IncidentOpened
         | IncidentDetected
         | IncidentLevel | IncidentPaged | IncidentNote | IncidentStoodDown | PlaybookSaved
         | PlaybookRequested | PlaybookApproved | PlaybookRejected | PlaybookActivated
         | ReplySent | ConfigChanged
         | TokenCreated | TokenRevoked | SecondFactorEnrolled | SecondFactorRoles
         | GoalsSaved
         | ChecklistSaved | SpokeRequested | ReadinessItemDone | SpokeApproved | ShadowDrafted
         | ChannelRequested | ChannelConnected | ChannelApproved | ChannelRejected
         | ChannelWithdrawn
         | PolicyPublished | PolicyAcknowledged | TrainingRuleSet | DrillScored | DrillScorecard
         | ViewSaved | ViewDeleted | IdentitiesLinked | IdentityUnlinked
         | OrgChanged | MemberSignedOn
         | AnswerUsed | CommunityResolved | AutoReplied | AutoReplyWithdrawn | AdvocateInvited
         | AdvocateLedger | SavedReplyChanged | KnowledgeChanged)

TYPES: dict[str, type] = {c.__struct_config__.tag: c for c in Event.__args__}  # type: ignore[attr-defined]

# The kind names, for queries by kind and for code that switches on `e.kind`.
OPENED, MENTION_ADDED, DECIDED, ASSIGNED = "opened", "mention_added", "decided", "assigned"
CLAIMED, RELEASED, REPLIED, RESOLVED = "claimed", "released", "replied", "resolved"
REOPENED, NOTE_ADDED = "reopened", "note_added"
SLA_CLOCK, SLA_WARNING, SLA_BREACHED, ESCALATED = (
    "sla_clock", "sla_warning", "sla_breached", "escalated")
APPROVAL_REQUESTED, APPROVAL_ALTERNATIVE = "approval_requested", "approval_alternative"
APPROVAL_EDITED, APPROVED, REJECTED = "approval_edited", "approved", "rejected"
APPROVAL_ESCALATED, APPROVAL_WITHDRAWN = "approval_escalated", "approval_withdrawn"
TAGS_CHANGED, FLAGS_CHANGED, CRM_LINKED = "tags_changed", "flags_changed", "crm_linked"
FOLLOWUP_SCHEDULED, FOLLOWUP_SENT = "followup_scheduled", "followup_sent"
FOLLOWUP_ANSWERED, FOLLOWUP_INVITED = "followup_answered", "followup_invited"
FOLLOWUP_CANCELLED, SEND_FAILED = "followup_cancelled", "send_failed"
CORRECTED, SIGNALS_REVISED = "corrected", "signals_revised"
INCIDENT_OPENED, INCIDENT_DETECTED = "incident_opened", "incident_detected"
INCIDENT_LEVEL, INCIDENT_PAGED = "incident_level", "incident_paged"
INCIDENT_NOTE, INCIDENT_STOOD_DOWN = "incident_note", "incident_stood_down"
PLAYBOOK_SAVED, PLAYBOOK_REQUESTED = "playbook_saved", "playbook_requested"
PLAYBOOK_APPROVED, PLAYBOOK_REJECTED = "playbook_approved", "playbook_rejected"
PLAYBOOK_ACTIVATED = "playbook_activated"
REPLY_SENT, CONFIG_CHANGED = "reply_sent", "config_changed"

TOKEN_CREATED, TOKEN_REVOKED = "token_created", "token_revoked"
SECOND_FACTOR_ENROLLED, SECOND_FACTOR_ROLES = "second_factor_enrolled", "second_factor_roles"
MEMBER_SIGNED_ON = "member_signed_on"

GOALS_SAVED = "goals_saved"

CHECKLIST_SAVED, SPOKE_REQUESTED = "checklist_saved", "spoke_requested"
READINESS_ITEM_DONE, SPOKE_APPROVED = "readiness_item_done", "spoke_approved"
SHADOW_DRAFTED, POLICY_PUBLISHED = "shadow_drafted", "policy_published"
POLICY_ACKNOWLEDGED, TRAINING_RULE_SET = "policy_acknowledged", "training_rule_set"
DRILL_SCORED, DRILL_SCORECARD = "drill_scored", "drill_scorecard"
CHANNEL_REQUESTED, CHANNEL_CONNECTED = "channel_requested", "channel_connected"
CHANNEL_APPROVED, CHANNEL_REJECTED = "channel_approved", "channel_rejected"
CHANNEL_WITHDRAWN = "channel_withdrawn"

VIEW_SAVED, VIEW_DELETED = "view_saved", "view_deleted"
IDENTITIES_LINKED, IDENTITY_UNLINKED = "identities_linked", "identity_unlinked"

ORG_CHANGED = "org_changed"

ANSWER_USED, COMMUNITY_RESOLVED = "answer_used", "community_resolved"
AUTO_REPLIED, AUTO_REPLY_WITHDRAWN = "auto_replied", "auto_reply_withdrawn"
ADVOCATE_INVITED, ADVOCATE_LEDGER = "advocate_invited", "advocate_ledger"
SAVED_REPLY_CHANGED, KNOWLEDGE_CHANGED = "saved_reply_changed", "knowledge_changed"

KINDS = tuple(TYPES)
INCIDENT_KINDS = (INCIDENT_OPENED, INCIDENT_DETECTED, INCIDENT_LEVEL, INCIDENT_PAGED,
                  INCIDENT_NOTE, INCIDENT_STOOD_DOWN)
PLAYBOOK_KINDS = (PLAYBOOK_SAVED, PLAYBOOK_REQUESTED, PLAYBOOK_APPROVED, PLAYBOOK_REJECTED,
                  PLAYBOOK_ACTIVATED)


def make(stream: str, kind: str, at: datetime, actor: str,
         data: dict[str, Any] | None = None, seq: int | None = None) -> Event:
    """An event from a dict payload, for tests and tools that hold events as data (a table of
    kinds and payloads). Not for producers: they construct the kind's struct (`Claimed(...)`),
    so a field is checked where it is written and a type checker sees it; a unit test keeps
    src/ free of calls to this (tests/unit/test_event_payloads.py). Checks the payload
    against the kind's struct: a missing field, or a key the struct does not know (which
    would be silently dropped from the log), fails here."""
    unknown = set(data or ()) - _NAMES[kind]
    if unknown:
        raise ValueError(f"{kind} has no field {', '.join(sorted(unknown))}")
    return _convert(stream, kind, at, actor, data, seq)


def _convert(stream: str, kind: str, at: datetime, actor: str, data: dict[str, Any] | None,
             seq: int | None) -> Event:
    return msgspec.convert({**(data or {}), "kind": kind, "stream": stream, "at": at,
                            "actor": actor, "seq": seq}, type=TYPES[kind])


# Per kind: (attribute, JSON name) of its payload fields (`from_` is stored as "from").
_PAYLOAD: dict[type, tuple[tuple[str, str], ...]] = {
    cls: tuple((a, n) for a, n in zip(cls.__struct_fields__, cls.__struct_encode_fields__,
                                      strict=True) if a not in EventBase.COMMON)
    for cls in TYPES.values()}
_NAMES: dict[str, frozenset[str]] = {
    kind: frozenset(n for _, n in _PAYLOAD[cls]) for kind, cls in TYPES.items()}
_encode = msgspec.json.encode


def payload_json(event: EventBase) -> str:
    """The stored `data` column: the payload fields as JSON (on ingest's hot path: a plain
    dict of attributes encodes three times faster than `to_builtins`)."""
    values = {n: getattr(event, a) for a, n in _PAYLOAD[type(event)]}
    return _encode({k: v for k, v in values.items() if v is not msgspec.UNSET}).decode()



def from_row(stream: str, kind: str, at: datetime, actor: str, data: str | bytes,
             seq: int | None) -> Event:
    """Decode a stored row (the store's side of `payload_json`)."""
    return _convert(stream, kind, at, actor, msgspec.json.decode(data), seq)
