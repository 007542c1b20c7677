"""Mastodon: the mentions notifications of the connected account, plus hashtags and keyword
search, through Mastodon.py (imported only when a connection opens: the `channels` extra)."""


from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.mastodon.client import MastodonConnector

    return MastodonConnector(settings, secrets, keep)


def _send(settings, secrets):
    from escapevelocity.channels.mastodon.send import MastodonSender

    return MastodonSender(settings, secrets)


CHANNEL = Channel(
    name="mastodon", title="Mastodon",
    capabilities=Capabilities(reply=True, public=True, private=True, max_chars=500,
                              reply_window=None, media=True),
    open=_open, settings=("base_url",), optional=("hashtags", "search", "timeout", "send_timeout"),
    secrets=("token",),  # the same token writes replies (scope write:statuses)
    notes="mentions of the account; `hashtags` and `search` (the query's terms) widen it; "
    "replies: a status in reply, or a direct one when private",
    send=_send, send_settings=("base_url",))
