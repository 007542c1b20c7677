"""Email replies end to end: the IMAP connection's replies go through a real SMTP server process
(aiosmtpd, with a login) on 127.0.0.1 that refuses on purpose: a 451 "try later" (tried again,
delivered once), a 554 (not tried again), a changed password. The reply threads under the
customer's message (In-Reply-To, References) and reaches the customer and nobody else."""

from __future__ import annotations

import email
import email.policy
from collections import deque

import pytest
from notify_kit import free_port
from reply_kit import deliver, go_live, ingest, reply, sealer

from escapevelocity.domain import events as ev

pytest.importorskip("aiosmtpd")

ASKED = "CAF=q7Zx01@mail.customer.test"
FIRST = "ticket-1203@acme.test"


class Inbox:
    def __init__(self) -> None:
        self.envelopes = []
        self.faults: deque[str] = deque()
        self.password = "mail-pass"

    async def handle_DATA(self, server, session, envelope):
        fault = self.faults.popleft() if self.faults else None
        if fault:
            return {"451": "451 4.3.0 Mail server temporarily rejected message",
                    "554": "554 5.7.1 Message rejected as spam"}[fault]
        self.envelopes.append(envelope)
        return "250 2.0.0 OK: queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        ok = auth_data.login == b"care@acme.test" and auth_data.password == \
            self.password.encode()
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port,
                            authenticator=inbox.authenticate, auth_require_tls=False,
                            auth_exclude_mechanism=["LOGIN"])  # PLAIN: one answer per try
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()


def test_email_reply_threads_reaches_the_customer_once(workspace, smtp):
    from escapevelocity.adapters.store import connections as repo

    with workspace.store.begin() as tx:
        tx.connections.add(repo.StoredConnection(
            name="care-mail", channel="imap",
            settings={"host": "imap.acme.test", "username": "care@acme.test",
                      "smtp_host": "127.0.0.1", "smtp_port": smtp.port,
                      "smtp_starttls": False, "send_timeout": 2},
            sealed=sealer().seal({"password": "mail-pass"})), workspace.clock.now())
    case_id = ingest(workspace, channel="email", source_id=ASKED, handle="kim@customer.test",
                     via="care-mail", in_reply_to=FIRST, thread_id=FIRST,
                     text="Order 1234 never arrived\n\nIt has been three weeks, refund me.")
    go_live(workspace, "care-mail")

    smtp.faults.extend(["451"])
    sent = deliver(workspace, reply(workspace, case_id, "Kim, the refund is on its way."))
    assert sent.kind == ev.REPLY_SENT and sent.data["attempts"] == 2
    [mail] = smtp.envelopes
    assert mail.rcpt_tos == ["kim@customer.test"] and mail.mail_from == "care@acme.test"
    msg = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert msg["In-Reply-To"] == f"<{ASKED}>"
    assert msg["References"] == f"<{FIRST}> <{ASKED}>"
    assert msg["Subject"] == "Re: Order 1234 never arrived"
    assert msg["Message-ID"].strip("<>") == sent.data["network_id"]
    assert "the refund is on its way" in msg.get_content()

    smtp.faults.extend(["554"])
    failed = deliver(workspace, reply(workspace, case_id, "Anything else?"))
    assert failed.kind == ev.SEND_FAILED and failed.data["attempts"] == 1
    assert "554" in failed.data["error"]

    smtp.password = "rotated"
    failed = deliver(workspace, reply(workspace, case_id, "Hello?"))
    assert failed.kind == ev.SEND_FAILED and "login" in failed.data["error"]
    assert len(smtp.envelopes) == 1
