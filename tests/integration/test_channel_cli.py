"""`ev channels`, `ev channel add / poll / preview / remove` against a real workspace and a fake
feed on 127.0.0.1; secrets are sealed and never printed."""

from __future__ import annotations

import pytest
from channel_kit import FakeHttp
from typer.testing import CliRunner

from escapevelocity.cli.main import app

pytest.importorskip("feedparser")

FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Acme blog watch</title>
<item><title>Acme refund took 3 months</title><link>https://b.example/1</link><guid>b1</guid>
<pubDate>Fri, 20 Nov 2026 13:30:00 +0000</pubDate><description>awful</description></item>
<item><title>Our trip to Lyon</title><link>https://b.example/2</link><guid>b2</guid>
<pubDate>Fri, 20 Nov 2026 13:40:00 +0000</pubDate><description>nice</description></item>
</channel></rss>"""


def ev(workspace, *args: str, stdin: str | None = None):
    result = CliRunner().invoke(app, [*args, "--database", workspace.store.url], input=stdin,
                                env={"COLUMNS": "200", "EV_SECRET_KEY": "k" * 32})
    text = (result.stdout + result.stderr).replace("│", " ")
    return result.exit_code, " ".join(text.split())


def test_add_list_poll_preview_remove(workspace):
    server = FakeHttp(lambda *a: (200, {"Content-Type": "application/rss+xml"}, FEED))
    try:
        code, text = ev(workspace, "channel", "add", "rss", "--name", "blogs",
                        "--url", server.url + "/feed", "--query", "refund OR complaint")
        assert code == 0 and "added blogs" in text
        code, text = ev(workspace, "channel", "add", "mastodon", "--name", "masto",
                        "--base-url", server.url, "--secret", "token=-",
                        stdin="tok-very-secret\n")
        assert code == 0 and "secrets sealed: token" in text and "tok-very-secret" not in text
        code, text = ev(workspace, "channel", "add", "rss", "--name", "x", "--query", "(oops")
        assert code == 1 and "unclosed parenthesis" in text
        code, text = ev(workspace, "channel", "add", "reddit", "--name", "r")
        assert code == 1 and "reddit needs subreddits" in text

        code, text = ev(workspace, "channel", "poll", "blogs")
        assert code == 0 and "blogs: connected; read 2, kept 1, new 1" in text
        code, text = ev(workspace, "channels")
        assert code == 0 and "blogs rss connected" in text and "masto mastodon new" in text
        assert "tok-very-secret" not in text

        code, text = ev(workspace, "channel", "preview", "refund")
        assert code == 0 and "1 of" in text and "Acme refund took 3 months" in text
        code, text = ev(workspace, "channel", "preview", "lang:")
        assert code == 1 and "query: bad language" in text

        code, text = ev(workspace, "channel", "pause", "blogs")
        assert code == 0 and ev(workspace, "channels")[1].count("disabled") == 1
        code, text = ev(workspace, "channel", "resume", "blogs")
        assert code == 0 and "disabled" not in ev(workspace, "channels")[1]

        code, text = ev(workspace, "channel", "remove", "masto")
        assert code == 0
        assert "masto" not in ev(workspace, "channels")[1]
    finally:
        server.stop()


def test_secrets_are_sealed_at_rest(workspace):
    import sqlalchemy as sa

    from escapevelocity.adapters.secrets import Sealer

    ev(workspace, "channel", "add", "mastodon", "--name", "m", "--base-url", "https://x.example",
       "--secret", "token=-", stdin="tok-very-secret\n")
    with workspace.store.begin() as tx:
        dump = " ".join(str(v) for row in tx.conn.execute(sa.text("SELECT * FROM connections"))
                        for v in row)
        sealed = tx.connections.get("m").sealed
    assert "tok-very-secret" not in dump
    secrets = Sealer("k" * 32).unseal(sealed)
    assert secrets["token"].reveal() == "tok-very-secret"
    assert "tok-very-secret" not in repr(secrets) and "tok-very-secret" not in f"{secrets['token']}"
    with pytest.raises(RuntimeError, match="EV_SECRET_KEY changed"):
        Sealer("another key entirely!!").unseal(sealed)
