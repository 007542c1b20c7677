"""The longest value each edge accepts is stored and read back on both backends, and one more
character is refused at that edge with the same words on both.

SQLite does not enforce VARCHAR lengths, so a value longer than its column passed every SQLite
test while PostgreSQL refused it mid-save with "value too long" (a spoke's event stream once:
test_governance_paths). Each test here drives an edge at its maximum through the service that
stores it; on the code before the edge checks, the over-long value went through on SQLite and
failed with a DataError on PostgreSQL instead of the edge's own error.
"""

from __future__ import annotations

import pytest

from escapevelocity.adapters.store import schema as t
from escapevelocity.domain import org as org_rules
from escapevelocity.domain.playbook import compiler
from escapevelocity.domain.playbook.errors import PlaybookError
from escapevelocity.domain.playbook.load import compile_playbook
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import admin, annotate, playbooks
from escapevelocity.services.ingest import ingest

ID, NAME = org_rules.MAX_ID, org_rules.MAX_NAME
TEAM = "t" * ID
TRACK = "k" * compiler.MAX_NAME
APPROVAL = "a" * compiler.MAX_NAME
TITLE = "n" * compiler.MAX_TITLE


def _playbook(*, name: str = TITLE, track: str = TRACK, team: str = TEAM,
              approval: str = APPROVAL) -> str:
    return (f"name: {name}\n"
            f"tracks:\n  {track}: {{team: {team}, sla: {{first_response: 60}}, "
            f"approval: {approval}}}\n"
            "rules: []\n"
            f"default: {{track: {track}}}\n")


def test_an_organisation_at_its_longest_ids_and_names(workspace):
    """teams.id and members.id hold 64, their names 200: the admin pages and `ev org apply`
    took any length (PostgreSQL: "value too long for type character varying(64)")."""
    ws = workspace
    admin.save_team(ws, "sam", org_rules.Team(id=TEAM, name="N" * NAME), create=True)
    member = "m" * ID
    admin.save_member(ws, "sam", org_rules.Member(id=member, name="M" * NAME, teams=[TEAM]),
                      create=True)
    with ws.store.begin() as tx:
        org = tx.org.load()
        assert org.team(TEAM).name == "N" * NAME and org.member(member).name == "M" * NAME
        assert tx.conn.execute(t.teams.select().where(t.teams.c.id == TEAM)).one().name \
            == "N" * NAME
    for team, why in ((org_rules.Team(id="u" * (ID + 1), name="x"), "an id is at most 64"),
                      (org_rules.Team(id="wide", name="N" * (NAME + 1)),
                       "a name is at most 200")):
        with pytest.raises(admin.AdminError, match=why):
            admin.save_team(ws, "sam", team, create=True)
    with pytest.raises(admin.AdminError, match="an id is at most 64"):
        admin.save_member(ws, "sam", org_rules.Member(id="v" * (ID + 1), name="x",
                                                      teams=[TEAM]), create=True)
    # one SQLite stored before the check still loads (and so routes)
    assert org_rules.load_org({"teams": [{"id": "u" * (ID + 1), "name": "x"}], "members": []},
                              stored=True).teams[0].id == "u" * (ID + 1)


def test_a_playbook_at_its_longest_names_decides_a_case(workspace, clock):
    """A case keeps the decision's track, team and approval (64 each) and the playbook its name
    (200); the playbook took any length and PostgreSQL refused the version, or the first case
    it decided."""
    ws = workspace
    admin.save_team(ws, "sam", org_rules.Team(id=TEAM, name="Longest"), create=True)
    playbooks.install(ws.store, clock, _playbook(), author="sam")
    m = Mention(source_id="longest-1", channel="twitter", text="hello, is anyone there?",
                author=Author(handle="h" * 200), created_at=clock.now())
    report = ingest(ws.store, ws.triager(), clock, [m])
    [case_id] = report.case_ids
    with ws.store.begin() as tx:
        case = tx.cases.get(case_id)
        assert (case.track, case.team, case.approval) == (TRACK, TEAM, APPROVAL)
        assert case.author_handle == "h" * 200
        assert tx.playbooks.versions()[-1]["name"] == TITLE
    for source, why in ((_playbook(name=TITLE + "n"), "the name is at most 200"),
                        (_playbook(track=TRACK + "k"), "a track's name is at most 64"),
                        (_playbook(team=TEAM + "t"), "a team is at most 64"),
                        (_playbook(approval=APPROVAL + "a"), "an approval is at most 64")):
        with pytest.raises(PlaybookError, match=why):
            playbooks.install(ws.store, clock, source, author="sam")
        # a version SQLite stored before the check still compiles, so triage goes on
        assert compile_playbook(source, version="v9", stored=True)


def test_a_customer_list_at_its_longest_crm_id_links_a_case(workspace, clock):
    """cases.crm_id holds 128, as a member's own id was checked; the customer list took any
    length and PostgreSQL refused the link only when a case was linked to it."""
    ws = workspace
    crm = "c" * annotate.MAX_CRM_ID
    annotate.set_customers(ws.store, clock, "sam", f"- crm_id: {crm}\n  handles: [longest]\n")
    m = Mention(source_id="longest-2", channel="twitter", text="hello, is anyone there?",
                author=Author(handle="longest"), created_at=clock.now())
    [case_id] = ingest(ws.store, ws.triager(), clock, [m]).case_ids
    annotate.link_crm(ws.store, clock, case_id, "sam")
    with ws.store.begin() as tx:
        assert tx.cases.get(case_id).crm_id == crm
    with pytest.raises(ValueError, match="a crm_id is at most 128"):
        annotate.set_customers(ws.store, clock, "sam", f"- crm_id: {crm}c\n  handles: [x]\n")
