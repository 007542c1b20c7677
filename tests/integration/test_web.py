"""The web app over a real store (SQLite file and PostgreSQL): auth, CSRF, inbox, case actions,
the mentions API's answers to bad input, and escaping of hostile mention text."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

PASSWORD = "correct horse battery"
XSS = ['<script>window.__xss=1</script> my bill is wrong',
       '<img src=x onerror="window.__xss=1"> refund please',
       '"><svg onload=alert(1)> still waiting on my router']


def _mention(i: int, text: str, handle: str | None = None, **extra) -> dict:
    return {"source_id": f"t{i}", "channel": "twitter", "text": text,
            "author": {"handle": handle or f"user{i}", "name": f"User {i}"},
            "created_at": "2026-11-20T13:59:00Z", **extra}


@pytest.fixture
def token(workspace) -> str:
    return workspace.new_api_token("test")


def login(client: TestClient, member: str, password: str = PASSWORD):
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"member": member, "password": password, "csrf": csrf,
                                       "next": "/inbox"}, follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def post(client: TestClient, token: str, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/mentions", content=data,
                       headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/json", **headers})


def test_pages_need_a_login_and_a_wrong_password_is_refused(app):
    with TestClient(app) as client:
        r = client.get("/inbox", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert client.get("/playbook", follow_redirects=False).status_code == 303
        r = login(client, "priya", "wrong")
        assert r.status_code == 401 and "do not match" in r.text
        assert login(client, "priya").status_code == 303
        assert client.get("/inbox").status_code == 200


def test_forms_without_the_session_csrf_token_are_refused(app, workspace, token):
    with TestClient(app) as client:
        case_id = post(client, token, _mention(1, "my router is broken, please help")
                       ).json()["case_ids"][0]
        login(client, "priya")
        r = client.post(f"/cases/{case_id}/claim", data={"csrf": "forged"})
        assert r.status_code == 403
        r = client.get("/login")  # a login form posted from elsewhere fails too
        other = TestClient(app)
        assert other.post("/login", data={"member": "priya", "password": PASSWORD,
                                          "csrf": "x"}).status_code == 403


def test_security_headers_forbid_inline_and_foreign_scripts(app):
    with TestClient(app) as client:
        r = client.get("/login")
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_inbox_shows_the_team_s_cases_soonest_sla_first(app, token, clock):
    with TestClient(app) as client:
        texts = ["my bill is wrong, charged twice", "the Orbit One battery caught fire",
                 "love the new app, thanks!"]
        r = post(client, token, [_mention(i, t) for i, t in enumerate(texts)])
        assert r.status_code == 202 and r.json()["accepted"] == 3
        login(client, "ana")  # hub member: sees every spoke
        html = client.get("/inbox").text
        dues = re.findall(r'data-case="(c[0-9a-f]{12})"', html)
        assert len(dues) >= 2
        store = app.state.workspace.store
        with store.begin() as tx:
            due = [tx.cases.get(c).sla_due for c in dues]
        assert due == sorted(due)


def test_a_spoke_member_cannot_open_another_spoke_s_case(app, token):
    with TestClient(app) as client:
        case_id = post(client, token, _mention(7, "my Orbit One phone caught fire, I'm burned")
                       ).json()["case_ids"][0]
        store = app.state.workspace.store
        with store.begin() as tx:
            team = tx.cases.get(case_id).team
        outsider = "omar" if team != "legal" else "priya"
        login(client, outsider)
        assert client.get(f"/cases/{case_id}").status_code == 404
        assert case_id not in client.get("/inbox").text


def test_claim_reply_resolve_from_the_case_page(app, token, workspace, clock):
    with TestClient(app) as client:
        case_id = post(client, token, _mention(2, "still waiting for my refund, 3 weeks now")
                       ).json()["case_ids"][0]
        login(client, "priya")
        page = client.get(f"/cases/{case_id}").text
        assert "Rule <code>" in page and "Who is asking" in page and "Routing" in page
        csrf = csrf_of(page)
        r = client.post(f"/cases/{case_id}/claim", data={"csrf": csrf}, headers={"HX-Request": "1"})
        assert "You hold this case" in r.text and 'name="text"' in r.text
        r = client.post(f"/cases/{case_id}/reply", data={"csrf": csrf, "template": "empathy",
                                                          "text": "Hi, sorry! DM us please."},
                        headers={"HX-Request": "1"})
        assert "Reply recorded" in r.text and "DM us please" in r.text
        r = client.post(f"/cases/{case_id}/resolve", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        with workspace.store.begin() as tx:
            kinds = [e.kind for e in tx.events.stream(case_id)]
        assert kinds.index("claimed") < kinds.index("replied") < kinds.index("resolved")


def test_a_second_member_is_told_who_holds_the_case(app, token, workspace):
    case_id = None
    with TestClient(app) as priya, TestClient(app) as ana:
        case_id = post(priya, token, _mention(3, "my internet has been down since monday")
                       ).json()["case_ids"][0]
        login(priya, "priya")
        login(ana, "ana")
        priya.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(priya.get("/inbox").text)})
        page = ana.get(f"/cases/{case_id}").text
        assert "Being answered by <strong>priya</strong>" in page
        r = ana.post(f"/cases/{case_id}/reply", headers={"HX-Request": "1"},
                     data={"csrf": csrf_of(page), "text": "me too"})
        assert "priya has claimed this case" in r.text
        with workspace.store.begin() as tx:
            kinds = [e.kind for e in tx.events.stream(case_id)]
        assert "replied" not in kinds


def test_hostile_text_is_escaped_and_pii_masked(app, token):
    with TestClient(app) as client:
        body = [_mention(10 + i, t) for i, t in enumerate(XSS)]
        body.append(_mention(20, "my account number is 12345678 and card 4111 1111 1111 1111"))
        ids = post(client, token, body).json()["case_ids"]
        login(client, "ana")
        pages = [client.get("/inbox?view=queue").text] + [client.get(f"/cases/{i}").text
                                                            for i in ids]
        for html in pages:
            assert "<script>window" not in html and "<img src=x" not in html
            assert "<svg onload" not in html
            assert "4111 1111 1111 1111" not in html and "12345678" not in html
        assert "&lt;script&gt;" in pages[1]


def test_api_answers_bad_input_with_a_4xx_that_says_what_is_wrong(app, token):
    with TestClient(app) as client:
        assert client.post("/api/mentions", json=_mention(1, "hi")).status_code == 401
        r = post(client, "ev_nope", _mention(1, "hi"))
        assert r.status_code == 401 and "not known" in r.json()["detail"]
        r = post(client, token, b"{not json")
        assert r.status_code == 400 and "not valid JSON" in r.json()["detail"]
        r = post(client, token, [])
        assert r.status_code == 400
        r = post(client, token, [_mention(i, "x") for i in range(51)])
        assert r.status_code == 400 and "limit is 50" in r.json()["detail"]
        r = post(client, token, b"x" * 300_000)
        assert r.status_code == 413 and "larger than" in r.json()["detail"]
        r = post(client, token, _mention(1, "hi"), **{"Content-Type": "text/plain"})
        assert r.status_code == 415
        r = post(client, token, {"channel": "twitter"})
        assert r.status_code == 422 and r.json()["refused"][0]["item"] == 1
        r = post(client, token, [_mention(1, "good one"), {"text": 5}, _mention(2, "y" * 10_001)])
        assert r.status_code == 202
        assert r.json()["accepted"] == 1 and [p["item"] for p in r.json()["refused"]] == [2, 3]


def test_api_is_idempotent_and_threads_replies(app, token, clock):
    with TestClient(app) as client:
        first = post(client, token, _mention(1, "my bill is wrong", handle="kim")).json()
        again = post(client, token, _mention(1, "my bill is wrong", handle="kim")).json()
        assert again["accepted"] == 0 and again["duplicates"] == 1
        clock.advance(minutes=5)
        reply = post(client, token, _mention(2, "hello?? anyone", handle="someone_else",
                                             in_reply_to="t1", kind="reply")).json()
        assert reply["case_ids"] == first["case_ids"] and reply["joined"] == 1


def test_live_stream_names_changed_cases_of_visible_teams_only(app, token, workspace):
    from escapevelocity.web.live import _changes

    class Req:  # the stream's query, without holding an HTTP stream open in a test
        def __init__(self, a):
            self.app = a

    with TestClient(app) as client:
        ids = post(client, token, [_mention(1, "my router is broken"),
                                   _mention(2, "my Orbit One battery exploded, hand burned")]
                   ).json()["case_ids"]
        org = app.state.org()
        with workspace.store.begin() as tx:
            teams = {i: tx.cases.get(i).team for i in ids}
        ana = org.member("ana")
        _, seen = _changes(Req(app), ana, 0)
        assert {c["case"] for c in seen} == set(ids)
        priya = org.member("priya")
        _, seen = _changes(Req(app), priya, 0)
        assert {c["case"] for c in seen} == {i for i in ids if teams[i] in priya.teams}


def test_healthz(app):
    with TestClient(app) as client:
        assert client.get("/healthz").json()["status"] == "ok"


def test_a_crafted_link_cannot_put_words_on_the_case_page(app, token):
    with TestClient(app) as client:
        case_id = post(client, token, _mention(40, "my router is broken")).json()["case_ids"][0]
        login(client, "ana")
        page = client.get(f"/cases/{case_id}?msg=Your+account+is+locked&err=Call+0800").text
        assert "Your account is locked" not in page and "Call 0800" not in page
        r = client.post(f"/cases/{case_id}/claim", data={"csrf": csrf_of(page)},
                        follow_redirects=False)
        assert r.headers["location"] == f"/cases/{case_id}"  # the outcome travels in the session
        assert "You hold this case" in client.get(r.headers["location"]).text
        assert "You hold this case" not in client.get(f"/cases/{case_id}").text  # shown once
