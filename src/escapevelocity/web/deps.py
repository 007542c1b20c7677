"""The case a route works on, resolved once: logged in, CSRF checked for writes, and visible to
the member under the access policy, or 'not found'.

Every route with a `{case_id}` takes `CaseAccess` through `Depends(visible_case)` (the pattern
of Healthchecks' `_get_check_for_user`): no route loads a case and then remembers to check it,
and a case outside the member's sight is a 404 whose body says nothing about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from escapevelocity.domain import access
from escapevelocity.domain.cases import Case
from escapevelocity.domain.org import Member, Organisation
from escapevelocity.web.auth import check_csrf, member_of, org_of
from escapevelocity.web.views import CASE_ID

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True, slots=True)
class CaseAccess:
    """A case the member may see, with what they may do to it at `now`."""

    member: Member
    org: Organisation
    case: Case
    now: datetime
    allowed: frozenset[str]

    @property
    def id(self) -> str:
        return self.case.id


def not_found(member: Member) -> access.NotVisible:
    return access.NotVisible(f"no such case in {member.id}'s teams' inboxes", member=member.id)


def load_visible(request: Request, member: Member, case_id: str) -> CaseAccess:
    """The case, or access.NotVisible (404) when it does not exist or is out of sight."""
    if not CASE_ID.fullmatch(case_id):
        raise not_found(member)
    ws = request.app.state.workspace
    org = org_of(request)
    with ws.store.begin() as tx:
        case = tx.cases.get(case_id)
        factor = tx.signin.factor_rule()  # pages offer no send a second factor must allow
    if case is None:
        raise not_found(member)
    if not access.may_see(org, member, case):
        raise _acted_before(ws, member, case) or not_found(member)
    now = ws.clock.now()
    return CaseAccess(member, org, case, now,
                      access.allowed_actions(org, member, case, now, factor=factor))


class ActedBefore(access.NotVisible):
    """The case is out of the member's sight now, but they acted on it (decided its draft,
    say): the page says what they did and where the case went, instead of 'not found'."""

    def __init__(self, member: Member, case: Case, did: list[Any]) -> None:
        super().__init__(f"{member.id} no longer sees this case", member=member.id)
        self.case, self.did = case, did


def _acted_before(ws: Any, member: Member, case: Case) -> ActedBefore | None:
    with ws.store.begin() as tx:
        did = [e for e in tx.events.stream(case.id) if e.actor == member.id]
    return ActedBefore(member, case, did[-5:]) if did else None


async def visible_case(request: Request, case_id: str,
                       member: Member = Depends(member_of)) -> CaseAccess:
    if request.method not in SAFE_METHODS:  # a forged form learns nothing, not even 404
        await check_csrf(request)
    return await run_in_threadpool(load_visible, request, member, case_id)
