"""A second factor: TOTP (RFC 6238, pyotp) with one-time recovery codes.

Enrolment has two steps so a member never ends up with a factor they cannot produce: `start`
makes a secret (shown as a QR code and as text), `confirm` takes a code from their app, and only
then is the factor on, with ten recovery codes shown once and stored only as hashes. Each code
is good once (the last time step used is kept), and a recovery code is spent when used.

An admin marks the roles that must have a second factor before anyone in them may reply
publicly or approve; the access policy (domain/access.SecondFactor) enforces it for every path.
Enrolment, removal and the role setting are events in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.org import ROLES
from escapevelocity.services.casetx import acting

ISSUER = "Escape Velocity"
RECOVERY_CODES = 10
STREAM = "access:second-factor"


class FactorError(ValueError):
    """A code that does not match, or an enrolment step out of order."""


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str  # otpauth:// for the QR code

    def qr_svg(self) -> str:
        """The QR code as an SVG data URI (the CSP allows data: images, no inline script)."""
        import segno

        return segno.make(self.uri, error="m").svg_data_uri(scale=5, border=2)


def _hash(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").strip().lower().encode()).hexdigest()


def _step(clock: Clock) -> int:
    return int(clock.now().timestamp()) // 30


def enrolled(store: SqlStore, member: str) -> bool:
    with store.begin() as tx:
        found = tx.signin.factor(member)
    return found is not None and found.enrolled_at is not None


def start(store: SqlStore, clock: Clock, member: str) -> Enrolment:
    """A new secret for `member`, not yet in force (replaces an unconfirmed one)."""
    with store.begin() as tx:
        acting(tx, member)
        found = tx.signin.factor(member)
        if found is not None and found.enrolled_at is not None:
            raise FactorError("you already have a second factor; remove it first to set up "
                              "another")
        secret = pyotp.random_base32()
        tx.signin.put_factor(member, secret, enrolled_at=None)
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=member,
                                                                  issuer_name=ISSUER))


def pending(store: SqlStore, member: str) -> Enrolment | None:
    with store.begin() as tx:
        found = tx.signin.factor(member)
    if found is None or found.enrolled_at is not None:
        return None
    return Enrolment(found.secret, pyotp.TOTP(found.secret).provisioning_uri(
        name=member, issuer_name=ISSUER))


def _totp_step(secret: str, code: str, clock: Clock) -> int | None:
    """The time step `code` belongs to (now, or one step either side), else None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp, now = pyotp.TOTP(secret), _step(clock)
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.at(step * 30), code):
            return step
    return None


def confirm(store: SqlStore, clock: Clock, member: str, code: str) -> list[str]:
    """Turn the factor on with a code from the member's app; returns the recovery codes (shown
    once)."""
    with store.begin() as tx:
        found = tx.signin.factor(member)
        if found is None or found.enrolled_at is not None:
            raise FactorError("start setting up a second factor first")
        step = _totp_step(found.secret, code, clock)
        if step is None:
            raise FactorError("that code does not match; check the time on your device and "
                              "try the next code")
        codes = [f"{secrets.token_hex(3)}-{secrets.token_hex(3)}" for _ in range(RECOVERY_CODES)]
        now = clock.now()
        tx.signin.put_factor(member, found.secret, enrolled_at=now,
                             recovery=tuple(_hash(c) for c in codes), last_step=step)
        tx.events.append([ev.SecondFactorEnrolled(stream=f"member:{member}", at=now,
                                                  actor=member, member=member)])
    return codes


def verify(store: SqlStore, clock: Clock, member: str, code: str) -> bool:
    """A sign-in's second step: a current TOTP code (each good once) or a recovery code (spent
    when used)."""
    with store.begin() as tx:
        found = tx.signin.factor(member)
        if found is None or found.enrolled_at is None:
            return False
        step = _totp_step(found.secret, code, clock)
        if step is not None:
            if step <= found.last_step:
                return False  # a code already used: a replay
            tx.signin.put_factor(member, found.secret, enrolled_at=found.enrolled_at,
                                 recovery=found.recovery, last_step=step)
            return True
        digest = _hash(code)
        if len(code) <= 20 and digest in found.recovery:
            tx.signin.put_factor(member, found.secret, enrolled_at=found.enrolled_at,
                                 recovery=tuple(h for h in found.recovery if h != digest),
                                 last_step=found.last_step)
            return True
    return False


def remaining_recovery(store: SqlStore, member: str) -> int:
    with store.begin() as tx:
        found = tx.signin.factor(member)
    return len(found.recovery) if found else 0


def remove(store: SqlStore, clock: Clock, *, by: str, member: str) -> None:
    """A member removes their own factor; an admin anyone's (a lost phone)."""
    with store.begin() as tx:
        who = acting(tx, by)
        if by != member:
            perm.check((who.role,), perm.CONFIGURE, member=by)
        if tx.signin.remove_factor(member):
            tx.events.append([ev.SecondFactorEnrolled(stream=f"member:{member}", at=clock.now(),
                                                      actor=by, member=member, removed=True)])


def required_roles(store: SqlStore) -> frozenset[str]:
    with store.begin() as tx:
        return tx.signin.factor_roles()


def set_required_roles(store: SqlStore, clock: Clock, *, by: str,
                       roles: list[str] | frozenset[str]) -> frozenset[str]:
    """The roles that must have a second factor to reply publicly or approve (admins)."""
    wanted = frozenset(roles)
    unknown = wanted - set(ROLES)
    if unknown:
        raise FactorError(f"unknown role {sorted(unknown)[0]!r}; roles: {', '.join(ROLES)}")
    with store.begin() as tx:
        who = acting(tx, by)
        perm.check((who.role,), perm.CONFIGURE, member=by)
        before = tx.signin.factor_roles()
        if before != wanted:
            now = clock.now()
            tx.signin.set_factor_roles(wanted, now)
            tx.events.append([ev.SecondFactorRoles(stream=STREAM, at=now, actor=by,
                                                   roles=sorted(wanted),
                                                   previous=sorted(before))])
    return wanted
