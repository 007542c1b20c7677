"""Seed a workspace: the demo organisation, vocabulary and default playbook."""

from __future__ import annotations

import secrets
from importlib.resources import files

from escapevelocity.services.workspace import Workspace


def _text(*parts: str) -> str:
    return files("escapevelocity").joinpath(*parts).read_text(encoding="utf-8")


def seed_demo(workspace: Workspace, *, password: str | None = None,
              online: bool = True) -> str:
    """Demo org, vocabulary and playbook; every member gets `password` (random if not given).
    Returns the password so the caller can print it once."""
    password = password or secrets.token_urlsafe(9)
    org = workspace.apply_org(_text("demo", "org.yaml"))
    workspace.set_vocabulary(_text("demo", "vocabulary.yaml"))
    with workspace.store.begin() as conn:
        has_playbook = workspace.store.active_playbook(conn) is not None
    if not has_playbook:
        workspace.save_playbook(_text("demo", "playbook.yaml"), author="system",
                                note="the demo's playbook (Orbit Telecom)")
    for member in org.members:
        workspace.set_password(member.id, password)
        if online:
            workspace.set_presence(member.id, "online")
    return password
