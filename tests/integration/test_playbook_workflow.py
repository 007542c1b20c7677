"""Playbook versions as a workflow, on SQLite and PostgreSQL: save, list, activate, and the
approval of an activation (request → approve / reject), each step an event in "playbook:<n>"."""

from __future__ import annotations

from pathlib import Path

import pytest

from escapevelocity.domain import events as ev
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.playbook import PlaybookError, default_playbook_path
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import playbooks
from escapevelocity.services.cases import rebuild_projection
from escapevelocity.services.ingest import ingest
from escapevelocity.services.playbooks import PlaybookWorkflowError

# the demo workspace is seeded with the demo playbook
SOURCE = (Path(default_playbook_path()).parent.parent / "demo" / "playbook.yaml").read_text()
NAME = "name: Orbit Telecom default playbook"


def variant(title: str, approval: str = "") -> str:
    extra = f"\nactivation_approval: {approval}" if approval else ""
    return SOURCE.replace(NAME, f"name: {title}{extra}")


def kinds(store, number: int) -> list[tuple[str, str]]:
    with store.begin() as tx:
        return [(e.kind, e.actor) for e in tx.events.stream(playbooks.stream(number))]


def active(store) -> int:
    with store.begin() as tx:
        return tx.playbooks.active()[0]


def test_save_lists_versions_and_activates_without_approval(workspace, clock):
    store = workspace.store
    assert [v.status for v in playbooks.versions(store)] == ["active"]  # the seeded v1
    clock.advance(minutes=5)
    out = playbooks.save(store, clock, variant("Second"), member="sam", note="tone down spam")
    assert (out.version, out.status) == (2, "draft")
    newest, seeded = playbooks.versions(store)
    assert (newest.number, newest.author, newest.note, newest.status, newest.name) == (
        2, "sam", "tone down spam", "draft", "Second")
    assert newest.created_at == clock.now() and seeded.author == "system"
    assert kinds(store, 2) == [(ev.PLAYBOOK_SAVED, "sam")]

    out = playbooks.activate(store, clock, 2, member="sam")
    assert out.status == "active" and active(store) == 2
    assert [v.status for v in playbooks.versions(store)] == ["active", "retired"]
    assert kinds(store, 2)[-1] == (ev.PLAYBOOK_ACTIVATED, "sam")
    # the next decision uses the new version; the playbook streams are not cases
    m = Mention("m1", "twitter", "my bill is wrong, please help", Author("kim"), clock.now())
    case_id = ingest(store, workspace.triager(), clock, [m]).case_ids[0]
    with store.begin() as tx:
        assert tx.cases.get(case_id).playbook_version == "v2"
        assert tx.events.case_streams() == [case_id]
    assert rebuild_projection(store) == 1


def test_only_editors_save_and_a_broken_playbook_is_never_stored(workspace, clock):
    store = workspace.store
    with pytest.raises(PermissionDenied, match=r"priya .*may not edit playbook"):
        playbooks.save(store, clock, variant("X"), member="priya", note="n")
    with pytest.raises(PermissionDenied, match="not a member"):
        playbooks.save(store, clock, variant("X"), member="mallory", note="n")
    broken = SOURCE.replace("then: {track: pr, tags: [misinformation]}",
                            "then: {track: pr, tags: [misinformation], priority: urgent}")
    with pytest.raises(PlaybookError, match=r"^pb.yaml:\d+: rule 'misinformation'"):
        playbooks.save(store, clock, broken, member="sam", note="n", activate=True,
                       origin="pb.yaml")
    with pytest.raises(PlaybookWorkflowError, match="change note"):
        playbooks.save(store, clock, variant("X"), member="sam", note="  ")
    with pytest.raises(PlaybookWorkflowError, match="nothing changed"):
        playbooks.save(store, clock, SOURCE, member="sam", note="same again")
    assert len(playbooks.versions(store)) == 1 and active(store) == 1
    with pytest.raises(PlaybookWorkflowError, match="no playbook version 9"):
        playbooks.activate(store, clock, 9, member="sam")
    with pytest.raises(PlaybookWorkflowError, match="already the active"):
        playbooks.activate(store, clock, 1, member="sam")


def test_activation_needing_legal_waits_for_a_legal_approver(workspace, clock):
    store = workspace.store
    out = playbooks.save(store, clock, variant("Legal checked", "legal"), member="sam",
                         note="legal signs off", activate=True)
    assert (out.version, out.status, out.approver) == (2, "pending", "legal")
    assert active(store) == 1  # not before the approval
    with pytest.raises(PlaybookWorkflowError, match="already awaits approval by legal"):
        playbooks.activate(store, clock, 2, member="sam")
    with pytest.raises(PermissionDenied, match="team or role 'legal'"):
        playbooks.approve(store, clock, 2, member="priya")
    clock.advance(minutes=30)
    out = playbooks.approve(store, clock, 2, member="omar", note="fine by legal")
    assert out.status == "active" and active(store) == 2
    v2 = playbooks.versions(store)[0]
    assert (v2.status, v2.approver, v2.requested_by, v2.decided_by, v2.decision_note,
            v2.approved_by, v2.activated_at) == ("active", "legal", "sam", "omar",
                                                 "fine by legal", "omar", clock.now())
    assert kinds(store, 2) == [(ev.PLAYBOOK_SAVED, "sam"), (ev.PLAYBOOK_REQUESTED, "sam"),
                               (ev.PLAYBOOK_APPROVED, "omar"), (ev.PLAYBOOK_ACTIVATED, "omar")]
    with pytest.raises(PlaybookWorkflowError, match="not awaiting approval"):
        playbooks.approve(store, clock, 2, member="omar")

    # the stricter of both versions: dropping the requirement still needs legal's approval
    out = playbooks.save(store, clock, variant("No more legal"), member="sam", note="drop",
                         activate=True)
    assert (out.status, out.approver) == ("pending", "legal")


def test_reject_needs_a_note_and_the_version_can_be_asked_again(workspace, clock):
    store = workspace.store
    playbooks.save(store, clock, variant("Hub checked", "hub"), member="sam", note="n",
                   activate=True)
    with pytest.raises(PermissionDenied, match="wrote or asked"):
        playbooks.approve(store, clock, 2, member="sam")  # sam is in hub, but asked for it
    with pytest.raises(PlaybookWorkflowError, match="needs a note"):
        playbooks.reject(store, clock, 2, member="ana", note="")
    playbooks.reject(store, clock, 2, member="ana", note="too broad")
    v2 = playbooks.versions(store)[0]
    assert (v2.status, v2.decided_by, v2.decision_note) == ("rejected", "ana", "too broad")
    assert active(store) == 1
    assert playbooks.activate(store, clock, 2, member="sam").status == "pending"
    assert playbooks.approve(store, clock, 2, member="leo").status == "active"


def test_an_approval_is_for_the_version_active_at_the_request(workspace, clock):
    store = workspace.store
    playbooks.save(store, clock, variant("Needs legal", "legal"), member="sam", note="a",
                   activate=True)
    playbooks.save(store, clock, variant("Hotfix"), member="sam", note="b", activate=True)
    assert active(store) == 3
    with pytest.raises(PlaybookWorkflowError, match="active playbook changed"):
        playbooks.approve(store, clock, 2, member="omar")
    playbooks.reject(store, clock, 2, member="omar", note="stale, ask again")
    assert active(store) == 3


def test_nobody_to_approve_is_refused_and_saves_nothing(workspace, clock):
    store = workspace.store
    with pytest.raises(PlaybookWorkflowError, match="needs approval by 'moderation'"):
        playbooks.save(store, clock, variant("Mods", "moderation"), member="sam", note="n",
                       activate=True)
    assert len(playbooks.versions(store)) == 1


def test_the_setup_path_records_events_too(workspace, clock):
    number = workspace.save_playbook(variant("Seeded again", "legal"), author="drill")
    assert active(workspace.store) == number
    assert kinds(workspace.store, number) == [(ev.PLAYBOOK_SAVED, "drill"),
                                              (ev.PLAYBOOK_ACTIVATED, "drill")]
