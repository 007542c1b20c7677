"""The workspace's business goals: read, and saved as an audited event with the document."""

from __future__ import annotations

from datetime import datetime

from escapevelocity.adapters.store.uow import SqlStore
from escapevelocity.domain import events as ev
from escapevelocity.domain import goals

STREAM = ev.WORKSPACE_PREFIX + "goals"


def text(store: SqlStore) -> str:
    """The goals YAML as saved, or the starting example when none was."""
    with store.begin() as tx:
        return tx.documents.get(goals.DOCUMENT) or goals.DEFAULT


def load(store: SqlStore) -> goals.Goals:
    return goals.parse(text(store))


def save(store: SqlStore, body: str, actor: str, now: datetime) -> goals.Goals:
    """Validate, then store the document and its `goals_saved` event in one transaction
    (the audit log says who changed the goals, when, and from what)."""
    parsed = goals.parse(body)
    with store.begin() as tx:
        previous = tx.documents.get(goals.DOCUMENT) or ""
        tx.documents.put(goals.DOCUMENT, body, now)
        tx.events.append([ev.GoalsSaved(stream=STREAM, at=now, actor=actor, text=body,
                                        previous=previous)])
    return parsed


def history(store: SqlStore, limit: int = 20) -> list[ev.Event]:
    with store.begin() as tx:
        return list(reversed(tx.events.stream(STREAM)))[:limit]
