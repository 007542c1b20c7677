"""RSS and Atom: blogs, forums (Discourse, phpBB, Reddit's .rss…), review sites, any feed, read
with feedparser (the `channels` extra) after an HTTP GET that honours ETag/Last-Modified."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.rss.client import FeedConnector

    return FeedConnector(settings, secrets, keep)


CHANNEL = Channel(
    name="rss", title="RSS / Atom feeds",
    capabilities=Capabilities(reply=False, public=True, private=False),
    open=_open, settings=("urls",), optional=("as_channel", "timeout"), secrets=(),
    notes="inbound only: `as_channel` web (blogs) or forum labels the mentions",
    defaults={"as_channel": "web"})
