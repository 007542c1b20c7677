"""Connections edited by admins (the Channels page; `ev channel add` is the CLI's way): add
one, change its settings, listening query or secrets, pause or resume it. Each change is an
audited `config_changed` event on the stream "config:connections" that names the secrets set
but never holds them. Secrets are write-only: a blank field keeps the stored one, and nothing
here hands a secret back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.adapters.store.connections import StoredConnection
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.services.casetx import authorize

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# Settings that are lists, comma-separated in forms.
LISTS = frozenset({"hashtags", "subreddits", "urls", "dids", "accounts"})
STREAM = ev.config_stream("connections")


class Invalid(ValueError):
    """A setting, query or name that cannot work; the message says which."""


def coerce(key: str, value: str) -> Any:
    """A form's text as the setting's type: lists comma-separated, true/false, numbers."""
    value = value.strip()
    if key in LISTS:
        return [v.strip() for v in value.replace("\n", ",").split(",") if v.strip()]
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if re.fullmatch(r"-?\d+", value):
        return int(value)
    if re.fullmatch(r"-?\d+\.\d+", value):
        return float(value)
    return value


def shown(settings: Mapping[str, Any]) -> dict[str, str]:
    """Settings as a form shows them (lists comma-joined)."""
    return {k: ", ".join(map(str, v)) if isinstance(v, list | tuple) else
            ("true" if v is True else "false" if v is False else str(v))
            for k, v in settings.items() if not isinstance(v, dict)}


def _public(c: StoredConnection | None) -> dict[str, Any]:
    if c is None:
        return {}
    return {"channel": c.channel, "settings": dict(c.settings), "query": c.query,
            "enabled": c.enabled}


def save(store: SqlStore, clock: Clock, sealer: Any, member: str, name: str, *,
         channel: str = "", settings: Mapping[str, str] | None = None, query: str | None = None,
         secrets: Mapping[str, str] | None = None, create: bool = False) -> StoredConnection:
    """Add (`create`) or change a connection. `settings` are the form's texts (an empty one
    removes an optional setting); `secrets` only those typed in (blank: kept as stored)."""
    now = clock.now()
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        return save_in(tx, now, sealer, member, name, channel=channel, settings=settings,
                       query=query, secrets=secrets, create=create)


def save_in(tx: Tx, now: datetime, sealer: Any, member: str, name: str, *,
            channel: str = "", settings: Mapping[str, str] | None = None,
            query: str | None = None, secrets: Mapping[str, str] | None = None,
            create: bool = False) -> StoredConnection:
    """`save` inside the caller's transaction, the member already authorised (governance
    connects a unit's requested channel and holds its switch at dry run in one write)."""
    from escapevelocity.channels import get
    from escapevelocity.domain.listening import parse

    if create and not NAME.match(name):
        raise Invalid("a connection name is lowercase letters, digits, - and _ "
                               "(at most 64)")
    current = tx.connections.get(name)
    if create and current is not None:
        raise Invalid(f"a connection named {name!r} exists already")
    if not create and current is None:
        raise Invalid(f"no connection named {name!r}")
    try:
        spec = get(channel if create else current.channel)  # type: ignore[union-attr]
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    merged: dict[str, Any] = dict(spec.defaults) if create else dict(current.settings)
    allowed = set(spec.settings) | set(spec.optional) | set(spec.defaults)
    for key, text in (settings or {}).items():
        if key not in allowed:
            raise Invalid(f"{spec.name} has no setting {key!r}")
        if str(text).strip():
            merged[key] = coerce(key, str(text))
        elif key not in spec.settings:
            merged.pop(key, None)
    missing = [k for k in spec.settings if not merged.get(k)]
    if missing:
        raise Invalid(f"{spec.title} needs {', '.join(missing)}")
    new_query = current.query if query is None and current else (query or "").strip()
    try:
        parse(new_query)
    except ValueError as exc:
        raise Invalid(f"query: {exc}") from None
    known = set(spec.secrets) | set(spec.send_secrets)
    typed = {k: str(v) for k, v in (secrets or {}).items() if str(v).strip()}
    if set(typed) - known:
        raise Invalid(f"{spec.name} has no secret {sorted(set(typed) - known)[0]!r}")
    kept = sealer.unseal(current.sealed) if current and current.sealed else {}
    if create:
        lacking = [k for k in spec.secrets if not typed.get(k)]
        if lacking:
            raise Invalid(f"{spec.title} needs the secret {', '.join(lacking)}")
    sealed = sealer.seal({**kept, **typed}) if typed else (current.sealed if current else "")
    before = _public(current)
    if create:
        record = StoredConnection(name=name, channel=spec.name, settings=merged,
                                  query=new_query, sealed=sealed)
        tx.connections.add(record, now)
    else:
        tx.connections.update(name, settings=merged, query=new_query, sealed=sealed)
    after = _public(tx.connections.get(name))
    if before != after or typed:
        tx.events.append([ev.ConfigChanged(
            stream=STREAM, at=now, actor=member, what="connection", name=name,
            before=before, after=after, secrets=sorted(typed))])
    return tx.connections.get(name)  # type: ignore[return-value]


def set_enabled(store: SqlStore, clock: Clock, member: str, name: str, enabled: bool) -> None:
    """Pause (no polls, no sends through it: its replies are recorded only) or resume."""
    now = clock.now()
    with store.begin() as tx:
        authorize(tx, member, perm.CONFIGURE)
        current = tx.connections.get(name)
        if current is None:
            raise Invalid(f"no connection named {name!r}")
        if current.enabled == enabled:
            return
        tx.connections.update(name, enabled=enabled, next_poll=now)
        tx.events.append([ev.ConfigChanged(
            stream=STREAM, at=now, actor=member, what="connection", name=name,
            before={"enabled": current.enabled}, after={"enabled": enabled})])


def history(store: SqlStore, limit: int = 30) -> list[ev.Event]:
    """Admins' changes to connections, newest first."""
    with store.begin() as tx:
        return list(reversed(tx.events.stream(STREAM)))[:limit]
