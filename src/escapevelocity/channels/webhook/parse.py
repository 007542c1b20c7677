"""The generic inbound webhook: signature check and replay window (pure), payload → Mention.

A sender signs each delivery with the connection's signing secret:

    X-EV-Timestamp: 1796464800                     (unix seconds, when it was sent)
    X-EV-Delivery:  0f8c2a7e-…                      (unique per delivery; retries reuse it)
    X-EV-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + raw body))

Signing the timestamp with the body means an old delivery cannot be re-sent with a new time;
the window bounds how long delivery ids must be remembered to refuse a replay. The body is
the mentions API's shape (one mention or a list: services/parse.parse_body), so anything that
can post to /api/mentions can be pointed here with a secret instead of an API token.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=5)
MAX_DELIVERY_ID = 200


class Refused(Exception):
    """A delivery that is not accepted: `status` is the HTTP answer, the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    sent_at: datetime


def verify(secret: str, headers: dict[str, str], body: bytes, now: datetime,
           window: timedelta = WINDOW) -> Delivery:
    """The delivery when signed with `secret` and sent within `window` of `now`; Refused
    otherwise. The comparison is constant-time."""
    h = {k.lower(): v for k, v in headers.items()}
    stamp, given = h.get("x-ev-timestamp", ""), h.get("x-ev-signature", "")
    delivery = h.get("x-ev-delivery", "")
    if not stamp or not given or not delivery:
        raise Refused(401, "missing X-EV-Timestamp, X-EV-Signature or X-EV-Delivery")
    if not hmac.compare_digest(sign(secret, stamp, body), given.strip()):
        raise Refused(401, "bad signature")
    try:
        sent = datetime.fromtimestamp(int(stamp), now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise Refused(401, "X-EV-Timestamp is not unix seconds") from None
    if abs(now - sent) > window:
        raise Refused(401, f"timestamp outside the {int(window.total_seconds())} s window")
    if len(delivery) > MAX_DELIVERY_ID:
        raise Refused(400, f"X-EV-Delivery longer than {MAX_DELIVERY_ID} characters")
    return Delivery(delivery, sent)
