"""The Signals page and the correction form over a real store."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_web import _mention, csrf_of, login, post

from escapevelocity.config import Settings
from escapevelocity.services import learning
from escapevelocity.web.app import create_app


@pytest.fixture
def app(workspace):
    settings = Settings(database_url="unused", secret_key="s" * 32, max_body_bytes=200_000,
                        max_batch=50)
    return create_app(workspace, settings)


def test_signals_page_and_a_correction(app, workspace):
    token = workspace.new_api_token("test")
    with TestClient(app) as client:
        assert client.get("/signals", follow_redirects=False).status_code == 303  # login first
        case_id = post(client, token, _mention(1, "<b>my router</b> is zorped")
                       ).json()["case_ids"][0]
        login(client, "ana")  # the hub sees every queue
        page = client.get("/signals")
        assert page.status_code == 200 and "Model cards" in page.text
        assert "<b>my router</b>" not in page.text
        csrf = csrf_of(page.text)
        r = client.post("/signals/corrections", data={"case_id": case_id, "signal": "complaint",
                                                      "label": "complaint", "csrf": csrf},
                        follow_redirects=False)
        assert r.status_code == 303
        assert learning.correction_counts(workspace.store) == {"complaint": {"complaint": 1}}
        # what the rules said is read from the stored mention, for the signal corrected
        assert [c.rule_label for c in learning.corrections(workspace.store)] == ["not_complaint"]
        severity = client.post("/signals/corrections", data={
            "case_id": case_id, "signal": "severity", "label": "blame", "was": "neutral",
            "csrf": csrf}, follow_redirects=False)
        assert severity.status_code == 303
        assert learning.corrections(workspace.store)[-1].rule_label == "no_explicit_reproach"
        bad = client.post("/signals/corrections", data={"case_id": case_id, "signal": "mood",
                                                        "label": "x", "csrf": csrf})
        assert bad.status_code == 422
        forged = client.post("/signals/corrections", data={"case_id": case_id,
                                                           "signal": "complaint",
                                                           "label": "complaint", "csrf": "no"})
        assert forged.status_code == 403
        assert "complaint" in client.get("/signals").text
