"""The Signals page and the correction form over a real store."""

from __future__ import annotations

from fastapi.testclient import TestClient
from test_web import _mention, csrf_of, login, post

from escapevelocity.services import learning


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


def test_a_correction_re_decides_the_case(app, workspace):
    from escapevelocity.domain import events as ev

    token = workspace.new_api_token("test")
    with TestClient(app) as client:
        case_id = post(client, token, _mention(2, "my cat just knocked over my coffee lol")
                       ).json()["case_ids"][0]
        with workspace.store.begin() as tx:
            before = tx.cases.get(case_id)
        assert (before.track, before.respond) == ("monitor", False)
        login(client, "ana")
        csrf = csrf_of(client.get(f"/cases/{case_id}").text)
        form = client.get(f"/cases/{case_id}/correction-form", params={"signal": "sentiment"})
        labels = form.text.split('name="label"')[1]
        assert 'value="positive"' in labels and 'value="complaint"' not in labels
        r = client.post("/signals/corrections", data={
            "case_id": case_id, "signal": "situation", "label": "complaint",
            "why": "the coffee was ours", "csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        with workspace.store.begin() as tx:
            after = tx.cases.get(case_id)
            events = tx.events.stream(case_id)
        assert (after.track, after.team, after.respond) == ("support", "care", True)
        assert after.situation == "complaint" and after.sla_due != before.sla_due
        decided = [e for e in events if e.kind == ev.DECIDED][-1]
        assert decided.actor == "ana" and decided.data["corrected"] == {
            "signal": "situation", "from": "off_topic", "to": "complaint",
            "why": "the coffee was ours"}
        # the complaint model learns from it
        assert learning.corrections(workspace.store)[-1].signal == "complaint"
        for signal, label, field, want in (("track", "pr", "team", "pr"),
                                           ("priority", "p1", "priority", "p1")):
            r = client.post("/signals/corrections", data={
                "case_id": case_id, "signal": signal, "label": label, "csrf": csrf},
                follow_redirects=False)
            assert r.status_code == 303
            with workspace.store.begin() as tx:
                assert getattr(tx.cases.get(case_id), field) == want
        bad = client.post("/signals/corrections", data={
            "case_id": case_id, "signal": "situation", "label": "p1", "csrf": csrf})
        assert bad.status_code == 422
        assert "Save and re-decide" in client.get(f"/cases/{case_id}").text


def test_a_correction_written_over_by_a_clock_job_decides_again(app, workspace, monkeypatch):
    """The correction's read is stale once (a clock job wrote the case in between): it loses
    the version check and runs again on the fresh case, instead of answering the member
    "the case changed… reload and try again" (a browser test timed out on that page at
    JOBS=4); a case that keeps changing still gets the refusal, as a page."""
    import msgspec

    from escapevelocity.services import corrections

    token = workspace.new_api_token("test")
    real, stale = corrections.load, {"left": 1}

    def load(tx, case_id):  # the case as it was one write ago, while reads are left
        case = real(tx, case_id)
        if stale["left"] > 0:
            stale["left"] -= 1
            return msgspec.structs.replace(case, version=case.version - 1)
        return case

    with TestClient(app) as client:
        case_id = post(client, token, _mention(3, "my dog ate my homework lol")
                       ).json()["case_ids"][0]
        login(client, "ana")
        csrf = csrf_of(client.get(f"/cases/{case_id}").text)
        monkeypatch.setattr(corrections, "load", load)
        form = {"case_id": case_id, "signal": "situation", "label": "complaint", "csrf": csrf}
        r = client.post("/signals/corrections", data=form, follow_redirects=False)
        assert r.status_code == 303 and stale["left"] == 0
        with workspace.store.begin() as tx:
            assert tx.cases.get(case_id).situation == "complaint"
        stale["left"] = 99
        r = client.post("/signals/corrections", data={**form, "label": "question"},
                        follow_redirects=False)
        assert r.status_code == 409 and "changed while you were working" in r.text
        assert stale["left"] == 99 - 3 and "<html" in r.text
