"""Bluesky: posts from Jetstream (the JSON websocket over the firehose), kept by the listening
query (keywords, handles), optionally only from some accounts (`dids`). Needs the `channels`
extra (websockets)."""


from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.bluesky.client import JetstreamConnector

    return JetstreamConnector(settings, secrets, keep)


def _send(settings, secrets):
    from escapevelocity.channels.bluesky.send import BlueskySender

    return BlueskySender(settings, secrets)


CHANNEL = Channel(
    name="bluesky", title="Bluesky (Jetstream)",
    capabilities=Capabilities(reply=True, public=True, private=True, max_chars=300,
                              reply_window=None, media=True),
    open=_open, settings=(), optional=("jetstream_url", "dids", "handles", "max_events",
                                       "idle_seconds", "timeout", "pds_url", "send_timeout",
                                       "accounts", "resolver_url"),
    secrets=(),  # reading Jetstream needs no account; replies need an app password
    notes="every post on the network passes the query; `dids` (or `accounts`: handles, "
    "resolved to DIDs) narrows to some accounts; "
    "replies: set `pds_url` and the secrets identifier and app_password",
    defaults={"jetstream_url": "wss://jetstream2.us-east.bsky.network/subscribe"},
    send=_send, send_settings=("pds_url",), send_secrets=("identifier", "app_password"))
