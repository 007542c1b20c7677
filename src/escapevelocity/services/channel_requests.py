"""A business unit's channel of its own (issue 23), on the same readiness flow as a spoke.

The unit (a spoke lead or a member of the team) asks for a connection: which network, which
account, why, who will staff it. The hub connects it (its settings and secrets, as on the
Channels page) in shadow mode: the connection listens, its mentions are ingested and shown to
the unit as what it would get, the unit's members draft, and its outbound switch is held at
dry run, so nothing goes out through it by any path (services/replies reads
domain/governance.sends_blocked; services/outbound.set_mode refuses to turn it live). The unit
completes the hub's readiness checklist; the hub approves (the switch turns live and the
playbook's hub cases from that connection go to the unit), or rejects it saying why; the unit
may withdraw it. Each step is a `governance:channel:<name>` event, refolded into the same
governance document as spokes (services/governance._record).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import governance, outbound
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.case_errors import CaseNotFound
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.governance import ChannelRequest, Program
from escapevelocity.domain.org import Member
from escapevelocity.domain.records import Mention
from escapevelocity.services import connections
from escapevelocity.services.casetx import acting
from escapevelocity.services.governance import (
    MAX_DRAFT,
    GovernanceError,
    ShadowCase,
    _configurer,
    _record,
    _text,
    program_in,
)
from escapevelocity.services.outbound import set_mode_in

_mention = msgspec.json.Decoder(Mention)


def _stream(connection: str) -> str:
    return ev.GOVERNANCE_PREFIX + "channel:" + connection


def _request(p: Program, connection: str) -> ChannelRequest:
    c = p.channels.get(connection)
    if c is None:
        raise GovernanceError(f"no channel {connection!r} was requested")
    return c


def _may_act_for(who: Member, c: ChannelRequest) -> bool:
    """The unit (its staff, whoever asked) or the hub (members who configure)."""
    return (who.id == c.requested_by or who.id in c.members
            or perm.allowed((who.role,), perm.CONFIGURE))


def request_channel(store: SqlStore, clock: Clock, member: str, *, connection: str,
                    channel: str, team: str, account: str = "", reason: str = "",
                    members: list[str] | None = None) -> ChannelRequest:
    """A unit asks for a connection of its own; nothing listens or sends until the hub
    connects it (in shadow mode)."""
    from escapevelocity.channels import registry

    connection = connection.strip().lower()
    if not connections.NAME.match(connection):
        raise GovernanceError(f"connection name {connection!r}: lowercase letters, digits, "
                              "- and _ (at most 64)")
    if channel not in registry():
        raise GovernanceError(f"no channel {channel!r}: one of {', '.join(sorted(registry()))}")
    with store.begin() as tx:
        who = acting(tx, member)
        org = tx.org.load()
        unit = org.team(team)
        if unit is None:
            raise GovernanceError(f"no team {team!r}")
        if team not in who.teams and not perm.allowed((who.role,), perm.CONFIGURE):
            raise perm.PermissionDenied(f"{who.id} asks for their own team's channel, not "
                                        f"{team}'s", member=who.id)
        earlier = program_in(tx).channels.get(connection)
        if tx.connections.get(connection) is not None or (earlier and earlier.open):
            raise GovernanceError(f"a connection named {connection} exists already")
        staff = list(dict.fromkeys([who.id, *(members or [])]))
        unknown = [m for m in staff if org.member(m) is None]
        if unknown:
            raise GovernanceError(f"unknown members: {', '.join(unknown)}")
        p = _record(tx, ev.ChannelRequested(
            stream=_stream(connection), at=clock.now(), actor=who.id, connection=connection,
            channel=channel, team=team, account=_text(account, "the account", 200),
            reason=_text(reason, "the reason"), members=staff))
        return p.channels[connection]


def connect(store: SqlStore, clock: Clock, sealer: Any, member: str, connection: str, *,
            settings: dict[str, str] | None = None, query: str = "",
            secrets: dict[str, str] | None = None) -> ChannelRequest:
    """The hub creates the requested connection, its switch at dry run: shadow mode. One
    transaction: the connection, the switch and the event, or none of them."""
    now = clock.now()
    with store.begin() as tx:
        who = _configurer(tx, member)
        c = _request(program_in(tx), connection)
        if c.state != governance.REQUESTED:
            raise GovernanceError(f"{connection} is {c.state}: only a request waiting for the "
                                  "hub is connected")
        try:
            connections.save_in(tx, now, sealer, who.id, connection, channel=c.channel,
                                settings=settings, query=query, secrets=secrets, create=True)
        except connections.Invalid as exc:
            raise GovernanceError(str(exc)) from None
        set_mode_in(tx, now, who.id, outbound.DRY_RUN, connection)
        p = _record(tx, ev.ChannelConnected(stream=_stream(connection), at=now, actor=who.id,
                                            connection=connection))
        return p.channels[connection]


def complete_item(store: SqlStore, clock: Clock, member: str, connection: str, item: str,
                  evidence: str = "") -> None:
    """The unit (or the hub) records that a checklist item is met, with its evidence."""
    with store.begin() as tx:
        who = acting(tx, member)
        p = program_in(tx)
        c = _request(p, connection)
        if not _may_act_for(who, c):
            raise perm.PermissionDenied(f"{who.id} is not on {connection}'s staff", member=who.id)
        if item not in {i.id for i in p.items()}:
            raise GovernanceError(f"the checklist has no item {item!r}")
        if not c.open:
            raise GovernanceError(f"{connection} is {c.state}")
        _record(tx, ev.ReadinessItemDone(stream=_stream(connection), at=clock.now(),
                                         actor=who.id, team=c.team, item=item,
                                         evidence=_text(evidence, "the evidence"),
                                         connection=connection))


def approve(store: SqlStore, clock: Clock, member: str, connection: str, note: str = "") -> None:
    """The hub approves the completed checklist: the connection's switch turns live (audited
    as a config change beside the approval) and its hub cases go to the unit."""
    now = clock.now()
    with store.begin() as tx:
        who = _configurer(tx, member)
        p = program_in(tx)
        why = governance.channel_approvable(p, connection, who)
        if why:
            raise GovernanceError(why)
        if tx.connections.get(connection) is None:
            raise GovernanceError(f"the connection {connection} was removed: connect it again")
        _record(tx, ev.ChannelApproved(stream=_stream(connection), at=now, actor=who.id,
                                       connection=connection, note=_text(note, "the note"),
                                       checklist_version=p.checklist_version))
        set_mode_in(tx, now, who.id, outbound.LIVE, connection)


def _stand_down(tx: Tx, now: datetime, member: str, connection: str) -> None:
    """The connection (when the hub made it) stops listening and its switch says dry run."""
    current = tx.connections.get(connection)
    if current is None:
        return
    set_mode_in(tx, now, member, outbound.DRY_RUN, connection)
    if current.enabled:
        tx.connections.update(connection, enabled=False, next_poll=now)
        tx.events.append([ev.ConfigChanged(
            stream=connections.STREAM, at=now, actor=member, what="connection",
            name=connection, before={"enabled": True}, after={"enabled": False})])


def reject(store: SqlStore, clock: Clock, member: str, connection: str, reason: str) -> None:
    """The hub turns the request down and says why; a connection it made stops listening."""
    reason = _text(reason, "the reason")
    if not reason:
        raise GovernanceError("say why the request is rejected")
    now = clock.now()
    with store.begin() as tx:
        who = _configurer(tx, member)
        c = _request(program_in(tx), connection)
        if not c.open:
            raise GovernanceError(f"{connection} is {c.state}: only an open request is rejected")
        _record(tx, ev.ChannelRejected(stream=_stream(connection), at=now, actor=who.id,
                                       connection=connection, reason=reason))
        _stand_down(tx, now, who.id, connection)


def withdraw(store: SqlStore, clock: Clock, member: str, connection: str, note: str = "") -> None:
    """The unit (or the hub) takes the request back, live or not: the connection stops
    listening and sends nothing more."""
    now = clock.now()
    with store.begin() as tx:
        who = acting(tx, member)
        c = _request(program_in(tx), connection)
        if not _may_act_for(who, c):
            raise perm.PermissionDenied(f"{who.id} is not on {connection}'s staff", member=who.id)
        if c.state in (governance.REJECTED, governance.WITHDRAWN):
            raise GovernanceError(f"{connection} is {c.state} already")
        _record(tx, ev.ChannelWithdrawn(stream=_stream(connection), at=now, actor=who.id,
                                        connection=connection, note=_text(note, "the note")))
        _stand_down(tx, now, who.id, connection)


def _came_through(tx: Tx, case_id: str, connection: str) -> bool:
    return any(_mention.decode(row.body).via == connection for row in tx.mentions.of_case(case_id))


def queue(store: SqlStore, connection: str, limit: int = 100) -> list[ShadowCase]:
    """The cases that came through the connection since the hub connected it: what the unit
    would get (the team the playbook names answers them; replies through it are dry runs)."""
    with store.begin() as tx:
        c = _request(program_in(tx), connection)
        if c.connected_at is None:
            return []
        found = tx.mentions.cases_via(c.channel, connection, c.connected_at, limit)
        drafts: dict[str, list[tuple[str, str]]] = {}
        for e in reversed(tx.events.stream(_stream(connection))):
            if isinstance(e, ev.ShadowDrafted):
                drafts.setdefault(e.case, []).append((e.actor, e.text))
        out = []
        for case_id, at in found:
            case = tx.cases.get(case_id)
            out.append(ShadowCase(case_id, case.title if case else "",
                                  case.team if case else None, at,
                                  drafts.get(case_id, [])))
        return out


def draft(store: SqlStore, clock: Clock, member: str, connection: str, case_id: str,
          text: str) -> Event:
    """The reply the unit's member would have sent through its own channel; nothing is sent
    (the draft lives in the request's stream, not on the case)."""
    text = text.strip()
    if not text or len(text) > MAX_DRAFT:
        raise GovernanceError(f"a draft has 1 to {MAX_DRAFT} characters")
    with store.begin() as tx:
        who = acting(tx, member)
        c = _request(program_in(tx), connection)
        if who.id not in c.members and who.id != c.requested_by:
            raise perm.PermissionDenied(f"{who.id} is not on {connection}'s staff", member=who.id)
        if c.state != governance.SHADOW:
            raise GovernanceError(f"{connection} is {c.state}: drafts are for shadow mode")
        if tx.cases.get(case_id) is None:
            raise CaseNotFound(f"no case {case_id!r}")
        if not _came_through(tx, case_id, connection):
            raise CaseNotFound(f"no such case in {connection}'s shadow queue")
        event = ev.ShadowDrafted(stream=_stream(connection), at=clock.now(), actor=who.id,
                                 team=c.team, case=case_id, text=text, connection=connection)
        _record(tx, event)
        return event
