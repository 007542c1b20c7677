"""RSS/Atom: an HTTP GET per feed with httpx (timeouts, status codes, Retry-After, conditional
requests with the stored ETag and Last-Modified), the bytes parsed by feedparser. A feed only
holds its latest entries, so "backfill" is what the feed still lists; ingest drops entries
already read, by channel and source id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from escapevelocity.adapters import tls
from escapevelocity.channels.base import (
    CredentialsExpired,
    Malformed,
    Misconfigured,
    Page,
    RateLimited,
    Transient,
    retry_after_seconds,
)
from escapevelocity.channels.rss import parse
from escapevelocity.domain.records import Mention

log = logging.getLogger(__name__)
MAX_FEED_BYTES = 5_000_000


class FeedConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        import httpx

        urls = settings.get("urls") or []
        self.urls = [urls] if isinstance(urls, str) else [str(u) for u in urls]
        if not self.urls:
            raise Misconfigured("an RSS connection needs at least one feed URL")
        self.as_channel = str(settings.get("as_channel") or "web")
        self.keep = keep
        self.http = httpx.Client(timeout=float(settings.get("timeout") or 15), verify=tls.verify(),
                                 follow_redirects=True,
                                 headers={"User-Agent": "escapevelocity feed reader"})
        self.rejected = 0

    def fetch(self, cursor: str | None) -> Page:
        state: dict[str, dict[str, str]] = json.loads(cursor) if cursor else {}
        mentions: list[Mention] = []
        read = 0
        for url in self.urls:
            body, validators = self._get(url, state.get(url, {}))
            if body is None:
                continue  # 304: nothing new
            feed = parse.parse_feed(body)
            if not feed.get("version") or (feed.get("bozo") and not feed.get("entries")):
                # An HTML error page answered 200, or the document is cut: retried.
                why = feed.get("bozo_exception") or "no RSS or Atom root"
                raise Malformed(f"{url} is not a feed ({why})")
            for e in feed.entries:
                read += 1
                try:
                    m = parse.entry(e, url, channel=self.as_channel)
                except (KeyError, TypeError, ValueError) as exc:
                    self.rejected += 1
                    log.warning("feed %s entry rejected: %s", url, exc)
                    continue
                if self.keep(m):
                    mentions.append(m)
            state[url] = validators
        mentions.sort(key=lambda m: m.created_at)
        return Page(mentions, json.dumps(state, sort_keys=True), read)

    def _get(self, url: str, seen: Mapping[str, str]) -> tuple[bytes | None, dict[str, str]]:
        import httpx

        headers = {}
        if seen.get("etag"):
            headers["If-None-Match"] = seen["etag"]
        if seen.get("modified"):
            headers["If-Modified-Since"] = seen["modified"]
        try:
            r = self.http.get(url, headers=headers)
        except httpx.TimeoutException as exc:
            raise Transient(f"{url}: timed out ({exc.__class__.__name__})") from None
        except httpx.HTTPError as exc:
            raise Transient(f"{url}: unreachable ({exc})") from None
        if r.status_code == 304:
            return None, dict(seen)
        if r.status_code == 429:
            raise RateLimited(f"{url}: 429", retry_after_seconds(r.headers.get("Retry-After")))
        if r.status_code in (401, 403):
            raise CredentialsExpired(f"{url}: refused ({r.status_code})")
        if r.status_code in (404, 410):
            raise Misconfigured(f"{url}: feed gone ({r.status_code})")
        if r.status_code >= 400:
            raise Transient(f"{url}: HTTP {r.status_code}")
        if len(r.content) > MAX_FEED_BYTES:
            raise Malformed(f"{url}: feed larger than {MAX_FEED_BYTES} bytes")
        validators = {k: v for k, v in (("etag", r.headers.get("ETag")),
                                        ("modified", r.headers.get("Last-Modified"))) if v}
        return r.content, validators

    def close(self) -> None:
        self.http.close()
