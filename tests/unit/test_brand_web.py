"""The Brand page: admins save a new profile version, others read it; the next mention is
triaged with the new profile."""

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from escapevelocity.config import Settings
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import brand as brand_service
from escapevelocity.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture()
def app(tmp_path, clock):
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(f"sqlite:///{tmp_path / 'ev.db'}", clock)
    seed_demo(ws, password=PASSWORD)
    app = create_app(ws, Settings(database_url="unused", secret_key="p" * 32),
                     tick_seconds=None)
    yield app, ws
    ws.store.close()


def login(http, member):
    page = http.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    http.post("/login", data={"member": member, "password": PASSWORD, "csrf": csrf})
    return re.search(r'name="csrf" value="([^"]+)"', http.get("/brand").text).group(1)


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
