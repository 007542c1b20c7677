"""The Team page over a real store: queue depth, presence, load, SLA met % from the event log,
visibility (a spoke sees its own team), and setting one's own presence with CSRF."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from web_kit import login

from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases as commands
from escapevelocity.services.ingest import ingest
from escapevelocity.services.sla import tick
from escapevelocity.web.routes_team import chart


def _ingest(ws, clock, texts, start=0):
    ms = [Mention(f"m{start + i}", "twitter", t, Author(f"user{start + i}"), clock.now())
          for i, t in enumerate(texts)]
    return ingest(ws.store, ws.triager(), clock, ms).case_ids


def _row(html: str, member: str) -> str:
    return re.search(rf'<tr data-member="{member}">(.*?)</tr>', html, re.S).group(1)


def test_team_page_shows_queue_presence_load_and_sla(app, workspace, clock):
    a, _b = _ingest(workspace, clock, ["my bill is wrong, I was overcharged twice",
                                      "I was charged twice on my bill"])
    clock.advance(minutes=5)
    commands.claim(workspace.store, clock, a, "tom")
    commands.reply(workspace.store, clock, a, "tom", "Sorry, we are on it.")
    for m in ("tom", "mei", "priya", "joe", "ana", "leo", "sam", "eva"):
        workspace.set_presence(m, "offline")
    _ingest(workspace, clock, ["my bill is wrong again, nobody answers"], start=2)
    clock.advance(minutes=120)
    tick(workspace)  # b breaches its first-response SLA
    with TestClient(app) as client:
        assert client.get("/team", follow_redirects=False).status_code == 303  # login first
        login(client, "ana")
        page = client.get("/team").text
        care = page[page.index('id="team-care"'):]
        assert '<strong class="queue-depth">2</strong>' in care
        assert "oldest due 65 min late" in care
        tom = _row(care, "tom")
        assert "offline" in tom and "100% of 1" in tom and "/15" in tom
        assert "<svg" in page and 'aria-label="SLA met % by team' in page
        # a met; b (requeued when tom left) and the third case breached
        assert "<tr><td>support</td><td>1</td><td>2</td><td>33%</td></tr>" in page
        assert 'href="/team" aria-current="page"' in page
        # priya is on a spoke: she sees her own team only
        client.post("/logout", data={"csrf": _csrf(page)})
        login(client, "priya")
        page = client.get("/team").text
        assert 'id="team-care"' in page and 'id="team-pr"' not in page


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def test_a_member_sets_their_own_presence_with_csrf(app, workspace, clock):
    with TestClient(app) as client:
        login(client, "priya")
        page = client.get("/team").text
        assert client.post("/team/presence", data={"presence": "away"}).status_code == 403
        r = client.post("/team/presence", data={"presence": "away", "csrf": _csrf(page)},
                        follow_redirects=False)
        assert r.status_code == 303
        assert client.post("/team/presence", data={"presence": "gone",
                                                   "csrf": _csrf(page)}).status_code == 422
        page = client.get("/team").text
        assert '<strong id="my-presence-now">away</strong>' in page
        assert "away" in _row(page, "priya")
    with workspace.store.begin() as tx:
        assert tx.org.presence()["priya"] == "away"


def test_auto_away_shows_on_the_page(app, workspace, clock):
    assert workspace.away_after is not None  # the running app turns auto-away on
    with TestClient(app) as client:
        login(client, "priya")  # logging in is activity
        clock.advance(minutes=15)
        page = client.get("/team").text
        assert '<strong id="my-presence-now">away</strong>' in page
        assert "you said online" in page


def test_chart_geometry_is_attributes_only():
    from escapevelocity.domain.sla import Tally

    c = chart([("Care", Tally(met=3, breached=1)), ("PR", None)])
    assert [b["width"] for b in c["bars"]] == [240, 0]
    assert c["bars"][0]["text"] == "75% of 4" and c["bars"][1]["text"] == "no data"
