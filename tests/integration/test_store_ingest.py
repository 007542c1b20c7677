"""The store contract and the ingest path, on a real SQLite file and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain import cases as projection
from escapevelocity.domain.case_errors import ClaimTaken
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import cases as commands
from escapevelocity.services.cases import CaseError, rebuild_projection
from escapevelocity.services.ingest import ingest, ingest_batch

T0 = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)


def m(sid, text, handle="kim", reply_to=None, minutes=0, channel="twitter", **author):
    return Mention(source_id=sid, channel=channel, text=text,
                   author=Author(handle=handle, **author),
                   created_at=T0 + timedelta(minutes=minutes),
                   kind="reply" if reply_to else "post", in_reply_to=reply_to)


def cases_of(ws):
    with ws.store.begin() as tx:
        return tx.cases.inbox(states=projection.STATES, limit=10_000)


def test_a_complaint_becomes_a_routed_case_with_its_events(workspace, clock):
    report = ingest(workspace.store, workspace.triager(), clock,
                    [m("1", "I was charged twice this month and nobody answers. Fix it!")])
    assert (report.accepted, report.opened) == (1, 1)
    [case] = cases_of(workspace)
    assert case.team == "care" and case.track == "support"
    assert case.assignee in {"ana", "priya", "tom", "mei", "joe"}
    assert case.sla_due == clock.now() + timedelta(minutes=case.sla_minutes)
    with workspace.store.begin() as tx:
        kinds = [e.kind for e in tx.events.stream(case.id)]
    assert kinds == ["opened", "decided", "assigned"]


def test_duplicates_are_idempotent_and_replies_thread(workspace, clock):
    batch = [m("1", "my broadband is down again"), m("1", "my broadband is down again"),
             m("2", "@orbit any update??", handle="kim", minutes=5),
             m("3", "same here!", handle="lee", reply_to="1", minutes=6),
             m("4", "love the new app", handle="zoe")]
    r1 = ingest_batch(workspace.store, workspace.triager(), clock.now(), batch)
    r2 = ingest_batch(workspace.store, workspace.triager(), clock.now(), batch)
    assert (r1.accepted, r1.duplicates, r1.opened, r1.joined) == (4, 1, 2, 2)
    assert (r2.accepted, r2.duplicates) == (0, 5)
    rows = cases_of(workspace)
    assert len(rows) == 2
    kim = next(c for c in rows if c.author_handle == "kim")
    assert kim.mention_count == 3


def test_follow_up_after_resolution_reopens_the_case(workspace, clock):
    ingest(workspace.store, workspace.triager(), clock, [m("1", "my bill is wrong, please help")])
    [case] = cases_of(workspace)
    member = case.assignee
    commands.claim(workspace.store, clock, case.id, member)
    commands.reply(workspace.store, clock, case.id, member, "Sorry! Please DM us.")
    commands.resolve(workspace.store, clock, case.id, member)
    clock.advance(minutes=30)
    ingest(workspace.store, workspace.triager(), clock, [m("2", "still wrong", reply_to="1")])
    [case] = cases_of(workspace)
    assert case.state in ("assigned", "queued") and case.mention_count == 2


def test_claim_is_exclusive_and_reply_needs_the_claim(workspace, clock):
    ingest(workspace.store, workspace.triager(), clock, [m("1", "my bill is wrong, please help")])
    [case] = cases_of(workspace)
    commands.claim(workspace.store, clock, case.id, "ana")
    with pytest.raises(ClaimTaken) as info:
        commands.claim(workspace.store, clock, case.id, "priya")
    assert info.value.holder == "ana"
    with pytest.raises(ClaimTaken):
        commands.reply(workspace.store, clock, case.id, "priya", "hi")
    clock.advance(minutes=11)  # the lease ran out
    commands.claim(workspace.store, clock, case.id, "priya")
    with pytest.raises(CaseError):
        commands.reply(workspace.store, clock, case.id, "priya", "   ")
    commands.reply(workspace.store, clock, case.id, "priya", "We're on it.")
    [case] = cases_of(workspace)
    assert case.state == "replied" and case.first_response_at == clock.now()


def test_projection_is_rebuilt_identically_from_the_log(workspace, clock):
    from escapevelocity.demo.generator import generate

    mentions = list(generate(300, seed=3, start=T0))
    ingest(workspace.store, workspace.triager(), clock, mentions, batch_size=64)
    before = {c.id: c for c in cases_of(workspace)}
    first = next(iter(before))
    commands.claim(workspace.store, clock, first, "ana")
    before = {c.id: c for c in cases_of(workspace)}
    assert rebuild_projection(workspace.store) == len(before)
    after = {c.id: c for c in cases_of(workspace)}
    assert after == before


def test_killed_ingest_loses_nothing_and_duplicates_nothing(tmp_path):
    """Kill `ev ingest` mid-run, run it again: every mention stored exactly once."""
    from escapevelocity.demo.generator import generate, write_jsonl
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace

    db = tmp_path / "ev.db"
    url = f"sqlite:///{db}"
    seed_demo(Workspace.open(url, SystemClock()), password="pw-pw-pw-pw")
    path = tmp_path / "m.jsonl"
    mentions = list(generate(6000, seed=5, start=T0, duplicates=False))
    write_jsonl(mentions, path)
    cmd = [sys.executable, "-m", "escapevelocity.cli.main", "ingest", str(path),
           "--database", url, "--batch-size", "200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ws = Workspace.open(url, SystemClock())
    import time
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some batches are in, then kill hard
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        with ws.store.begin() as tx:
            if tx.count("mentions") >= 1000:
                break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    with ws.store.begin() as tx:
        partial = tx.count("mentions")
    assert 0 < partial < len(mentions), "the kill should land mid-run"
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with ws.store.begin() as tx:
        assert tx.count("mentions") == len(mentions)
        opened = tx.count("cases")
    assert f"duplicates skipped {partial}" in done.stdout
    assert opened > 0


def test_bad_lines_are_reported_with_numbers_and_good_lines_kept(tmp_path, workspace):
    from typer.testing import CliRunner

    from escapevelocity.cli.main import app

    path = tmp_path / "m.jsonl"
    path.write_text(
        '{"source_id": "1", "channel": "twitter", "text": "help me", "author": "kim",'
        ' "created_at": "2026-11-20T10:00:00Z"}\n'
        '{"source_id": "2", "channel": "myspace", "text": "x", "author": "kim",'
        ' "created_at": "2026-11-20T10:00:00Z"}\n'
        'not json at all\n'
        '{"source_id": "3", "channel": "twitter", "author": "kim",'
        ' "created_at": "2026-11-20T10:00:00Z"}\n'
        '{"source_id": "4", "channel": "twitter", "text": "love it", "author": {"handle": "zoe"},'
        ' "created_at": "2026-11-20T10:01:00"}\n'
    )
    result = CliRunner().invoke(app, ["ingest", str(path), "--database", workspace.store.url])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "m.jsonl:2" in out and "unknown channel 'myspace'" in out
    assert "m.jsonl:3" in out and "m.jsonl:4" in out and "text" in out
    assert "accepted 2" in out and "bad lines 3" in out


def test_who_is_asking_from_the_workspace_history(workspace, clock):
    """A repeat author is counted, an author the team tagged as abuse twice is a troll, and a
    VIP is flagged; the decision context gets the same history."""
    from escapevelocity.services import annotate

    workspace.set_vocabulary("vips: ['@Big_Spender']\n")
    day = timedelta(hours=30)  # past the follow-up window: a new post opens a new case

    def batch(mentions, days):
        return ingest_batch(workspace.store, workspace.triager(), clock.now() + days * day,
                            mentions)

    first = batch([m("1", "you people are useless idiots", handle="h8r"),
                   m("3", "where is my order?", handle="big_spender")], 0)
    second = batch([m("2", "still useless, idiots", handle="h8r", minutes=60 * 30)], 1)
    assert first.opened == 2 and second.opened == 1
    for case_id in (first.case_ids[0], second.case_ids[0]):
        annotate.tag(workspace.store, clock, case_id, "ana", add=["abuse"])
    later = batch([m("4", "idiots, all of you", handle="h8r", minutes=60 * 60),
                   m("5", "a new order, also late", handle="big_spender", minutes=60 * 60)], 2)
    decided = {}
    with workspace.store.begin() as tx:
        for case_id in later.case_ids:
            events = tx.events.stream(case_id)
            decided[case_id] = next(e.data["signals"] for e in events if e.kind == "decided")
    troll, vip = (decided[c] for c in later.case_ids)
    assert troll["author_class"] == "troll" and troll["repeat"] == 2
    assert "2 earlier cases were tagged as abuse" in troll["because"]["author_class"]
    assert vip["vip"] is True and vip["repeat"] == 1
    assert "VIP list" in vip["because"]["history"]
    with workspace.store.begin() as tx:  # one abusive case was not yet enough
        events = tx.events.stream(second.case_ids[0])
    before = next(e.data["signals"] for e in events if e.kind == "decided")
    assert before["repeat"] == 1 and before.get("author_class", "customer") != "troll"
