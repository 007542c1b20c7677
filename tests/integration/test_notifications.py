"""Notifications end to end on SQLite and PostgreSQL: derived from the log after commit, stored
once, delivered with retries; email through a real SMTP server (aiosmtpd) and a Slack-compatible
webhook on a local HTTP server."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from engage_kit import open_case
from notify_kit import Receiver, smtp_inbox, with_emails

from escapevelocity.adapters.notify.pager import Page
from escapevelocity.adapters.notify.transports import (
    EmailTransport,
    RecordingTransport,
    SlackTransport,
)
from escapevelocity.domain import notifications as dn
from escapevelocity.services import annotate, cases, notify
from escapevelocity.services.notify import MAX_ATTEMPTS, Notifier


@pytest.fixture
def ws(workspace):
    with_emails(workspace, [{"id": "ada", "name": "Ada Admin", "role": "admin", "teams": ["hub"]}])
    return workspace


def unread(ws, member: str) -> list[dict]:
    with ws.store.begin() as tx:
        return [n for n in tx.notifications.latest(member) if n["read_at"] is None]


def test_mentions_and_assignment_reach_the_bell_once(ws, clock):
    email = RecordingTransport("email")
    notifier = Notifier(ws.store, clock, {"email": email})
    notifier.tick()  # whatever the demo set-up did
    before = {m: len(unread(ws, m)) for m in ("priya", "omar", "ana")}
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya can you check billing? cc @omar")
    cases.assign(ws.store, clock, cid, "ada", "priya")
    first = notifier.tick()
    assert first["notified"] >= 3 and first["delivered"] == first["notified"]
    assert notifier.tick() == {"notified": 0, "delivered": 0}  # idempotent
    kinds = sorted(n["kind"] for n in unread(ws, "priya")[: 2])
    assert kinds == ["assigned", "mention"]
    assert len(unread(ws, "omar")) == before["omar"] + 1
    assert len(unread(ws, "ana")) == before["ana"]  # the author is not told of her own note
    assert sorted(o.member for o in email.sent if o.member in ("omar", "priya")) == [
        "omar", "priya", "priya"]
    assert {o.email for o in email.sent if o.member == "priya"} == {"priya@example.test"}
    with ws.store.begin() as tx:
        assert tx.notifications.unread_count("priya") == before["priya"] + 2
        first = tx.notifications.latest("priya")[0]["id"]
        assert tx.notifications.mark_read("omar", clock.now(), [first]) == 0  # not hers to mark
        assert tx.notifications.mark_read("priya", clock.now(), [first]) == 1
        assert tx.notifications.unread_count("priya") == before["priya"] + 1
        tx.notifications.mark_read("priya", clock.now())
        assert tx.notifications.unread_count("priya") == 0


def test_two_passes_at_once_tell_each_member_once(ws, clock, monkeypatch):
    """Two passes at once (one `ev serve`'s clock worker and live stream, or two replicas):
    the second waits for the first's watermark instead of reading the same stretch. On SQLite
    a pass's reads had run before its transaction began (the driver begins at the first
    write), so both read the same events and the second failed on the unique key."""
    first, second = Notifier(ws.store, clock), Notifier(ws.store, clock)
    first.tick()
    before = {m: len(unread(ws, m)) for m in ("priya", "omar")}
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya can you check billing? cc @omar")
    take, raced = notify.logreader.take, {}

    def take_then_race(tx, reader, limit):
        batch = take(tx, reader, limit)
        if not raced:  # the first pass holds its batch: the second starts now
            raced["thread"] = threading.Thread(
                target=lambda: raced.setdefault("made", second.sweep()))
            raced["thread"].start()
            raced["thread"].join(timeout=0.5)  # it must be waiting for this pass
            raced["waited"] = raced["thread"].is_alive()
        return batch

    monkeypatch.setattr(notify.logreader, "take", take_then_race)
    made = first.sweep()
    raced["thread"].join(timeout=15)
    assert raced["waited"] and made >= 2 and raced["made"] == 0
    assert len(unread(ws, "priya")) == before["priya"] + 1
    assert len(unread(ws, "omar")) == before["omar"] + 1


def to_priya(transport) -> list:
    return [o for o in transport.sent if o.member == "priya"]


def test_failed_deliveries_are_retried_with_backoff_then_given_up(ws, clock):
    email = RecordingTransport("email", fail=True)
    notifier = Notifier(ws.store, clock, {"email": email})
    notifier.tick()
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya please look")
    notifier.tick()
    assert len(to_priya(email)) == 1
    notifier.deliver(clock.now() + timedelta(seconds=10))  # not due yet
    assert len(to_priya(email)) == 1
    later = clock.now()
    for _ in range(MAX_ATTEMPTS + 2):
        later += timedelta(hours=2)
        notifier.deliver(later)
    assert len(to_priya(email)) == MAX_ATTEMPTS
    with ws.store.begin() as tx:
        [row] = tx.notifications.deliveries(tx.notifications.latest("priya")[0]["id"])
    assert (row["state"], row["attempts"]) == ("failed", MAX_ATTEMPTS)
    assert "simulated" in row["detail"]


def test_muted_kinds_and_history_tell_nobody(ws, clock):
    with ws.store.begin() as tx:
        tx.notifications.save_prefs("priya", dn.Prefs(muted=["mention"]))
    notifier = Notifier(ws.store, clock, {})
    notifier.tick()
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya @omar look")
    notifier.tick()
    assert [n["kind"] for n in unread(ws, "priya")] == []
    assert [n["kind"] for n in unread(ws, "omar")][:1] == ["mention"]
    # a day later the log's old events are history: a new reader tells nobody about them
    with ws.store.begin() as tx:
        tx.notifications.set_cursor("notifications", 0)
        tx.notifications.mark_read("omar", clock.now())
    assert notifier.sweep(clock.now() + timedelta(days=2)) == 0


def test_a_page_lands_in_the_bell_and_by_email(ws, clock):
    email = RecordingTransport("email")
    notifier = Notifier(ws.store, clock, {"email": email})
    result = notifier.page(Page(incident="connection:mastodon", role="channel-admin",
                                member="sam", level="failing", summary="mastodon is failing",
                                at=clock.now(), url="/admin/channels"))
    assert result.ok
    [n] = unread(ws, "sam")
    assert (n["kind"], n["urgency"]) == ("channel_health", "urgent")
    assert [o.member for o in email.sent] == ["sam"]  # no case: nobody else is told


def test_email_through_a_real_smtp_server_reaches_the_right_member_only(ws, clock):
    with smtp_inbox() as (inbox, port):
        notifier = Notifier(ws.store, clock,
                            {"email": EmailTransport("127.0.0.1", port, "ev@example.test")},
                            base_url="https://ev.example.test")
        with ws.store.begin() as tx:  # the ingest's assignee wants the bell only
            tx.notifications.save_prefs("tom", dn.Prefs(transports=["web"]))
        notifier.tick()
        inbox.envelopes.clear()
        cid = open_case(ws, clock)
        annotate.note(ws.store, clock, cid, "ana", "@priya the bill, please")
        assert notifier.tick()["delivered"] == 1
    [mail] = inbox.envelopes
    assert mail.rcpt_tos == ["priya@example.test"]
    body = mail.content.decode()
    assert "ana mentioned you" in body and f"https://ev.example.test/cases/{cid}" in body


def test_slack_compatible_webhook_on_a_local_server_with_a_retry(ws, clock):
    with Receiver(statuses=[503, 200]) as hook:
        notifier = Notifier(ws.store, clock, {"slack": SlackTransport(hook.url)})
        with ws.store.begin() as tx:
            tx.notifications.save_prefs("priya", dn.Prefs(transports=["web", "slack"]))
        notifier.tick()
        cid = open_case(ws, clock)
        annotate.note(ws.store, clock, cid, "ana", "@priya look at this")
        notifier.tick()
        notifier.deliver(clock.now() + timedelta(minutes=5))
    assert len(hook.requests) == 2  # the ingest's assignee (tom) kept the default: no Slack
    assert "ana mentioned you" in hook.json(1)["text"]
    with ws.store.begin() as tx:
        [row] = tx.notifications.deliveries(tx.notifications.latest("priya")[0]["id"])
    assert (row["state"], row["attempts"], row["detail"]) == ("sent", 2, "HTTP 200")


def test_channel_health_alerts_reach_the_admins_bells(ws, clock):
    from escapevelocity.channels.alerts import HealthAlerts

    email = RecordingTransport("email")
    alerts = HealthAlerts(ws.store, Notifier(ws.store, clock, {"email": email}))
    assert alerts("mastodon-main", "connected", "credentials_expired", "401", clock.now()) >= 1
    [n] = unread(ws, "ada")
    assert (n["kind"], n["link"], n["urgency"]) == ("channel_health", "/admin/channels", "urgent")
    assert "credentials expired" in n["text"]
    assert unread(ws, "priya") == []  # a liaison may not configure: not told
    assert "ada" in [o.member for o in email.sent]


def test_switched_on_in_a_workspace_with_a_log_it_starts_at_its_end(ws, clock):
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya before notifications existed")
    notifier = Notifier(ws.store, clock, {})
    assert notifier.sweep() == 0 and unread(ws, "priya") == []
    annotate.note(ws.store, clock, cid, "ana", "@priya now")
    assert notifier.sweep() == 1


def test_the_migration_makes_the_tables_schema_py_declares_and_goes_back(ws):
    from importlib.resources import files

    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from escapevelocity.adapters.store.schema import metadata

    mine = {"notifications", "notification_deliveries", "notification_prefs", "log_cursors",
            "webhook_outbox"}

    def names(d) -> set[str]:
        d = d[0] if isinstance(d, list) else d
        out = set()
        for part in d[1:]:
            table = part if isinstance(part, sa.Table) else getattr(part, "table", None)
            if table is not None:
                out.add(table.name)
            elif isinstance(part, str):
                out.add(part)
        return out

    with ws.store.engine.connect() as tx:
        diff = compare_metadata(MigrationContext.configure(tx), metadata)
    assert [d for d in diff if names(d) & mine] == []
    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    with ws.store.engine.begin() as tx:
        cfg.attributes["connection"] = tx
        command.downgrade(cfg, "0013_notifications-1")
        assert not sa.inspect(tx).has_table("notifications")
    ws.store.migrate()
    with ws.store.engine.connect() as tx:
        assert mine <= set(sa.inspect(tx).get_table_names())


def test_0024_names_the_notifications_stream_and_keeps_the_rows(ws, clock):
    """A crisis page's notification is about "incident:<id>": the column is `stream`, and a
    row stored under the old name `case_id` comes through the upgrade and back."""
    from importlib.resources import files

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    Notifier(ws.store, clock, {}).page(Page(incident="incident:20261120-1400", role="pr-oncall",
                                            member="sam", level="high", summary="paged",
                                            at=clock.now()))
    [before] = unread(ws, "sam")
    assert before["stream"] == "incident:20261120-1400"
    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))

    def columns(tx) -> set[str]:
        return {c["name"] for c in sa.inspect(tx).get_columns("notifications")}

    try:
        with ws.store.engine.begin() as tx:
            cfg.attributes["connection"] = tx
            command.downgrade(cfg, "0024_notification_stream-1")
            assert "case_id" in columns(tx) and "stream" not in columns(tx)
            old = sa.table("notifications", sa.column("case_id"))
            assert tx.execute(sa.select(old.c.case_id)).scalars().all() == [before["stream"]]
    finally:
        ws.store.migrate()
    [after] = unread(ws, "sam")
    assert after == before


def test_sla_warning_breach_and_the_ladder_reach_the_assignee_lead_and_on_call(ws, clock):
    from escapevelocity.services import sla

    notifier = Notifier(ws.store, clock, {})
    notifier.sweep()
    cid = open_case(ws, clock, "my bill is wrong, I was overcharged twice")
    with ws.store.begin() as tx:
        first = tx.cases.get(cid).assignee
    clock.advance(minutes=46)
    sla.tick(ws)
    notifier.sweep()
    kinds = {(n["member"], n["kind"]) for m in (first, "tom") for n in unread(ws, m)
             if n["stream"] == cid}
    assert (first, "sla_warning") in kinds
    clock.advance(minutes=15)
    sla.tick(ws)
    clock.advance(minutes=40)
    sla.tick(ws)
    notifier.sweep()
    with ws.store.begin() as tx:
        now_with = tx.cases.get(cid).assignee
    told = {(n["member"], n["kind"], n["urgency"]) for m in {first, now_with, "tom"}
            for n in unread(ws, m) if n["stream"] == cid}
    assert (first, "sla_breach", "urgent") in told
    assert ("tom", "sla_breach", "urgent") in told  # care's lead
    assert ("tom", "escalation", "normal") in told  # notify_lead
    assert (now_with, "assigned", "urgent") in told  # reassigned by the ladder
    paged = [(n["kind"], n["urgency"]) for n in unread(ws, "sam") if n["stream"] == cid]
    assert ("escalation", "urgent") in paged  # page_on_call: the hub's on-call


def test_approvals_waiting_and_overdue_reach_the_approver_on_call(ws, clock):
    from engage_kit import LEGAL

    from escapevelocity.services import approvals

    notifier = Notifier(ws.store, clock, {})
    notifier.sweep()
    approvals.set_policy(ws.store, clock, "ada",
                         "approval_sla_minutes: 20\nrotations: {legal: [omar, sam, ada]}\n")
    cid = open_case(ws, clock, LEGAL)
    cases.claim(ws.store, clock, cid, "ana")
    cases.reply(ws.store, clock, cid, "ana", "We're sorry. Please DM us your details.")
    notifier.sweep()
    assert ("approval", "normal") in [(n["kind"], n["urgency"]) for n in unread(ws, "omar")
                                      if n["stream"] == cid]
    clock.advance(minutes=21)
    approvals.tick(ws.store, clock)
    notifier.sweep()
    assert ("approval", "urgent") in [(n["kind"], n["urgency"]) for n in unread(ws, "sam")
                                      if n["stream"] == cid]


def test_with_no_mail_or_slack_set_up_the_bell_alone_and_nothing_fails(ws, clock, caplog):
    """A demo or a laptop has no SMTP: members who prefer email still get the bell, and no
    delivery is queued to fail (the demo printed a failure per notification)."""
    notifier = Notifier(ws.store, clock, {})
    notifier.tick()
    cid = open_case(ws, clock)
    annotate.note(ws.store, clock, cid, "ana", "@priya can you check billing?")
    with caplog.at_level("WARNING"):
        assert notifier.tick()["notified"] >= 1
    assert any(n["kind"] == "mention" for n in unread(ws, "priya"))
    with ws.store.begin() as tx:
        assert tx.notifications.due_deliveries(clock.now()) == []
    assert "failed" not in caplog.text
