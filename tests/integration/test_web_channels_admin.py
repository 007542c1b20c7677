"""The Channels page edits connections (admins only): add one, change its query and settings
with its secret kept, pause it, switch its replies live; every change is an audited event and
no secret ever comes back to the browser."""

from __future__ import annotations

from web_kit import login

SECRET = "tok-very-secret-123"


def _everything(client, paths) -> str:
    return "".join(client.get(p).text for p in paths)


def test_admin_adds_edits_pauses_and_switches_a_connection(app, workspace):
    sam, csrf = login(app, "sam", page="/admin/channels")
    page = sam.get("/admin/channels/new?channel=mastodon").text
    assert 'name="s_base_url"' in page and 'name="k_token"' in page

    r = sam.post("/admin/channels", data={
        "csrf": csrf, "channel": "mastodon", "name": "acme-masto", "query": "refund OR (",
        "s_base_url": "https://acme.social", "k_token": SECRET})
    assert r.status_code == 422 and "query" in r.text and SECRET not in r.text
    r = sam.post("/admin/channels", data={
        "csrf": csrf, "channel": "mastodon", "name": "acme-masto", "query": "refund -giveaway",
        "s_base_url": "https://acme.social", "s_hashtags": "#acme, #acmehelp",
        "k_token": SECRET}, follow_redirects=False)
    assert r.status_code == 303
    with workspace.store.begin() as tx:
        c = tx.connections.get("acme-masto")
    assert c.settings["hashtags"] == ["#acme", "#acmehelp"] and c.query == "refund -giveaway"
    assert SECRET not in c.sealed  # encrypted at rest

    edit = sam.get("/admin/channels/acme-masto/edit").text
    assert "stored; leave blank to keep" in edit and 'value="https://acme.social"' in edit
    assert ">refund -giveaway</textarea>" in edit and 'value="#acme, #acmehelp"' in edit
    r = sam.post("/admin/channels/acme-masto", data={
        "csrf": csrf, "query": "refund OR broken", "s_base_url": "https://acme.social",
        "s_hashtags": "", "k_token": ""}, follow_redirects=False)
    assert r.status_code == 303
    from escapevelocity.adapters.secrets import Sealer

    with workspace.store.begin() as tx:
        c = tx.connections.get("acme-masto")
    assert c.query == "refund OR broken" and "hashtags" not in c.settings
    assert Sealer("s" * 32).unseal(c.sealed)["token"] == SECRET  # kept

    r = sam.post("/admin/channels/acme-masto/outbound", data={"csrf": csrf, "mode": "live"},
                 follow_redirects=False)
    assert r.status_code == 303
    page = sam.get("/admin/channels").text
    assert 'data-sends="live: sends to Mastodon"' in page
    r = sam.post("/admin/channels/acme-masto/enabled", data={"csrf": csrf, "enabled": "false"},
                 follow_redirects=False)
    page = sam.get("/admin/channels").text
    assert 'data-sends="recorded only (cannot send)"' in page and "disabled" in page

    assert SECRET not in _everything(sam, ["/admin/channels", "/admin/channels/acme-masto/edit",
                                           "/admin/webhooks"])
    with workspace.store.begin() as tx:
        audit = tx.events.stream("config:connections") + tx.events.stream(
            "config:outbound_mode")
    assert [(e.actor, e.data["name"]) for e in audit] == [("sam", "acme-masto")] * 4
    assert audit[0].data["secrets"] == ["token"] and audit[1].data["secrets"] == []
    assert SECRET not in str([e.data for e in audit])

    ana, ana_csrf = login(app, "ana")  # a community manager may not configure
    assert ana.get("/admin/channels").status_code == 404
    assert ana.get("/admin/channels/acme-masto/edit").status_code == 404
    r = ana.post("/admin/channels/acme-masto", data={"csrf": ana_csrf, "query": "x"})
    assert r.status_code == 404
    r = ana.post("/admin/channels/acme-masto/outbound", data={"csrf": ana_csrf, "mode": "live"})
    assert r.status_code == 404
