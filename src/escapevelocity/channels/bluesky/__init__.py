"""Bluesky: posts from Jetstream (the JSON websocket over the firehose), kept by the listening
query (keywords, handles), optionally only from some accounts (`dids`). Needs the `channels`
extra (websockets)."""


from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.bluesky.client import JetstreamConnector

    return JetstreamConnector(settings, secrets, keep)


CHANNEL = Channel(
    name="bluesky", title="Bluesky (Jetstream)",
    capabilities=Capabilities(reply=True, public=True, private=False, max_chars=300,
                              reply_window=None, media=True),
    open=_open, settings=(), optional=("jetstream_url", "dids", "handles", "max_events",
                                       "idle_seconds", "timeout"),
    secrets=(),  # reading Jetstream needs no account; replies (later) need an app password
    notes="every post on the network passes the query; `dids` narrows to some accounts",
    defaults={"jetstream_url": "wss://jetstream2.us-east.bsky.network/subscribe"})
