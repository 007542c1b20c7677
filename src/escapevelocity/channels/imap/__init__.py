"""IMAP email: a support mailbox's folder read with imap-tools (the `channels` extra) without
marking anything seen, resuming from the last UID (reset when the folder's UIDVALIDITY
changes; Message-IDs keep a re-read from duplicating)."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.imap.client import ImapConnector

    return ImapConnector(settings, secrets, keep)


CHANNEL = Channel(
    name="imap", title="Email (IMAP)",
    capabilities=Capabilities(reply=True, public=False, private=True, max_chars=0,
                              media=True),
    open=_open, settings=("host", "username"),
    optional=("port", "folder", "ssl", "timeout", "page"), secrets=("password",),
    notes="replies (later) go by SMTP; reading never marks messages seen",
    defaults={"folder": "INBOX", "ssl": True})
