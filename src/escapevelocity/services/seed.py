"""Seed a workspace: a brand-neutral one (`ev workspace init`) or the Orbit demo (`ev demo`).

A new workspace gets the brand-neutral default playbook, an empty vocabulary, its brand
profile and one admin who sets up the rest (members with `ev org apply`, the profile in the
web app); the demo organisation, customers and vocabulary are the demo's alone.
"""

from __future__ import annotations

import secrets
from importlib.resources import files

from escapevelocity.domain.brand import BrandProfile, parse_yaml
from escapevelocity.services import brand as brand_service
from escapevelocity.services.workspace import Workspace

# The default playbook's teams, so every track routes to a queue from the first minute; one
# admin in the hub. `ev org apply` replaces it with the real organisation.
_EMPTY_ORG = """\
teams:
  - {{id: hub, name: Social Hub, kind: hub, strategy: least_load, lead: {admin}}}
  - {{id: care, name: Customer Care, kind: spoke, hub: hub, strategy: least_load, overflow: hub}}
  - {{id: pr, name: PR, kind: spoke, hub: hub, strategy: least_load, overflow: hub}}
  - {{id: legal, name: Legal, kind: spoke, hub: hub, strategy: least_load, overflow: hub}}
  - {{id: sales, name: Sales, kind: spoke, hub: hub, strategy: least_load, overflow: hub}}
  - {{id: product, name: Product, kind: spoke, hub: hub, strategy: least_load, overflow: hub}}
members:
  - {{id: {admin}, name: Administrator, role: admin, teams: [hub, care, pr, legal, sales, product]}}
"""


def _text(*parts: str) -> str:
    return files("escapevelocity").joinpath(*parts).read_text(encoding="utf-8")


def seed_demo(workspace: Workspace, *, password: str | None = None,
              online: bool = True) -> str:
    """Demo org, vocabulary and playbook; every member gets `password` (random if not given).
    Returns the password so the caller can print it once."""
    password = password or secrets.token_urlsafe(9)
    org = workspace.apply_org(_text("demo", "org.yaml"))
    workspace.set_vocabulary(_text("demo", "vocabulary.yaml"))
    with workspace.store.begin() as tx:
        has_playbook = tx.playbooks.active() is not None
    if not has_playbook:
        workspace.save_playbook(_text("demo", "playbook.yaml"), author="system",
                                note="the demo's playbook (Orbit Telecom)")
    if brand_service.current(workspace.store)[1] is None:
        brand_service.install(workspace.store, workspace.clock,
                              parse_yaml(_text("demo", "brand.yaml")), note="the demo brand")
    for member in org.members:
        workspace.set_password(member.id, password)
        if online:
            workspace.set_presence(member.id, "online")
    return password


def seed_workspace(workspace: Workspace, brand: BrandProfile, *, admin: str = "admin",
                   password: str | None = None) -> str:
    """A brand-neutral workspace: the default playbook, no vocabulary, the brand profile and
    one admin member. Returns the admin's password (random if not given)."""
    password = password or secrets.token_urlsafe(9)
    with workspace.store.begin() as tx:
        has_org = bool(tx.org.load().members)
        has_playbook = tx.playbooks.active() is not None
    if not has_org:
        workspace.apply_org(_EMPTY_ORG.format(admin=admin))
        workspace.set_vocabulary("{}\n")
    if not has_playbook:
        workspace.save_playbook(_text("playbooks", "default.yaml"), author="system",
                                note="default playbook shipped with Escape Velocity")
    if not brand.empty or brand_service.current(workspace.store)[1] is None:
        brand_service.install(workspace.store, workspace.clock, brand,
                              note="set at ev workspace init")
    workspace.set_password(admin, password)
    return password
