"""`ev outbound show / set`, `ev webhooks dead / replay` and `ev notify prefs` against a real
workspace: the switch is audited and only members who may configure change it."""

from __future__ import annotations

from datetime import timedelta

from typer.testing import CliRunner

from escapevelocity.cli.main import app


def ev(workspace, *args: str):
    result = CliRunner().invoke(app, [*args, "--database", workspace.store.url],
                                env={"COLUMNS": "200", "EV_SECRET_KEY": "k" * 32})
    text = (result.stdout + result.stderr).replace("│", " ")
    return result.exit_code, " ".join(text.split())


def test_switch_dead_letters_and_prefs(workspace):
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(name="acme-masto", channel="mastodon",
                                                 settings={"base_url": "https://a.test"}),
                           workspace.clock.now())
    code, text = ev(workspace, "outbound", "show")
    assert code == 0 and "workspace: dry_run" in text and "acme-masto" in text
    assert "dry run" in text and "LIVE" not in text

    code, text = ev(workspace, "outbound", "set", "live", "--connection", "acme-masto",
                    "--by", "ana")  # a community manager may not
    assert code == 1 and "may not configure" in text
    code, text = ev(workspace, "outbound", "set", "live", "--connection", "acme-masto",
                    "--by", "sam")
    assert code == 0 and "acme-masto: live" in text
    code, text = ev(workspace, "outbound", "show")
    assert "LIVE: sent to Mastodon" in text and "sam: acme-masto" in text
    code, text = ev(workspace, "outbound", "set", "workspace", "--connection", "acme-masto",
                    "--by", "sam")
    assert code == 0 and "acme-masto: dry_run" in text
    with workspace.store.begin() as tx:
        audit = tx.events.stream("config:outbound_mode")
    assert [(e.actor, e.data["name"]) for e in audit] == [("sam", "acme-masto")] * 2

    # A dead letter, listed and queued again.
    import sqlalchemy as sa

    from escapevelocity.adapters.store import schema as t

    with workspace.store.begin() as tx:
        tx.conn.execute(sa.insert(t.webhook_outbox).values(
            delivery_id="d-1", topic="case.created", case_id="c1", body="{}", state="dead",
            attempts=8, next_at=workspace.clock.now() - timedelta(hours=1),
            detail="HTTP 500", created_at=workspace.clock.now() - timedelta(hours=2)))
    code, text = ev(workspace, "webhooks", "dead", "--by", "sam")
    assert code == 0 and "d-1" in text and "case.created" in text and "HTTP 500" in text
    row = text.split("d-1")[0].split()[-1]
    code, text = ev(workspace, "webhooks", "replay", row, "--by", "ana")
    assert code == 1 and "may not configure" in text
    code, text = ev(workspace, "webhooks", "replay", row, "--by", "sam")
    assert code == 0 and "queued again" in text
    code, text = ev(workspace, "webhooks", "dead", "--by", "sam")
    assert "no dead letters (1 deliveries in all)" in text

    code, text = ev(workspace, "notify", "prefs", "ana", "--mute", "sla_warning",
                    "--via", "email", "--quiet", "22:00-07:00", "--tz", "Europe/Lisbon")
    assert code == 0 and "muted sla_warning" in text and "by web, email" in text
    assert "quiet hours 22:00-07:00 Europe/Lisbon" in text
    code, text = ev(workspace, "notify", "prefs", "ana", "--unmute", "sla_warning",
                    "--quiet", "-")
    assert "muted nothing" in text and "quiet hours none" in text
    code, text = ev(workspace, "notify", "prefs", "ana", "--mute", "gossip")
    assert code == 1 and "unknown kind gossip" in text
    code, text = ev(workspace, "notify", "prefs", "ana", "--quiet", "25:00-07:00")
    assert code == 1 and "quiet time" in text
