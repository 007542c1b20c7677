"""Plain typed records that flow through the pipeline.

ingest → enrich → decide → route all take and return these; nothing here does I/O, so the
same records serve the live service, batch triage, drills and evaluation. msgspec Structs are
used because they validate at the edge and decode JSON several times faster than the
alternatives, which matters when a crisis minute brings 100k mentions.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

# Bounds for hostile input. A mention longer than this is rejected at the edge, not truncated
# silently, so nobody answers a post they could not read whole.
MAX_TEXT_CHARS = 10_000
MAX_FIELD_CHARS = 512

CHANNELS = ("twitter", "facebook", "instagram", "linkedin", "reviews", "forum", "email", "web",
            "mastodon", "bluesky", "reddit")
KINDS = ("post", "reply", "dm", "review", "comment")


class Author(msgspec.Struct, frozen=True, omit_defaults=True):
    """Who wrote a mention, as the channel reports it (identities cannot be confirmed)."""

    handle: str
    name: str = ""
    followers: int = 0
    verified: bool = False
    bio: str = ""


class Mention(msgspec.Struct, frozen=True, omit_defaults=True):
    """One inbound item from a channel. `(channel, source_id)` identifies it everywhere."""

    source_id: str
    channel: str
    text: str
    author: Author
    created_at: datetime
    kind: str = "post"
    in_reply_to: str | None = None  # source id of the post this one answers
    thread_id: str | None = None  # channel's own conversation id, when it has one
    url: str = ""
    lang: str = ""  # as reported by the channel; enrichment detects its own
    # The handle the channel says this post was sent to or replies to (a DM to us, a reply to
    # one of our posts), when it says; brand relevance reads it (domain/relevance.py).
    to: str = ""
    # Read long after it was written (a backfill, an import): ingested like any other, never
    # seen by the crisis detectors (domain/channel_health.py says which are).
    historical: bool = False
    # The connection it arrived through (channels/), so a reply can go back the same way.
    via: str = ""

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.source_id}"


class Signals(msgspec.Struct, frozen=True, omit_defaults=True):
    """What enrichment derived from a mention. `because` holds short human reasons per signal."""

    sentiment: float  # -1 … 1
    sentiment_label: str  # negative / neutral / positive
    situation: str  # the primary situation
    situations: tuple[str, ...] = ()
    severity: str = ""  # of a complaint: no_explicit_reproach … blame (domain/severity.py)
    author_class: str = "customer"
    urgency: int = 0  # 0 none … 3 immediate
    language: str = "und"
    pii: tuple[str, ...] = ()  # kinds of PII found: account_number, card_number, email, phone
    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()  # lexicon phrases that matched, for rules and explanations
    repeat: int = 0  # earlier mentions by this author in the workspace (domain/authors.py)
    vip: bool = False  # on the workspace's VIP list
    confidence: dict[str, float] = {}
    because: dict[str, str] = {}
    # Answered on the hot path by a learned model's words alone; its sentence vectors are read
    # off the hot path, in batches, and the revision is an event (services/refine.py).
    provisional: bool = False


class Decision(msgspec.Struct, frozen=True, omit_defaults=True):
    """What the playbook decided for one mention, and which rule of which version decided it."""

    track: str
    respond: bool
    team: str
    priority: str  # p1 … p4
    sla_minutes: int
    rule_id: str
    playbook_version: str
    explanation: str
    reason: str = ""  # required when respond is False
    visibility: str = "public"  # public / private
    approval: str = ""  # role or team that must approve a reply, empty when none
    template: str = ""
    tags: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()
    auto_reply: bool = False  # the rule allows an automated answer (domain/answers/guard.py)


class Assignment(msgspec.Struct, frozen=True, omit_defaults=True):
    """Routing's answer: the team's queue always, a member when one is available."""

    team: str
    member: str | None
    strategy: str
    explanation: str


class Triage(msgspec.Struct, frozen=True):
    """The whole pure pipeline's output for one mention."""

    mention: Mention
    signals: Signals
    decision: Decision
    assignment: Assignment
