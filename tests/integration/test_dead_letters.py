"""The intake's dead letters replayed and discarded (services/dead_letters.py) on a real
nats-server of our own and PostgreSQL: from the page /admin/dead (admin only, CSRF, asked
first, one outcome per message) and from `ev dead`. A replayed mention that was stored
before makes no second case and no second event; each act is an audited event."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator

import pytest
import scale_kit
from fastapi.testclient import TestClient
from typer.testing import CliRunner
from web_kit import PASSWORD, login

from escapevelocity.bench import natsd
from escapevelocity.config import Settings
from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import dead_letters
from escapevelocity.services.intake import Intake
from escapevelocity.services.triage_worker import TriageWorker
from escapevelocity.web.app import create_app

pytestmark = pytest.mark.postgres
HELD = re.compile(r'<tr data-seq="(\d+)"')


@pytest.fixture(scope="module")
def nats_server() -> Iterator[natsd.NatsServer]:
    yield from scale_kit.nats_server()


def _mention(tag: str, n: int, now) -> Mention:
    return Mention(source_id=f"{tag}-{n}", channel="twitter", text=f"my bill is wrong ({n})",
                   author=Author(handle=f"{tag}user{n}"), created_at=now)


async def _js(url: str, prefix: str):
    from escapevelocity.adapters.bus.jetstream import JetStream

    return await JetStream(url, prefix).connect()


async def _kill(js, mentions: list[Mention], reason: str) -> None:
    """A message that died (say, while a bug was live), as the worker dead-letters one."""
    from escapevelocity.adapters.bus.jetstream import encode

    await _poison(js, encode(mentions), reason)


async def _poison(js, data: bytes, reason: str) -> None:
    await js.js.publish(js.dead_subject, data, headers={
        "Ev-Subject": js.subject(1), "Ev-Reason": reason, "Ev-Deliveries": "5"})


async def _drain(js, ws) -> None:
    worker = TriageWorker(Intake.open(ws), js, tick_seconds=None)
    task = asyncio.create_task(worker.run())
    deadline = time.monotonic() + 30
    try:
        while await js.lag() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await js.lag() == 0, "the intake was not drained"
    finally:
        worker.stop.set()
        await task


def _brought_in(ws, keys: set[str]) -> dict[str, int]:
    """How many log events brought each mention in (opened or mention_added)."""
    with ws.store.begin() as tx:
        found = tx.events.of_kinds((ev.OPENED, ev.MENTION_ADDED), limit=100_000)
    out: dict[str, int] = {}
    for e in found:
        if e.data.get("mention") in keys:
            out[e.data["mention"]] = out.get(e.data["mention"], 0) + 1
    return out


def _ev(ws, *args: str, prefix: str, bus: str):
    result = CliRunner().invoke(
        __import__("escapevelocity.cli.main", fromlist=["app"]).app, [*args],
        env={"COLUMNS": "200", "EV_SECRET_KEY": "k" * 32, "EV_BUS": bus,
             "EV_NATS_PREFIX": prefix, "EV_DATABASE_URL": ws.store.url})
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_replay_and_discard_from_the_page_and_the_cli(nats_server, workspace, monkeypatch):
    ws, prefix = workspace, f"d{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("EV_NATS_PREFIX", prefix)
    now = ws.clock.now()
    stored, fresh, spam = (_mention(prefix, n, now) for n in (1, 2, 3))

    async def set_up() -> None:
        js = await _js(nats_server.url, prefix)
        await js.publish([stored])
        await _drain(js, ws)  # `stored` is in, with its case
        await _kill(js, [stored, fresh], "TimeoutError: the database went away")
        await _poison(js, b"{not json", "does not decode")
        await _kill(js, [spam], "ValueError: spam flood")
        await js.close()

    asyncio.run(set_up())
    assert _brought_in(ws, {stored.key}) == {stored.key: 1}
    settings = Settings(database_url=ws.store.url, secret_key="s" * 32, bus=nats_server.url)
    app = create_app(ws, settings, tick_seconds=None, intake=Intake(ws))
    with TestClient(app) as client:
        _, csrf = login(client, "sam", PASSWORD, page="/admin/dead")
        page = client.get("/admin/dead").text
        both, bad, spam_seq = (int(s) for s in HELD.findall(page))
        assert f'name="seq" value="{both}"' in page and 'id="replay"' in page

        # not without the form's token; not for who may not configure
        r = client.post("/admin/dead", data={"action": "replayed", "seq": [str(both)]})
        assert r.status_code == 403
        ana, ana_csrf = login(app, "ana", PASSWORD)
        r = ana.post("/admin/dead", data={"csrf": ana_csrf, "action": "replayed",
                                          "seq": [str(both)], "confirm": "yes"})
        assert r.status_code == 404

        # asked first: the confirmation names what and which, and nothing happened yet
        r = client.post("/admin/dead", data={"csrf": csrf, "action": "replayed",
                                             "seq": [str(both), str(bad)]})
        assert r.status_code == 200 and 'id="confirm-yes"' in r.text
        assert "Yes, replay 2" in r.text and len(HELD.findall(r.text)) == 3
        r = client.post("/admin/dead", data={"csrf": csrf, "action": "replayed", "confirm": "yes",
                                             "seq": [str(both), str(bad)]})
        assert r.status_code == 200
        outcomes = dict(re.findall(r'data-result="(\d+)"><td>\d+</td><td>(\w+)</td>', r.text))
        assert outcomes == {str(both): "replayed", str(bad): "kept"}
        assert "1 done, 1 not." in r.text
        assert sorted(int(s) for s in HELD.findall(r.text)) == [bad, spam_seq]

        # a discard needs a reason, then is asked, then done once
        r = client.post("/admin/dead", data={"csrf": csrf, "action": "discarded",
                                             "seq": [str(spam_seq)], "reason": "  "})
        assert r.status_code == 422 and "say why" in r.text
        form = {"csrf": csrf, "action": "discarded", "seq": [str(spam_seq)],
                "reason": "spam <b>flood</b> from a bot"}
        r = client.post("/admin/dead", data=form)
        assert "Yes, discard 1" in r.text and "spam &lt;b&gt;flood&lt;/b&gt;" in r.text
        r = client.post("/admin/dead", data={**form, "confirm": "yes"})
        assert re.search(rf'data-result="{spam_seq}"><td>\d+</td><td>discarded', r.text)
        r = client.post("/admin/dead", data={**form, "confirm": "yes"})  # the form sent again
        assert re.search(rf'data-result="{spam_seq}"><td>\d+</td><td>gone', r.text)
        assert HELD.findall(r.text) == [str(bad)]
        assert 'id="dead-history"' in r.text

    async def drain() -> None:
        js = await _js(nats_server.url, prefix)
        await js.publish([stored, fresh])  # as if the replay ran twice (a crash in between)
        await _drain(js, ws)
        await js.close()

    asyncio.run(drain())
    # the replayed message held a mention stored before: still one event, one case, no more
    assert _brought_in(ws, {stored.key, fresh.key, spam.key}) == {stored.key: 1, fresh.key: 1}
    with ws.store.begin() as tx:
        audit = tx.events.stream(dead_letters.STREAM)
    assert [(e.actor, e.data["name"], e.data["after"]["state"]) for e in audit] == [
        ("sam", str(both), "replayed"), ("sam", str(spam_seq), "discarded")]
    assert audit[0].data["before"]["mentions"] == [stored.key, fresh.key]
    assert audit[1].data["before"]["mentions"] == [spam.key]
    assert audit[1].data["after"]["why"] == "spam <b>flood</b> from a bot"

    # the CLI: the one that does not decode cannot be replayed, and is discarded with a reason
    code, out, _ = _ev(ws, "dead", "replay", str(bad), prefix=prefix, bus=nats_server.url)
    assert code == 1 and out.split("\t")[:2] == [str(bad), "kept"]
    code, out, _ = _ev(ws, "dead", "discard", str(bad), "--reason", "junk", "--by", "ana",
                       prefix=prefix, bus=nats_server.url)
    assert code == 1 and "may not" in _ + out  # a community manager may not
    code, out, err = _ev(ws, "dead", "discard", str(bad), "--reason", "junk bytes", "--by",
                         "sam", prefix=prefix, bus=nats_server.url)
    assert code == 0 and out.split("\t")[:2] == [str(bad), "discarded"], err
    code, out, _ = _ev(ws, "dead", "list", prefix=prefix, bus=nats_server.url)
    assert code == 0 and out == ""
    with ws.store.begin() as tx:
        assert [e.data["before"]["bytes"] for e in tx.events.stream(dead_letters.STREAM)][-1] == 9
