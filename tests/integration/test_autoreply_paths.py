"""No automated reply in crisis mode or to an author the guardrails exclude, by ANY path.

The paths that can send a reply without a person (services/autoreply.PATHS):
  ingest  — services/intake.Intake.take (the HTTP mentions API, `ev ingest`, demo replay)
  worker  — services/worker.tick_all's autoreply job
  cli     — `ev answers auto CASE`
  web     — POST /cases/{id}/auto-reply (a signed-in member)
  api     — POST /api/auto-replies {"case_id": …} (a bearer token)
Each path is driven for real on a demo workspace whose playbook allows auto-replies on every
rule that could see these authors (so only the guard stands between them and a reply): a calm
customer's question gets the approved answer (the test can fail), an influencer, a journalist
and an angry author get nothing, and after a crisis is declared a calm customer gets nothing
either. `test_only_the_autoreply_service_writes_automated_replies` pins the enumeration: no
other module builds an automated reply event.
"""

from __future__ import annotations

import ast
import itertools
from importlib.resources import files
from pathlib import Path

import pytest
from typer.testing import CliRunner
from web_kit import login

from escapevelocity.domain import cases as projection
from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import answers, autoreply, cases
from escapevelocity.services.crisis import CrisisMode
from escapevelocity.services.ingest import ingest
from escapevelocity.services.intake import Intake

SRC = Path(autoreply.__file__).resolve().parents[1]
QUESTION = "How do I reset my password?"
ARTICLE = ("# How do I reset my password\nquestion: forgot my password | change my password\n\n"
           "Go to Settings > Security > Reset password; a link arrives by email.\n")
_n = itertools.count(1)


def _playbook() -> str:
    text = files("escapevelocity").joinpath("demo", "playbook.yaml").read_text()
    for rule, then in [("journalist", "{track: pr, template: press, notify: [pr-oncall], "
                                      "tags: [press]"),
                       ("influencer-complaint", "{track: support, priority: p2, sla_minutes: 30,"
                                                " template: empathy, tags: [influencer]"),
                       ("complaint", "{track: support, template: empathy"),
                       ("question", "{track: support, template: answer"),
                       ("negative-other", "{track: support, template: empathy")]:
        old = f"  - id: {rule}\n"
        start = text.index(old)
        at = text.index(then, start)
        text = text[:at] + then + ", auto_reply: true" + text[at + len(then):]
    return text


@pytest.fixture(autouse=True)
def _words_only(monkeypatch):
    monkeypatch.setenv("EV_ANSWER_VECTORS", "0")  # the same rule; no model load per test


@pytest.fixture
def ws(workspace, tmp_path):
    workspace.save_playbook(_playbook(), author="test")
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "password.md").write_text(ARTICLE)
    answers.store_entries(workspace.store, workspace.clock, "article",
                          answers.read_articles(kb), "test")
    return workspace


AUTHORS = {
    "calm": (Author(handle="calm", followers=40), QUESTION),
    "influencer": (Author(handle="star", followers=250_000), QUESTION),
    "journalist": (Author(handle="press", bio="Reporter at the Daily Planet"), QUESTION),
    "angry": (Author(handle="mad", followers=40),
              "How do I reset my password?? This is useless, worst app ever, I hate you"),
}


def _mention(ws, who: str) -> Mention:
    author, text = AUTHORS[who]
    n = next(_n)
    return Mention(source_id=f"q{n}", channel="twitter", text=text,
                   author=Author(handle=f"{author.handle}{n}", followers=author.followers,
                                 bio=author.bio), created_at=ws.clock.now())


def _open(ws, m: Mention) -> str:
    ingest(ws.store, ws.triager(), ws.clock, [m])
    return projection.case_id_for(m.key)


def _by(path: str, ws, app, who: str) -> str:
    """Drive `path` for a new case from `who`; returns the case id."""
    m = _mention(ws, who)
    if path == "ingest":
        Intake(ws, crisis=None).take([m])
        return projection.case_id_for(m.key)
    case_id = _open(ws, m)
    if path == "worker":
        from escapevelocity.services.worker import tick_all

        done = tick_all(ws)
        assert "autoreply" in done.done, done.failed
    elif path == "cli":
        from escapevelocity.cli.main import app as cli

        result = CliRunner().invoke(cli, ["answers", "auto", case_id, "--database",
                                          ws.store.url])
        assert result.exit_code in (0, 2), result.output
    elif path == "web":
        client, csrf = login(app, "ana")
        r = client.post(f"/cases/{case_id}/auto-reply", data={"csrf": csrf},
                        follow_redirects=False)
        assert r.status_code in (303, 200), r.text[:300]
    elif path == "api":
        from fastapi.testclient import TestClient

        token = ws.new_api_token(f"t{next(_n)}")
        r = TestClient(app).post("/api/auto-replies", json={"case_id": case_id},
                                 headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200, r.text
        assert r.json()["sent"] is (r.json()["reasons"][0].startswith("playbook allows"))
    return case_id


def _automated(ws, case_id: str) -> list:
    with ws.store.begin() as tx:
        return [e for e in tx.events.stream(case_id)
                if e.kind == ev.AUTO_REPLIED or (e.kind == ev.REPLIED
                                                 and e.actor == autoreply.AUTO_ACTOR)]


@pytest.mark.parametrize("path", autoreply.PATHS)
def test_no_automated_reply_in_crisis_or_to_excluded_authors(ws, app, path):
    calm = _by(path, ws, app, "calm")
    sent = _automated(ws, calm)
    assert [e.kind for e in sent] == [ev.REPLIED, ev.AUTO_REPLIED], path  # the control
    assert sent[1].path == path and sent[0].text.startswith("Hi ")
    assert bool(sent[1].by) is (path in ("cli", "web", "api"))  # who asked, when someone did
    for who in ("influencer", "journalist", "angry"):
        case_id = _by(path, ws, app, who)
        assert _automated(ws, case_id) == [], (path, who)
    CrisisMode.open(ws.store, ws.clock).declare("crisis1", by="sam", reason="test")
    case_id = _by(path, ws, app, "calm")
    assert _automated(ws, case_id) == [], (path, "crisis")


def test_a_withdrawn_automated_reply_requeues_the_case_and_is_counted(ws, app):
    case_id = _by("cli", ws, app, "calm")
    assert _automated(ws, case_id)
    event = autoreply.withdraw(ws.store, ws.clock, case_id, "ana", "wrong answer")
    assert event.kind == ev.AUTO_REPLY_WITHDRAWN and not event.error
    with ws.store.begin() as tx:
        assert tx.cases.get(case_id).state in ("queued", "assigned")
        assert tx.events.rollup("deflection") == {"auto_replied": 1, "auto_withdrawn": 1}
    assert autoreply.measure(ws.store)["withdrawn"] == 1


def test_the_case_page_shows_an_automated_reply_and_takes_it_back(ws, app):
    case_id = _by("web", ws, app, "calm")
    client, csrf = login(app, "ana", page=f"/cases/{case_id}")
    page = client.get(f"/cases/{case_id}").text
    assert "Answered automatically (web, asked by ana, score" in page
    assert "AUTOMATED reply" in client.get(f"/cases/{case_id}/audit").text
    r = client.post(f"/cases/{case_id}/auto-reply/withdraw", data={"csrf": csrf,
                                                                    "note": "not this one"},
                    follow_redirects=False)
    assert r.status_code == 303
    with ws.store.begin() as tx:
        assert tx.cases.get(case_id).state in ("queued", "assigned")
        assert [e.kind for e in tx.events.stream(case_id)][-1] == ev.AUTO_REPLY_WITHDRAWN
    assert "Withdraw the automated reply" not in client.get(f"/cases/{case_id}").text


def test_what_followed_an_automated_reply_is_measured(ws, app):
    case_id = _by("web", ws, app, "calm")  # the app runs on the test's clock (the CLI cannot)
    cases.resolve(ws.store, ws.clock, case_id, "ana")
    with ws.store.begin() as tx:
        first = tx.mentions.of_case(case_id)[0]
    ws.clock.advance(minutes=5)
    ingest(ws.store, ws.triager(), ws.clock, [Mention(
        source_id=f"back{next(_n)}", channel="twitter", kind="reply",
        in_reply_to=first.source_id, text="that did not work, still locked out, awful",
        author=Author(handle=first.author_handle), created_at=ws.clock.now())])
    got = autoreply.measure(ws.store)
    assert got["auto_replies"] == 1 and got["next_sentiment"] == {"negative": 1}
    assert got["reopened"] == 1 and got["reopen_rate"] == 1.0


def test_only_the_autoreply_service_writes_automated_replies():
    """The enumeration above is complete: AutoReplied is built in one module, which asks the
    guard, and every entry point reaches it through `autoreply.attempt` or `after_ingest`."""
    builders, guarded = [], []
    for path in SRC.rglob("*.py"):
        text = path.read_text()
        if "AutoReplied" not in text and "verdict" not in text:
            continue  # a module naming neither cannot call them
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if name == "AutoReplied":
                    builders.append(path.relative_to(SRC).as_posix())
                if name == "verdict":
                    guarded.append(path.relative_to(SRC).as_posix())
    assert builders == ["services/autoreply.py"]
    assert guarded == ["services/autoreply.py"]
    callers = sorted({p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
                      if "autoreply.attempt(" in p.read_text()
                      or "autoreply.after_ingest(" in p.read_text()
                      or "autoreply.tick(" in p.read_text()})
    assert callers == ["cli/answers.py", "services/intake.py", "services/worker.py",
                       "web/routes_answers.py"]
