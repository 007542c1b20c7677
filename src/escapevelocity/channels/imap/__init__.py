"""IMAP email: a support mailbox's folder read with imap-tools (the `channels` extra) without
marking anything seen, resuming from the last UID (reset when the folder's UIDVALIDITY
changes; Message-IDs keep a re-read from duplicating)."""

from escapevelocity.channels.base import Capabilities, Channel


def _open(settings, secrets, keep):
    from escapevelocity.channels.imap.client import ImapConnector

    return ImapConnector(settings, secrets, keep)


def _send(settings, secrets):
    from escapevelocity.channels.imap.send import SmtpSender

    return SmtpSender(settings, secrets)


CHANNEL = Channel(
    name="imap", title="Email (IMAP)",
    capabilities=Capabilities(reply=True, public=False, private=True, max_chars=0,
                              media=True),
    open=_open, settings=("host", "username"),
    optional=("port", "folder", "ssl", "timeout", "page", "smtp_host", "smtp_port", "smtp_ssl",
              "smtp_starttls", "smtp_username", "smtp_from", "smtp_login", "send_timeout"),
    secrets=("password",),
    notes="reading never marks messages seen; replies go by SMTP (set `smtp_host`) with "
    "In-Reply-To and References, as the IMAP account unless `smtp_username`",
    send=_send, send_settings=("smtp_host",), send_secrets=("smtp_password",),
    defaults={"folder": "INBOX", "ssl": True})
