"""Reddit through PRAW, read-only (an app's client id and secret: the client-credentials
grant). Streams: the subreddits' new posts, their new comments, and a Reddit-wide search for
the listening query's terms. Listings are newest first; each stream reads back to its stored
high-water mark (created_utc), so after an outage it backfills up to Reddit's 1000-item
listing depth, and ingest drops what was already read in the boundary second.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping
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
from escapevelocity.channels.reddit import parse
from escapevelocity.domain.records import Mention

log = logging.getLogger(__name__)
FIRST_POLL = 100  # a new connection reads one page back, not Reddit's whole listing
DEPTH = 1000


class RedditConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        import praw
        from prawcore.sessions import FiniteRetryStrategy

        self.keep = keep
        self.subreddits = "+".join(str(s).removeprefix("r/")
                                   for s in _as_list(settings.get("subreddits")))
        self.comments = bool(settings.get("comments", True))
        self.search = str(settings.get("search") or "")
        extra = {k: str(settings[k]) for k in ("oauth_url", "reddit_url") if settings.get(k)}
        self.reddit = praw.Reddit(
            client_id=reveal(secrets.get("client_id", "")),
            client_secret=reveal(secrets.get("client_secret", "")),
            user_agent=str(settings.get("user_agent") or "escapevelocity:listening:v1"),
            requestor_kwargs={"session": bounded_session(float(settings.get("timeout") or 16))},
            check_for_updates=False, check_for_async=False, **extra)
        self.reddit.read_only = True

        class _Once(FiniteRetryStrategy):
            """We own retries (the runner's backoff, reported in the connection's health):
            prawcore's own would sleep unseen and hide a degraded network."""

            def should_retry_on_failure(self) -> bool:
                return False

        self.reddit._core._retry_strategy_class = _Once
        self.rejected = 0

    def streams(self) -> list[str]:
        out = []
        if self.subreddits:
            out.append("new")
            if self.comments:
                out.append("comments")
        if self.search:
            out.append("search")
        return out

    def _listing(self, stream: str, limit: int) -> Iterable[Any]:
        if stream == "new":
            return self.reddit.subreddit(self.subreddits).new(limit=limit)
        if stream == "comments":
            return self.reddit.subreddit(self.subreddits).comments(limit=limit)
        return self.reddit.subreddit("all").search(self.search, sort="new", limit=limit)

    def fetch(self, cursor: str | None) -> Page:
        marks: dict[str, float] = json.loads(cursor) if cursor else {}
        mentions: list[Mention] = []
        read = 0
        for stream in self.streams():
            mark = marks.get(stream)
            newest = mark
            for thing in self._guard(lambda s=stream, m=mark: list(
                    self._listing(s, FIRST_POLL if m is None else DEPTH))):
                data = {k: v for k, v in vars(thing).items() if not k.startswith("_")}
                created = float(data.get("created_utc") or 0)
                if mark is not None and created < mark:
                    break  # read back to where the last poll stopped
                read += 1
                newest = max(newest or created, created)
                try:
                    m = parse.thing(data)
                except (KeyError, TypeError, ValueError) as exc:
                    self.rejected += 1
                    log.warning("reddit %s %s rejected: %s", stream, data.get("name"), exc)
                    continue
                if m is not None and self.keep(m):
                    mentions.append(m)
            if newest is not None:
                marks[stream] = newest
        mentions.reverse()  # oldest first, as they happened
        return Page(mentions, json.dumps(marks, sort_keys=True), read, more=False)

    def _guard(self, call: Callable[[], list[Any]]) -> list[Any]:
        import prawcore.exceptions as pe
        from praw.exceptions import PRAWException

        try:
            return call()
        except pe.TooManyRequests as exc:
            raise RateLimited(f"Reddit: {exc}", retry_after_seconds(exc.retry_after)) from None
        except (pe.OAuthException, pe.InvalidToken, pe.Forbidden) as exc:
            raise CredentialsExpired(f"Reddit refused the app's credentials: {exc}") from None
        except (pe.NotFound, pe.Redirect) as exc:
            raise Misconfigured(f"Reddit: no such subreddit ({exc})") from None
        except pe.BadJSON as exc:
            raise Malformed(f"Reddit answered something that is not JSON: {exc}") from None
        except pe.ResponseException as exc:
            status = exc.response.status_code
            if status == 429:  # on the token request prawcore has no TooManyRequests
                raise RateLimited("Reddit: 429", retry_after_seconds(
                    exc.response.headers.get("Retry-After"))) from None
            if status in (401, 403):
                raise CredentialsExpired(f"Reddit refused: {status}") from None
            raise Transient(f"Reddit: HTTP {status}") from None
        except pe.RequestException as exc:
            raise Transient(f"Reddit unreachable: {exc}") from None
        except (PRAWException, ValueError, KeyError, TypeError) as exc:
            raise Malformed(f"Reddit answered an unexpected shape: {exc}") from None

    def close(self) -> None:
        pass


def bounded_session(timeout: float) -> Any:
    """A requests session whose every request waits at most `timeout`: PRAW's own `timeout`
    setting never reaches prawcore, which passes its default (16 s) on each call."""
    import requests

    class Bounded(requests.Session):
        def request(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
            kwargs["timeout"] = min(float(kwargs.get("timeout") or timeout), timeout)
            return super().request(*args, **kwargs)

    return Bounded()


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", "+").split("+") if v.strip()]
    return [str(v) for v in value]
