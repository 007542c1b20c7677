"""What a member may see, and cases shaped for pages.

Kept apart from the routes so the rules (a spoke sees its own cases, a hub sees its spokes)
are one function the inbox, the case page and the live stream all share.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from escapevelocity.domain.org import Member, Organisation
from escapevelocity.domain.org import visible_teams as org_visible_teams
from escapevelocity.domain.pii import mask_pii
from escapevelocity.domain.records import Mention, Signals

CASE_ID = re.compile(r"c[0-9a-f]{12}")  # domain/cases.case_id_for's shape: checked before any query


def visible_teams(org: Organisation, member: Member) -> set[str]:
    """The organisation's rule (domain/org.py), as a concrete set of team ids."""
    teams = org_visible_teams(org, member.id)
    return {t.id for t in org.teams} if teams is None else teams


def can_see(org: Organisation, member: Member, case: dict[str, Any]) -> bool:
    """Its team's queue is visible to the member, or they must approve a reply on it."""
    return (case.get("team") in visible_teams(org, member)
            or (case.get("approver") == member.id and case.get("approval_state") == "pending"))


_mention = msgspec.json.Decoder(Mention)
_signals = msgspec.json.Decoder(Signals)


def conversation(rows: list[Any]) -> list[dict[str, Any]]:
    """Mentions of a case, oldest first, with PII masked for display."""
    out = []
    for row in rows:
        m = _mention.decode(row.body)
        s = _signals.decode(row.signals)
        out.append({"mention": m, "signals": s, "text": mask_pii(m.text),
                    "bio": mask_pii(m.author.bio)})
    out.sort(key=lambda item: item["mention"].created_at)
    return out


def fill_template(text: str, author_name: str, handle: str) -> str:
    name = author_name or handle
    return text.replace("{author_name}", name).replace("{handle}", handle)


def flash(request: Any, message: str = "", error: str = "") -> None:
    """The outcome of a form post, shown once on the next page. Kept in the signed session,
    never in the URL, so a crafted link cannot put words in the app's mouth."""
    request.session["flash"] = [message[:300], error[:300]]


def pop_flash(request: Any) -> tuple[str, str]:
    message, error = request.session.pop("flash", None) or ("", "")
    return message, error
