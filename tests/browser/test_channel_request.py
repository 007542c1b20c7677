"""A business unit's own channel in a browser: Tom (care's lead) requests a Mastodon account
for care, Sam (the hub) connects it in shadow mode, a mention through it shows in care's
shadow queue and Priya drafts (nothing sent: replies through it are dry runs), the checklist
is completed, Sam approves, and the connection is live (its switch turned live, audited).
The request's page in shadow and live does not scroll sideways at 1440 and 390 px
(screenshots with EV_SCREENSHOTS=1)."""

from __future__ import annotations

from playwright.sync_api import expect
from shot_kit import shoot

from escapevelocity.domain import events as ev
from escapevelocity.domain import governance
from escapevelocity.domain.records import Author, Mention
from escapevelocity.services import channel_requests as cr
from escapevelocity.services import outbound

PAGE = "/governance/channels/care-masto"


def _shoot(browser, server, member: str, name: str, log_in) -> None:
    page = log_in(browser, server, member, width=1440, height=900, path=PAGE)
    for width, height in ((1440, 900), (390, 844)):
        if width != page.viewport_size["width"]:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(server.url + PAGE)
        expect(page.locator("#channel-state")).to_be_visible()
        shoot(page, f"{name}-{width}")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name} scrolls sideways at {width}: {scroll}"
    page.context.close()


def _through_care_masto(server, n: int) -> str:
    from escapevelocity.services.intake import Intake

    ws = server.workspace
    Intake(ws, None).take([Mention(source_id=f"masto{n}", channel="mastodon", via="care-masto",
                                   text=f"my broadband is down again, can care help? ({n})",
                                   author=Author(handle=f"rosa{n}@fosstodon.org"),
                                   created_at=ws.clock.now())])
    with ws.store.begin() as tx:
        return tx.mentions.case_ids([("mastodon", f"masto{n}")])[f"mastodon:masto{n}"]


def test_a_units_channel_goes_from_request_to_shadow_to_live(browser, server, log_in):
    ws = server.workspace
    tom = log_in(browser, server, "tom", path="/governance")
    form = tom.locator("#channel-request-form")
    form.locator("input[name=connection]").fill("care-masto")
    form.locator("select[name=channel]").select_option("mastodon")
    form.locator("input[name=account]").fill("@care@acme.social")
    form.locator("select[name=team]").select_option("care")
    form.locator("input[name=members]").fill("priya")
    form.locator("input[name=reason]").fill("customers ask care directly on Mastodon")
    form.locator("button[type=submit]").click()
    tom.wait_for_url("**" + PAGE)
    expect(tom.locator("#channel-state")).to_have_text("requested")
    expect(tom.locator("#connect-form")).to_have_count(0)  # the hub connects, not the unit

    sam = log_in(browser, server, "sam", path=PAGE)
    sam.fill("#connect-form input[name=s_base_url]", "http://127.0.0.1:9")
    sam.fill("#connect-form input[name=k_token]", "not-a-real-token")
    sam.click("#connect-form button[type=submit]")
    expect(sam.locator("#channel-state")).to_have_text("shadow")
    expect(sam.locator("#why-not")).to_contain_text("not complete: understanding")
    assert not outbound.mode(ws.store).live_for("care-masto")
    sam.goto(f"{server.url}/admin/channels")  # the Channels page sends the admin here
    row = sam.locator('tr[data-connection="care-masto"]')
    expect(row).to_contain_text("care's channel, shadow: goes live when the hub approves")
    expect(row.locator("select[name=mode]")).to_have_count(0)

    # Shadow: what comes through it is care's "would get"; a reply through it is a dry run.
    first = _through_care_masto(server, 1)
    priya = log_in(browser, server, "priya", path=PAGE)
    item = priya.locator(f'#shadow-queue li[data-case="{first}"]')
    expect(item).to_contain_text("broadband is down again")
    item.locator("input[name=text]").fill("Hi Rosa, care here: an engineer is on the way.")
    item.locator("button").click()
    expect(priya.locator(f'#shadow-queue li[data-case="{first}"] .draft')).to_contain_text(
        "priya would have sent: Hi Rosa, care here")
    with ws.store.begin() as tx:
        assert not [e for e in tx.events.stream(first) if e.kind == ev.REPLIED]
    sam.goto(f"{server.url}/cases/{first}")
    sam.get_by_role("button", name="Claim").first.click()
    expect(sam.locator("body")).to_contain_text("reply (dry run)")
    _shoot(browser, server, "sam", "governance-channel-shadow", log_in)

    # The unit completes its checklist: two items on the page, the rest by the same command.
    items = [key for key, _ in governance.DEFAULT_CHECKLIST]
    tom.reload()
    for key in items[:2]:
        row = tom.locator(f'#readiness tr[data-item="{key}"]')
        row.locator("input[name=evidence]").fill(f"{key}: see the plan")
        row.locator("button").click()
        expect(tom.locator(f'#readiness tr[data-item="{key}"]')).to_contain_text("tom:")
    for key in items[2:]:
        cr.complete_item(ws.store, ws.clock, "tom", "care-masto", key, "see the plan")
    tom.reload()
    expect(tom.locator("#approve-form")).to_have_count(0)  # the unit does not approve itself

    sam.goto(server.url + PAGE)
    sam.fill("#approve-form input[name=note]", "ready: staffed weekdays 8-20")
    sam.click("#approve-form button")
    expect(sam.locator("#channel-state")).to_have_text("live")
    expect(sam.locator("#channel-status")).to_contain_text("approved by sam")
    sam.goto(f"{server.url}/governance")
    expect(sam.locator('tr[data-channel="care-masto"] .mode')).to_have_text("live")
    sam.goto(f"{server.url}/cases/{first}")
    expect(sam.locator("body")).to_contain_text("sends to Mastodon")

    assert outbound.mode(ws.store).live_for("care-masto")
    with ws.store.begin() as tx:
        kinds = [e.kind for e in tx.events.stream(ev.GOVERNANCE_PREFIX + "channel:care-masto")]
    assert kinds[:2] == [ev.CHANNEL_REQUESTED, ev.CHANNEL_CONNECTED]
    assert kinds[-1] == ev.CHANNEL_APPROVED and ev.SHADOW_DRAFTED in kinds
    assert outbound.history(ws.store)[0].data["after"]["connections"]["care-masto"] == "live"
    _shoot(browser, server, "sam", "governance-channel-live", log_in)
    for page in (tom, sam, priya):
        page.context.close()
