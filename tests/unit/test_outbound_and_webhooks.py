"""The pure parts of outbound: where a private message goes and whether it is dry run; which
events a CRM hears about and the signature it can check."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from escapevelocity.adapters.outbound import DryRunSender, send_with_retries
from escapevelocity.domain import events as ev
from escapevelocity.domain import outbound as ob
from escapevelocity.domain import webhooks as wh
from escapevelocity.domain.cases import Case

AT = datetime(2026, 3, 4, 12, tzinfo=UTC)
TWEET = Case(id="c1", channel="twitter", author_handle="kim")
POST = Case(id="c2", channel="rss", author_handle="a blog")


def test_private_channel_first_then_email_then_nothing():
    live_twitter = ob.Mode(connections={"twitter": ob.LIVE})
    assert ob.private_route(TWEET, live_twitter, {"twitter"}, "") == ob.Route(
        "twitter", "kim", False)
    assert ob.private_route(TWEET, ob.Mode(), {"twitter"}, "") == ob.Route("twitter", "kim", True)
    assert ob.private_route(POST, live_twitter, {"twitter"}, "k@x.test") == ob.Route(
        "email", "k@x.test", True)
    assert ob.private_route(POST, ob.Mode(workspace=ob.LIVE), {"twitter"}, "k@x.test").dry_run \
        is False
    assert ob.private_route(POST, ob.Mode(), {"twitter"}, "").via == ""


def test_customer_email_from_an_email_case_or_a_crm_link():
    assert ob.customer_email(Case(id="c3", channel="email", author_handle="k@x.test")) == "k@x.test"
    assert ob.customer_email(TWEET, [{"crm_id": "C1", "email": "kim@x.test"}]) == "kim@x.test"
    assert ob.customer_email(TWEET, [{"crm_id": "C1"}]) == ""


def test_mode_is_validated():
    assert ob.load_mode(None) == ob.Mode()
    assert ob.load_mode('{"workspace": "live"}').live("anything")
    with pytest.raises(ValueError):
        ob.load_mode('{"connections": {"twitter": "loud"}}')


class Flaky:
    name, private = "twitter", True

    def __init__(self, answers):
        self.answers = list(answers)

    def send_reply(self, case, text, visibility):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_retries_only_transient_failures():
    naps = []
    ok = ob.SendResult(network_id="n1")
    result, tries = send_with_retries(Flaky([TimeoutError("slow"), ob.SendResult(
        error="503", transient=True), ok]), TWEET, "hi", "private", sleep=naps.append)
    assert (result, tries, naps) == (ok, 3, [0.5, 1.0])
    result, tries = send_with_retries(Flaky([ob.SendResult(error="403 forbidden")]), TWEET,
                                      "hi", "private", sleep=naps.append)
    assert (result.ok, tries) == (False, 1)


def test_dry_run_sender_says_what_would_go():
    sender = DryRunSender("twitter")
    # a sender is given a target mapping (services/replies._target), not a Case
    result = sender.send_reply(msgspec.structs.asdict(TWEET), "How did we do?", "private")
    assert result.dry_run and result.network_id.startswith("dry-run:")
    assert sender.sent == [("c1", "How did we do?", "private")]


@pytest.mark.parametrize(("kind", "data", "topic"), [
    (ev.OPENED, {"author": "kim", "channel": "x", "title": "t"},
     wh.CASE_CREATED), (ev.ESCALATED, {}, wh.CASE_ESCALATED),
    (ev.RESOLVED, {}, wh.CASE_RESOLVED), (ev.FOLLOWUP_ANSWERED, {"csat": 4}, wh.CSAT_RECEIVED),
    (ev.ASSIGNED, {"team": "sales"}, wh.LEAD_TO_SALES),
    (ev.TAGS_CHANGED, {"add": ["lead"]}, wh.LEAD_TO_SALES),
    (ev.ASSIGNED, {"team": "care"}, None), (ev.NOTE_ADDED, {"text": "secret"}, None)])
def test_topics(kind, data, topic):
    assert wh.topic(ev.make("c1", kind, AT, "ana", data)) == topic


def test_body_carries_no_note_text_and_the_signature_checks():
    e = ev.make("c1", ev.FOLLOWUP_ANSWERED, AT, ev.SYSTEM, {"csat": 2, "text": "awful"}, seq=9)
    body = wh.body("d1", wh.CSAT_RECEIVED, e, Case(id="c1", title="t", opened_at=AT))
    # the typed event carries all its answer fields (a real answer always has them)
    assert body["event"]["data"] == {"csat": 2, "thumbs": None, "happy": False}
    assert body["case"]["id"] == "c1"
    raw = b'{"a": 1}'
    sig = wh.sign("k" * 32, "1700000000", raw)
    assert wh.verify("k" * 32, "1700000000", raw, sig)
    assert not wh.verify("k" * 32, "1700000001", raw, sig)  # the timestamp is signed too
    assert not wh.verify("k" * 32, "1700000000", b'{"a": 2}', sig)
