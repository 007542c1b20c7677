"""Shared set-up for the engagement tests: a demo workspace with an admin and spare members,
and cases opened through the real ingest path."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from itertools import count

import yaml

from escapevelocity.domain import cases as projection
from escapevelocity.domain.cases import Case
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services.ingest import ingest

SUPPORT = "my bill is wrong, please help"
LEGAL = "I will sue you, my lawyer is preparing a lawsuit"
_ids = count(1)


def add_members(ws, extra: list[dict]) -> None:
    """The demo organisation plus `extra` members."""
    ws.apply_org(_org_with(json.dumps(extra, sort_keys=True)))


@cache
def _org_with(extra: str) -> str:
    """The demo organisation's text plus the members in `extra` (JSON), made once per process:
    parsing and dumping it (pure-Python YAML) was ~20 ms of each test that adds an admin."""
    org = yaml.safe_load(files("escapevelocity").joinpath("demo", "org.yaml").read_text())
    org["members"] += json.loads(extra)
    return yaml.safe_dump(org)


def with_admin(ws) -> None:
    add_members(ws, [{"id": "ada", "name": "Ada Admin", "role": "admin", "teams": ["hub"]}])


def open_case(ws, clock, text: str = SUPPORT, handle: str | None = None) -> str:
    n = next(_ids)
    m = Mention(source_id=f"t{n}", channel="twitter", text=text,
                author=Author(handle=handle or f"user{n}"), created_at=clock.now())
    ingest(ws.store, ws.triager(), clock, [m])
    return projection.case_id_for(m.key)


def case(ws, case_id: str) -> Case:
    with ws.store.begin() as tx:
        return tx.cases.get(case_id)


def kinds(ws, case_id: str) -> list[str]:
    with ws.store.begin() as tx:
        return [e.kind for e in tx.events.stream(case_id)]


def events(ws, case_id: str):
    with ws.store.begin() as tx:
        return tx.events.stream(case_id)
