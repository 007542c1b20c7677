"""Satisfaction questions actually sent: privately through the case's channel or by email,
dry run recorded as would-be-sent, a real SMTP server (aiosmtpd) receiving the live one,
transient failures retried, a failed send visible on the case."""

from __future__ import annotations

import pytest
from channel_kit import Sleeps
from engage_kit import case, open_case, with_admin
from notify_kit import smtp_inbox

from escapevelocity.adapters.outbound import EmailSender, Senders
from escapevelocity.domain import events as ev
from escapevelocity.domain.outbound import SendResult
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import annotate, cases, followup
from escapevelocity.services import outbound as switch
from escapevelocity.services.ingest import ingest


@pytest.fixture
def ws(workspace):
    with_admin(workspace)
    return workspace


def resolved(ws, clock, cid: str) -> str:
    cases.claim(ws.store, clock, cid, "ana")
    cases.reply(ws.store, clock, cid, "ana", "Fixed, sorry for the trouble.")
    cases.resolve(ws.store, clock, cid, "ana")
    clock.advance(hours=24)
    return cid


def email_case(ws, clock, address: str) -> str:
    from escapevelocity.domain import cases as projection

    m = Mention(source_id="mail-1", channel="email", text="my bill is wrong, please help",
                author=Author(handle=address), created_at=clock.now())
    ingest(ws.store, ws.triager(), clock, [m])
    return projection.case_id_for(m.key)


def test_dry_run_records_the_question_as_would_be_sent_through_the_channel(ws, clock):
    cid = resolved(ws, clock, open_case(ws, clock))
    [sent] = followup.tick(ws.store, clock)
    assert sent.kind == ev.FOLLOWUP_SENT
    assert (sent.data["dry_run"], sent.data["via"], sent.data["visibility"]) == (
        True, "twitter", "private")
    assert sent.data["network_id"].startswith("dry-run:")
    assert case(ws, cid).followup_state == "asked"


class Flaky:
    name, private = "twitter", True

    def __init__(self, failures: int, transient: bool = True) -> None:
        self.failures, self.transient, self.calls = failures, transient, 0

    def send_reply(self, case, text, visibility) -> SendResult:
        self.calls += 1
        if self.calls <= self.failures:
            return SendResult(error="HTTP 503", transient=self.transient)
        return SendResult(network_id="1790000000000000001")


def test_live_send_is_retried_and_records_the_network_id(ws, clock):
    switch.set_mode(ws.store, clock, "ada", "live", connection="twitter")
    resolved(ws, clock, open_case(ws, clock))
    flaky = Flaky(failures=2)
    [sent] = followup.tick(ws.store, clock, senders=Senders({"twitter": flaky}), sleep=Sleeps())
    assert (sent.kind, sent.data["network_id"], sent.data["attempts"]) == (
        ev.FOLLOWUP_SENT, "1790000000000000001", 3)
    assert sent.data["dry_run"] is False


def test_a_failed_send_is_visible_on_the_case(ws, clock):
    switch.set_mode(ws.store, clock, "ada", "live")
    cid = resolved(ws, clock, open_case(ws, clock))
    broken = Flaky(failures=99)
    [failed] = followup.tick(ws.store, clock, senders=Senders({"twitter": broken}),
                             sleep=Sleeps())
    assert failed.kind == ev.SEND_FAILED and failed.data["attempts"] == 3 == broken.calls
    assert case(ws, cid).followup_state == "failed"
    assert annotate.summarise(failed).startswith("SEND FAILED (followup by twitter, 3 tries)")
    assert followup.tick(ws.store, clock, senders=Senders({"twitter": broken})) == []  # once


def test_only_admins_switch_to_live(ws, clock):
    with pytest.raises(PermissionDenied):
        switch.set_mode(ws.store, clock, "priya", "live")
    assert switch.mode(ws.store).workspace == "dry_run"
    with pytest.raises(ValueError):
        switch.set_mode(ws.store, clock, "ada", "loud")
    switch.set_mode(ws.store, clock, "ada", "live", connection="email")
    assert switch.mode(ws.store).live("email") and not switch.mode(ws.store).live("twitter")


def test_csat_question_by_email_reaches_the_customer_only(ws, clock):
    with smtp_inbox() as (inbox, port):
        switch.set_mode(ws.store, clock, "ada", "live", connection="email")
        resolved(ws, clock, open_case(ws, clock))  # a twitter case: stays dry run
        cid = resolved(ws, clock, email_case(ws, clock, "kim@customer.test"))
        senders = Senders({"email": EmailSender("127.0.0.1", port, "care@brand.test")})
        sent = {e.stream: e for e in followup.tick(ws.store, clock, senders=senders)}
    assert sent[cid].data["dry_run"] is False and sent[cid].data["via"] == "email"
    assert sent[cid].data["network_id"] == f"smtp:kim@customer.test:{cid}"
    assert [e.data["dry_run"] for k, e in sent.items() if k != cid] == [True]
    [mail] = inbox.envelopes
    assert mail.rcpt_tos == ["kim@customer.test"] and mail.mail_from == "care@brand.test"
    assert "from 1 (poor) to 5" in mail.content.decode().replace("=\r\n", "")
