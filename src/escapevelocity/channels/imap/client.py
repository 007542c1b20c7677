"""IMAP through imap-tools: log in, select the folder read-only, list UIDs above the stored
one, fetch a page of them with BODY.PEEK (nothing is marked seen), log out. The cursor is
{uidvalidity, uid}: when the server renumbers the folder (a new UIDVALIDITY) the folder is
read again from the start and ingest drops what it has by Message-ID.
"""

from __future__ import annotations

import contextlib
import imaplib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from escapevelocity.adapters.secrets import reveal
from escapevelocity.channels.base import (
    CredentialsExpired,
    Misconfigured,
    Page,
    Transient,
)
from escapevelocity.channels.imap import parse
from escapevelocity.domain.records import Mention

log = logging.getLogger(__name__)


class ImapConnector:
    def __init__(self, settings: Mapping[str, Any], secrets: Mapping[str, str],
                 keep: Callable[[Mention], bool]) -> None:
        self.host = str(settings["host"])
        self.ssl = bool(settings.get("ssl", True))
        self.port = int(settings.get("port") or (993 if self.ssl else 143))
        self.username = str(settings["username"])
        self.password = reveal(secrets.get("password", ""))
        self.folder = str(settings.get("folder") or "INBOX")
        self.timeout = float(settings.get("timeout") or 20)
        self.page = int(settings.get("page") or 100)
        self.keep = keep
        self.rejected = 0

    def _mailbox(self):
        from imap_tools import MailBox, MailBoxUnencrypted

        if self.ssl:
            return MailBox(self.host, self.port, timeout=self.timeout)
        return MailBoxUnencrypted(self.host, self.port, timeout=self.timeout)

    def fetch(self, cursor: str | None) -> Page:
        from imap_tools.errors import MailboxFolderSelectError, MailboxLoginError

        state = json.loads(cursor) if cursor else {}
        try:
            box = self._mailbox()
        except (OSError, imaplib.IMAP4.error) as exc:
            raise Transient(f"IMAP {self.host}:{self.port} unreachable: {exc}") from None
        try:
            try:
                box.login(self.username, self.password, initial_folder=None)
            except MailboxLoginError as exc:
                raise CredentialsExpired(f"IMAP login refused: {exc}") from None
            try:
                box.folder.set(self.folder, readonly=True)
            except MailboxFolderSelectError as exc:
                raise Misconfigured(f"IMAP folder {self.folder!r}: {exc}") from None
            validity = self._uidvalidity(box)
            last = int(state.get("uid", 0)) if state.get("uidvalidity") == validity else 0
            uids = sorted(int(u) for u in box.uids(f"UID {last + 1}:*") if int(u) > last)
            batch = uids[: self.page]
            mentions: list[Mention] = []
            if batch:
                for msg in box.fetch(uid_list=[str(u) for u in batch], mark_seen=False,
                                     bulk=True):
                    m = self._parse(msg.obj.as_bytes(), f"{validity}:{msg.uid}")
                    if m is not None and self.keep(m):
                        mentions.append(m)
                last = batch[-1]
            new_state = {"uidvalidity": validity, "uid": last}
            return Page(mentions, json.dumps(new_state), len(batch),
                        more=len(uids) > len(batch))
        except (TimeoutError, OSError, imaplib.IMAP4.abort) as exc:
            raise Transient(f"IMAP {self.host}: {exc.__class__.__name__}: {exc}") from None
        except imaplib.IMAP4.error as exc:
            raise Transient(f"IMAP {self.host}: {exc}") from None
        finally:
            with contextlib.suppress(Exception):  # the connection may be gone already
                box.logout()

    def _uidvalidity(self, box: Any) -> str:
        _typ, data = box.client.response("UIDVALIDITY")
        return (data[0].decode() if data and data[0] else "") or "0"

    def _parse(self, raw: bytes, fallback: str) -> Mention | None:
        try:
            return parse.message(raw, fallback_id=f"{self.host}/{self.folder}/{fallback}")
        except (ValueError, TypeError, LookupError) as exc:
            self.rejected += 1
            log.warning("IMAP message %s rejected: %s", fallback, exc)
            return None

    def close(self) -> None:
        pass
