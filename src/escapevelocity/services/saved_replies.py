"""The saved-reply library: read it (folded from its events), change it (leads and admins
only, each change an audited `saved_reply_changed` event), and what the composer offers a case.

Usage counts are the `saved_replies` rollup, moved by each reply sent with `saved:<name>` as
its template, in the reply's own transaction.
"""

from __future__ import annotations

from typing import Any

import msgspec

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import access, rollups
from escapevelocity.domain import events as ev
from escapevelocity.domain import saved_replies as lib
from escapevelocity.domain.cases import Case
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.permissions import PermissionDenied
from escapevelocity.domain.playbook.spec import SITUATIONS
from escapevelocity.services.casetx import acting

PREFIX = "saved:"


def library(tx: Tx) -> dict[str, lib.SavedReply]:
    changes = [(e.name, None if e.deleted else e.reply)
               for e in tx.events.of_kind(ev.SAVED_REPLY_CHANGED, limit=1_000_000)
               if isinstance(e, ev.SavedReplyChanged)]
    return lib.fold(changes)


def usage(tx: Tx) -> dict[str, int]:
    return tx.events.rollup(rollups.SAVED_REPLIES)


def _editor(tx: Tx, member_id: str) -> Any:
    member = acting(tx, member_id)
    if not access.may_edit_saved_replies(tx.org.load(), member):
        raise PermissionDenied(f"{member_id} may not edit saved replies (leads and admins do)",
                               member=member_id)
    return member


def save(store: SqlStore, clock: Clock, member: str, reply: lib.SavedReply) -> lib.SavedReply:
    """Create or replace a saved reply; ReplyError says what to fix."""
    with store.begin() as tx:
        _editor(tx, member)
        org = tx.org.load()
        checked = lib.check(reply, [t.id for t in org.teams], SITUATIONS)
        tx.events.append([ev.SavedReplyChanged(
            stream=ev.SAVED_REPLY_PREFIX + checked.name, at=clock.now(), actor=member,
            name=checked.name, reply=msgspec.to_builtins(checked))])
        return checked


def delete(store: SqlStore, clock: Clock, member: str, name: str) -> None:
    with store.begin() as tx:
        _editor(tx, member)
        if name not in library(tx):
            raise lib.ReplyError(f"no saved reply {name!r}")
        tx.events.append([ev.SavedReplyChanged(stream=ev.SAVED_REPLY_PREFIX + name,
                                               at=clock.now(), actor=member, name=name,
                                               deleted=True)])


def offered(tx: Tx, case: Case, values: dict[str, str]) -> tuple[list[dict], str]:
    """The saved replies for `case` (its team's and everyone's, its situation's first), filled
    with `values`, each with its length check on the case's channel; and the one to
    preselect."""
    from escapevelocity.services.cases import MAX_REPLY_CHARS

    replies = lib.ranked(library(tx).values(), case.situation, case.team)
    out = []
    for r in replies:
        text = lib.fill(r.text, values)
        out.append({"name": r.name, "title": r.title or r.name, "text": text,
                    "situations": r.situations, "team": r.team,
                    "too_long": lib.too_long(text, case.channel or "", MAX_REPLY_CHARS)})
    return out, lib.preselect(replies, case.situation)


def check_length(case: Case, text: str) -> None:
    """CaseError when `text` is longer than the case's channel takes."""
    from escapevelocity.services.cases import MAX_REPLY_CHARS
    from escapevelocity.services.casetx import CaseError

    problem = lib.too_long(text.strip(), case.channel or "", MAX_REPLY_CHARS)
    if problem:
        raise CaseError(f"the reply is too long: {problem}")
