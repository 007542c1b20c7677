"""Replies on Mastodon through Mastodon.py: a status with `in_reply_to_id` (public), or a
direct-visibility status addressed to the customer (private).

The mention is known by its `uri` (the same on every instance); the instance we post from has
its own id for it, which a resolving search finds. Every try of one reply carries the same
Idempotency-Key, which Mastodon honours: a retry after a timeout that had in fact posted
answers with the status already made instead of posting it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from escapevelocity.channels.mastodon.client import MastodonSession
from escapevelocity.domain.outbound import SendResult

MAX_CHARS = 500


class MastodonSender(MastodonSession):
    name, private = "mastodon", True

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        super().__init__(settings, secrets, float(settings.get("send_timeout")
                                                  or settings.get("timeout") or 10))

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        try:
            local = self._local_id(str(case["source_id"]))
            if local is None:
                return SendResult(error="Mastodon cannot find the post to answer (deleted?)")
            handle = str(case.get("author_handle") or "")
            body = text if not handle or f"@{handle}" in text else f"@{handle} {text}"
            if len(body) > MAX_CHARS:
                return SendResult(error=f"the reply is {len(body)} characters with the "
                                        f"mention; Mastodon takes {MAX_CHARS}")
            status = self.api.status_post(
                body, in_reply_to_id=local,
                visibility="direct" if visibility == "private" else "public",
                idempotency_key=str(case["key"]))
        except Exception as exc:  # Mastodon.py's errors, sorted in _failure
            return self._failure(exc)
        return SendResult(network_id=str(status["id"]),
                          url=str(status.get("url") or status.get("uri") or ""))

    def _local_id(self, uri: str) -> str | None:
        found = self.api.search_v2(uri, resolve=True, result_type="statuses",
                                   exclude_unreviewed=False)
        statuses = found["statuses"] if found else []
        return str(statuses[0]["id"]) if statuses else None

    def _failure(self, exc: Exception) -> SendResult:
        from mastodon.errors import (
            MastodonError,
            MastodonNetworkError,
            MastodonNotFoundError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        status = getattr(self.last_response, "status_code", 0)
        if isinstance(exc, MastodonRatelimitError) or status == 429:
            return SendResult(error=f"Mastodon rate limit: {exc}", transient=True,
                              retry_after=self._retry_after())
        if isinstance(exc, MastodonUnauthorizedError) or status in (401, 403):
            return SendResult(error=f"Mastodon refused the token (credentials expired?): {exc}")
        if isinstance(exc, MastodonNotFoundError):
            return SendResult(error=f"Mastodon: not found: {exc}")
        if isinstance(exc, MastodonServerError | MastodonNetworkError) or status >= 500:
            return SendResult(error=f"Mastodon unreachable or failing: {exc}", transient=True)
        if isinstance(exc, MastodonError | ValueError | KeyError | TypeError):
            return SendResult(error=f"Mastodon: {exc}")
        raise exc
