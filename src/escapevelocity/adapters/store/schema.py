"""Tables. The event log (`events`) is the record; `cases` is its projection, kept in step in
the same transaction and rebuildable from the log. Alembic migrations in
escapevelocity/migrations create these; tests assert the two agree.
"""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSVECTOR

from escapevelocity.domain.events import MAX_STREAM

metadata = sa.MetaData()

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for a log.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UtcDateTime(sa.types.TypeDecorator):
    """Instants are stored in UTC: SQLite keeps datetimes as text, so a +01:00 time would sort
    and compare wrongly against UTC ones (a drill's Europe/London clock did exactly that)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and getattr(value, "tzinfo", None) is not None:
            return value.astimezone(UTC)
        return value


When = UtcDateTime()

teams = sa.Table(
    "teams", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("hub", sa.String(64)),
    sa.Column("strategy", sa.String(32), nullable=False),
    sa.Column("overflow", sa.String(64)),
)

members = sa.Table(
    "members", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the Member record as JSON
    sa.Column("password_hash", sa.String(300)),
    sa.Column("presence", sa.String(16), nullable=False, server_default="offline"),
    sa.Column("last_seen", When),
)

documents = sa.Table(
    "documents", metadata,
    sa.Column("name", sa.String(64), primary_key=True),  # vocabulary, org, …
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("updated_at", When, nullable=False),
)

api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("token_hash", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", When, nullable=False),
)

playbooks = sa.Table(
    "playbooks", metadata,
    sa.Column("version", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", When, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.false()),
)

mentions = sa.Table(
    "mentions", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("source_id", sa.String(200), nullable=False),
    sa.Column("case_id", sa.String(32), nullable=False),
    sa.Column("author_handle", sa.String(200), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("received_at", When, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the Mention as JSON
    sa.Column("signals", sa.Text, nullable=False),
    # A learned model answered from its words; its sentence vectors are still to be read
    # (services/refine.py).
    sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("channel", "source_id", name="uq_mentions_channel_source"),
    sa.Index("ix_mentions_case", "case_id"),
)

events = sa.Table(
    "events", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=True),
    # A case id, or "incident:<id>" / "playbook:<n>" (domain/events.py, streams).
    sa.Column("stream", sa.String(MAX_STREAM), nullable=False),  # 0026
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("at", When, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),  # the payload fields as JSON
    sa.Index("ix_events_stream", "stream", "seq"),
    # Events of one kind in log order (corrections for retraining, approvals due…): a range
    # of this index instead of a scan of the whole log.
    sa.Index("ix_events_kind", "kind", "seq"),
)

# Counters kept from the log as it is appended (domain/rollups.py): pages read these rows.
rollups = sa.Table(
    "rollups", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)

cases = sa.Table(
    "cases", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("team", sa.String(64)),
    sa.Column("assignee", sa.String(64)),
    sa.Column("track", sa.String(64)),
    sa.Column("priority", sa.String(4), nullable=False),
    sa.Column("respond", sa.Boolean, nullable=False),
    sa.Column("visibility", sa.String(8), nullable=False),
    sa.Column("approval", sa.String(64), nullable=False),
    sa.Column("sla_minutes", sa.Integer),
    sa.Column("sla_due", When),
    sa.Column("opened_at", When),
    sa.Column("updated_at", When),
    sa.Column("last_mention_at", When),
    sa.Column("first_response_at", When),
    sa.Column("resolved_at", When),
    sa.Column("author_handle", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claim_until", When),
    sa.Column("mention_count", sa.Integer, nullable=False),
    sa.Column("rule_id", sa.String(128)),
    sa.Column("playbook_version", sa.String(64)),
    sa.Column("situation", sa.String(32)),
    sa.Column("sentiment", sa.String(16)),
    sa.Column("author_class", sa.String(32)),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Index("ix_cases_inbox", "team", "state", "sla_due"),
    sa.Index("ix_cases_author", "channel", "author_handle", "state"),
    sa.Index("ix_cases_assignee", "assignee", "state"),
    # The inbox's order (soonest SLA first, then oldest): read in index order and stop at the
    # page's length instead of sorting every open case.
    sa.Index("ix_cases_due", "sla_due", "opened_at"),
    sa.Index("ix_cases_resolved", "state", "resolved_at"),
)

# --- engagement (issue 6, migration 0006_engagement): tags, flags, approval, follow-up, CRM ---
for _column in (
    sa.Column("tags", sa.Text, nullable=False, server_default=""),  # comma-joined, sorted
    sa.Column("flags", sa.Text, nullable=False, server_default=""),
    sa.Column("approval_state", sa.String(16), nullable=False, server_default=""),
    sa.Column("approval_draft", sa.String(32)),
    sa.Column("approver", sa.String(64)),  # on call for the pending draft
    sa.Column("approval_due", When),
    sa.Column("followup_state", sa.String(16), nullable=False, server_default=""),
    sa.Column("followup_due", When),
    sa.Column("csat", sa.Integer),
    sa.Column("crm_id", sa.String(128)),
):
    cases.append_column(_column)
sa.Index("ix_cases_approval_due", cases.c.approval_state, cases.c.approval_due)
# --- plans and deadlines (migration 0009_next_deadline): what the SLA tick reads --------------
cases.append_column(sa.Column("next_deadline", When))
sa.Index("ix_cases_next_deadline", cases.c.next_deadline)
sa.Index("ix_cases_claims", cases.c.state, cases.c.claim_until)
sa.Index("ix_cases_followup_due", cases.c.followup_state, cases.c.followup_due)

# --- channels (issue 17, migration 0012_channels): connections and webhook deliveries --------
connections = sa.Table(
    "connections", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("settings", sa.Text, nullable=False, server_default="{}"),  # JSON, no secrets
    sa.Column("query", sa.Text, nullable=False, server_default=""),  # domain/listening.py
    sa.Column("secrets", sa.Text, nullable=False, server_default=""),  # Fernet token of JSON
    sa.Column("cursor", sa.Text),  # where the connector resumes (a backfill after an outage)
    sa.Column("health", sa.String(24), nullable=False, server_default="new"),
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("last_success", When),
    sa.Column("last_poll", When),
    sa.Column("next_poll", When),
    sa.Column("live_since", When),  # first successful poll: older posts are historical
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_connections_next_poll", "enabled", "next_poll"),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries", metadata,
    sa.Column("connection", sa.String(64), primary_key=True),
    sa.Column("delivery_id", sa.String(200), primary_key=True),
    sa.Column("received_at", When, nullable=False),
    sa.Index("ix_webhook_deliveries_received", "received_at"),
)

# --- sign-in (issue 15.2, 15.7, 15.8; migration 0010_sessions) --------------------------------
# Server-side sessions: the cookie carries a random id, the table its hash, so any web replica
# can check it and logout, a password or role change, or removal revokes it everywhere.
sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),
    sa.Column("member", sa.String(64), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("last_seen", When, nullable=False),
    sa.Column("expires_at", When, nullable=False),  # slides forward while in use
    sa.Column("revoked_at", When),
    sa.Index("ix_sessions_member", "member"),
)

# One row per failed sign-in, by throttle key (member+client, client, member, device); rows
# older than the window are deleted as new ones come. Shared by every process.
login_failures = sa.Table(
    "login_failures", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False),
    sa.Column("at", When, nullable=False),
    sa.Index("ix_login_failures_key", "key", "at"),
    sa.Index("ix_login_failures_at", "at"),
)

# API tokens gain a public id (a prefix of the hash), last use and revocation; scopes, member
# and expiry are here for the scoped tokens of issue 21 ("" scopes: the mentions API only).
for _column in (
    sa.Column("last_used_at", When),
    sa.Column("revoked_at", When),
    sa.Column("expires_at", When),
    sa.Column("member", sa.String(64)),
    sa.Column("scopes", sa.Text, nullable=False, server_default=""),
):
    api_tokens.append_column(_column)

# --- notifications and outbound webhooks (issue 17, migration 0013_notifications) ---
notifications = sa.Table(
    "notifications", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("member", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("text", sa.String(400), nullable=False),
    sa.Column("link", sa.String(200), nullable=False),
    sa.Column("urgency", sa.String(8), nullable=False),
    sa.Column("stream", sa.String(MAX_STREAM), nullable=False),  # what it is about (0024, 0026)
    sa.Column("event_seq", sa.BigInteger),  # the event it was derived from (None: a page)
    sa.Column("created_at", When, nullable=False),
    sa.Column("read_at", When),
    sa.UniqueConstraint("event_seq", "member", "kind", name="uq_notifications_event_member"),
    sa.Index("ix_notifications_member", "member", "read_at", "id"),
)

# One row per transport a notification must go through (email, slack); retried until ok or
# out of attempts; `detail` says what the last try got.
notification_deliveries = sa.Table(
    "notification_deliveries", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("notification_id", sa.BigInteger, nullable=False),
    sa.Column("transport", sa.String(16), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending / sent / failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", When, nullable=False),
    sa.Column("detail", sa.String(400), nullable=False, server_default=""),
    sa.Index("ix_notification_deliveries_due", "state", "next_at"),
)

notification_prefs = sa.Table(
    "notification_prefs", metadata,
    sa.Column("member", sa.String(64), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # domain.notifications.Prefs as JSON
)

# Where each log reader (notifications, outbound webhooks) has got to in the event log: its
# watermark (domain/watermark.py; `high` and `holes` from migration 0021_log_watermark).
log_cursors = sa.Table(
    "log_cursors", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),  # the low mark: all at or below handled
    sa.Column("high", sa.BigInteger),  # the highest seq handled (NULL: the same as seq)
    sa.Column("holes", sa.Text, nullable=False, server_default=""),  # missing seqs (JSON runs)
)

# Signed CRM / contact-center webhooks: an outbox retried with backoff; `dead` rows are the
# dead-letter list an admin replays from the web app.
webhook_outbox = sa.Table(
    "webhook_outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(64), nullable=False, unique=True),
    sa.Column("topic", sa.String(64), nullable=False),
    sa.Column("case_id", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending / delivered / dead
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_at", When, nullable=False),
    sa.Column("detail", sa.String(400), nullable=False, server_default=""),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_webhook_outbox_due", "state", "next_at"),
)

# --- the versioned API and second factors (issue 21, migration 0020_api) ---
for _column in (
    sa.Column("kind", sa.String(16), nullable=False, server_default="service"),  # or personal
    sa.Column("created_by", sa.String(64)),
):
    api_tokens.append_column(_column)

# An action's answer kept under its Idempotency-Key: the same key answers the same again.
api_idempotency = sa.Table(
    "api_idempotency", metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # sha256(principal, route, key)
    sa.Column("created_at", When, nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Index("ix_api_idempotency_created", "created_at"),
)

# TOTP second factors: the shared secret, when enrolment was confirmed, hashed recovery codes,
# and the last time step accepted (a code is good once).
second_factors = sa.Table(
    "second_factors", metadata,
    sa.Column("member", sa.String(64), primary_key=True),
    sa.Column("secret", sa.String(64), nullable=False),
    sa.Column("enrolled_at", When),
    sa.Column("recovery", sa.Text, nullable=False, server_default=""),
    sa.Column("last_step", sa.BigInteger, nullable=False, server_default="0"),
)


# --- reports (issue 19, migration 0018_reports): KPI rollups kept from each case's state ------
# domain/kpis.py: each case adds its measures to the cell of (opened day, dimensions) and its
# histogram buckets, SLA outcome, no-reply reason and backlog to the long counters; the store
# moves them by contribution(new) - contribution(old) whenever a case row is written.
kpi_cells = sa.Table(
    "kpi_cells", metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    *[sa.Column(d, sa.String(64), primary_key=True) for d in
      ("channel", "situation", "sentiment", "author_class", "team", "track")],
    *[sa.Column(m, sa.BigInteger, nullable=False, server_default="0") for m in
      ("cases", "needs_reply", "no_reply", "responded", "missed", "private", "leads",
       "resolved", "open", "sla_met", "sla_late", "approvals", "approvals_pending", "csat_n",
       "csat_sum", "crisis")],
)
kpi_counts = sa.Table(
    "kpi_counts", metadata,
    sa.Column("family", sa.String(16), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("count", sa.BigInteger, nullable=False),
)
# The wall's oldest waiting case per team, and the reports' drill-down by opening time.
sa.Index("ix_cases_team_opened", cases.c.team, cases.c.state, cases.c.respond,
         cases.c.opened_at)
# SLA at risk now: open cases by due time (ix_cases_due also holds every resolved case).
sa.Index("ix_cases_state_due", cases.c.state, cases.c.respond, cases.c.sla_due)
# Newest cases first, ties by id (search without words, select all matching): 0022.
sa.Index("ix_cases_opened", cases.c.opened_at, cases.c.id)


# --- search, saved views, linked identities (issue 18, migration 0016_search) ---------------
# The full-text index: on SQLite the FTS5 table `mention_words` kept by triggers on `mentions`
# (0016, not declared here: a virtual table); on PostgreSQL `mention_terms`, a narrow copy of
# each mention's words kept by a trigger on `mentions` (0025_search_side: why it is a table of
# its own). adapters/store/search.py reads them.

# PostgreSQL only (SQLite has no such table): written by the trigger, never by the code.
mention_terms = sa.Table(
    "mention_terms", metadata,
    sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),  # the mention's
    sa.Column("case_id", sa.String(32), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Column("words", TSVECTOR),  # strip()ped: no positions (no query uses them)
    sa.Index("ix_mention_terms_words", "words", postgresql_using="gin"),
)

saved_views = sa.Table(
    "saved_views", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("owner_kind", sa.String(8), nullable=False),  # member / team
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("query", sa.Text, nullable=False),  # the URL query string (domain/search.py)
    sa.Column("created_by", sa.String(64), nullable=False),
    sa.Column("created_at", When, nullable=False),
    sa.Index("ix_saved_views_owner", "owner_kind", "owner"),
)

# One person behind several (channel, handle) identities: rows with the same `person` are
# linked (merged); an identity with no row stands alone.
author_links = sa.Table(
    "author_links", metadata,
    sa.Column("channel", sa.String(32), primary_key=True),
    sa.Column("handle", sa.String(200), primary_key=True),
    sa.Column("person", sa.String(32), nullable=False),
    sa.Column("linked_by", sa.String(64), nullable=False),
    sa.Column("linked_at", When, nullable=False),
    sa.Index("ix_author_links_person", "person"),
)
# --- reports (migration 0023_reports_calendar): topics, and the business time of the answer -----
# `topics`: the first decision's topics, comma-joined and sorted (the topic dimension);
# `sla_calendar`: the business calendar the track's SLA runs on ("" around the clock);
# `first_response_minutes`, `resolution_minutes`: business minutes on that calendar, fixed when
# the answer or the resolution is written, so the KPI rollups never recount them differently.
for _column in (
    sa.Column("topics", sa.String(300), nullable=False, server_default=""),
    sa.Column("sla_calendar", sa.String(64), nullable=False, server_default=""),
    sa.Column("first_response_minutes", sa.Float),
    sa.Column("resolution_minutes", sa.Float),
):
    cases.append_column(_column)
