"""Reddit: new posts and comments of chosen subreddits, and keyword search across Reddit,
through PRAW (the `channels` extra), read-only with an app's client id and secret."""

from datetime import timedelta

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.reddit.client import RedditConnector

    return RedditConnector(settings, secrets, keep)


def _send(settings, secrets):
    from escapevelocity.channels.reddit.send import RedditSender

    return RedditSender(settings, secrets)


CHANNEL = Channel(
    name="reddit", title="Reddit",
    capabilities=Capabilities(reply=True, public=True, private=True, max_chars=10_000,
                              reply_window=timedelta(days=180), media=False),
    open=_open, settings=("subreddits",),
    optional=("search", "comments", "user_agent", "oauth_url", "reddit_url", "timeout",
              "send_timeout", "replies"),
    secrets=("client_id", "client_secret"),
    notes="`subreddits` (a+b+c) new posts and comments; `search` adds Reddit-wide search; "
    "replies: set `replies` true and the secrets username and password (a script app)",
    send=_send, send_settings=("replies",), send_secrets=("username", "password"))
