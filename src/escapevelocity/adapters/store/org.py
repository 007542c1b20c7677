"""The organisation: teams and members as applied, and each member's presence.

The applied YAML (document "org") is the whole record (overflows, ladders); the `teams` and
`members` tables serve joins and hold what changes by the minute (presence, last seen).
"""

from __future__ import annotations

import functools
from datetime import datetime

import msgspec
import sqlalchemy as sa

from escapevelocity.adapters.store import schema as t
from escapevelocity.adapters.store.base import Repo, utc
from escapevelocity.domain import governance
from escapevelocity.domain.org import Member, Organisation, Team

ORG_DOCUMENT = "org"


# One member's record: read on every case command (who is acting). Built once, not per call.
_MEMBER = sa.select(t.members.c.body).where(t.members.c.id == sa.bindparam("id"))


class Org(Repo):
    def save(self, org: Organisation) -> None:
        conn = self._conn
        conn.execute(sa.delete(t.teams))
        if org.teams:
            conn.execute(t.teams.insert(), [
                {"id": x.id, "name": x.name, "kind": x.kind, "hub": x.hub,
                 "strategy": x.strategy, "overflow": x.overflow} for x in org.teams])
        known = {r.id for r in conn.execute(sa.select(t.members.c.id))}
        for m in org.members:
            row = {"name": m.name, "body": msgspec.json.encode(m).decode()}
            if m.id in known:
                conn.execute(t.members.update().where(t.members.c.id == m.id).values(**row))
            else:
                conn.execute(t.members.insert().values(id=m.id, presence="offline", **row))

    def load(self) -> Organisation:
        """The organisation as applied, with governance's overlay (requested spokes, each
        governed team's mode: domain/governance.overlay), so every path sees the same."""
        source = self._tx.documents.get(ORG_DOCUMENT)
        program = self._tx.documents.get(governance.DOCUMENT)
        if source:
            return _overlaid(source, program) if program else _org_from_yaml(source)
        org = self._from_tables()
        return governance.overlay(org, governance.decode(program)) if program else org

    def _from_tables(self) -> Organisation:
        teams = [Team(id=r.id, name=r.name, kind=r.kind, hub=r.hub, strategy=r.strategy,
                      overflow=r.overflow) for r in self._conn.execute(sa.select(t.teams))]
        members = [msgspec.json.decode(r.body, type=Member) for r in self._conn.execute(
            sa.select(t.members.c.body).order_by(t.members.c.id))]
        return Organisation(teams=teams, members=members)

    def member(self, member_id: str) -> Member | None:
        body = self._conn.execute(_MEMBER, {"id": member_id}).scalar()
        if not body:
            return None
        member = msgspec.json.decode(body, type=Member)
        program = self._tx.documents.get(governance.DOCUMENT)
        return governance.member_teams(member, _program(program)) if program else member

    def set_presence(self, member: str, presence: str, at: datetime) -> None:
        self._conn.execute(t.members.update().where(t.members.c.id == member)
                           .values(presence=presence, last_seen=at))

    def touch(self, member: str, at: datetime) -> None:
        """Record activity (a claim, a reply) without changing declared presence (auto-away)."""
        self._conn.execute(t.members.update().where(t.members.c.id == member)
                           .values(last_seen=at))

    def presence(self) -> dict[str, str]:
        return {r.id: r.presence for r in self._conn.execute(
            sa.select(t.members.c.id, t.members.c.presence))}

    def presence_seen(self) -> dict[str, tuple[str, datetime | None]]:
        """Declared presence and last activity per member (routing derives auto-away)."""
        q = sa.select(t.members.c.id, t.members.c.presence, t.members.c.last_seen)
        return {r.id: (r.presence, utc(r.last_seen)) for r in self._conn.execute(q)}


@functools.lru_cache(maxsize=8)
def _org_from_yaml(source: str) -> Organisation:
    """Parsed once per text: every command authorizes against the org, and YAML is slow."""
    from escapevelocity.domain import yamlsafe
    from escapevelocity.domain.org import load_org
    return load_org(yamlsafe.load(source), stored=True)


@functools.lru_cache(maxsize=8)
def _program(text: str) -> governance.Program:
    return governance.decode(text)


@functools.lru_cache(maxsize=8)
def _overlaid(source: str, program: str) -> Organisation:
    """Memoised like the YAML, so routing's per-organisation index survives between loads."""
    return governance.overlay(_org_from_yaml(source), _program(program))
