"""Replies to email by SMTP (the standard library's smtplib): the customer's own thread, with
In-Reply-To and References naming the message answered, so their mail program files the reply
under it; private by nature.

The Message-ID is derived from the reply's idempotency key: a retry sends the same id, which
mail programs and most receiving servers treat as one message. SMTP says clearly whether a
failure is worth another try (4xx, a dropped connection) or not (5xx, refused login).
"""

from __future__ import annotations

import email.utils
import hashlib
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from escapevelocity.adapters.secrets import reveal
from escapevelocity.domain.outbound import SendResult


def _flag(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


class SmtpSender:
    name, private = "imap", True

    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        self.host = str(settings["smtp_host"])
        self.ssl = _flag(settings.get("smtp_ssl"))
        self.starttls = _flag(settings.get("smtp_starttls"), default=not self.ssl)
        self.port = int(settings.get("smtp_port") or (465 if self.ssl else 587))
        self.username = str(settings.get("smtp_username") or settings.get("username") or "")
        self.password = reveal(secrets.get("smtp_password") or secrets.get("password") or "")
        self.login = _flag(settings.get("smtp_login"), default=bool(self.password))
        self.sender = str(settings.get("smtp_from") or self.username)
        self.timeout = float(settings.get("send_timeout") or settings.get("timeout") or 10)

    def message(self, case: Mapping[str, Any], text: str) -> EmailMessage:
        to = str(case.get("to") or case.get("author_handle") or "")
        msg = EmailMessage()
        msg["From"], msg["To"] = self.sender, to
        subject = " ".join(str(case.get("subject") or case.get("title") or "").split())[:200]
        msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
        answered = str(case.get("source_id") or "")
        refs = [r for r in (case.get("thread_id"), case.get("in_reply_to"), answered) if r]
        if answered:
            msg["In-Reply-To"] = f"<{answered}>"
            msg["References"] = " ".join(f"<{r}>" for r in dict.fromkeys(refs))
        domain = self.sender.rpartition("@")[2] or "localhost"
        digest = hashlib.sha256(str(case.get("key") or "").encode()).hexdigest()[:24]
        msg["Message-ID"] = f"<{case.get('key')}.{digest}@{domain}>"
        msg["Date"] = email.utils.formatdate(localtime=False)
        msg.set_content(text)
        return msg

    def send_reply(self, case: Mapping[str, Any], text: str, visibility: str) -> SendResult:
        msg = self.message(case, text)
        if "@" not in str(msg["To"]):
            return SendResult(error=f"no email address to reply to ({msg['To']!r})")
        try:
            if self.ssl:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout,
                    context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with smtp:
                if self.starttls and not self.ssl:
                    smtp.starttls(context=ssl.create_default_context())
                if self.login:
                    smtp.login(self.username, self.password)
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(error=f"the mail server refused the login (password changed?): "
                                    f"{exc.smtp_code} {_text(exc.smtp_error)}")
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return SendResult(error=f"the mail server refused the address: {exc.recipients}",
                              transient=all(400 <= c < 500 for c in codes))
        except smtplib.SMTPResponseException as exc:
            return SendResult(error=f"the mail server answered {exc.smtp_code} "
                                    f"{_text(exc.smtp_error)}",
                              transient=400 <= exc.smtp_code < 500)
        except (smtplib.SMTPException, OSError) as exc:  # dropped, refused, timed out
            return SendResult(error=f"the mail server is unreachable: {type(exc).__name__}: "
                                    f"{exc}", transient=True)
        return SendResult(network_id=str(msg["Message-ID"]).strip("<>"))


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
