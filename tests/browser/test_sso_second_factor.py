"""Sign-in through a local OpenID provider, a refused reply, TOTP enrolment, then the reply, in
a real browser (issue 21, must show).

Kim signs in through the provider on 127.0.0.1 (tests/oidc_provider.py) and is provisioned as
a care liaison from her groups. The admin has made liaisons need a second factor: the case page
offers her no public reply and says why, and a reply posted anyway is refused (403, nothing
recorded). She sets up TOTP from the QR code on Settings → Second factor, gets her recovery
codes, and the same reply goes through. No page breaks the content security policy.
"""

from __future__ import annotations

import re

import pyotp
from oidc_provider import Provider
from playwright.sync_api import expect

from escapevelocity.domain import events as ev
from escapevelocity.services import second_factor
from escapevelocity.services.sso import SsoConfig, parse_roles

TEXT = "Sorry about the double charge: we have refunded it. Reply here if it is not there."


def test_sso_sign_in_refused_reply_then_totp_enrolment(browser, server):
    ws = server.workspace
    second_factor.set_required_roles(ws.store, ws.clock, by="sam",
                                     roles=["liaison", "community_manager"])
    case_id = server.post([{"source_id": "sso1", "channel": "twitter",
                            "created_at": "2026-11-20T13:59:00Z",
                            "text": "my bill is wrong, charged twice, please help",
                            "author": {"handle": "payer", "name": "Pat"}}])["case_ids"][0]
    with Provider() as op:
        op.user = {"sub": "k1", "email": "kim@example.com", "name": "Kim Lee",
                   "groups": ["ev-care"]}
        server.app.state.sso_config = SsoConfig(op.issuer, op.client_id, op.client_secret,
                                                parse_roles("ev-care=liaison"))
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda m: blocked.append(m.text)
                if "Content Security Policy" in m.text else None)
        page.goto(f"{server.url}/login")
        page.click("#sso-login")  # to the provider and back
        page.wait_for_url("**/inbox")
        expect(page.locator(".whoami .me")).to_have_text("Kim Lee")

        # a public reply is refused: not offered, and refused when posted anyway
        page.goto(f"{server.url}/cases/{case_id}")
        page.click(f'form[action="/cases/{case_id}/claim"] button')
        expect(page.locator("#factor-needed")).to_be_visible()
        expect(page.locator("#reply-text")).to_have_count(0)
        csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
        refused = page.request.post(f"{server.url}/cases/{case_id}/reply",
                                    form={"csrf": csrf, "text": TEXT}, max_redirects=0)
        assert refused.status == 403 and "second factor" in refused.text()
        with ws.store.begin() as tx:
            assert ev.REPLIED not in [e.kind for e in tx.events.stream(case_id)]

        # TOTP enrolment: the QR code renders (an SVG data URI under the CSP)
        page.click("#factor-needed a")
        page.wait_for_url("**/settings/security")
        page.click("#start-form button")
        qr = page.locator("#factor-qr")
        expect(qr).to_be_visible()
        assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
        secret = page.locator("#factor-secret").inner_text()
        page.fill('#confirm-form input[name="code"]', pyotp.TOTP(secret).now())
        page.click("#confirm-form button")
        expect(page.locator("#recovery-codes li")).to_have_count(10)
        expect(page.locator("#factor-state")).to_contain_text("on")

        # now the same reply goes through the same page
        page.goto(f"{server.url}/cases/{case_id}")
        expect(page.locator("#factor-needed")).to_have_count(0)
        if page.locator("#reply-text").count() == 0:  # the claim may have been re-read
            page.click(f'form[action="/cases/{case_id}/claim"] button')
        page.fill("#reply-text", TEXT)
        page.click("form.reply button[type=submit]")
        expect(page.locator(".flash").first).to_contain_text(
            re.compile("Reply recorded|needs approval"))
        context.close()
    with ws.store.begin() as tx:
        kinds = [e.kind for e in tx.events.stream(case_id)]
    assert ev.REPLIED in kinds or ev.APPROVAL_REQUESTED in kinds
    assert not blocked, blocked
