"""Cases shaped for pages: the conversation with PII masked, templates filled, flash messages.

Who may see what is domain/access.py's question; web/deps.py asks it for every case route.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from escapevelocity.domain.pii import mask_pii
from escapevelocity.domain.records import Mention, Signals

CASE_ID = re.compile(r"c[0-9a-f]{12}")  # domain/cases.case_id_for's shape: checked before any query


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
