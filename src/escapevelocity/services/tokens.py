"""API tokens: personal tokens that act as their member, service tokens with scopes.

A personal token does what its member may do (the access policy decides, as on the pages),
narrowed by its scopes. A service token is named for an integration, made by an admin, and
scoped; to read or act on cases it acts as a member of the organisation (a service account or
a person), so every case action is attributed and checked by the same policy. An ingest-only
token needs no member. Only a SHA-256 of each token is stored; its public id is the first 12
hex digits of that hash. Making and revoking a token are audited events.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from escapevelocity.adapters.store import SqlStore
from escapevelocity.adapters.store.signin import TokenInfo
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.org import Member
from escapevelocity.services.casetx import acting

READ, ACT, INGEST, REPORTS, ADMIN = "cases:read", "cases:act", "ingest", "reports", "admin"
METRICS = "metrics"  # scrape /metrics (Prometheus): operational figures, no case content
SCOPES = (READ, ACT, INGEST, REPORTS, ADMIN, METRICS)
ACTS_AS_NOBODY = frozenset({INGEST, METRICS})  # what a service token without a member may do
PERSONAL, SERVICE = "personal", "service"
MAX_NAME = 80


class TokenError(ValueError):
    """A token that cannot be made as asked (bad name, scope, member)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an API request acts for: the token, its scopes and the member it acts as (None for
    an ingest-only service token)."""

    token: str  # public id
    name: str
    kind: str
    scopes: frozenset[str]
    member: Member | None


def secret_hash(token: str) -> str:
    from escapevelocity.services.workspace import token_hash

    return token_hash(token)


def parse_scopes(value: str | list[str] | tuple[str, ...]) -> list[str]:
    words = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    bad = [w for w in words if w not in SCOPES]
    if bad:
        raise TokenError(f"unknown scope {bad[0]!r}; scopes: {', '.join(SCOPES)}")
    return sorted(set(words), key=SCOPES.index)


def create(store: SqlStore, clock: Clock, *, by: str, name: str, kind: str = PERSONAL,
           scopes: str | list[str] | None = None, member: str | None = None,
           expires: datetime | None = None) -> tuple[str, TokenInfo]:
    """Make a token and return (the secret, shown once; its record). A member makes personal
    tokens for themselves; service tokens need the admin permission (configure)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME or any(ord(ch) < 32 for ch in name):
        raise TokenError(f"a token needs a name of 1 to {MAX_NAME} printable characters")
    if kind not in (PERSONAL, SERVICE):
        raise TokenError("a token is personal or service")
    chosen = parse_scopes(scopes if scopes is not None else
                          [READ, ACT, REPORTS] if kind == PERSONAL else [INGEST])
    if not chosen:
        raise TokenError("give the token at least one scope")
    if kind == PERSONAL and INGEST in chosen:
        raise TokenError("ingest is for service tokens: mentions come from integrations, "
                         "not from a member")
    if kind == PERSONAL and METRICS in chosen:
        raise TokenError("metrics is for service tokens: Prometheus scrapes, not a member")
    now = clock.now()
    if expires is not None and expires <= now:
        raise TokenError("the expiry is in the past")
    secret = "ev_" + secrets.token_urlsafe(24)
    with store.begin() as tx:
        maker = acting(tx, by)
        if kind == PERSONAL:
            if member not in (None, by):
                raise perm.PermissionDenied("a personal token acts as the member who makes it",
                                            action=perm.CONFIGURE, member=by)
            member = by
        else:
            perm.check((maker.role,), perm.CONFIGURE, member=by)
            if member is not None and tx.org.member(member) is None:
                raise TokenError(f"no member {member!r} to act as")
            if member is None and set(chosen) - ACTS_AS_NOBODY:
                raise TokenError("a service token that reads or acts needs a member to act as "
                                 "(--member); only an ingest or metrics token acts as nobody")
        token_id = tx.signin.add_token(secret_hash(secret), name, now, member=member,
                                       scopes=" ".join(chosen), expires=expires, kind=kind,
                                       created_by=by)
        tx.events.append([ev.TokenCreated(
            stream=f"token:{token_id}", at=now, actor=by, token=token_id, name=name,
            token_kind=kind, member=member, scopes=chosen, expires_at=expires)])
        info = tx.signin.token_by_id(token_id)
    return secret, info


def listed(store: SqlStore, member: str) -> list[TokenInfo]:
    """Admins see every token; others theirs."""
    with store.begin() as tx:
        who = acting(tx, member)
        everyone = perm.allowed((who.role,), perm.CONFIGURE)
        return tx.signin.list_tokens(None if everyone else member)


def revoke(store: SqlStore, clock: Clock, *, by: str, token_id: str) -> TokenInfo:
    """Revoke one token by its public id: one's own, or any as an admin."""
    now = clock.now()
    with store.begin() as tx:
        who = acting(tx, by)
        info = tx.signin.token_by_id(token_id)
        if info is None or (by not in (info.member, info.created_by)
                            and not perm.allowed((who.role,), perm.CONFIGURE)):
            raise LookupError(f"no token {token_id!r} of yours")
        if info.revoked_at is None:
            tx.signin.revoke_tokens(token_id, now)
            tx.events.append([ev.TokenRevoked(stream=f"token:{token_id}", at=now, actor=by,
                                              token=token_id, name=info.name)])
        return tx.signin.token_by_id(token_id)


def principal(store: SqlStore, clock: Clock, secret: str) -> Principal | None:
    """The live token's principal (last use noted), or None. A token acting as a member the
    organisation no longer knows acts as nobody."""
    from escapevelocity.services.retry import retrying

    def use() -> Principal | None:
        with store.begin() as tx:
            info = tx.signin.use_token_info(secret_hash(secret), clock.now())
            if info is None:
                return None
            scopes = frozenset(info.scopes.split()) or frozenset({INGEST})
            member = tx.org.member(info.member) if info.member else None
            if info.member and member is None:
                return None
        return Principal(info.id, info.name, info.kind, scopes, member)
    return retrying(use, what="token check")
