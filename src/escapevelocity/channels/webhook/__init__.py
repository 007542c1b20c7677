"""A generic inbound webhook: anything that can sign a POST (a contact form, a review site, a
chat bot, a CRM) delivers mentions to /hooks/<connection name>. Nothing to poll."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    raise RuntimeError("a webhook connection is pushed to, not polled")


CHANNEL = Channel(
    name="webhook", title="Inbound webhook (HMAC-signed)",
    capabilities=Capabilities(reply=False, public=False, private=False),
    open=_open, settings=(), optional=("window_seconds",), secrets=("signing_secret",),
    pull=False, notes="POST /hooks/<name>; headers X-EV-Timestamp, X-EV-Delivery, "
    "X-EV-Signature: sha256=HMAC(secret, timestamp.body)")
