"""A generic inbound webhook: anything that can sign a POST (a contact form, a review site, a
chat bot, a CRM) delivers mentions to /hooks/<connection name>. Nothing to poll."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    raise RuntimeError("a webhook connection is pushed to, not polled")


def _send(settings, secrets):
    from escapevelocity.channels.webhook.send import CallbackSender

    return CallbackSender(settings, secrets)


CHANNEL = Channel(
    name="webhook", title="Inbound webhook (HMAC-signed)",
    # Replies only when a `callback_url` is set (a signed callback: channels/webhook/send.py).
    capabilities=Capabilities(reply=True, public=True, private=True),
    open=_open, settings=(), optional=("window_seconds", "callback_url", "send_timeout"),
    secrets=("signing_secret",),
    pull=False, notes="POST /hooks/<name>; headers X-EV-Timestamp, X-EV-Delivery, "
    "X-EV-Signature: sha256=HMAC(secret, timestamp.body); replies are POSTed signed the same "
    "way to `callback_url` when it is set",
    send=_send, send_settings=("callback_url",), send_secrets=("callback_secret",))
