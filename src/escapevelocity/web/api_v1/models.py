"""The shapes the versioned API answers and takes, so its OpenAPI description is complete.

Built from the projections the pages read (a case row, events, mentions with PII masked);
`Field` bounds on inputs are the same as the pages' forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from escapevelocity.services import annotate, approvals
from escapevelocity.services import cases as commands


class ErrorBody(BaseModel):
    code: str = Field(description="stable, for programs: not_found, forbidden, claim_taken, …")
    message: str = Field(description="for people")


class Error(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "no token, or not a live one"},
    403: {"model": Error, "description": "the token's scope or the member's role does not "
                                         "allow it"},
    429: {"model": Error, "description": "rate limit: wait Retry-After seconds"},
}
CASE_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": Error, "description": "no such case in the member's sight"},
    409: {"model": Error, "description": "the case's state refuses it now (claim_taken, "
                                         "conversation_changed, case_conflict)"},
    422: {"model": Error, "description": "the request is not valid"},
}


class CaseSummary(BaseModel):
    id: str
    state: str
    team: str | None
    assignee: str | None
    track: str | None
    priority: str
    visibility: str
    approval: str
    approval_state: str
    channel: str
    author_handle: str
    title: str = Field(description="PII masked")
    holder: str | None = Field(description="who holds the claim now (an expired lease: none)")
    claim_until: datetime | None
    sla_due: datetime | None
    opened_at: datetime | None
    updated_at: datetime | None
    resolved_at: datetime | None
    mention_count: int
    situation: str | None
    sentiment: str | None
    tags: list[str]
    flags: list[str]
    allowed_actions: list[str] = Field(description="what this member may do to it now")


class CasePage(BaseModel):
    items: list[CaseSummary]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null at "
                                                "the end (also in the Link header)")


class SearchPage(BaseModel):
    items: list[CaseSummary]
    total: int = Field(description="cases counted as matching: exact unless `more`, then "
                                   "counted over the newest hits (narrow the words or dates)")
    more: bool
    page: int
    per_page: int


class EventOut(BaseModel):
    seq: int | None
    stream: str
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: int = Field(description="the last event id read: pass as ?after= to go on")


class MentionOut(BaseModel):
    key: str
    channel: str
    kind: str
    created_at: datetime
    author_handle: str
    author_name: str
    text: str = Field(description="PII masked")


class DraftOut(BaseModel):
    id: str
    submitter: str
    state: str
    approver: str | None
    text: str
    options: list[str]


class CaseDetail(BaseModel):
    case: CaseSummary
    conversation: list[MentionOut]
    replies: list[dict[str, Any]]
    signals: dict[str, Any]
    decision: dict[str, Any]
    drafts: list[DraftOut]
    history: list[EventOut]
    last_seq: int = Field(description="the last event shown: send as seen_seq with a reply")


class ActionResult(BaseModel):
    event: EventOut = Field(description="what was recorded (replied, or approval_requested "
                                        "when the reply is held for approval)")
    case: CaseSummary


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=commands.MAX_REPLY_CHARS)
    template: str = Field("", max_length=64)
    seen_seq: int | None = Field(None, ge=0, le=2**62,
                                 description="refuse if others added to the case after it")


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=annotate.MAX_NOTE_CHARS)


class OptionalNote(BaseModel):
    note: str = Field("", max_length=commands.MAX_REPLY_CHARS)


class TagsIn(BaseModel):
    kind: Literal["tag", "flag"] = "tag"
    add: list[str] = Field(default_factory=list, max_length=20)
    remove: list[str] = Field(default_factory=list, max_length=20)


class CorrectionIn(BaseModel):
    signal: str = Field(max_length=32)
    label: str = Field(max_length=64)
    why: str = Field("", max_length=500)


class ApproveIn(BaseModel):
    text: str | None = Field(None, min_length=1, max_length=approvals.MAX_TEXT)
    choice: int | None = Field(None, ge=0, le=100)
    note: str = Field("", max_length=approvals.MAX_TEXT)


class RejectIn(BaseModel):
    note: str = Field(min_length=1, max_length=approvals.MAX_TEXT)


class TeamOut(BaseModel):
    id: str
    name: str
    kind: str
    hub: str | None
    lead: str | None


class MemberOut(BaseModel):
    id: str
    name: str
    role: str
    teams: list[str]
    presence: str


class OrgOut(BaseModel):
    teams: list[TeamOut]
    members: list[MemberOut]


class AuthorOut(BaseModel):
    channel: str
    handle: str
    name: str
    bio: str = Field(description="PII masked")
    followers: int | None
    verified: bool
    cases: list[CaseSummary] = Field(description="their cases in the member's sight")


class IncidentOut(BaseModel):
    id: str
    opened_at: datetime
    level: str
    peak: str
    closed_at: datetime | None


class IncidentDetail(BaseModel):
    incident: IncidentOut
    timeline: list[EventOut]


class PlaybookVersionOut(BaseModel):
    number: int
    name: str
    author: str
    note: str
    created_at: datetime
    active: bool
    state: str


class PlaybookSource(BaseModel):
    version: PlaybookVersionOut
    source: str


class CheckOut(BaseModel):
    ok: bool
    report: dict[str, Any]


class ExplainIn(BaseModel):
    text: str = Field(min_length=1, max_length=10_000)
    channel: str = Field("twitter", max_length=32, pattern=r"^[a-z0-9_]+$")
    author: str = Field("someone", min_length=1, max_length=64)
    followers: int = Field(0, ge=0, le=10**10)
    verified: bool = False
    crisis_level: str = Field("normal", max_length=16)


class ExplainStep(BaseModel):
    rule: str
    matched: bool
    checks: list[dict[str, Any]]


class ExplainOut(BaseModel):
    playbook: str
    decision: dict[str, Any]
    signals: dict[str, Any]
    steps: list[ExplainStep]


class KpiTally(BaseModel):
    label: str
    met_percent: float | None
    total: int


class KpisOut(BaseModel):
    clock: str
    teams: list[KpiTally]


class IngestOut(BaseModel):
    accepted: int
    duplicates: int
    opened: int
    joined: int
    case_ids: list[str]
    refused: list[dict[str, Any]]


class TokenOut(BaseModel):
    id: str
    name: str
    kind: str
    member: str | None
    scopes: list[str]
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(BaseModel):
    token: str = Field(description="the token itself: shown once, never again")
    info: TokenOut


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=80)
    kind: Literal["personal", "service"] = "personal"
    scopes: list[Literal["cases:read", "cases:act", "ingest", "reports", "admin"]] | None = None
    member: str | None = Field(None, max_length=64)
    expires_at: datetime | None = None


class MeOut(BaseModel):
    token: TokenOut | None
    member: MemberOut | None
    scopes: list[str]
