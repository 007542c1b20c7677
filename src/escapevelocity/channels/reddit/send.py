"""Replies on Reddit through PRAW, as the brand's account (a "script" app: the client id and
secret, plus the account's username and password, given as connection secrets).

Public: a comment in reply to the post or comment (its fullname is the mention's source id).
Private: a message to the author. Reddit has no idempotency key, so before trying again the
sender looks at what the account wrote last (its newest comments, its sent messages) for this
very reply: a try that timed out after Reddit had posted it is found, not posted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from escapevelocity.adapters.secrets import reveal
from escapevelocity.channels.base import retry_after_seconds
from escapevelocity.channels.reddit.client import bounded_session
from escapevelocity.domain.outbound import SendResult

MAX_CHARS = 10_000
LOOK_BACK = 25  # the account's newest comments or messages read before a retry


class RedditSender:
    name, private = "reddit", True

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        import praw
        from prawcore.sessions import FiniteRetryStrategy

        extra = {k: str(settings[k]) for k in ("oauth_url", "reddit_url") if settings.get(k)}
        self.reddit = praw.Reddit(
            client_id=reveal(secrets.get("client_id", "")),
            client_secret=reveal(secrets.get("client_secret", "")),
            username=reveal(secrets.get("username", "")),
            password=reveal(secrets.get("password", "")),
            user_agent=str(settings.get("user_agent") or "escapevelocity:replies:v1"),
            requestor_kwargs={"session": bounded_session(float(
                settings.get("send_timeout") or settings.get("timeout") or 16))},
            check_for_updates=False, check_for_async=False, **extra)

        class _Once(FiniteRetryStrategy):
            """We own retries (adapters/outbound.send_with_retries: backoff, the look before
            a retry); prawcore's own would post again blind."""

            def should_retry_on_failure(self) -> bool:
                return False

        self.reddit._core._retry_strategy_class = _Once

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        if len(text) > MAX_CHARS:
            return SendResult(error=f"the reply is {len(text)} characters; Reddit takes "
                                    f"{MAX_CHARS}")
        if visibility == "private":
            return self._guard(lambda: self._message(case, text))
        return self._guard(lambda: self._comment(case, text))

    def _thing(self, fullname: str) -> Any:
        kind, _, ident = fullname.partition("_")
        if kind == "t1":
            return self.reddit.comment(ident)
        if kind == "t3":
            return self.reddit.submission(ident)
        raise ValueError(f"Reddit cannot reply to {fullname!r}")

    def _comment(self, case: Mapping[str, Any], text: str) -> SendResult:
        made = self._thing(str(case["source_id"])).reply(text)
        if made is None:
            return SendResult(error="Reddit took the reply but returned no comment "
                                    "(the thread is locked or archived?)")
        return SendResult(network_id=str(made.fullname), url=self._url(made))

    def _message(self, case: Mapping[str, Any], text: str) -> SendResult:
        to = str(case.get("author_handle") or "").removeprefix("u/").removeprefix("/u/")
        if not to:
            return SendResult(error="no Reddit user to write to")
        self.reddit.redditor(to).message(subject=_subject(case), message=text)
        found = self._sent_message(to, text)
        return found or SendResult(network_id=f"message:{to}")

    def _sent_message(self, to: str, text: str) -> SendResult | None:
        for m in self.reddit.inbox.sent(limit=LOOK_BACK):
            if str(getattr(m, "dest", "")).lower() == to.lower() and m.body == text:
                return SendResult(network_id=str(m.fullname))
        return None

    def find_sent(self, case: Mapping[str, Any], text: str, visibility: str
                  ) -> SendResult | None:
        """The reply, if the try that seemed to fail did post it."""
        def look() -> SendResult:
            if visibility == "private":
                to = str(case.get("author_handle") or "").removeprefix("u/")
                return self._sent_message(to, text) or SendResult(error="not found")
            parent = str(case["source_id"])
            for c in self.reddit.user.me().comments.new(limit=LOOK_BACK):
                if c.parent_id == parent and c.body == text:
                    return SendResult(network_id=str(c.fullname), url=self._url(c))
            return SendResult(error="not found")

        found = self._guard(look)
        return found if found.ok else None

    def _url(self, thing: Any) -> str:
        link = str(getattr(thing, "permalink", "") or "")
        return f"https://www.reddit.com{link}" if link.startswith("/") else link

    def _guard(self, call: Callable[[], SendResult]) -> SendResult:
        import prawcore.exceptions as pe
        from praw.exceptions import PRAWException, RedditAPIException

        try:
            return call()
        except pe.TooManyRequests as exc:
            return SendResult(error=f"Reddit rate limit: {exc}", transient=True,
                              retry_after=retry_after_seconds(exc.retry_after))
        except (pe.OAuthException, pe.InvalidToken, pe.Forbidden) as exc:
            return SendResult(error=f"Reddit refused the account's credentials (expired?): "
                                    f"{exc}")
        except (pe.NotFound, pe.Redirect) as exc:
            return SendResult(error=f"Reddit: not found ({exc})")
        except pe.ResponseException as exc:
            status = exc.response.status_code
            if status == 429:
                return SendResult(error="Reddit rate limit", transient=True,
                                  retry_after=retry_after_seconds(
                                      exc.response.headers.get("Retry-After")))
            if status in (401, 403):
                return SendResult(error=f"Reddit refused the account's credentials: {status}")
            return SendResult(error=f"Reddit: HTTP {status}", transient=status >= 500)
        except pe.RequestException as exc:
            return SendResult(error=f"Reddit unreachable: {exc}", transient=True)
        except RedditAPIException as exc:  # RATELIMIT comes as an API error, not a 429
            ratelimited = any(i.error_type == "RATELIMIT" for i in exc.items)
            return SendResult(error=f"Reddit: {exc}", transient=ratelimited,
                              retry_after=60.0 if ratelimited else None)
        except (PRAWException, ValueError, KeyError, TypeError) as exc:
            return SendResult(error=f"Reddit: {exc}")


def _subject(case: Mapping[str, Any]) -> str:
    title = " ".join(str(case.get("title") or "your post").split())
    return f"About {title}"[:100]
