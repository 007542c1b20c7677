"""Search, saved views, counted and paged lists, bulk on a filtered selection, live rows and
customer profiles (issue 18), on the SQLite file and PostgreSQL."""

from __future__ import annotations

import re

from engage_kit import SUPPORT, open_case
from web_kit import login

from escapevelocity.domain import events as ev
from escapevelocity.domain import search
from escapevelocity.services import search as finder


def _ingest(ws, clock, text: str, handle: str | None = None) -> str:
    return open_case(ws, clock, text, handle=handle)


def test_words_are_searchable_in_the_ingest_transaction_and_filters_combine(workspace, clock):
    a = _ingest(workspace, clock, "The zeppelin refund never arrived, I am furious")
    b = _ingest(workspace, clock, "Loving the new zeppelin lounge!")
    _ingest(workspace, clock, SUPPORT)
    q = search.parse({"q": "zeppelin"})
    found = finder.find(workspace.store, workspace.clock, "sam", q)
    assert {r.id for r in found["rows"]} == {a, b} and found["total"] == 2
    # A prefix of the last word, several words (all must occur), and filters on top.
    assert [r.id for r in finder.find(workspace.store, clock, "sam",
                                         search.parse({"q": "zeppelin refu*"}))["rows"]] == [a]
    neg = finder.find(workspace.store, clock, "sam",
                      search.parse({"q": "zeppelin", "sentiment": "negative"}))
    assert [r.id for r in neg["rows"]] == [a]
    none = finder.find(workspace.store, clock, "sam",
                       search.parse({"q": "zeppelin", "channel": "email"}))
    assert none["rows"] == [] and none["total"] == 0
    mentions = finder.find(workspace.store, clock, "sam",
                           search.parse({"q": "zeppelin", "show": "mentions"}))
    assert mentions["total"] == 2 and {m["case_id"] for m in mentions["rows"]} == {a, b}


def test_hostile_words_are_text_not_operators(workspace, clock):
    a = _ingest(workspace, clock, 'He said "NEAR" the (col:umn) * thing')
    for text in ['"', "NEAR(", "col:umn", "*", "a OR b", "') OR 1=1 --", "\\", "&|!"]:
        finder.find(workspace.store, clock, "sam", search.parse({"q": text}))  # never raises
    found = finder.find(workspace.store, clock, "sam", search.parse({"q": "col:umn NEAR"}))
    assert [r.id for r in found["rows"]] == [a]


def test_search_pages_and_the_sight_of_a_spoke_member(app, workspace, clock):
    ids = [_ingest(workspace, clock, f"quokka number {i} my bill is wrong") for i in range(7)]
    sam, _ = login(app, "sam")
    page = sam.get("/search", params={"q": "quokka", "per_page": "50"})
    assert page.status_code == 200 and "7</strong> matching" in page.text
    assert all(i in page.text for i in ids)
    q = search.parse({"q": "quokka"})
    with workspace.store.begin() as tx:
        teams = [t.id for t in tx.org.load().teams]
        rows, total, _ = tx.search.cases(search.Query(text="quokka", per_page=50, page=1), teams,
                                      clock.now())
    assert total == 7 and len(rows) == 7 and q.text == "quokka"
    bad = sam.get("/search", params={"channel": "myspace", "status": "x"})
    assert bad.status_code == 200 and "no channel called" in bad.text


def test_saved_views_are_stored_listed_and_audited(app, workspace, clock):
    sam, csrf = login(app, "sam", page="/search")
    r = sam.post("/views", data={"csrf": csrf, "name": "Angry quokkas", "scope": "me",
                                 "q": "quokka", "sentiment": "negative"},
                 follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/views/v")
    view_id = r.headers["location"].rsplit("/", 1)[1]
    opened = sam.get(r.headers["location"], follow_redirects=False)
    assert opened.status_code == 303
    assert "q=quokka" in opened.headers["location"] and "sentiment=negative" in opened.headers[
        "location"]
    assert "Angry quokkas" in sam.get("/inbox").text  # listed in the inbox
    with workspace.store.begin() as tx:
        logged = tx.events.stream(ev.VIEW_PREFIX + view_id)
    assert [e.kind for e in logged] == ["view_saved"] and logged[0].actor == "sam"
    ana, _ = login(app, "ana")
    assert ana.get(f"/views/{view_id}", follow_redirects=False).status_code == 404  # not hers
    sam.post(f"/views/{view_id}/delete", data={"csrf": csrf})
    with workspace.store.begin() as tx:
        assert [e.kind for e in tx.events.stream(ev.VIEW_PREFIX + view_id)] == [
            "view_saved", "view_deleted"]
        assert tx.search.view(view_id) is None


def test_inbox_counts_and_pages_past_its_page_length(app, workspace, clock):
    for i in range(105):
        _ingest(workspace, clock, f"my bill is wrong, invoice {i}")
    sam, _ = login(app, "sam")
    first = sam.get("/inbox")
    total = int(re.search(r'id="inbox-count">([\d,]+)<', first.text).group(1).replace(",", ""))
    assert total >= 105 and first.text.count('class="case-row') == 100
    second = sam.get("/inbox", params={"page": "2"})
    assert second.text.count('class="case-row') == total - 100
    firsts = set(re.findall(r'data-case="(c[0-9a-f]{12})"', first.text))
    assert firsts.isdisjoint(re.findall(r'data-case="(c[0-9a-f]{12})"', second.text))


def test_live_rows_answer_only_the_changed_cases(app, workspace, clock):
    a = _ingest(workspace, clock, SUPPORT)
    b = _ingest(workspace, clock, SUPPORT)
    sam, csrf = login(app, "sam")
    r = sam.get("/inbox/rows", params={"ids": f"{a},{b}", "shown": a})
    assert r.status_code == 200
    assert f'id="row-{a}" hx-swap-oob="true"' in r.text
    assert f'<tbody hx-swap-oob="afterbegin:#rows"><tr id="row-{b}"' in r.text
    assert r.text.count("<tr") == 2 and 'id="inbox-count"' in r.text
    sam.post("/bulk", data={"csrf": csrf, "case": [a], "action": "resolve"})
    gone = sam.get("/inbox/rows", params={"ids": a, "shown": a})
    assert f'id="row-{a}" hx-swap-oob="delete"' in gone.text


def test_bulk_on_all_matching_asks_with_the_count_then_reports_per_case(app, workspace, clock):
    ids = [_ingest(workspace, clock, f"wombat complaint {i}, my bill is wrong") for i in range(5)]
    sam, csrf = login(app, "sam")
    listed = sam.get("/bulk", params={"q": "wombat"})
    assert "5</strong> matching" in listed.text
    ask = sam.post("/bulk", data={"csrf": csrf, "filter": "q=wombat", "scope": "all",
                                  "action": "tag", "tags": "zoo"})
    assert ask.status_code == 200 and 'id="confirm-count">5<' in ask.text
    assert all("zoo" not in (workspace.store and _tags(workspace, i)) for i in ids)
    done = sam.post("/bulk", data={"csrf": csrf, "filter": "q=wombat", "scope": "all",
                                   "action": "tag", "tags": "zoo", "confirm": "5"})
    assert done.status_code == 200 and done.text.count("✓ tagged") == 5
    assert "5 done, 0 skipped" in done.text
    assert all("zoo" in _tags(workspace, i) for i in ids)
    again = sam.post("/bulk", data={"csrf": csrf, "filter": "q=wombat", "scope": "all",
                                    "action": "resolve", "confirm": "4"})  # count moved
    assert "changed while you decided" in again.text


def _tags(ws, case_id: str) -> str:
    with ws.store.begin() as tx:
        return tx.cases.get(case_id).tags


def test_profile_shows_cases_across_linked_identities_merge_and_unmerge(app, workspace, clock):
    a = _ingest(workspace, clock, "my bill is wrong, I am angry", handle="marta")
    b = _ingest(workspace, clock, "Thanks, fixed! great service", handle="marta_alt")
    sam, csrf = login(app, "sam")
    page = sam.get("/people/twitter/marta")
    assert page.status_code == 200 and a in page.text and b not in page.text
    assert "Sentiment over time" in page.text
    assert 'href="/people/twitter/marta"' in sam.get(f"/cases/{a}").text  # linked from a case
    r = sam.post("/people/twitter/marta/link", data={"csrf": csrf, "channel": "twitter",
                                                     "handle": "@marta_alt"},
                 follow_redirects=False)
    assert r.status_code == 303
    merged = sam.get("/people/twitter/marta").text
    assert a in merged and b in merged  # every case of every linked identity
    with workspace.store.begin() as tx:
        person = tx.people.person_of(("twitter", "marta"))
        assert tx.people.identities(("twitter", "marta_alt")) == [
            ("twitter", "marta_alt"), ("twitter", "marta")]
    r = sam.post("/people/twitter/marta/unlink", data={"csrf": csrf, "channel": "twitter",
                                                       "handle": "marta_alt"},
                 follow_redirects=False)
    assert r.status_code == 303
    with workspace.store.begin() as tx:
        logged = tx.events.stream(ev.PERSON_PREFIX + person)
        assert [e.kind for e in logged] == ["identities_linked", "identity_unlinked"]
        assert logged[0].actor == "sam"
        assert tx.people.identities(("twitter", "marta")) == [("twitter", "marta")]
    assert b not in sam.get("/people/twitter/marta").text
    assert sam.get("/people/myspace/x").status_code == 404
    assert sam.get("/people/twitter/nobody_here").status_code == 404
    eva, ec = login(app, "eva")  # an analyst sees the profile, may not merge
    assert eva.get("/people/twitter/marta").status_code == 200
    eva.post("/people/twitter/marta/link", data={"csrf": ec, "channel": "twitter",
                                                 "handle": "marta_alt"})
    with workspace.store.begin() as tx:
        assert tx.people.person_of(("twitter", "marta")) is None


def test_presence_says_who_views_and_who_types_and_expires(app, workspace, clock):
    a = _ingest(workspace, clock, SUPPORT)
    sam, sc = login(app, "sam")
    ana, ac = login(app, "ana")
    assert sam.post(f"/cases/{a}/presence", data={"state": "viewing"},
                    headers={"X-CSRF-Token": sc}).json() == {"others": []}
    r = ana.post(f"/cases/{a}/presence", data={"state": "typing"}, headers={"X-CSRF-Token": ac})
    assert r.json() == {"others": [{"member": "sam", "state": "viewing"}]}
    r = sam.post(f"/cases/{a}/presence", data={"state": "viewing"}, headers={"X-CSRF-Token": sc})
    assert r.json() == {"others": [{"member": "ana", "state": "typing"}]}
    clock.advance(seconds=20)  # ana's tab closed without a word: she fades out
    r = sam.post(f"/cases/{a}/presence", data={"state": "viewing"}, headers={"X-CSRF-Token": sc})
    assert r.json() == {"others": []}
    assert sam.post(f"/cases/{a}/presence", data={"state": "x"},
                    headers={"X-CSRF-Token": sc}).status_code == 400
    assert sam.post(f"/cases/{a}/presence", data={"state": "viewing"}).status_code == 403


def test_the_migration_makes_what_schema_py_declares_goes_back_and_backfills(workspace, clock):
    from importlib.resources import files

    import sqlalchemy as sa
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    from escapevelocity.adapters.store.schema import metadata

    mine = {"saved_views", "author_links"}
    with workspace.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if mine & {getattr(p, "name", None) or getattr(
        getattr(p, "table", None), "name", None) for p in (d if isinstance(d, tuple) else d[0])
        if not isinstance(p, str)}] == []
    a = _ingest(workspace, clock, "the xylophone arrived broken")
    # Stored before the downgrade: the code writes today's case columns (later migrations,
    # e.g. 0023's), which a database downgraded below them lacks; the downgrade drops the
    # index all the same, so the upgrade must index both again.
    b = _ingest(workspace, clock, "a second xylophone, also broken")
    here = files("escapevelocity") / "migrations"
    cfg = Config(str(here / "alembic.ini"))
    cfg.set_main_option("script_location", str(here))
    with workspace.store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016_search-1")
        assert not sa.inspect(conn).has_table("saved_views")
    workspace.store.migrate()  # back up: the words of every stored mention are indexed
    found = finder.find(workspace.store, clock, "sam", search.parse({"q": "xylophone"}))
    assert {r.id for r in found["rows"]} == {a, b}
    if workspace.store.dialect != "postgresql":
        return
    # 0024's side table: as schema.py declares it; down to 0022 and up again, every stored
    # mention's words (and its block lexemes) are copied over
    with workspace.store.engine.begin() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "mention_terms" in str(d)] == []
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0022_search_paths")
        assert not sa.inspect(conn).has_table("mention_terms")
        command.upgrade(cfg, "head")
        query = "SELECT count(*) FROM mention_terms WHERE words @@ CAST(:q AS tsquery)"
        assert conn.execute(sa.text(query), {"q": "xylophone & 'B 0'"}).scalar_one() == 2
    found = finder.find(workspace.store, clock, "sam", search.parse({"q": "xylophone"}))
    assert {r.id for r in found["rows"]} == {a, b}


def test_search_answers_as_a_filter_over_every_row_would(workspace, clock):
    """Every query shape against a brute-force filter over a corpus whose mention ids are
    spread over many of PostgreSQL's id blocks and groups (0025_search_side), so the walk
    down the ids in ranges is checked across range, block and group edges."""
    import json
    import random

    import sqlalchemy as sa

    from escapevelocity.domain import cases as projection

    ws, now, rng = workspace, clock.now(), random.Random(24)
    vocab = ["zorblat", "quimby", "vexilla", "gruntle", "mirthos"]
    with ws.store.begin() as tx:
        teams = sorted(t.id for t in tx.org.load().teams)
    cases, truth = {}, []  # truth: (mention text words, case id), in insert (= id) order
    for chunk in range(6):
        if ws.store.dialect == "postgresql" and chunk:  # jump over blocks and a group
            with ws.store.engine.begin() as conn:
                conn.exec_driver_sql(
                    "SELECT setval(pg_get_serial_sequence('mentions', 'id'), "
                    f"(SELECT max(id) FROM mentions) + {(3_000, 70_000, 9_000)[chunk % 3]})")
        new, rows = [], []
        for i in range(chunk * 25, chunk * 25 + 25):
            case_id, opened = f"cz{i:04d}", now
            case = projection.Case(
                id=case_id, state=("queued", "claimed", "resolved")[i % 3],
                team=teams[i % len(teams)], priority="p2", opened_at=opened, updated_at=opened,
                last_mention_at=opened, author_handle=f"z{i}", channel=("twitter", "email")[i % 2],
                mention_count=2, situation="question",
                sentiment=("negative", "neutral", "positive")[i // 2 % 3],
                author_class="customer", version=1, tags="", title="t")
            cases[case_id] = case
            new.append(case)
            for k in range(2):
                text = " ".join(rng.sample(vocab, rng.randint(1, 3)))
                body = json.dumps({"source_id": f"z{i}-{k}", "channel": case.channel,
                                   "text": text, "author": {"handle": f"z{i}"},
                                   "created_at": opened.isoformat()})
                rows.append((case.channel, f"z{i}-{k}", case_id, f"z{i}", opened, opened,
                             body, "{}", False))
                truth.append((set(text.split()), case_id))
        with ws.store.begin() as tx:
            tx.cases.insert(new)
            tx.mentions.insert_rows_ignoring(rows)
    with ws.store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text(
            "SELECT id FROM mentions WHERE case_id LIKE 'cz%' ORDER BY id"))]
    assert len(ids) == len(truth)
    if ws.store.dialect == "postgresql":
        assert ids[-1] - ids[0] > 150_000  # over many blocks and groups

    def passes(case, f):
        return all((case.state in ("queued", "assigned", "claimed", "replied")
                    if k == "status" else getattr(case, k) == v) for k, v in f.items())

    for text in ("zorblat", "quimby vexilla", "gruntle mirthos zorblat", "vexil*"):
        for f in ({}, {"channel": "twitter"}, {"status": "open", "sentiment": "negative"}):
            want = [(m, c) for m, (words, c) in sorted(zip(ids, truth, strict=True), reverse=True)
                    if all(any(w == x or (w.endswith("*") and x.startswith(w[:-1]))
                               for x in words) for w in text.split())
                    and passes(cases[c], f)]
            for show in ("cases", "mentions"):
                expected = ([m for m, _ in want] if show == "mentions"
                            else list(dict.fromkeys(c for _, c in want)))
                got, total = [], None
                for page in (1, 2, 3):
                    q = search.parse({"q": text, "show": show, "page": str(page), **f})
                    with ws.store.begin() as tx:
                        rows, total, _ = getattr(tx.search, show)(q, teams, now)
                    got += [r.id if show == "cases" else r["id"] for r in rows]
                assert (got, total) == (expected, len(expected)), (text, f, show)
