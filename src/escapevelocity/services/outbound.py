"""The dry-run / live switch of outbound sends (workspace default, per connection) and the
senders this process has, from the environment.

The switch is a document in the workspace (`outbound_mode`), so every process reads the same
one; only members who may configure the workspace change it. The web app shows it on reply
buttons (services/replies.py sends live replies). Each change is an audited `config_changed`
event on the stream "config:outbound_mode".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime

import msgspec

from escapevelocity.adapters.outbound import EmailSender, Senders
from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import governance, outbound
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.services.casetx import authorize


def mode(store: SqlStore) -> outbound.Mode:
    with store.begin() as tx:
        return outbound.load_mode(tx.documents.get(outbound.MODE_DOCUMENT))


def set_mode(store: SqlStore, clock: Clock, member: str, value: str,
             connection: str | None = None) -> outbound.Mode:
    """Switch the workspace (or one connection, by channel name) to dry_run or live; a
    connection set to "" follows the workspace again. A unit's requested connection stays
    dry run until the hub approves its readiness (domain/governance.sends_blocked)."""
    if value not in outbound.MODES and not (connection and value == ""):
        raise ValueError(f"outbound mode is dry_run or live, not {value!r}")
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        if connection and value != outbound.DRY_RUN and governance.sends_blocked(
                governance.decode(tx.documents.get(governance.DOCUMENT)), connection):
            raise ValueError(f"{connection} is a unit's own channel in shadow mode: it goes "
                             "live when the hub approves its readiness checklist")
        return set_mode_in(tx, clock.now(), member, value, connection)


def set_mode_in(tx: Tx, now: datetime, member: str, value: str,
                connection: str | None = None) -> outbound.Mode:
    """`set_mode` in the caller's transaction, the member already authorised."""
    current = outbound.load_mode(tx.documents.get(outbound.MODE_DOCUMENT))
    if connection:
        connections = {k: v for k, v in current.connections.items() if k != connection}
        if value:
            connections[connection] = value
        new = outbound.Mode(current.workspace, connections)
    else:
        new = outbound.Mode(value, current.connections)
    tx.documents.put(outbound.MODE_DOCUMENT, msgspec.json.encode(new).decode(), now)
    if new != current:  # the audit: who switched what, from what to what
        tx.events.append([ev.ConfigChanged(
            stream=ev.config_stream(outbound.MODE_DOCUMENT), at=now, actor=member,
            what=outbound.MODE_DOCUMENT, name=connection or "",
            before=msgspec.to_builtins(current), after=msgspec.to_builtins(new))])
    return new


def history(store: SqlStore, limit: int = 50) -> list[ev.Event]:
    """The switch's changes, newest first (the audit shown on the admin pages)."""
    with store.begin() as tx:
        return list(reversed(tx.events.stream(ev.config_stream(outbound.MODE_DOCUMENT))))[:limit]


def senders_from_env(env: Mapping[str, str] | None = None) -> Senders:
    """Email to customers through EV_NOTIFY_SMTP (or EV_PAGE_SMTP) from EV_NOTIFY_FROM."""
    env = os.environ if env is None else env
    live = {}
    smtp = env.get("EV_NOTIFY_SMTP") or env.get("EV_PAGE_SMTP")
    if smtp:
        host, _, port = smtp.partition(":")
        live["email"] = EmailSender(host, int(port or 25), env.get("EV_NOTIFY_FROM")
                                    or env.get("EV_PAGE_FROM") or "escapevelocity@localhost")
    return Senders(live, private_channels())


def private_channels() -> set[str]:
    """Channels that can write to one person: each channel folder's declared capabilities
    (channels/<network>/__init__.py), plus the networks known to before they have a folder."""
    from escapevelocity.channels import registry

    declared = {name for name, ch in registry().items() if ch.capabilities.private}
    return declared | set(outbound.PRIVATE_BY_DEFAULT)
