"""The knowledge store and suggested answers: what a case page offers, and what using one
records.

Three sources (domain/answers/sources.py): Markdown articles (`ev knowledge add DIR`), a
community site's feeds (`ev knowledge feed FILE|URL`), kept as documents `knowledge:article`
and `knowledge:community:<digest of the feed's address>` with a `knowledge_changed` event per
load; and the
workspace's own resolved cases whose follow-up came back happy, read from the log.

The index is rebuilt when one of those changes (document stamps, the count of happy
follow-ups) and kept in this process. Sentence vectors join in with EV_ANSWER_VECTORS=1 and
the `embed` extra (better matches: `ev eval --signal answer-match`; a slower index build).

Deflection, counted in the `deflection` rollup in the same transaction as its events:
a reply that links a peer answer (`answer_used` with linked), and a question resolved by the
community without a reply from us (`community_resolved`). `report` lists the cases behind
each count.
"""

from __future__ import annotations

import hashlib
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from escapevelocity.adapters.store import SqlStore, Tx
from escapevelocity.domain import events as ev
from escapevelocity.domain import permissions as perm
from escapevelocity.domain import rollups
from escapevelocity.domain.answers import sources
from escapevelocity.domain.answers.match import Entry, Index, Suggestion
from escapevelocity.domain.clock import Clock
from escapevelocity.domain.events import Event
from escapevelocity.domain.kpis import Period
from escapevelocity.services import cases as commands
from escapevelocity.services.casetx import CaseError, authorize, commit, load

ARTICLES = "knowledge:article"
COMMUNITY = "knowledge:community"
MAX_FILES = 2_000
MAX_FILE_BYTES = 256_000
MAX_FEED_BYTES = 5_000_000
MAX_RESOLVED = 2_000  # newest happy cases in the index (a rebuild reads their streams)

_lock = threading.Lock()
_cache: weakref.WeakKeyDictionary[SqlStore, tuple[Any, Index]] = weakref.WeakKeyDictionary()


def _vectors() -> Any:
    # Opt-in: building the index embeds every entry (~20 ms each on one core), which a case
    # page must not wait for; the words alone are what the default install has anyway.
    if os.environ.get("EV_ANSWER_VECTORS", "0") != "1":
        return None
    try:
        from escapevelocity.domain import embedding

        return embedding.embed if embedding.available() else None
    except ImportError:  # numpy missing in the base install: words alone
        return None


# --- loading -------------------------------------------------------------------------------------

def read_articles(folder: Path) -> list[Entry]:
    """Every *.md under `folder` (bounded in count and size) as article entries."""
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    out = []
    for n, path in enumerate(sorted(folder.rglob("*.md"))):
        if n >= MAX_FILES:
            break
        if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            continue
        entry = sources.article(str(path.relative_to(folder)),
                                path.read_bytes().decode("utf-8", "replace"))
        if entry is not None:
            out.append(entry)
    return out


def read_feed(origin: str) -> list[Entry]:
    """A community feed from a file or an http(s) URL: JSON Feed, or RSS/Atom (feedparser,
    from the `channels` extra)."""
    if origin.startswith(("http://", "https://")):
        import httpx

        from escapevelocity.adapters import tls

        resp = httpx.get(origin, timeout=10.0, follow_redirects=True, verify=tls.verify())
        resp.raise_for_status()
        raw = resp.content[:MAX_FEED_BYTES]
    else:
        path = Path(origin)
        if not path.is_file():
            raise ValueError(f"{origin}: no such file")
        raw = path.read_bytes()[:MAX_FEED_BYTES]
    if raw.lstrip()[:1] in (b"{", b"["):
        return sources.json_feed(raw)
    try:
        import feedparser
    except ImportError as exc:
        raise ValueError("RSS/Atom feeds need the channels extra (feedparser); a JSON Feed "
                         "needs nothing") from exc
    parsed = feedparser.parse(raw)
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"{origin}: not a feed ({parsed.get('bozo_exception')})")
    return sources.community(
        (e.get("title", ""), (e.get("content") or [{}])[0].get("value") or e.get("summary", ""),
         e.get("link", ""), e.get("author", "")) for e in parsed.entries)


def feed_document(origin: str) -> str:
    digest = hashlib.blake2b(origin.encode(), digest_size=6).hexdigest()
    return f"{COMMUNITY}:{digest}"


def community_entries(tx: Tx) -> list[Entry]:
    """Every loaded feed's entries."""
    return [e for name, _ in tx.documents.stamps(COMMUNITY + ":")
            for e in sources.decode(tx.documents.get(name))]


def store_entries(store: SqlStore, clock: Clock, source: str, entries: Sequence[Entry],
                  actor: str, origin: str = "") -> int:
    """Replace one source's entries (articles, community) and record it in the log."""
    # one document per feed (reloading a feed replaces its own entries, not another feed's)
    name = {"article": ARTICLES, "community": feed_document(origin)}[source]
    now = clock.now()
    with store.begin() as tx:
        tx.documents.put(name, sources.encode(entries).decode(), now)
        tx.events.append([ev.KnowledgeChanged(stream=ev.KNOWLEDGE_PREFIX + source, at=now,
                                              actor=actor, source=source,
                                              entries=len(entries), origin=origin[:300])])
    return len(entries)


# --- the index -----------------------------------------------------------------------------------

def resolved_entries(tx: Tx) -> list[Entry]:
    """Resolved cases whose follow-up came back happy: their opening question and the last
    reply a person sent (automated replies are not learned from)."""
    happy = [e.stream for e in tx.events.of_kinds([ev.FOLLOWUP_ANSWERED], limit=MAX_RESOLVED)
             if getattr(e, "happy", False)]  # the newest first
    out = []
    for case_id, stream in tx.events.streams(dict.fromkeys(happy)).items():
        question = next((e.title for e in stream if isinstance(e, ev.Opened)), "")
        replies = [e for e in stream if isinstance(e, ev.Replied) and e.actor != AUTO_ACTOR]
        if question and replies and replies[-1].text:
            out.append(sources.resolved_case(case_id, question, replies[-1].text))
    return out


AUTO_ACTOR = "auto-reply"


def saved_entries(tx: Tx) -> list[Entry]:
    """The saved-reply library, matched by its titles and situations (services/saved_replies)."""
    from escapevelocity.services import saved_replies

    return [Entry(id="s" + r.name, question=" ".join([r.title or r.name.replace("-", " "),
                                                     *r.situations]),
                  answer=r.text, source="saved", ref=r.name, title=r.title or r.name,
                  team=r.team)
            for r in saved_replies.library(tx).values()]


def entries(tx: Tx) -> list[Entry]:
    return [*sources.decode(tx.documents.get(ARTICLES)), *community_entries(tx),
            *resolved_entries(tx),
            *saved_entries(tx)]


def index(store: SqlStore) -> Index:
    """The knowledge store's index as it is now (rebuilt when a source changed)."""
    with store.begin() as tx:
        # the newest event of each kind that changes the store: one index probe each
        stamp = (tx.documents.stamps("knowledge:"),
                 *(_newest(tx, k) for k in (ev.KNOWLEDGE_CHANGED, ev.FOLLOWUP_ANSWERED,
                                            ev.SAVED_REPLY_CHANGED)))
        with _lock:
            hit = _cache.get(store)
            if hit is not None and hit[0] == stamp:
                return hit[1]
        built = Index(entries(tx), vectors=_vectors())
    with _lock:
        _cache[store] = (stamp, built)
    return built


def _newest(tx: Tx, kind: str) -> int:
    newest = tx.events.of_kinds([kind], limit=1)
    return (newest[0].seq or 0) if newest else 0


def suggest(store: SqlStore, question: str, k: int = 3, team: str | None = None
            ) -> list[Suggestion]:
    """The `k` best answers, from every source, ranked together; with `team`, another team's
    saved replies are left out."""
    if not question.strip():
        return []
    found = index(store).search(question, k=k + 5)
    return [s for s in found if not s.entry.team or team is None or s.entry.team == team][:k]


def find(store: SqlStore, entry_id: str) -> Entry | None:
    return next((e for e in index(store).entries if e.id == entry_id), None)


# --- using an answer ------------------------------------------------------------------------------

def link_text(author: str, entry: Entry) -> str:
    name = f" {author}" if author else ""
    return (f"Hi{name}, thanks for asking. Another customer answered this already: "
            f"{entry.ref}. If that doesn't help, reply here and we'll take it from there.")


def reply_with(store: SqlStore, clock: Clock, case_id: str, member: str, entry_id: str,
               text: str, *, linked: bool = False, seen_seq: int | None = None,
               score: float = 0.0) -> Event:
    """Reply with a suggested answer (as suggested or edited) or with a link to a peer answer;
    the reply carries an `answer_used` event saying which, in its own transaction."""
    entry = find(store, entry_id)
    if entry is None:
        raise CaseError(f"no answer {entry_id!r} in the knowledge store")
    if linked and not (entry.source == "community" and entry.ref):
        raise CaseError("only a community answer with a link can be linked")

    def along(replied: Event) -> list[Event]:
        edited = entry.answer.strip() not in text
        return [ev.AnswerUsed(stream=case_id, at=replied.at, actor=member, entry=entry.id,
                              source=entry.source, ref=entry.ref, score=round(score, 4),
                              edited=edited, linked=linked)]

    # a saved reply keeps its own template name, so its usage is counted as the library's
    template = f"saved:{entry.ref}" if entry.source == "saved" else f"answer:{entry.id}"
    return commands.reply(store, clock, case_id, member, text, template=template,
                          seen_seq=seen_seq, along=along)


def community_resolved(store: SqlStore, clock: Clock, case_id: str, member: str, ref: str,
                       note: str = "") -> Event:
    """The community answered and we did not: resolve the case and count the deflection."""
    now = clock.now()
    with store.begin() as tx:
        case = load(tx, case_id)
        authorize(tx, member, perm.RESOLVE, case)
        if case.state == "resolved":
            raise CaseError("the case is already resolved")
        if any(e.kind == ev.REPLIED for e in tx.events.stream(case_id)):
            raise CaseError("we replied on this case: it is not a community deflection")
        done = ev.CommunityResolved(stream=case_id, at=now, actor=member, ref=ref[:300],
                                    note=note[:500])
        resolved = ev.Resolved(stream=case_id, at=now, actor=member,
                               note=note[:500] or "answered by the community")
        commit(tx, case, done, resolved)
        return done


# --- report --------------------------------------------------------------------------------------

def report(store: SqlStore, limit: int = 50) -> dict[str, Any]:
    """The deflection and advocacy counters (rollups) and the cases behind each."""
    with store.begin() as tx:
        deflection = tx.events.rollup(rollups.DEFLECTION)
        advocacy = tx.events.rollup(rollups.ADVOCACY)
        used = tx.events.of_kind(ev.ANSWER_USED, limit=10_000)
        community = tx.events.of_kind(ev.COMMUNITY_RESOLVED, limit=limit)
        auto = tx.events.of_kind(ev.AUTO_REPLIED, limit=limit)
        withdrawn = tx.events.of_kind(ev.AUTO_REPLY_WITHDRAWN, limit=limit)
        advocates = (tx.events.of_kind(ev.ADVOCATE_INVITED, limit=limit)
                     + tx.events.of_kind(ev.ADVOCATE_LEDGER, limit=limit))
        who = {e.stream: f"{e.channel} @{e.handle}" for e in advocates
               if isinstance(e, ev.AdvocateInvited)}
    return {
        "deflection": deflection, "advocacy": advocacy,
        "linked_peer": [(e.stream, e.ref) for e in used if e.linked][:limit],
        "answers_used": [(e.stream, e.source, e.entry, e.edited) for e in used][:limit],
        "community_resolved": [(e.stream, e.ref) for e in community],
        "auto_replied": [(e.stream, e.entry, e.score, e.path) for e in auto],
        "auto_withdrawn": [(e.stream, e.actor) for e in withdrawn],
        "advocates": [(who.get(e.stream, e.stream), e.kind, getattr(e, "entry", "invited"),
                       e.actor, getattr(e, "case", None)) for e in advocates],
    }


# What the reports show of the community over a period (issue 22: "deflection and advocacy
# figures in the reports"): each figure with the cases behind it.
COMMUNITY_FIGURES = (
    ("linked_peer", "Questions answered with a link to a peer answer"),
    ("community_resolved", "Resolved by the community, no reply from us"),
    ("answer_used", "Replies written from a suggested answer"),
    ("auto_replied", "Automated replies sent"),
    ("auto_withdrawn", "Automated replies withdrawn"),
    ("advocates_invited", "Authors invited to the advocacy program"),
    ("advocates_accepted", "Invitations accepted"),
    ("advocate_activity", "Advocates' activities and rewards recorded"),
)


def period_figures(store: SqlStore, period: Period, teams: frozenset[str] | None = None,
                   limit: int = 20_000) -> list[dict[str, Any]]:
    """Deflection and advocacy over the period's days: one row per figure with its count
    and the cases (or advocates) behind it, read from the events of those kinds (few: a report
    reads them, not the whole log). With `teams`, only cases of those teams count and the
    advocacy rows (not a team's) are left out."""
    kinds = (ev.ANSWER_USED, ev.COMMUNITY_RESOLVED, ev.AUTO_REPLIED, ev.AUTO_REPLY_WITHDRAWN,
             ev.ADVOCATE_INVITED, ev.ADVOCATE_LEDGER)
    start, end = period.instants()
    with store.begin() as tx:
        got = [e for e in tx.events.of_kinds(kinds, since=start, limit=limit) if e.at < end]
        case_teams = tx.cases.teams_of(e.stream for e in got
                                       if not e.stream.startswith(ev.NON_CASE_PREFIXES))
    rows: dict[str, list[str]] = {key: [] for key, _ in COMMUNITY_FIGURES}
    for e in got:
        if isinstance(e, ev.AdvocateInvited | ev.AdvocateLedger):
            if teams is not None:
                continue
            if isinstance(e, ev.AdvocateInvited):
                key = "advocates_invited"
            else:
                key = "advocates_accepted" if e.entry == "accepted" else (
                    "advocate_activity" if e.entry in ("activity", "reward") else "")
            if key:
                rows[key].append(e.stream)
            continue
        if teams is not None and case_teams.get(e.stream) not in teams:
            continue
        if isinstance(e, ev.AnswerUsed):
            rows["linked_peer" if e.linked else "answer_used"].append(e.stream)
        elif isinstance(e, ev.CommunityResolved):
            rows["community_resolved"].append(e.stream)
        elif isinstance(e, ev.AutoReplied):
            rows["auto_replied"].append(e.stream)
        elif isinstance(e, ev.AutoReplyWithdrawn):
            rows["auto_withdrawn"].append(e.stream)
    return [{"key": key, "label": label, "count": len(rows[key]),
             "cases": [c for c in dict.fromkeys(rows[key]) if not c.startswith(
                 ev.NON_CASE_PREFIXES)][:10],
             "advocates": [c.removeprefix(ev.ADVOCATE_PREFIX) for c in dict.fromkeys(rows[key])
                           if c.startswith(ev.ADVOCATE_PREFIX)][:10]}
            for key, label in COMMUNITY_FIGURES if teams is None or not key.startswith("advoc")]

