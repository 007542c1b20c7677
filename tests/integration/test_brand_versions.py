"""Brand profile versions on the real stores (SQLite file and PostgreSQL): each save is a new
version with author and note, the latest is in force, members without CONFIGURE are refused,
and the workspace's triage recompiles with the new profile."""

from datetime import UTC, datetime

import pytest

from escapevelocity.domain.brand import BrandError
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import brand as brand_service


def _post(text):
    return Mention(source_id="b1", channel="twitter", text=text, author=Author(handle="kim"),
                   created_at=datetime(2026, 11, 20, tzinfo=UTC))


def test_versions_are_kept_and_the_latest_decides(workspace, clock):
    store = workspace.store
    profile, first = brand_service.current(store)
    assert profile.name == "Orbit Telecom" and first.version == 1  # the demo's
    post = _post("@acmehelp ok so what now")
    assert workspace.triager().signals(post).situation == "off_topic"  # not our handle yet
    for i in range(2, 12):  # more than nine: versions sort as numbers
        clock.advance(minutes=1)
        brand_service.save(store, clock, "sam", f"name: Acme {i}\nhandles: ['@AcmeHelp']\n",
                           note=f"v{i}")
    profile, latest = brand_service.current(store)
    assert (latest.version, latest.author, latest.note, profile.name) == (11, "sam", "v11",
                                                                          "Acme 11")
    assert [v.version for v in brand_service.history(store)] == list(range(11, 0, -1))
    assert workspace.triager().signals(post).situation != "off_topic"
    with pytest.raises(PermissionDenied):
        brand_service.save(store, clock, "eva", "name: Evil\n")  # an analyst
    with pytest.raises(BrandError):
        brand_service.save(store, clock, "sam", "handles: ['bad handle']\n")
    assert brand_service.current(store)[1].version == 11
