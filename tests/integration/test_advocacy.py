"""Super users and advocates end to end: an author other customers thank by handle, who also
speaks well of us, becomes a candidate with the evidence and the cases; a member invites them,
records the acceptance, an activity and a reward (counted, each traceable); once accepted, a
question on what they are good at goes to the community spoke with its SLA clock unchanged."""

from __future__ import annotations

from importlib.resources import files

import yaml
from engage_kit import case
from typer.testing import CliRunner
from web_kit import login

from escapevelocity.cli.main import app as cli
from escapevelocity.domain import advocacy as adv
from escapevelocity.domain import cases as projection
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import advocacy
from escapevelocity.services.intake import Intake

POSTS = [("kim", "love the new Orbit app, great work"),
         ("kim", "the Orbit app is brilliant, thank you"),
         ("kim", "great service from Orbit today, love it"),
         ("lee", "thanks @kim that fixed my roaming problem"),
         ("max", "thank you so much @kim, roaming works again")]


def _with_community(ws) -> None:
    org = yaml.safe_load(files("escapevelocity").joinpath("demo", "org.yaml").read_text())
    org["teams"].append({"id": "community", "name": "Community", "kind": "spoke", "hub": "hub"})
    org["members"].append({"id": "cora", "name": "Cora Lane", "role": "liaison",
                           "teams": ["community"]})
    ws.apply_org(yaml.safe_dump(org))


def _post(ws, n: int, handle: str, text: str) -> str:
    m = Mention(source_id=f"adv{n}", channel="twitter", text=text,
                author=Author(handle=handle, followers=1200 if handle == "kim" else 10),
                created_at=ws.clock.now())
    Intake(ws, crisis=None).take([m])
    return projection.case_id_for(m.key)


def test_candidates_program_and_community_routing(workspace, app):
    ws = workspace
    _with_community(ws)
    cases = [_post(ws, n, h, t) for n, (h, t) in enumerate(POSTS)]
    found = advocacy.candidates(ws.store)
    kim = next(c for c, _ in found if c.handle == "kim")
    assert kim.score > adv.MIN_SCORE and "mobile" in kim.topics
    assert "thanked for helping by 2 other customers (@lee, @max)" in kim.evidence
    assert set(cases[3:]) <= set(kim.cases)  # the thanks are traceable to their cases
    assert all(c.handle not in ("lee", "max") for c, _ in found)

    client, csrf = login(app, "ana", page="/advocates")
    page = client.get("/advocates").text
    assert "@kim" in page and f'href="/cases/{cases[3]}"' in page
    client.post("/advocates/invite", data={"csrf": csrf, "channel": "twitter", "handle": "kim"})
    for entry, extra in [("accepted", {}), ("activity", {"text": "answered a roaming question",
                                                         "case": cases[4]}),
                         ("reward", {"value": "Orbit hoodie"})]:
        client.post("/advocates/ledger", data={"csrf": csrf, "channel": "twitter",
                                               "handle": "kim", "entry": entry, **extra})
    with ws.store.begin() as tx:
        assert tx.events.rollup("advocacy") == {"invited": 1, "accepted": 1, "activity": 1,
                                                "reward": 1}
        record = advocacy.program(tx)[adv.stream("twitter", "kim")]
    assert record["status"] == "accepted" and record["ledger"][1].case == cases[4]
    out = CliRunner().invoke(cli, ["answers", "report", "--database", ws.store.url]).output
    assert "accepted: 1" in out and "reward: 1" in out and f"(case {cases[4]})" in out

    # a question kim is good at goes to the community spoke; its SLA clock is its own
    asked = _post(ws, 99, "newbie", "how do I turn on roaming in spain?")
    got = case(ws, asked)
    assert got.team == "community" and got.situation == "question"
    assert got.sla_due == got.opened_at + __import__("datetime").timedelta(
        minutes=got.sla_minutes)
    other = _post(ws, 100, "newbie2", "how do I change my broadband router password?")
    assert case(ws, other).team != "community"


def test_thanks_are_read_from_the_words():
    assert adv.thanked("Thanks @Kim, that worked") == ["kim"]
    assert adv.thanked("thank you so much @lee.") == ["lee"]
    assert adv.thanked("@kim thanks") == [] and adv.thanked("I thank nobody") == []
