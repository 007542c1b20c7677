"""The playbook editor over a real store (SQLite and PostgreSQL): versions list, save as a new
version with a note, request activation, approve / reject by the approver, CSRF and roles."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from web_kit import login

from escapevelocity.domain.playbook import default_playbook_path
from escapevelocity.services import playbooks

# the demo workspace is seeded with the demo playbook
SOURCE = (Path(default_playbook_path()).parent.parent / "demo" / "playbook.yaml").read_text()
NAME = "name: Orbit Telecom default playbook"


def session(app, member: str) -> tuple[TestClient, str]:
    return login(app, member, page="/playbook")


def row(html: str, version: int) -> str:
    return re.search(rf'<tr data-version="{version}".*?</tr>', html, re.S).group(0)


def test_edit_save_request_and_approve(app, workspace):
    sam, csrf = session(app, "sam")
    page = sam.get("/playbook")
    assert "Save as a new version" in page.text and 'data-version="1"' in page.text
    assert "(active)" in page.text and NAME.removeprefix("name: ") in page.text
    source = SOURCE.replace(NAME, "name: Legal checked\nactivation_approval: legal")
    r = sam.post("/playbook/save", data={"csrf": csrf, "source": source, "activate": "1",
                                         "note": "<script>alert(1)</script> tone"},
                 follow_redirects=False)
    assert r.status_code == 303 and "awaits" not in r.headers["location"]  # not in the URL
    page = sam.get(r.headers["location"]).text
    assert "version 2 awaits approval by legal (omar)" in page
    assert "awaits approval" not in sam.get("/playbook").text  # shown once
    v2 = row(page, 2)
    assert "pending" in v2 and "awaits <strong>legal</strong>" in v2
    assert "&lt;script&gt;alert(1)&lt;/script&gt; tone" in v2 and "<script>alert" not in v2
    assert "/approve" not in v2  # the requester does not approve
    assert playbooks.versions(workspace.store)[0].status == "pending"

    omar, omar_csrf = session(app, "omar")
    v2 = row(omar.get("/playbook").text, 2)
    assert "/playbook/versions/2/approve" in v2 and "Save as a new version" not in v2
    r = omar.post("/playbook/versions/2/approve", data={"csrf": omar_csrf, "note": "ok"},
                  follow_redirects=False)
    assert r.status_code == 303
    page = omar.get("/playbook").text
    assert 'id="playbook-title">Legal checked' in page and "(active)" in page
    assert "Legal checked flowchart" in page  # the diagram is the new version's
    assert "approved by <strong class=\"approved-by\">omar</strong> (legal)" in row(page, 2)
    assert "retired" in row(page, 1)


def test_refusals_keep_the_text_and_say_why(app, workspace):
    sam, csrf = session(app, "sam")
    broken = SOURCE.replace("then: {track: pr, tags: [misinformation]}",
                            "then: {track: pr, tags: [misinformation], priority: urgent}")
    r = sam.post("/playbook/save", data={"csrf": csrf, "source": broken, "note": "x"})
    assert r.status_code == 422 and "not saved: draft:" in r.text
    assert "rule &#39;misinformation&#39;" in r.text and "priority: urgent" in r.text
    r = sam.post("/playbook/save", data={"csrf": csrf, "source": SOURCE + "\n# c\n"})
    assert r.status_code == 409 and "change note" in r.text
    r = sam.post("/playbook/save", data={"source": SOURCE + "\n# c\n", "note": "n"})
    assert r.status_code == 403  # no CSRF token
    assert len(playbooks.versions(workspace.store)) == 1

    eva, eva_csrf = session(app, "eva")  # an analyst reads and checks, never saves
    page = eva.get("/playbook").text
    assert "Save as a new version" not in page and ">Check</button>" in page
    r = eva.post("/playbook/save", data={"csrf": eva_csrf, "source": SOURCE + "\n# c\n",
                                         "note": "n"})
    assert r.status_code == 403 and "may not edit playbook" in r.text

    sam.post("/playbook/save", data={"csrf": csrf, "note": "hub",
                                     "source": SOURCE.replace(NAME, f"{NAME}\n"
                                                                    "activation_approval: hub")})
    r = sam.post("/playbook/versions/2/activate", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    r = sam.post("/playbook/versions/2/approve", data={"csrf": csrf})
    assert r.status_code == 403 and "wrote or asked" in r.text
    ana, ana_csrf = session(app, "ana")
    r = ana.post("/playbook/versions/2/reject", data={"csrf": ana_csrf, "note": " "})
    assert r.status_code == 409 and "needs a note" in r.text
    r = ana.post("/playbook/versions/2/reject", data={"csrf": ana_csrf, "note": "not yet"},
                 follow_redirects=False)
    assert r.status_code == 303
    assert "rejected by ana: “not yet”" in row(ana.get("/playbook").text, 2)
    assert ana.get("/playbook?version=9").status_code == 404
    shown = ana.get("/playbook?version=2").text
    assert "not active; the active version is 1" in shown


def test_a_crafted_link_cannot_put_a_success_banner_on_the_playbook_page(app):
    sam, _ = session(app, "sam")
    page = sam.get("/playbook", params={"msg": "Playbook approved. Call 0800 123 to confirm"})
    assert page.status_code == 200 and "0800" not in page.text
    assert 'class="flash ok"' not in page.text
