"""Helpers for the outbound reply tests: a mention that arrived through a connection, a member
who claims its case and replies, the switch to live, and what the case log says happened."""

from __future__ import annotations

from datetime import timedelta

from channel_kit import Sleeps

from escapevelocity.domain import events as ev
from escapevelocity.domain.records import Author, Mention

SECRET = "test-workspace-secret-0123456789"
AGENT = "ana"  # a community manager of the demo organisation
ADMIN = "sam"  # the strategist: may configure the workspace


def sealer():
    from escapevelocity.adapters.secrets import Sealer

    return Sealer(SECRET)


def ingest(workspace, *, channel: str, source_id: str, handle: str, via: str,
           text: str = "my order never arrived and nobody answers, I want a refund",
           **extra) -> str:
    """Ingest one mention as the connection `via` would have; returns its case id."""
    from escapevelocity.services.intake import Intake

    m = Mention(source_id=source_id, channel=channel, text=text, author=Author(handle=handle),
                created_at=workspace.clock.now() - timedelta(minutes=1), via=via, **extra)
    Intake(workspace, None).take([m])
    with workspace.store.begin() as tx:
        return tx.mentions.case_ids([(channel, source_id)])[f"{channel}:{source_id}"]


def go_live(workspace, connection: str) -> None:
    from escapevelocity.services import outbound

    outbound.set_mode(workspace.store, workspace.clock, ADMIN, "live", connection)


def reply(workspace, case_id: str, text: str, member: str = AGENT):
    """Claim (once) and reply; returns the `replied` event."""
    from escapevelocity.services import cases

    with workspace.store.begin() as tx:
        case = tx.cases.get(case_id)
    if case.claimed_by != member:
        cases.claim(workspace.store, workspace.clock, case_id, member)
    event = cases.reply(workspace.store, workspace.clock, case_id, member, text)
    assert event.kind == ev.REPLIED, event
    return event


def deliver(workspace, event, sleeps: Sleeps | None = None, **kw):
    from escapevelocity.services import replies

    return replies.deliver(workspace.store, workspace.clock, event.stream, event.seq,
                           sealer=sealer(), sleep=sleeps or Sleeps(), **kw)


def replied_seq(workspace, case_id: str) -> int:
    with workspace.store.begin() as tx:
        return max(e.seq for e in tx.events.stream(case_id) if e.kind == ev.REPLIED)


def outcomes(workspace, case_id: str) -> list:
    with workspace.store.begin() as tx:
        return [e for e in tx.events.stream(case_id)
                if e.kind in (ev.REPLY_SENT, ev.SEND_FAILED)]


def header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)
