"""The workspace's brand profile: read the version in force, save a new one.

Saving is a member command (CONFIGURE: admins and the program lead) or the setup path
(`ev workspace init`, no member). Each save is a new version with its author and note; the
next batch of mentions is triaged with it (Workspace.triager recompiles on a new version).
"""

from __future__ import annotations

from escapevelocity.adapters.store import SqlStore
from escapevelocity.adapters.store.brand_versions import BrandVersion
from escapevelocity.domain import permissions
from escapevelocity.domain.brand import BrandProfile, parse_yaml
from escapevelocity.domain.clock import Clock
from escapevelocity.services.casetx import authorize


def current(store: SqlStore) -> tuple[BrandProfile, BrandVersion | None]:
    with store.begin() as tx:
        found = tx.brand_versions.latest()
    return (parse_yaml(found.yaml) if found else BrandProfile()), found


def history(store: SqlStore) -> list[BrandVersion]:
    with store.begin() as tx:
        return tx.brand_versions.versions()


def install(store: SqlStore, clock: Clock, profile: BrandProfile, *, author: str = "system",
            note: str = "") -> int:
    """The setup path: no member check."""
    with store.begin() as tx:
        return tx.brand_versions.save(profile.to_yaml(), author=author, note=note,
                                   at=clock.now())


def save(store: SqlStore, clock: Clock, member: str, yaml_text: str, note: str = "") -> int:
    """A member's edit: CONFIGURE is checked first; a profile that does not parse raises
    BrandError (ValueError) with what to fix, and nothing is saved."""
    profile = parse_yaml(yaml_text)
    with store.begin() as tx:
        authorize(tx, member, permissions.CONFIGURE)
        return tx.brand_versions.save(profile.to_yaml(), author=member, note=note[:500],
                                   at=clock.now())
