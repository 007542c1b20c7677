"""Crisis detector state survives a restart (issue 20): what the detectors learned is saved on
each tick and a new process goes on from it, instead of relearning from a quiet start."""

from __future__ import annotations

from datetime import timedelta

from escapevelocity.adapters.notify.pager import RecordingPager
from escapevelocity.domain.crisis import snapshot
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.crisis import DETECTORS, CrisisMode


def _learned(mode: CrisisMode, triager, clock, days: int = 3) -> None:
    start = clock.now() - timedelta(days=days)
    items = []
    for h in range(days * 24):
        for k in range(4 + h % 5):
            m = Mention(source_id=f"r{h}-{k}", channel="twitter", text="my broadband is slow",
                        author=Author(handle=f"u{(h * 7 + k) % 311}"),
                        created_at=start + timedelta(hours=h, minutes=k * 9))
            items.append((m, triager.signals(m)))
    mode.learn(items)


def test_the_detectors_go_on_from_what_they_learned_after_a_restart(workspace, clock):
    triager = workspace.triager()
    mode = CrisisMode(workspace.store, clock, RecordingPager())
    _learned(mode, triager, clock)
    mode.tick()  # saves
    again = CrisisMode(workspace.store, clock, RecordingPager())  # a new process
    assert again.monitor.expected() == mode.monitor.expected() > 0
    assert again.monitor.topics == mode.monitor.topics
    assert snapshot.dump({"m": again.monitor, "o": again.ops}) == snapshot.dump(
        {"m": mode.monitor, "o": mode.ops})
    with workspace.store.begin() as tx:  # without the snapshot: the quiet start of before
        tx.documents.put(DETECTORS, "{}", clock.now())
    assert CrisisMode(workspace.store, clock, RecordingPager()).monitor.expected() \
        != mode.monitor.expected()


def test_a_snapshot_names_only_the_detectors_own_classes():
    import pytest

    evil = b'{"version": 1, "state": {"$o": "os.system", "v": {}}}'
    with pytest.raises(KeyError):
        snapshot.load(evil)
