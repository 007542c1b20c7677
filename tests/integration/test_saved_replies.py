"""The saved-reply library in the web app: leads and admins edit it (audited), others may not;
a plain question preselects the reply written for questions (not the empathy template),
filled with its variables; a reply too long for the channel is refused; usage is counted."""

from __future__ import annotations

from engage_kit import case, open_case
from web_kit import login

from escapevelocity.domain import events as ev
from escapevelocity.domain import saved_replies as lib

QUESTION_REPLY = "Hi {{author}}, here is how: Settings > Plan. {{agent}} from the {{team}} team"


def test_the_library_end_to_end(workspace, app):
    ws = workspace
    lead, csrf = login(app, "tom", page="/replies")  # the care team's lead
    r = lead.post("/replies", data={"csrf": csrf, "name": "plan-question", "title": "Plan how-to",
                                     "team": "care", "situations": ["question"],
                                     "text": QUESTION_REPLY}, follow_redirects=False)
    assert r.status_code == 303
    long_text = "Hi {{author}}, " + "all the details " * 30
    lead.post("/replies", data={"csrf": csrf, "name": "long-story", "text": long_text})
    bad = lead.post("/replies", data={"csrf": csrf, "name": "typo", "text": "Hi {{autor}}"})
    assert "unknown variable autor" in bad.text
    with ws.store.begin() as tx:
        changes = tx.events.of_kind(ev.SAVED_REPLY_CHANGED)
    assert [(e.name, e.actor) for e in changes] == [("plan-question", "tom"),
                                                    ("long-story", "tom")]

    agent, agent_csrf = login(app, "ana", page="/replies")  # not a lead: reads, cannot edit
    assert "Team leads and admins edit the library" in agent.get("/replies").text
    r = agent.post("/replies", data={"csrf": agent_csrf, "name": "mine", "text": "hello"},
                   follow_redirects=False)
    assert r.status_code == 403

    # a plain question: the question's saved reply is preselected, variables filled
    case_id = open_case(ws, ws.clock, "how do I change my plan in the app?", handle="kim")
    assert case(ws, case_id).situation == "question"
    csrf = login(agent, "ana", page=f"/cases/{case_id}")[1]
    agent.post(f"/cases/{case_id}/claim", data={"csrf": csrf})
    page = agent.get(f"/cases/{case_id}").text
    assert 'value="saved:plan-question" data-text="Hi kim, here is how: Settings &gt; Plan. ' \
           'Ana Silva from the care team" selected' in page
    assert 'value="empathy"' in page and 'value="empathy" data-text' in page
    assert 'selected>empathy' not in page
    assert "too long: " in page  # the long one is marked for this twitter case
    # and it is ranked among the suggested answers, saying where it came from, filled
    assert "saved reply plan-question; shared words: plan" in page
    assert "Hi kim, here is how: Settings &gt; Plan. Ana Silva from the care team</p>" in page
    r = agent.post(f"/cases/{case_id}/reply", data={"csrf": csrf, "template": "saved:long-story",
                                                     "text": lib.fill(long_text, {})})
    assert "too long" in r.text and case(ws, case_id).state == "claimed"
    agent.post(f"/cases/{case_id}/reply", data={"csrf": csrf, "template": "saved:plan-question",
                                                 "text": "Hi kim, here is how: Settings > Plan."})
    assert case(ws, case_id).state == "replied"
    with ws.store.begin() as tx:
        assert tx.events.rollup("saved_replies") == {"plan-question": 1}


def test_filling_ranking_and_checks():
    replies = [lib.SavedReply(name="general", text="Hi {{author}}"),
               lib.SavedReply(name="q", text="Q", situations=("question",)),
               lib.SavedReply(name="legal-only", text="L", team="legal"),
               lib.SavedReply(name="praise", text="P", situations=("praise",))]
    ranked = lib.ranked(replies, "question", "care")
    assert [r.name for r in ranked] == ["q", "general", "praise"]
    assert lib.preselect(ranked, "question") == "q" and lib.preselect(ranked, "complaint") == ""
    assert lib.fill("Hi {{author}} {{nope}} {author_name}", {"author": "Kim"}) == \
        "Hi Kim {{nope}} Kim"
    assert lib.too_long("x" * 281, "twitter", 2000) and not lib.too_long("x" * 281, "email", 2000)
