"""Replies to a webhook channel: a signed callback (POST, JSON) to the connection's
`callback_url`, signed as inbound deliveries are (X-EV-Timestamp, X-EV-Signature: sha256=HMAC
(secret, timestamp.body)), so the system that sent the mention can post the answer where the
customer is. `X-EV-Delivery` is the reply's idempotency key, the same on every try: the
receiver keeps the ids it has seen (as /hooks/<name> does) and a retry is not a second reply.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import msgspec

from escapevelocity.adapters import tls
from escapevelocity.adapters.secrets import reveal
from escapevelocity.channels.base import retry_after_seconds
from escapevelocity.channels.webhook.parse import sign
from escapevelocity.domain.outbound import SendResult


class CallbackSender:
    name, private = "webhook", True

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        import httpx

        self.url = str(settings["callback_url"])
        if not self.url.startswith(("https://", "http://")):
            raise ValueError(f"callback_url is not an http(s) URL: {self.url[:80]!r}")
        self.secret = reveal(secrets.get("callback_secret") or secrets.get("signing_secret")
                             or "")
        self.http = httpx.Client(timeout=float(settings.get("send_timeout") or 10),
                                 verify=tls.verify())

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        import httpx

        if not self.secret:
            return SendResult(error="the webhook connection has no signing secret")
        body = msgspec.json.encode({
            "event": "reply", "delivery": case["key"], "case_id": case.get("id"),
            "in_reply_to": case.get("source_id"), "to": case.get("author_handle"),
            "text": text, "visibility": visibility})
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-EV-Timestamp": stamp,
                   "X-EV-Delivery": str(case["key"]),
                   "X-EV-Signature": sign(self.secret, stamp, body),
                   "User-Agent": "escapevelocity"}
        try:
            r = self.http.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return SendResult(error=f"the callback timed out: {exc}", transient=True)
        except httpx.TransportError as exc:
            return SendResult(error=f"the callback is unreachable: {exc}", transient=True)
        if r.status_code == 429:
            return SendResult(error="the callback is rate limited (429)", transient=True,
                              retry_after=retry_after_seconds(r.headers.get("Retry-After")))
        if r.status_code >= 500:
            return SendResult(error=f"the callback failed: HTTP {r.status_code}", transient=True)
        if r.status_code in (401, 403):
            return SendResult(error=f"the callback refused our signature (secrets differ?): "
                                    f"HTTP {r.status_code}")
        if r.status_code >= 300:
            return SendResult(error=f"the callback refused the reply: HTTP {r.status_code} "
                                    f"{r.text[:200]}")
        try:
            answer = r.json() if r.content else {}
        except ValueError:
            answer = {}
        ident = answer.get("id") if isinstance(answer, dict) else None
        return SendResult(network_id=str(ident or case["key"]),
                          url=str(answer.get("url") or "") if isinstance(answer, dict) else "")

    def close(self) -> None:
        self.http.close()
