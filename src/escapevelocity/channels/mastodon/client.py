"""Mastodon through Mastodon.py. Streams read per fetch: the account's mention notifications,
then each configured hashtag's timeline, then the search for the listening query's terms. Each
stream keeps its own high-water id in the cursor (a JSON object), and pages forward with
`min_id`, so after an outage the connector reads every page it missed, oldest first.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from escapevelocity.adapters.secrets import reveal
from escapevelocity.channels.base import (
    CredentialsExpired,
    Malformed,
    Misconfigured,
    Page,
    RateLimited,
    Transient,
    retry_after_seconds,
)
from escapevelocity.channels.mastodon import parse
from escapevelocity.domain.records import Mention

log = logging.getLogger(__name__)
PAGE = 40  # Mastodon's largest page for notifications and timelines


def _id_key(value: Any) -> tuple[int, str]:
    s = str(value)
    return (len(s), s)  # snowflake ids: compare as numbers of any length


class MastodonSession:
    """One Mastodon.py client on a requests session that remembers its last response: the
    listening connector and the reply sender both read its status and Retry-After."""

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 timeout: float) -> None:
        import requests
        from mastodon import Mastodon

        self.session = requests.Session()
        self.last_response: Any = None
        self.session.hooks["response"].append(self._remember)
        self.api = Mastodon(
            access_token=reveal(secrets.get("token", "")) or None,
            api_base_url=str(settings["base_url"]), ratelimit_method="throw",
            request_timeout=timeout, session=self.session, version_check_mode="none",
            user_agent="escapevelocity")

    def _remember(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        self.last_response = response
        return response

    def _retry_after(self) -> float | None:
        headers = getattr(self.last_response, "headers", {}) or {}
        after = retry_after_seconds(headers.get("Retry-After"))
        if after is None and self.api.ratelimit_reset:
            after = max(0.0, float(self.api.ratelimit_reset) - time.time())
        return after

    def close(self) -> None:
        self.session.close()


class MastodonConnector(MastodonSession):
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        super().__init__(settings, secrets, float(settings.get("timeout") or 10))
        self.keep = keep
        self.hashtags = [str(h).lstrip("#") for h in settings.get("hashtags") or ()]
        self.search = str(settings.get("search") or "")
        self.mentions = bool(settings.get("mentions", True))
        self.rejected = 0

    def streams(self) -> list[str]:
        out = ["mentions"] if self.mentions else []
        out += [f"tag:{h}" for h in self.hashtags]
        if self.search:
            out.append("search")
        return out

    def fetch(self, cursor: str | None) -> Page:
        marks: dict[str, str] = json.loads(cursor) if cursor else {}
        mentions: list[Mention] = []
        read = 0
        more = False
        for stream in self.streams():
            items = self._call(stream, marks.get(stream))
            read += len(items)
            more |= len(items) >= PAGE
            for item in items:
                m = self._parse(stream, item)
                if m is not None and self.keep(m):
                    mentions.append(m)
            if items:
                marks[stream] = max((str(i["id"]) for i in items), key=_id_key)
        return Page(mentions, json.dumps(marks, sort_keys=True), read, more)

    def _parse(self, stream: str, item: Mapping[str, Any]) -> Mention | None:
        try:
            return parse.notification(item) if stream == "mentions" else parse.status(item)
        except (KeyError, TypeError, ValueError) as exc:
            self.rejected += 1
            log.warning("mastodon %s item %s rejected: %s", stream, item.get("id"), exc)
            return None

    def _call(self, stream: str, since: str | None) -> list[Any]:
        from mastodon.errors import (
            MastodonAPIError,
            MastodonNetworkError,
            MastodonNotFoundError,
            MastodonRatelimitError,
            MastodonServerError,
            MastodonUnauthorizedError,
        )

        try:
            if stream == "mentions":
                got = self.api.notifications(types=["mention"], min_id=since, limit=PAGE)
            elif stream.startswith("tag:"):
                got = self.api.timeline_hashtag(stream[4:], min_id=since, limit=PAGE)
            else:
                # exclude_unreviewed concerns hashtags only; leaving it on makes Mastodon.py
                # ask the instance's version first, and recurse without end when that fails.
                got = self.api.search_v2(self.search, result_type="statuses", min_id=since,
                                         resolve=False, exclude_unreviewed=False)["statuses"]
        except MastodonRatelimitError as exc:
            raise RateLimited(f"Mastodon: {exc}", self._retry_after()) from None
        except MastodonUnauthorizedError as exc:
            raise CredentialsExpired(f"Mastodon refused the token: {exc}") from None
        except MastodonNotFoundError as exc:
            raise Misconfigured(f"Mastodon: {stream} not found: {exc}") from None
        except MastodonServerError as exc:
            raise Transient(f"Mastodon server error: {exc}") from None
        except MastodonNetworkError as exc:
            raise Transient(f"Mastodon unreachable: {exc}") from None
        except MastodonAPIError as exc:
            status = getattr(self.last_response, "status_code", 0)
            if status == 403:
                raise CredentialsExpired(f"Mastodon refused: {exc}") from None
            if "parse" in str(exc) and "JSON" in str(exc):
                raise Malformed("Mastodon answered something that is not JSON") from None
            raise Transient(f"Mastodon: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise Malformed(f"Mastodon answered an unexpected shape: {exc}") from None
        if not isinstance(got, list):
            raise Malformed("Mastodon answered an unexpected shape (not a list)")
        return sorted(got, key=lambda i: _id_key(i["id"]))
