"""Search and saved views: the commands behind /search and the inbox's views list.

Reading is a query in the member's sight (access.visible_teams); saving or deleting a view is
an audited event on the stream "view:<id>", written in the same transaction as the row.
A view belongs to a member (only they see it) or to one of their teams (its members see it).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import access, search
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.search import Query
from escapevelocity.services.casetx import CaseError, acting

MAX_VIEWS = 100  # per member, their own


def find(store: SqlStore, clock: Clock, member_id: str, q: Query) -> dict[str, Any]:
    """One page of `q` in the member's sight: rows, how many match, and their views."""
    now = clock.now()
    with store.begin() as tx:
        member = acting(tx, member_id)
        teams = sorted(access.visible_teams(tx.org.load(), member))
        if q.show == "mentions":
            rows, total, more = tx.search.mentions(q, teams, now)
        else:
            rows, total, more = tx.search.cases(q, teams, now)
        views = tx.search.views(member.id, member.teams)
    return {"rows": rows, "total": total, "more": more,
            "views": views, "teams": teams}


def matching_ids(store: SqlStore, clock: Clock, member_id: str, q: Query, cap: int
                 ) -> list[str]:
    """The ids of every case `q` matches in the member's sight, up to `cap`."""
    with store.begin() as tx:
        member = acting(tx, member_id)
        teams = sorted(access.visible_teams(tx.org.load(), member))
        return tx.search.case_ids(q, teams, clock.now(), cap)


def views(store: SqlStore, member_id: str) -> list[dict[str, Any]]:
    with store.begin() as tx:
        member = acting(tx, member_id)
        return tx.search.views(member.id, member.teams)


def query_string(q: Query) -> str:
    return urlencode(search.params(q))


def load_view(store: SqlStore, member_id: str, view_id: str) -> tuple[dict[str, Any], Query]:
    """A view the member may use and its query; CaseError when there is none."""
    with store.begin() as tx:
        member = acting(tx, member_id)
        view = tx.search.view(view_id)
    if view is None or not _may_use(view, member.id, member.teams):
        raise CaseError("no such view")
    return view, search.parse(dict(parse_qsl(view["query"])))


def save_view(store: SqlStore, clock: Clock, member_id: str, name: str, q: Query,
              scope: str = "me") -> str:
    """Save `q` as a named view for the member ("me") or for one of their teams."""
    name = search.valid_view_name(name)
    with store.begin() as tx:
        member = acting(tx, member_id)
        perm.check((member.role,), perm.VIEW, member=member.id)
        if scope == "me":
            kind, owner = "member", member.id
        elif scope in member.teams:
            kind, owner = "team", scope
        else:
            raise CaseError(f"you are not in a team called {scope[:64]!r}")
        if len([v for v in tx.search.views(member.id, []) if v["owner_kind"] == "member"]
               ) >= MAX_VIEWS:
            raise CaseError(f"at most {MAX_VIEWS} views each; delete one first")
        now = clock.now()
        qs = query_string(q)
        view_id = tx.search.save_view(name=name, owner_kind=kind, owner=owner, query=qs,
                                      created_by=member.id, at=now)
        tx.events.append([ev.ViewSaved(stream=ev.VIEW_PREFIX + view_id, at=now,
                                       actor=member.id, name=name, owner_kind=kind,
                                       owner=owner, query=qs)])
    return view_id


def delete_view(store: SqlStore, clock: Clock, member_id: str, view_id: str) -> None:
    with store.begin() as tx:
        member = acting(tx, member_id)
        view = tx.search.view(view_id)
        if view is None or not _may_use(view, member.id, member.teams):
            raise CaseError("no such view")
        tx.search.delete_view(view_id)
        tx.events.append([ev.ViewDeleted(stream=ev.VIEW_PREFIX + view_id, at=clock.now(),
                                         actor=member.id, name=view["name"])])


def _may_use(view: dict[str, Any], member: str, teams: list[str]) -> bool:
    if view["owner_kind"] == "member":
        return view["owner"] == member
    return view["owner"] in teams
