"""A broken playbook never replaces the active one, in a real store."""

from pathlib import Path

import pytest

from escapevelocity.domain.playbook import PlaybookError, default_playbook_path

SOURCE = Path(default_playbook_path()).read_text()
BROKEN = SOURCE.replace("then: {track: pr, tags: [misinformation]}",
                        "then: {track: pr, tags: [misinformation], priority: urgent}")


def test_a_broken_version_never_replaces_the_active_one(db_url, clock):
    from escapevelocity.services.workspace import Workspace

    ws = Workspace.open(db_url, clock)
    first = ws.save_playbook(SOURCE, author="lead", note="v1")
    with pytest.raises(PlaybookError, match="misinformation"):
        ws.save_playbook(BROKEN, author="lead", note="broken")
    with ws.store.begin() as tx:
        assert tx.playbooks.active() == (first, SOURCE)
    ws.store.close()
