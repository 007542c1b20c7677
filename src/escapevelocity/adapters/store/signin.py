"""Sign-in records: server-side sessions, failed sign-ins for the throttle, and API tokens.

Functions over a SQLAlchemy Connection (the caller owns the transaction), so every web replica
and the CLI share them through the database: a session revoked by one process is refused by
all, and failures counted by one process throttle sign-ins to every other. Only hashes of
session ids and tokens are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection

from escapevelocity.adapters.store.schema import (
    api_idempotency,
    api_tokens,
    documents,
    login_failures,
    second_factors,
    sessions,
)
from escapevelocity.domain.access import SecondFactor


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every stored instant is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --- sessions ---------------------------------------------------------------------------------

# Read on every signed-in request (the session, then the second-factor roles): built once, as
# building a statement and walking its cache key per call cost more than the query.
_LIVE = sa.select(sessions.c.member, sessions.c.created_at, sessions.c.last_seen).where(
    sessions.c.id_hash == sa.bindparam("id_hash"), sessions.c.revoked_at.is_(None),
    sessions.c.expires_at > sa.bindparam("now", type_=sessions.c.expires_at.type))


def create_session(conn: Connection, id_hash: str, member: str, now: datetime,
                   expires: datetime) -> None:
    conn.execute(sessions.insert().values(id_hash=id_hash, member=member, created_at=now,
                                          last_seen=now, expires_at=expires))


def live_session(conn: Connection, id_hash: str, now: datetime
                 ) -> tuple[str, datetime, datetime] | None:
    """(member, created, last seen) of a session neither revoked nor expired, else None."""
    row = conn.execute(_LIVE, {"id_hash": id_hash, "now": now}).first()
    return (row.member, _aware(row.created_at), _aware(row.last_seen)) if row else None


def touch_session(conn: Connection, id_hash: str, now: datetime, expires: datetime) -> None:
    conn.execute(sessions.update().where(sessions.c.id_hash == id_hash,
                                         sessions.c.revoked_at.is_(None))
                 .values(last_seen=now, expires_at=expires))


def revoke_session(conn: Connection, id_hash: str, now: datetime) -> None:
    conn.execute(sessions.update().where(sessions.c.id_hash == id_hash,
                                         sessions.c.revoked_at.is_(None))
                 .values(revoked_at=now))


def revoke_member_sessions(conn: Connection, member: str, now: datetime) -> int:
    """Every session of `member` not yet revoked (password or role changed, member removed).
    Not filtered by expiry: the revoking process's clock may differ from the web's."""
    res = conn.execute(sessions.update().where(sessions.c.member == member,
                                               sessions.c.revoked_at.is_(None))
                       .values(revoked_at=now))
    return res.rowcount or 0


def forget_old_sessions(conn: Connection, before: datetime) -> None:
    conn.execute(sa.delete(sessions).where(sessions.c.expires_at < before))


# --- failed sign-ins --------------------------------------------------------------------------


def record_failure(conn: Connection, keys: list[str], now: datetime,
                   window: timedelta) -> None:
    conn.execute(sa.delete(login_failures).where(login_failures.c.at < now - window))
    conn.execute(login_failures.insert(), [{"key": k[:300], "at": now} for k in keys])


def failure_counts(conn: Connection, keys: list[str], now: datetime,
                   window: timedelta) -> dict[str, int]:
    c = login_failures.c
    rows = conn.execute(sa.select(c.key, sa.func.count()).where(
        c.key.in_([k[:300] for k in keys]), c.at >= now - window).group_by(c.key))
    return {key: n for key, n in rows}


def clear_failures(conn: Connection, keys: list[str]) -> None:
    conn.execute(sa.delete(login_failures).where(login_failures.c.key.in_(
        [k[:300] for k in keys])))


# --- API tokens -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    id: str  # the first 12 hex digits of the hash: enough to name one, useless to sign in
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    expires_at: datetime | None
    scopes: str
    kind: str = "service"
    member: str | None = None
    created_by: str | None = None


def add_token(conn: Connection, token_hash: str, name: str, now: datetime, *,
              member: str | None = None, scopes: str = "ingest",
              expires: datetime | None = None, kind: str = "service",
              created_by: str | None = None) -> str:
    conn.execute(api_tokens.insert().values(token_hash=token_hash, name=name, created_at=now,
                                            member=member, scopes=scopes, expires_at=expires,
                                            kind=kind, created_by=created_by))
    return token_hash[:12]


def use_token(conn: Connection, token_hash: str, now: datetime,
              every: timedelta = timedelta(minutes=1)) -> str | None:
    """The name of a live token (and its last use noted, at most once a minute), else None."""
    info = use_token_info(conn, token_hash, now, every)
    return info.name if info else None


def _info(r: sa.Row) -> TokenInfo:
    return TokenInfo(r.token_hash[:12], r.name, _aware(r.created_at), _aware(r.last_used_at),
                     _aware(r.revoked_at), _aware(r.expires_at), r.scopes, r.kind, r.member,
                     r.created_by)


def use_token_info(conn: Connection, token_hash: str, now: datetime,
                   every: timedelta = timedelta(minutes=1)) -> TokenInfo | None:
    """A live token's record (its last use noted, at most once a minute), else None."""
    c = api_tokens.c
    row = conn.execute(sa.select(api_tokens).where(
        c.token_hash == token_hash, c.revoked_at.is_(None),
        sa.or_(c.expires_at.is_(None), c.expires_at > now))).first()
    if row is None:
        return None
    last = _aware(row.last_used_at)
    if last is None or last < now - every:
        conn.execute(api_tokens.update().where(c.token_hash == token_hash)
                     .values(last_used_at=now))
    return _info(row)


def list_tokens(conn: Connection, member: str | None = None) -> list[TokenInfo]:
    """Every token (`member`: only those acting as or made by that member)."""
    c = api_tokens.c
    q = sa.select(api_tokens).order_by(c.created_at, c.name)
    if member is not None:
        q = q.where(sa.or_(c.member == member, c.created_by == member))
    return [_info(r) for r in conn.execute(q)]


def token_by_id(conn: Connection, token_id: str) -> TokenInfo | None:
    if len(token_id) != 12 or any(ch not in "0123456789abcdef" for ch in token_id):
        return None
    row = conn.execute(sa.select(api_tokens).where(
        api_tokens.c.token_hash.like(f"{token_id}%"))).first()
    return _info(row) if row else None


def revoke_tokens(conn: Connection, name_or_id: str, now: datetime) -> int:
    """Revoke the live token(s) named `name_or_id`, or the one whose id (12 hex digits) it is."""
    c = api_tokens.c
    where = c.name == name_or_id
    if len(name_or_id) == 12 and all(ch in "0123456789abcdef" for ch in name_or_id):
        where = sa.or_(where, c.token_hash.like(f"{name_or_id}%"))
    res = conn.execute(api_tokens.update().where(where, c.revoked_at.is_(None))
                       .values(revoked_at=now))
    return res.rowcount or 0


# --- idempotency keys of the API -------------------------------------------------------------


IDEMPOTENCY_KEPT = timedelta(hours=24)


def idempotent_claim(conn: Connection, key: str, now: datetime) -> tuple[int, str] | None:
    """Reserve `key` (status 0: in progress) and answer None; or, when it is taken, its stored
    (status, body). The caller's transaction commits the reservation before the action runs.
    Keys are kept IDEMPOTENCY_KEPT (a client retries within minutes, not days)."""
    conn.execute(sa.delete(api_idempotency).where(
        api_idempotency.c.created_at < now - IDEMPOTENCY_KEPT))
    row = conn.execute(sa.select(api_idempotency.c.status, api_idempotency.c.body).where(
        api_idempotency.c.key == key)).first()
    if row is not None:
        return row.status, row.body
    try:
        with conn.begin_nested():
            conn.execute(api_idempotency.insert().values(key=key, created_at=now, status=0,
                                                         body=""))
    except sa.exc.IntegrityError:  # a racing twin reserved it first: in progress
        return 0, ""
    return None


def idempotent_store(conn: Connection, key: str, status: int, body: str) -> None:
    conn.execute(api_idempotency.update().where(api_idempotency.c.key == key)
                 .values(status=status, body=body))


def idempotent_forget(conn: Connection, key: str) -> None:
    conn.execute(sa.delete(api_idempotency).where(api_idempotency.c.key == key))


# --- second factors --------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    member: str
    secret: str
    enrolled_at: datetime | None
    recovery: tuple[str, ...]
    last_step: int


def factor(conn: Connection, member: str) -> Factor | None:
    row = conn.execute(sa.select(second_factors).where(second_factors.c.member == member)).first()
    if row is None:
        return None
    return Factor(row.member, row.secret, _aware(row.enrolled_at),
                  tuple(h for h in row.recovery.split("\n") if h), row.last_step)


FACTOR_ROLES_DOCUMENT = "second_factor_roles"


_FACTOR_ROLES = sa.select(documents.c.body).where(documents.c.name == FACTOR_ROLES_DOCUMENT)


def factor_roles(conn: Connection) -> frozenset[str]:
    body = conn.execute(_FACTOR_ROLES).scalar()
    return frozenset(body.split()) if body else frozenset()


def set_factor_roles(conn: Connection, roles: frozenset[str], now: datetime) -> None:
    conn.execute(sa.delete(documents).where(documents.c.name == FACTOR_ROLES_DOCUMENT))
    conn.execute(documents.insert().values(name=FACTOR_ROLES_DOCUMENT,
                                           body=" ".join(sorted(roles)), updated_at=now))


def factor_rule(conn: Connection) -> SecondFactor:
    """The access policy's second-factor facts: the roles that need one, who has one."""
    roles = factor_roles(conn)
    return SecondFactor(roles, frozenset(enrolled_members(conn)) if roles else frozenset())


def enrolled_members(conn: Connection) -> set[str]:
    c = second_factors.c
    return {r[0] for r in conn.execute(sa.select(c.member).where(c.enrolled_at.is_not(None)))}


def put_factor(conn: Connection, member: str, secret: str, *, enrolled_at: datetime | None,
               recovery: tuple[str, ...] = (), last_step: int = 0) -> None:
    conn.execute(sa.delete(second_factors).where(second_factors.c.member == member))
    conn.execute(second_factors.insert().values(member=member, secret=secret,
                                                enrolled_at=enrolled_at,
                                                recovery="\n".join(recovery),
                                                last_step=last_step))


def remove_factor(conn: Connection, member: str) -> int:
    res = conn.execute(sa.delete(second_factors).where(second_factors.c.member == member))
    return res.rowcount or 0
