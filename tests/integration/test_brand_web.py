"""The Brand page: admins save a new profile version, others read it; the next mention is
triaged with the new profile."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from web_kit import login as web_login

from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import brand as brand_service


@pytest.fixture()
def app(app, workspace):
    return app, workspace


def login(http, member):
    return web_login(http, member, page="/brand")[1]


FORM = {"name": "Acme", "names": "Acme Co", "handles": "twitter: @AcmeHelp, @acme\n@acme_all",
        "products": "Fire TV Stick\nRoad Runner", "competitors": "", "executives": "W. Coyote",
        "hashtags": "KillerDeal", "note": "rebrand"}


def test_an_admin_saves_a_new_version_and_triage_uses_it(app):
    app, ws = app
    with TestClient(app) as http:
        csrf = login(http, "sam")  # the program lead: CONFIGURE
        page = http.get("/brand")
        assert page.status_code == 200 and "Orbit Telecom" in page.text
        r = http.post("/brand", data={**FORM, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303, r.text
        page = http.get("/brand").text
        assert "rebrand" in page and "Fire TV Stick" in page and "twitter: @acmehelp" in page
    profile, version = brand_service.current(ws.store)
    assert version.version == 2 and version.author == "sam"
    assert profile.handles == {"twitter": ("acmehelp", "acme"), "*": ("acme_all",)}
    assert profile.hashtags == ("#KillerDeal",)
    m = Mention(source_id="x", channel="twitter", text="@acmehelp nothing works. sort it out",
                author=Author(handle="bob"), created_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert ws.triager().signals(m).situation != "off_topic"


def test_others_may_read_but_not_save_and_bad_input_says_why(app):
    app, ws = app
    with TestClient(app) as http:
        csrf = login(http, "eva")  # analyst
        assert "Only an admin may edit" in http.get("/brand").text
        r = http.post("/brand", data={**FORM, "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 403
    with TestClient(app) as http:
        csrf = login(http, "sam")
        r = http.post("/brand", data={**FORM, "handles": "<script>x</script>", "csrf": csrf})
        assert r.status_code == 422 and "is not a handle" in r.text and "<script>x" not in r.text
    assert brand_service.current(ws.store)[1].version == 1
