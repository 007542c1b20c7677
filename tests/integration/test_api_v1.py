"""The versioned API's contract (SQLite and PostgreSQL): cursor paging with Link headers, one
error shape, rate-limit headers and 429, Idempotency-Key on sends, token scopes, revocation and
expiry, the event feed in the member's sight, the reference page under the CSP, the tokens page
and `ev token`, and migration 0020 turning old tokens into ingest service tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from engage_kit import LEGAL, SUPPORT, events, open_case
from fastapi.testclient import TestClient
from test_migration_typed_events import _alembic
from typer.testing import CliRunner
from web_kit import login

from escapevelocity.adapters.store import SqlStore
from escapevelocity.cli.main import app as ev_app
from escapevelocity.domain import events as ev
from escapevelocity.domain.search import parse
from escapevelocity.services import cases as commands
from escapevelocity.services import search, tokens
from escapevelocity.web.api_v1.auth import RateLimiter


def _client(app, workspace, clock, member="ana", scopes=None, **kw):
    secret, info = tokens.create(workspace.store, clock, by=member, name="t", scopes=scopes,
                                 **kw)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client, info


def test_cases_page_by_cursor_through_every_visible_case(app, workspace, clock):
    opened = {open_case(workspace, clock, SUPPORT) for _ in range(5)}
    legal = open_case(workspace, clock, LEGAL)
    priya, _ = _client(app, workspace, clock, "priya")  # care liaison: not the legal case
    seen, url, pages = [], "/api/v1/cases?limit=2", 0
    while url:
        r = priya.get(url)
        assert r.status_code == 200, r.text
        assert int(r.headers["RateLimit-Remaining"]) >= 0 and r.headers["RateLimit-Limit"]
        body = r.json()
        seen += [c["id"] for c in body["items"]]
        link = r.headers.get("Link")
        assert (link is None) == (body["next_cursor"] is None)
        url = re.match(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        pages += 1
    assert pages >= 3 and len(seen) == len(set(seen))  # no case twice across pages
    assert opened <= set(seen) and legal not in seen
    mine = priya.get("/api/v1/cases", params={"q": "BILL IS", "limit": 200}).json()["items"]
    assert {c["id"] for c in mine} >= opened
    assert priya.get("/api/v1/cases", params={"q": "no such words"}).json()["items"] == []
    bad = priya.get("/api/v1/cases", params={"cursor": "not-ours"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"


def test_search_is_the_pages_search_in_the_members_sight(app, workspace, clock):
    billing = {open_case(workspace, clock, SUPPORT) for _ in range(3)}
    legal = open_case(workspace, clock, LEGAL)
    priya, _ = _client(app, workspace, clock, "priya")  # care liaison: not the legal case
    r = priya.get("/api/v1/search", params={"q": "bill", "per_page": 200})
    assert r.status_code == 200, r.text
    found = {c["id"] for c in r.json()["items"]}
    assert billing <= found and legal not in found and r.json()["total"] >= 3
    assert priya.get("/api/v1/search", params={"q": "lawsuit"}).json()["items"] == []
    # the /search page's own answer to the same query, case for case
    same = search.find(workspace.store, clock, "priya", parse({"q": "bill", "per_page": "200"}))
    assert [c.id for c in same["rows"]] == [c["id"] for c in r.json()["items"]]
    bad = priya.get("/api/v1/search", params={"channel": "myspace"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_filter"
    assert "myspace" in bad.json()["error"]["message"]


def test_errors_have_one_shape_with_stable_codes(app, workspace, clock):
    ana, _ = _client(app, workspace, clock)
    answers = {
        "unauthorized": TestClient(app).get("/api/v1/cases"),
        "case_not_found": ana.get("/api/v1/cases/c000000000000"),
        "invalid_request": ana.get("/api/v1/cases", params={"limit": 0}),
        "not_found": ana.get("/api/v1/no-such-route"),
    }
    cid = open_case(workspace, clock, SUPPORT)
    commands.claim(workspace.store, clock, cid, "tom")
    answers["claim_taken"] = ana.post(f"/api/v1/cases/{cid}/claim")
    eva, _ = _client(app, workspace, clock, "eva")
    answers["forbidden"] = eva.post(f"/api/v1/cases/{cid}/notes", json={"text": "hi"})
    for code, r in answers.items():
        assert r.json() == {"error": {"code": code, "message": r.json()["error"]["message"]}}, \
            (code, r.status_code, r.text)
        assert r.json()["error"]["message"]
    assert answers["claim_taken"].status_code == 409
    assert "tom" in answers["claim_taken"].json()["error"]["message"]


def test_an_idempotency_key_sends_once(app, workspace, clock):
    ana, _ = _client(app, workspace, clock)
    cid = open_case(workspace, clock, SUPPORT)
    assert ana.post(f"/api/v1/cases/{cid}/claim").status_code == 200
    key = {"Idempotency-Key": "reply-1"}
    body = {"text": "We are sorry: a refund is on its way."}
    first = ana.post(f"/api/v1/cases/{cid}/reply", json=body, headers=key)
    again = ana.post(f"/api/v1/cases/{cid}/reply", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert [e.kind for e in events(workspace, cid)].count(ev.REPLIED) == 1
    other = ana.post(f"/api/v1/cases/{cid}/reply", json={"text": "else"}, headers=key)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    # without a key the same words are another send (the member holds the claim no more)
    again = ana.post(f"/api/v1/cases/{cid}/reply", json=body)
    assert again.status_code == 409
    # a failed attempt keeps nothing: the key can be used once it would succeed
    cid2 = open_case(workspace, clock, SUPPORT)
    key2 = {"Idempotency-Key": "reply-2"}
    assert ana.post(f"/api/v1/cases/{cid2}/reply", json=body, headers=key2).status_code == 409
    ana.post(f"/api/v1/cases/{cid2}/claim")
    assert ana.post(f"/api/v1/cases/{cid2}/reply", json=body, headers=key2).status_code == 200


def test_approve_with_a_key_sends_the_draft_once(app, workspace, clock):
    cid = open_case(workspace, clock, LEGAL)
    commands.claim(workspace.store, clock, cid, "leo")
    commands.reply(workspace.store, clock, cid, "leo", "Sorry. Please DM us.")
    [held] = [e for e in events(workspace, cid) if e.kind == ev.APPROVAL_REQUESTED]
    omar, _ = _client(app, workspace, clock, "omar")
    url = f"/api/v1/cases/{cid}/drafts/{held.data['draft']}/approve"
    answers = [omar.post(url, json={}, headers={"Idempotency-Key": "ok-1"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].json()["event"]["kind"] == "replied"
    assert [e.kind for e in events(workspace, cid)].count(ev.REPLIED) == 1


def test_rate_limit_headers_and_429(app, workspace, clock):
    app.state.api_limiter = RateLimiter(3)
    ana, _ = _client(app, workspace, clock)
    answers = [ana.get("/api/v1/me") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert answers[3].json()["error"]["code"] == "rate_limited"
    assert int(answers[3].headers["Retry-After"]) >= 1


def test_scopes_revocation_and_expiry(app, workspace, clock):
    ingest, info = _client(app, workspace, clock, "sam", kind="service", scopes=["ingest"])
    assert info.member is None
    r = ingest.get("/api/v1/cases")
    assert r.status_code == 403 and r.json()["error"]["code"] == "insufficient_scope"
    r = ingest.post("/api/v1/mentions", json={"source_id": "s1", "channel": "twitter",
                                              "text": "my bill is wrong", "author":
                                              {"handle": "kim"},
                                              "created_at": "2026-11-20T13:59:00Z"})
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert ingest.post("/api/v1/mentions", json=[{"text": ""}]).json()["error"]["code"] \
        == "no_valid_mention"
    reader, _ = _client(app, workspace, clock, "ana", scopes=["cases:read"])
    cid = open_case(workspace, clock, SUPPORT)
    assert reader.get(f"/api/v1/cases/{cid}").status_code == 200
    assert reader.post(f"/api/v1/cases/{cid}/claim").json()["error"]["code"] \
        == "insufficient_scope"
    for bad in ({"kind": "service"}, {"kind": "personal", "scopes": ["ingest"]},
                {"kind": "service", "scopes": ["cases:read"]}):
        try:
            tokens.create(workspace.store, clock, by="ana", name="x", **bad)
        except (tokens.TokenError, PermissionError):
            continue
        raise AssertionError(f"made a token it should not: {bad}")
    ana, info = _client(app, workspace, clock, "ana")
    assert ana.get("/api/v1/me").status_code == 200
    tokens.revoke(workspace.store, clock, by="ana", token_id=info.id)
    assert ana.get("/api/v1/me").status_code == 401
    brief, _ = _client(app, workspace, clock, "ana", expires=clock.now() + timedelta(hours=1))
    assert brief.get("/api/v1/me").status_code == 200
    clock.advance(hours=2)
    assert brief.get("/api/v1/me").status_code == 401
    with workspace.store.begin() as tx:
        kinds = [e.kind for e in tx.events.since(0, 10_000) if e.stream.startswith("token:")]
    assert kinds.count(ev.TOKEN_CREATED) >= 4 and kinds.count(ev.TOKEN_REVOKED) == 1
    # the tokens' streams share the log but are not cases: a rebuild makes no case of them
    with workspace.store.begin() as tx:
        before = tx.cases.count()
    assert commands.rebuild_projection(workspace.store) == before


def test_the_event_feed_pages_by_id_within_sight(app, workspace, clock):
    care = open_case(workspace, clock, SUPPORT)
    legal = open_case(workspace, clock, LEGAL)
    priya, _ = _client(app, workspace, clock, "priya")
    sam, _ = _client(app, workspace, clock, "sam")
    got, after = [], 0
    while True:
        page = priya.get("/api/v1/events", params={"after": after, "limit": 3}).json()
        got += page["items"]
        if page["next_cursor"] == after:
            break
        after = page["next_cursor"]
    streams = {e["stream"] for e in got}
    assert care in streams and legal not in streams
    assert not any(s.startswith("token:") for s in streams)  # workspace events: admins
    seqs = [e["seq"] for e in got]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    everything = sam.get("/api/v1/events", params={"limit": 500}).json()["items"]
    assert {legal, care} <= {e["stream"] for e in everything}
    assert any(e["stream"].startswith("token:") for e in everything)


def test_reference_page_and_openapi_describe_every_route(app):
    client = TestClient(app)
    spec = client.get("/api/openapi.json").json()
    v1 = {p: item for p, item in spec["paths"].items() if p.startswith("/api/v1/")}
    assert len(v1) >= 20
    for path, item in v1.items():
        for method, op in item.items():
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok and op["responses"][ok[0]].get("content"), (method, path)
            assert "401" in op["responses"], (method, path)
    page = client.get("/api/reference")
    assert page.status_code == 200 and "script-src 'self'" in page.headers[
        "content-security-policy"]
    # in the app's layout (its own scripts, from /static): nothing inline, for the CSP
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text) and "style=" not in page.text
    for path in v1:
        assert path in page.text


def test_the_tokens_page_makes_shows_once_and_revokes(app, workspace, clock):
    ana, csrf = login(app, "ana", page="/settings/tokens")
    r = ana.post("/settings/tokens", data={"csrf": csrf, "name": "laptop script",
                                           "scope_cases:read": "on", "days": "30"})
    assert r.status_code == 200
    secret = re.search(r'id="token-secret">([^<]+)<', r.text).group(1)
    api = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    me = api.get("/api/v1/me").json()
    assert me["member"]["id"] == "ana" and me["scopes"] == ["cases:read"]
    assert me["token"]["expires_at"]
    listing = ana.get("/settings/tokens").text
    assert "laptop script" in listing and secret not in listing
    refused = ana.post("/settings/tokens", data={"csrf": csrf, "name": "svc",
                                                 "kind": "service", "scope_ingest": "on"})
    assert refused.status_code == 422 and "may not configure" in refused.text
    r = ana.post(f"/settings/tokens/{me['token']['id']}/revoke", data={"csrf": csrf},
                 follow_redirects=False)
    assert r.status_code == 303
    assert api.get("/api/v1/me").status_code == 401


def test_ev_token_create_list_revoke(workspace):
    def ev_(*args):
        r = CliRunner().invoke(ev_app, ["token", *args, "--database", workspace.store.url],
                               env={"COLUMNS": "200"})
        return r.exit_code, r.stdout + r.stderr

    def last_stdout(*args):
        r = CliRunner().invoke(ev_app, ["token", *args, "--database", workspace.store.url])
        return r.exit_code, r.stdout.strip().splitlines()[-1]

    code, secret = last_stdout("create", "crm-sync", "--as", "sam", "--service", "--scope",
                               "cases:read", "--member", "ana")
    assert code == 0 and secret.startswith("ev_"), secret
    code, out = ev_("create", "bot", "--as", "ana", "--service", "--scope", "ingest")
    assert code == 1 and "may not configure" in out
    code, listing = ev_("list")
    assert code == 0 and "crm-sync" in listing and "cases:read" in listing
    assert secret not in listing
    token_id = re.search(r"([0-9a-f]{12}) .*crm-sync", listing).group(1)
    code, out = ev_("revoke", token_id, "--as", "priya")  # not hers; she is no admin
    assert code == 1
    code, out = ev_("revoke", token_id, "--as", "sam")
    assert code == 0 and "revoked" in out
    assert tokens.principal(workspace.store, workspace.clock, secret) is None


def test_0020_turns_old_tokens_into_ingest_service_tokens(db_url):
    store = SqlStore(db_url)
    try:
        store.migrate()
        _alembic(store, "downgrade", "0008_typed_events")
        with store.engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO api_tokens (token_hash, name, created_at, scopes)"
                                 " VALUES ('abc123abc123ff', 'old', CURRENT_TIMESTAMP, '')"))
        _alembic(store, "upgrade", "head")
        with store.begin() as tx:
            [old] = tx.signin.list_tokens()
        assert (old.scopes, old.kind, old.member) == ("ingest", "service", None)
    finally:
        store.close()
