"""An email (RFC 5322 bytes) → Mention (pure, the standard library's `email` parser).

Identified by its Message-ID (the same in every folder and on every re-read); In-Reply-To makes
a reply join the case of the message it answers. The text is the subject and the plain body
(HTML turned to text when there is no plain part), without the quoted history below it.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import re

from escapevelocity.channels.text import html_to_text, mention, when
from escapevelocity.domain.records import MAX_TEXT_CHARS, Author, Mention

_QUOTE_HEAD = re.compile(r"^(On .{0,200}wrote:|-----Original Message-----|Le .{0,200}a écrit :)$")


def _body(msg) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: decode what can be decoded
        content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def _without_quotes(text: str) -> str:
    kept = []
    for line in text.splitlines():
        stripped = line.strip()
        if _QUOTE_HEAD.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


def message(raw: bytes, *, fallback_id: str = "") -> Mention:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, address = email.utils.parseaddr(str(msg.get("From", "")))
    if not address:
        raise ValueError("a message without a From address")
    ident = str(msg.get("Message-ID", "")).strip().strip("<>") or fallback_id
    if not ident:
        raise ValueError("a message without Message-ID")
    subject = " ".join(str(msg.get("Subject", "")).split())
    body = _without_quotes(_body(msg))
    text = f"{subject}\n\n{body}".strip() if body else subject
    if len(text) > MAX_TEXT_CHARS:  # a long email: what fits is what an agent reads first
        text = text[: MAX_TEXT_CHARS - 1] + "…"
    date = msg.get("Date")
    created = when(email.utils.parsedate_to_datetime(str(date))) if date else None
    if created is None:
        raise ValueError("a message without Date")
    reply = str(msg.get("In-Reply-To", "")).strip().strip("<>") or None
    refs = str(msg.get("References", "")).split()
    return mention(source_id=ident[:200], channel="email", text=text or "(no text)",
                   author=Author(handle=address.lower()[:200], name=name[:200]),
                   created_at=created, kind="reply" if reply else "post",
                   in_reply_to=reply[:200] if reply else None,
                   thread_id=refs[0].strip("<>")[:200] if refs else None)
