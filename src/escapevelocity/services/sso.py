"""Single sign-on by OpenID Connect: who a provider's verified claims make a member.

The web edge (web/routes_sso.py, with Authlib) does the protocol: discovery, PKCE, state and
nonce, the ID token's signature against the provider's keys (fetched again when it signs with
a key we have not seen: rotation). This module decides what the claims mean here: the member is
the one with that email in the organisation, or a new member provisioned into the configured
team; their role comes from the provider's groups through the role map, so removing someone
from a group at the provider changes or ends what they may do here at their next sign-in.

Settings (environment): EV_OIDC_ISSUER, EV_OIDC_CLIENT_ID, EV_OIDC_CLIENT_SECRET,
EV_OIDC_ROLES ("group=role,group=role", first match wins), EV_OIDC_GROUPS_CLAIM ("groups"),
EV_OIDC_TEAM (the team provisioned members join; default the first hub), EV_PASSWORD_SIGNIN
("off" turns password sign-in off).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from escapevelocity.domain import events as ev
from escapevelocity.domain import yamlsafe
from escapevelocity.domain.org import ROLES


class SsoRefused(PermissionError):
    """The provider vouched for someone this workspace does not let in (no email, no role)."""


@dataclass(frozen=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    roles: tuple[tuple[str, str], ...] = ()  # (group, role), first match wins
    groups_claim: str = "groups"
    team: str = ""
    password_signin: bool = True
    label: str = "single sign-on"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SsoConfig | None:
        issuer = env.get("EV_OIDC_ISSUER", "").rstrip("/")
        if not issuer:
            return None
        return cls(issuer, env.get("EV_OIDC_CLIENT_ID", ""), env.get("EV_OIDC_CLIENT_SECRET", ""),
                   parse_roles(env.get("EV_OIDC_ROLES", "")),
                   env.get("EV_OIDC_GROUPS_CLAIM", "groups"), env.get("EV_OIDC_TEAM", ""),
                   env.get("EV_PASSWORD_SIGNIN", "on").lower() not in ("off", "0", "false"))


def password_signin(config: SsoConfig | None, env: Mapping[str, str] = os.environ) -> bool:
    if config is not None:
        return config.password_signin
    return env.get("EV_PASSWORD_SIGNIN", "on").lower() not in ("off", "0", "false")


def parse_roles(text: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for part in text.split(","):
        if not part.strip():
            continue
        group, _, role = part.partition("=")
        if role.strip() not in ROLES:
            raise ValueError(f"EV_OIDC_ROLES: {role.strip()!r} is not a role ({', '.join(ROLES)})")
        pairs.append((group.strip(), role.strip()))
    return tuple(pairs)


def role_for(groups: Any, roles: tuple[tuple[str, str], ...]) -> str | None:
    """The role the first mapped group gives, else None."""
    held = {g for g in groups if isinstance(g, str)} if isinstance(groups, list) else set()
    return next((role for group, role in roles if group in held), None)


def _member_id(email: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", email.split("@")[0].lower())[:40].strip("_") or "member"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    return candidate


def sign_in(workspace: Any, config: SsoConfig, claims: Mapping[str, Any]) -> str:
    """The member id the verified claims sign in as: matched by email (role updated from the
    groups) or provisioned. Raises SsoRefused."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or len(email) > 200:
        raise SsoRefused("the provider sent no email address")
    if claims.get("email_verified") is False:
        raise SsoRefused(f"the provider has not verified {email}")
    role = role_for(claims.get(config.groups_claim), config.roles)
    if role is None:
        raise SsoRefused(f"{email}: none of your groups at the provider gives a role in this "
                         "workspace; ask an admin")
    with workspace.store.begin() as tx:
        source = tx.documents.get("org") or ""
        org = tx.org.load()
    data = yamlsafe.load(source) if source else {"teams": [], "members": []}
    members = data.setdefault("members", [])
    found = next((m for m in members if str(m.get("email", "")).lower() == email.lower()), None)
    if found is not None:
        if found.get("role") != role:
            previous, found["role"] = found.get("role"), role
            workspace.apply_org(yaml.safe_dump(data, sort_keys=False))
            _record(workspace, found["id"], email, role, previous, provisioned=False)
        return found["id"]
    team = config.team or next((t.id for t in org.teams if t.kind == "hub"),
                               org.teams[0].id if org.teams else "")
    if not team:
        raise SsoRefused("the workspace has no team to add new members to")
    name = claims.get("name") if isinstance(claims.get("name"), str) else email
    member_id = _member_id(email, {m.get("id") for m in members})
    members.append({"id": member_id, "name": name[:200], "email": email, "role": role,
                    "teams": [team]})
    workspace.apply_org(yaml.safe_dump(data, sort_keys=False))
    _record(workspace, member_id, email, role, None, provisioned=True)
    return member_id


def _record(workspace: Any, member: str, email: str, role: str, previous: str | None, *,
            provisioned: bool) -> None:
    """The organisation changed by sign-on: an event in the log, as every change is."""
    with workspace.store.begin() as tx:
        tx.events.append([ev.MemberSignedOn(
            stream=f"member:{member}", at=workspace.clock.now(), actor=member, member=member,
            email=email, role=role, previous_role=previous, provisioned=provisioned)])
