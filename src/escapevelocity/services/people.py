"""Customer profiles and linked identities: the commands behind /people.

A profile shows only what the member may see (cases of teams in their sight). Linking two
identities as one person, or taking one out, is an audited event on the stream
"person:<id>", written in the same transaction as the link rows.
"""

from __future__ import annotations

from typing import Any

import msgspec

from escapevelocity.adapters.store import SqlStore
from escapevelocity.domain import access, profile, yamlsafe
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain.cases import replace
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.pii import mask_pii
from escapevelocity.domain.records import CHANNELS, Mention, Signals
from escapevelocity.domain.vocabulary import Vocabulary
from escapevelocity.services.annotate import CUSTOMERS_DOCUMENT, find_customer, load_customers
from escapevelocity.services.casetx import CaseError, acting, authorize

MAX_HANDLE = 200
_mention = msgspec.json.Decoder(Mention)
_signals = msgspec.json.Decoder(Signals)


def identity(channel: str, handle: str) -> tuple[str, str]:
    """A checked (channel, handle); CaseError for a channel or handle that cannot be one."""
    handle = handle.strip().lstrip("@")
    if channel not in CHANNELS:
        raise CaseError(f"no channel called {channel[:32]!r}")
    if not handle or len(handle) > MAX_HANDLE or any(ch in handle for ch in "\n\r\t"):
        raise CaseError("a handle is 1 to 200 characters on one line")
    return channel, handle


def read(store: SqlStore, member_id: str, channel: str, handle: str) -> dict[str, Any]:
    """Everything the profile page shows, in the member's sight."""
    me = identity(channel, handle)
    with store.begin() as tx:
        member = acting(tx, member_id)
        org = tx.org.load()
        sight = access.visible_teams(org, member)
        idents = tx.people.identities(me)
        cases = [c for c in tx.people.cases_of(idents) if access.may_see(org, member, c, sight)]
        mentions = tx.people.mentions_of_cases([c.id for c in cases], limit=500)
        events = [e for stream in tx.events.streams([c.id for c in cases]).values()
                  for e in stream]
        vocab = Vocabulary.from_dict(yamlsafe.load(tx.documents.get("vocabulary") or "") or {})
        customers = load_customers(tx.documents.get(CUSTOMERS_DOCUMENT))
    shown, points, verified, name, followers = [], [], False, "", 0
    handles = {h.lower() for _, h in idents}
    for row in mentions:
        m, s = _mention.decode(row["body"]), _signals.decode(row["signals"])
        if m.author.handle.lstrip("@").lower() in handles:
            verified = verified or m.author.verified
            # The name this identity gave first; another identity's only when it gave none.
            if m.author.name and (not name or m.author.handle.lstrip("@").lower()
                                  == me[1].lower()):
                name = m.author.name
            followers = max(followers, m.author.followers)
        points.append((m.created_at.date(), s.sentiment_label, s.sentiment))
        shown.append({"at": m.created_at, "channel": m.channel, "case": row["case_id"],
                      "text": mask_pii(m.text), "sentiment": s.sentiment_label,
                      "situation": s.situation, "url": m.url})
    csat, notes, crm = profile.from_events(events)
    customer = next((c for ch, h in idents if (c := find_customer(customers, ch, h))), None)
    if customer and not crm:
        crm = {"crm_id": customer.crm_id, "name": customer.name, "lists": list(customer.lists)}
    flags = {f for c in cases for f in (c.flags or "").split(",") if f}
    out = profile.Profile(
        identities=idents, name=mask_pii(name), followers=followers, crm=crm,
        days=profile.sentiment_by_day(points), csat=csat,
        notes=[{**n, "text": mask_pii(n["text"])} for n in notes],
        marks=profile.marks(
            vip=any(h.lower() in vocab.vips for _, h in idents),
            classes=[c.author_class or "" for c in cases], verified=verified,
            lists=crm.get("lists", []) + (list(customer.lists) if customer else []),
            flags=flags))
    cases = [replace(c, title=mask_pii(c.title)) for c in cases]
    return {"profile": out, "cases": cases, "mentions": shown,
            "may_link": perm.allowed((member.role,), perm.CRM_LINK)}


def link(store: SqlStore, clock: Clock, member_id: str, a: tuple[str, str],
         b: tuple[str, str]) -> str:
    """Link identity `b` to `a`'s person (merge); returns the person id."""
    a, b = identity(*a), identity(*b)
    if a == b:
        raise CaseError("that is the same identity")
    with store.begin() as tx:
        authorize(tx, member_id, perm.CRM_LINK)
        now = clock.now()
        person, idents = tx.people.link(a, b, member_id, now)
        tx.events.append([ev.IdentitiesLinked(
            stream=ev.PERSON_PREFIX + person, at=now, actor=member_id,
            identities=[f"{c}:{h}" for c, h in idents])])
    return person


def unlink(store: SqlStore, clock: Clock, member_id: str, who: tuple[str, str]) -> None:
    """Take an identity out of its person (unmerge)."""
    who = identity(*who)
    with store.begin() as tx:
        authorize(tx, member_id, perm.CRM_LINK)
        person = tx.people.unlink(who)
        if person is None:
            raise CaseError("that identity is not linked to anyone")
        tx.events.append([ev.IdentityUnlinked(
            stream=ev.PERSON_PREFIX + person, at=clock.now(), actor=member_id,
            identity=f"{who[0]}:{who[1]}")])
