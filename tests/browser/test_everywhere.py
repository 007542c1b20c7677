"""Every page, everywhere: one server and one browser sweep each page at 1440 px (light theme)
and at 390 px (a phone, dark theme from prefers-color-scheme), run axe-core on it (no serious
or critical violation), check the page does not scroll sideways on the phone and no table or
control there is out of reach, that the main navigation appears once and the tab title is the
page's, and (EV_SCREENSHOTS=1: shot_kit) save a screenshot of each into var/screenshots/. The
command center (/wall) is a kiosk page with deliberately no navigation (WALLS); every other
page has the main navigation once, the sign-in pages none. Also here, on the same server:
withdrawing a pending draft from the case page, and keyboard use (the skip link, visible
focus)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_kit import AXE, serious_violations
from conftest import FAST, PASSWORD, Server
from phone_kit import cells_and_controls_out_of_reach, tables_scrolling_sideways
from playwright.sync_api import expect
from shot_kit import SHOTS, shoot

WIDTHS = ((1440, 900, "light"), (390, 844, "dark"))

SUPPORT = "my broadband is down again since this morning, please help"
LEGAL = "I will sue you, my lawyer is preparing a lawsuit about the outage"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Server]:
    """A demo workspace with something on every page: cases, a pending draft, an incident,
    a drill, an admin change, and what the later pages need (_seed_more)."""
    from escapevelocity.config import Settings
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services import approvals, cases
    from escapevelocity.services.seed import seed_demo
    from escapevelocity.services.workspace import Workspace
    from escapevelocity.web.app import create_app

    path = tmp_path_factory.mktemp("everywhere") / "ev.db"
    ws = Workspace.open(f"sqlite:///{path}", SystemClock())
    seed_demo(ws, password=PASSWORD)
    app = create_app(ws, Settings(database_url="unused", secret_key="c" * 32),
                     tick_seconds=None, pace=FAST)
    with Server(app, ws) as srv:
        posted = srv.post([
            {"source_id": f"ev{n}", "channel": "twitter", "kind": "post", "text": text,
             "author": {"handle": f"kim{n}", "name": f"Kim {n}", "followers": 50},
             "created_at": "2026-11-20T13:59:00Z"}
            for n, text in enumerate([SUPPORT, LEGAL, SUPPORT + " still", SUPPORT + " again"])])
        srv.cases = posted["case_ids"]
        # a pending draft on the third case: joe (agency) replies, the hub approves
        held = srv.cases[2]
        cases.claim(ws.store, ws.clock, held, "joe")
        cases.reply(ws.store, ws.clock, held, "joe", "Sorry about that, we are on it!")
        # a case omar (legal) decided and no longer sees: ana's risky words went to legal
        decided = srv.post([{"source_id": "ev9", "channel": "twitter", "kind": "post",
                             "text": SUPPORT + " now", "author": {"handle": "kim9"},
                             "created_at": "2026-11-20T13:59:00Z"}])["case_ids"][0]
        cases.claim(ws.store, ws.clock, decided, "ana")
        draft = cases.reply(ws.store, ws.clock, decided, "ana", "We guarantee a refund.")
        approvals.approve(ws.store, ws.clock, decided, "omar", draft.data["draft"])
        srv.decided = decided
        _seed_more(srv, tmp_path_factory.mktemp("kb"))
        yield srv
    ws.store.close()


ARTICLE = "# How do I turn on roaming abroad\n\nOpen the app, Plan > Roaming, switch it on.\n"


def _seed_more(srv: Server, kb: Path) -> None:
    """Search words and a saved view, a knowledge article and a case it answers, a saved
    reply, an advocate (thanked by other customers) invited, a requested spoke, a policy to
    acknowledge, an API token, a channel connection (nothing secret: its edit page unseals
    nothing), and a member (mei) with a second factor."""
    import pyotp

    from escapevelocity.adapters.store.connections import StoredConnection
    from escapevelocity.domain import saved_replies as lib
    from escapevelocity.domain import search
    from escapevelocity.services import advocacy, answers, saved_replies, second_factor, tokens
    from escapevelocity.services import governance as gov
    from escapevelocity.services import search as finder

    ws = srv.workspace
    srv.view = finder.save_view(ws.store, ws.clock, "sam", "Broadband on Twitter",
                                search.parse({"q": "broadband", "channel": "twitter"}))
    (kb / "roaming.md").write_text(ARTICLE)
    answers.store_entries(ws.store, ws.clock, "article", answers.read_articles(kb), "test")
    srv.answered = srv.post([{"source_id": "kb1", "channel": "twitter",
                              "created_at": "2026-11-20T13:59:00Z",
                              "text": "how do I turn on roaming abroad?",
                              "author": {"handle": "kim", "name": "Kim"}}])["case_ids"][0]
    saved_replies.save(ws.store, ws.clock, "sam", lib.SavedReply(
        name="outage", title="Outage: we are on it", situations=("complaint",),
        text="Hi {{author}}, sorry: there is an outage in your area and {{team}} is on it."))
    srv.post([{"source_id": f"adv{n}", "channel": "twitter", "kind": "post", "text": text,
               "author": {"handle": handle, "followers": 1200 if handle == "kim" else 10},
               "created_at": "2026-11-20T13:59:00Z"}
              for n, (handle, text) in enumerate([
                  ("kim", "love the new Orbit app, great work"),
                  ("kim", "the Orbit app is brilliant, thank you"),
                  ("lee", "thanks @kim that fixed my roaming problem"),
                  ("max", "thank you so much @kim, roaming works again")])])
    advocacy.invite(ws.store, ws.clock, "sam", "twitter", "kim")
    gov.request_spoke(ws.store, ws.clock, "sam", team="hr", name="People & HR", hub="hub",
                      unit="Human Resources", reason="careers questions")
    gov.publish_policy(ws.store, ws.clock, "sam", "social", "Social media policy", "Be kind.")
    _channel_in_shadow(srv)
    tokens.create(ws.store, ws.clock, by="sam", name="reporting script")
    with ws.store.begin() as tx:
        tx.connections.add(StoredConnection(name="blogs", channel="rss",
                                            settings={"urls": ["http://127.0.0.1:9/feed"]}),
                           ws.clock.now())
    enrolment = second_factor.start(ws.store, ws.clock, "mei")
    second_factor.confirm(ws.store, ws.clock, "mei", pyotp.TOTP(enrolment.secret).now())


def _channel_in_shadow(srv: Server) -> None:
    """Care's own Mastodon account, connected by the hub in shadow mode, with a mention that
    came through it (its shadow queue) and a draft."""
    from escapevelocity.adapters.secrets import Sealer
    from escapevelocity.domain.records import Author, Mention
    from escapevelocity.services import channel_requests as cr
    from escapevelocity.services.intake import Intake

    ws = srv.workspace
    cr.request_channel(ws.store, ws.clock, "tom", connection="care-masto", channel="mastodon",
                       team="care", account="@care@acme.social", members=["priya"],
                       reason="customers ask care directly on Mastodon")
    cr.connect(ws.store, ws.clock, Sealer("c" * 32), "sam", "care-masto",
               settings={"base_url": "http://127.0.0.1:9"}, secrets={"token": "t"})
    Intake(ws, None).take([Mention(source_id="masto1", channel="mastodon", via="care-masto",
                                   text="my broadband is down, can care help?",
                                   author=Author(handle="rosa@fosstodon.org"),
                                   created_at=ws.clock.now())])
    with ws.store.begin() as tx:
        srv.masto_case = tx.mentions.case_ids([("mastodon", "masto1")])["mastodon:masto1"]
    cr.draft(ws.store, ws.clock, "priya", "care-masto", srv.masto_case, "Hi Rosa, on it.")


def _sso(site, on: bool) -> None:
    """Single sign-on configured (the login page offers it) or not; nothing is asked of the
    provider until someone clicks."""
    from escapevelocity.services.sso import SsoConfig

    site.app.state.sso_config = (SsoConfig("http://127.0.0.1:9", "ev", "not-used",
                                           label="Orbit SSO") if on else None)


@pytest.fixture(scope="module")
def pages(browser, site):
    """A logged-in page per (member, width), made when first asked for; member None: logged
    out. Each width has its theme (WIDTHS)."""
    made: dict[tuple[str | None, int], object] = {}

    def page_for(member: str | None, width: int):
        if (member, width) not in made:
            height, scheme = next((h, c) for w, h, c in WIDTHS if w == width)
            ctx = browser.new_context(viewport={"width": width, "height": height},
                                      color_scheme=scheme, bypass_csp=True)
            ctx.add_init_script(path=str(AXE))  # in every page loaded: not sent each time
            page = ctx.new_page()
            if member:  # "2fa:mei": mei's password accepted, her code not yet given
                page.goto(f"{site.url}/login")
                page.fill("input[name=member]", member.removeprefix("2fa:"))
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_url("**/login/second-factor" if member.startswith("2fa:")
                                  else "**/inbox")
            made[(member, width)] = page
        return made[(member, width)]

    yield page_for
    for page in made.values():
        page.context.close()


def _pages(site) -> list[tuple[str, str, int]]:
    """(name, path, expected status) of every page a browser reaches; sam (the strategist)
    sees them all, except the login page (nobody) and a case omar decided (omar)."""
    support, legal, held, _ = site.cases
    incident = _incident(site)
    return [
        ("login", "/login", 200), ("case-elsewhere", f"/cases/{site.decided}", 404),
        ("inbox", "/inbox", 200), ("case", f"/cases/{support}", 200),
        ("case-pending-draft", f"/cases/{held}", 200),
        ("case-engage", f"/cases/{legal}/engage", 200),
        ("case-audit", f"/cases/{legal}/audit", 200),
        ("approvals", "/approvals?everyone=1", 200), ("mentions", "/mentions", 200),
        ("bulk", "/bulk", 200), ("team", "/team", 200), ("incidents", "/incidents", 200),
        ("incident", f"/incidents/{incident}", 200), ("playbook", "/playbook", 200),
        ("signals", "/signals", 200), ("brand", "/brand", 200), ("drills", "/drills", 200),
        ("notifications", "/notifications", 200), ("channels", "/admin/channels", 200),
        ("webhooks", "/admin/webhooks", 200), ("admin", "/admin", 200),
        ("admin-members", "/admin/members", 200), ("admin-member", "/admin/members/priya", 200),
        ("admin-member-new", "/admin/members/new", 200), ("admin-teams", "/admin/teams", 200),
        ("admin-team", "/admin/teams/care", 200), ("admin-sla", "/admin/sla", 200),
        ("admin-vocabulary", "/admin/vocabulary", 200),
        ("admin-customers", "/admin/customers", 200), ("admin-settings", "/admin/settings", 200),
        ("error-no-case", "/cases/c000000000000", 404),
        ("error-no-page", "/no-such-page", 404),
        ("error-no-incident", "/incidents/incident:nope", 404),
        ("error-approve-link", f"/cases/{held}/drafts/d1/approve", 405),  # a copied form URL
        ("error-correction-link", "/signals/corrections", 405),
        # pages the later branches added
        ("login-sso", "/login", 200), ("login-second-factor", "/login/second-factor", 200),
        ("search", "/search?q=broadband&channel=twitter&status=open", 200),
        ("search-saved-view", f"/views/{site.view}", 200),
        ("profile", "/people/twitter/kim0", 200),
        ("case-suggested-answers", f"/cases/{site.answered}", 200),
        ("reports", "/reports?period=7d", 200), ("reports-goals", "/reports/goals", 200),
        ("reports-cases", "/reports/cases?period=7d&measure=cases", 200),
        ("wall", "/wall", 200),
        ("governance", "/governance", 200), ("governance-spoke", "/governance/spokes/hr", 200),
        ("governance-channel", "/governance/channels/care-masto", 200),
        ("training", "/training", 200), ("maturity", "/maturity", 200),
        ("incident-report", f"/incidents/{incident}/report", 200),
        ("answers", "/answers", 200), ("replies", "/replies", 200),
        ("advocates", "/advocates", 200),
        ("settings-tokens", "/settings/tokens", 200),
        ("settings-security", "/settings/security", 200),
        ("api-reference", "/api/reference", 200),
        ("admin-dead", "/admin/dead", 200),
        ("admin-team-new", "/admin/teams/new", 200),
        ("channel-new", "/admin/channels/new?channel=mastodon", 200),
        ("channel-edit", "/admin/channels/blogs/edit", 200),
    ]


_lock = threading.Lock()


def _incident(site) -> str:
    with _lock:
        if getattr(site, "incident", None) is None:
            from escapevelocity.services.crisis import CrisisMode

            mode = CrisisMode(site.workspace.store, site.workspace.clock)
            mode.declare("crisis1", by="sam", reason="outage in the north")
            site.incident = mode.state.incident
        return site.incident


def _wide(page) -> str:
    """The outermost elements that stick out of the viewport, to say what to fix."""
    return page.evaluate("""() => {
        const out = [];
        const inScroller = el => {
            for (let p = el.parentElement; p; p = p.parentElement) {
                const o = getComputedStyle(p).overflowX;
                if (o === 'auto' || o === 'scroll') return true;
            }
            return false; };
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect();
            if (r.right > innerWidth + 1 && !inScroller(el) && !(el.parentElement &&
                el.parentElement.getBoundingClientRect().right > innerWidth + 1))
                out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
                         (typeof el.className === 'string' && el.className
                          ? '.' + el.className.split(' ').join('.') : ''));
        }
        return out.slice(0, 5).join(', ');
    }""")


WHO = {"login": None, "login-sso": None, "login-second-factor": "2fa:mei",
       "case-elsewhere": "omar"}
SIGN_IN = ("login", "login-sso", "login-second-factor")  # no navigation before signing in
WALLS = ("wall",)  # kiosk: a screen on the wall, deliberately without navigation


# What the sweep reads of each page, in one round trip to the browser: the tab title, the main
# navigations and their links' words (as Playwright's count() and all_inner_texts() read them),
# and how far the page scrolls sideways.
FACTS = """() => ({title: document.title,
    navs: document.querySelectorAll('nav.mainnav').length,
    names: Array.from(document.querySelectorAll('nav.mainnav a'), a => a.innerText),
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth})"""


def test_every_page_at_desktop_and_phone_width_passes_axe(site, pages):
    """Also, on the phone, no table scrolls sideways and no cell or control is out of reach
    (phone_kit: the tables' own boxes, beyond the page's sideways scroll), on every page but
    the wall (a kiosk screen, not read on a phone)."""
    problems: list[str] = []
    swept: dict[str, float] = {}  # page@width: seconds (load, checks, axe, screenshot)
    for name, path, status in _pages(site):
        for width, _, scheme in WIDTHS:
            page = pages(WHO.get(name, "sam"), width)
            began = time.monotonic()
            _sso(site, name == "login-sso")
            response = page.goto(f"{site.url}{path}")
            assert response is not None and response.status == status, (name, response.status)
            assert response.headers["content-type"].startswith("text/html"), name
            facts = page.evaluate(FACTS)
            title = facts["title"]
            if not title.endswith(" · Escape Velocity") or title.count("Escape Velocity") != 1:
                problems.append(f"{name}: the tab title is {title!r}")
            navs = 0 if name in SIGN_IN or name in WALLS else 1
            if facts["navs"] != navs:
                problems.append(f"{name}: {facts['navs']} main navs")
            names = facts["names"]
            if len(names) != len(set(names)):
                problems.append(f"{name}: a link twice in the navigation: {names}")
            if status != 200:
                expect(page.locator("#back")).to_be_visible()
            if width < 800:
                if facts["overflow"] > 1:
                    problems.append(f"{name} @{width}: the page scrolls sideways by "
                                    f"{facts['overflow']}px ({_wide(page)})")
                if name not in WALLS:
                    if wide := tables_scrolling_sideways(page):
                        problems.append(f"{name}: {', '.join(wide)}")
                    if out := cells_and_controls_out_of_reach(page):
                        problems.append(f"{name}: {', '.join(out)}")
            for v in serious_violations(page):
                problems.append(f"{name} @{width} {scheme}: {v['impact']} {v['id']}: {v['help']} "
                                f"{v['nodes']}")
            shoot(page, f"{name}-{width}")
            swept[f"{name}@{width}"] = round(time.monotonic() - began, 2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "swept.json").write_text(json.dumps(swept, indent=1))
    assert not problems, "\n".join(problems)


def test_withdrawing_a_pending_draft_from_the_case_page(site, browser, log_in):
    from escapevelocity.services import cases

    case_id = site.cases[3]
    ws = site.workspace
    cases.claim(ws.store, ws.clock, case_id, "joe")
    cases.reply(ws.store, ws.clock, case_id, "joe", "We are on it, sorry!")
    page = log_in(browser, site, "joe", width=1280, path=f"/cases/{case_id}")
    draft = page.locator("#pending-draft")
    expect(draft).to_contain_text("awaits approval by")
    approver = page.locator("#pending-approver").inner_text()
    assert approver in ("sam", "ana", "leo")  # the hub checks an agency's routine reply
    expect(draft).to_contain_text("We are on it, sorry!")
    expect(page.locator("textarea[name=text]")).to_have_count(0)  # no reply while it waits
    page.click("#withdraw-draft")
    page.wait_for_url(f"**/cases/{case_id}")
    expect(page.locator("#pending-draft")).to_have_count(0)
    expect(page.locator(".flash.ok")).to_contain_text("withdrawn")
    page.click("#claim")  # nothing blocks the case now: claim it and the reply form is there
    expect(page.locator("textarea[name=text]")).to_be_visible()
    with ws.store.begin() as tx:
        kinds = [e.kind for e in tx.events.stream(case_id)]
    assert kinds[-2:] == ["approval_withdrawn", "claimed"]
    page.context.close()


def test_keyboard_skip_link_and_focus_ring(site, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto(f"{site.url}/login")
    page.fill("input[name=member]", "sam")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox")
    page.keyboard.press("Tab")
    skip = page.locator("a.skip-link")
    expect(skip).to_be_focused()
    assert skip.bounding_box()["y"] >= 0  # shown when focused
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.tagName")
    assert re.fullmatch(r"A|BUTTON|INPUT|SELECT|TEXTAREA|TR", focused), focused
    ctx.close()


CARD_LISTS = (("inbox", "/inbox", "#rows tr.case-row"),
              ("bulk", "/bulk", "#bulk-form table.cards tbody tr"),
              ("search", "/search?q=broadband&channel=twitter&status=open",
               "table.results tbody tr"),
              ("profile", "/people/twitter/kim0", "table.cards tbody tr"),
              ("team", "/team", "table.members tr[data-member]"))


def _cells_off_screen(page, rows: str) -> list[str]:
    """Cells of the list's rows that are hidden or stick out of the 390 px viewport."""
    return page.evaluate("""sel => {
        const out = [];
        document.querySelectorAll(sel).forEach((tr, i) => {
            if (getComputedStyle(tr).display !== 'flex') out.push(`row ${i}: not a card`);
            tr.querySelectorAll('td').forEach(td => {
                const r = td.getBoundingClientRect();
                if (td.textContent.trim() && (r.width === 0 || r.left < 0 || r.right > innerWidth))
                    out.push(`row ${i} ${td.className || td.dataset.label || ''}: ` +
                             `${Math.round(r.left)}..${Math.round(r.right)}`);
            });
        });
        return out.slice(0, 8);
    }""", rows)


def test_lists_reflow_into_cards_on_a_phone(site, browser, log_in):
    """At 390x844 the inbox, bulk list, search results, a customer's cases and the team page
    show one card per row: nothing scrolls sideways (the page or the table's own box), every
    cell with something in it is on screen; in the inbox j/k still move and a live change still
    replaces its row; in the bulk list a row is ticked with a tap."""
    from escapevelocity.domain.clock import SystemClock
    from escapevelocity.services import cases

    page = log_in(browser, site, "sam", width=390, height=844, color_scheme="dark",
                  path=CARD_LISTS[0][1])
    for name, path, rows in CARD_LISTS:
        if page.url != f"{site.url}{path}":  # the first: log_in's page
            page.goto(f"{site.url}{path}")
        assert page.locator(rows).count() >= 1, name
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width, _wide(page))
        inner = page.evaluate("""() => Array.from(document.querySelectorAll('table.cards'))
            .filter(t => t.scrollWidth > t.clientWidth + 1).map(t => t.scrollWidth)""")
        assert inner == [], (name, "a table scrolls inside its box", inner)
        assert _cells_off_screen(page, rows) == [], name
        shoot(page, f"{name}-cards-390")

    # the inbox: keyboard and live rows work on the cards too
    case_id = site.post([{"source_id": "phone1", "channel": "twitter", "kind": "post",
                          "text": SUPPORT + " on my phone", "author": {"handle": "pho"},
                          "created_at": "2026-11-20T13:59:00Z"}])["case_ids"][0]
    page.goto(f"{site.url}/inbox")
    expect(page.locator("body[data-live=on]")).to_have_count(1, timeout=10_000)
    row = page.locator(f'#rows tr[data-case="{case_id}"]')
    expect(row).to_be_visible()
    at = page.locator("#rows tr.case-row").evaluate_all(
        "(rows, id) => rows.findIndex(r => r.dataset.case === id)", case_id)
    for _ in range(at + 1):  # j down to the new case's card
        page.keyboard.press("j")
    expect(row).to_have_class(re.compile(r"\bselected\b"))
    ws = site.workspace
    cases.claim(ws.store, SystemClock(), case_id, "priya")
    expect(row.locator("td.holder")).to_have_text("priya", timeout=10_000)
    expect(row).to_have_attribute("data-state", "claimed")
    expect(row).to_have_class(re.compile(r"\bselected\b"))  # the cursor stays on its case
    expect(page.locator("tr.case-row.selected")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert _cells_off_screen(page, "#rows tr.case-row") == []
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{case_id}")

    # the bulk list: tick a card's box with a tap
    page.goto(f"{site.url}/bulk")
    box = page.locator("#bulk-form table.cards input[name=case]").first
    box.click()
    expect(box).to_be_checked()
    page.context.close()


ADMIN_TABLES = (("admin-members", "/admin/members", "#members", "Role"),
                ("admin-teams", "/admin/teams", "#teams", "Routing"),
                ("channels", "/admin/channels", "table.channels", "health"),
                ("settings-tokens", "/settings/tokens", "#token-list", "scopes"),
                ("reports-cases", "/reports/cases?period=7d&measure=cases", "#drill-table",
                 "channel"))


def test_admin_tables_read_as_labelled_cards_on_a_phone(site, browser, log_in):
    """At 390 px the admin tables are one card per row, each value after its column's name
    (taken from the header row), and a row's button still works with a tap: a token is revoked
    from its card. At 1440 px the same tables are plain tables with their header row."""
    from escapevelocity.services import tokens

    _, made = tokens.create(site.workspace.store, site.workspace.clock, by="sam",
                            name="phone test")
    for width, scheme in ((390, "dark"), (1440, "light")):
        page = log_in(browser, site, "sam", width=width, height=844, color_scheme=scheme,
                      path=ADMIN_TABLES[0][1])
        for name, path, table, column in ADMIN_TABLES:
            if page.url != f"{site.url}{path}":  # the first: log_in's page
                page.goto(f"{site.url}{path}")
            shape = page.evaluate("""([sel, column]) => {
                const t = document.querySelector(sel);
                const rows = Array.from(t.querySelectorAll('tr'))
                    .filter(r => r.querySelector('td'));
                const labelled = Array.from(t.querySelectorAll('td[data-label]'))
                    .filter(td => td.dataset.label === column);
                const shown = labelled.length
                    ? getComputedStyle(labelled[0], '::before').content : '';
                return {table: getComputedStyle(t).display, rows: rows.length,
                        cards: rows.filter(r => getComputedStyle(r).display === 'flex').length,
                        labelled: labelled.length, shown};
            }""", [table, column])
            assert shape["rows"] >= 1, (name, shape)
            assert shape["labelled"] == shape["rows"], (name, width, shape)
            if width == 390:
                assert shape["cards"] == shape["rows"], (name, shape)
                assert shape["shown"] == f'"{column} "', (name, shape)
            else:
                assert shape["table"] == "table" and shape["cards"] == 0, (name, shape)
                assert shape["shown"] in ("none", "normal"), (name, shape)
                expect(page.locator(f"{table} th").first).to_be_visible()
        if width == 390:  # the keyboard reaches a card's button, and it is on screen
            page.goto(f"{site.url}/admin/members")
            for _ in range(80):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.closest('#members button') !== null"):
                    break
            focused = page.evaluate("""() => { const r = document.activeElement
                .getBoundingClientRect(); return [document.activeElement.textContent.trim(),
                Math.round(r.left), Math.round(r.right), Math.round(r.height)]; }""")
            assert focused[0].startswith("Deactivate"), focused
            assert focused[1] >= 0 and focused[2] <= 390 and focused[3] >= 24, focused
            page.goto(f"{site.url}/settings/tokens")
            card = page.locator(f'#token-list tr[data-token="{made.id}"]')
            card.get_by_role("button", name="Revoke").click()
            page.wait_for_url("**/settings/tokens*")
            expect(page.locator(f'#token-list tr[data-token="{made.id}"]')).to_contain_text(
                "revoked")
            shoot(page, "settings-tokens-cards-390")
        page.context.close()
