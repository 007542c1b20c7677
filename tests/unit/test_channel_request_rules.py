"""A business unit's own channel, pure: the request's states as the log folds them, who may
approve and when, which connections may send, and where their mentions go once live."""

from datetime import UTC, datetime, timedelta

from escapevelocity.domain import events as ev
from escapevelocity.domain import governance
from escapevelocity.domain.org import load_org

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
ORG = load_org({
    "teams": [{"id": "hub", "name": "Hub", "kind": "hub"},
              {"id": "care", "name": "Care", "hub": "hub"},
              {"id": "legal", "name": "Legal", "hub": "hub"}],
    "members": [{"id": "sam", "name": "Sam", "teams": ["hub"], "role": "strategist"},
                {"id": "tom", "name": "Tom", "teams": ["care"], "role": "liaison"},
                {"id": "priya", "name": "Priya", "teams": ["care"], "role": "liaison"}],
})
STREAM = ev.GOVERNANCE_PREFIX + "channel:care-masto"
ITEMS = [i for i, _ in governance.DEFAULT_CHECKLIST]


def _e(kind, actor="tom", minutes=0, **data):
    return ev.make(STREAM, kind, NOW + timedelta(minutes=minutes), actor, data)


def _requested() -> list:
    return [_e(ev.CHANNEL_REQUESTED, connection="care-masto", channel="mastodon", team="care",
               account="@care", members=["tom", "priya"])]


def _complete() -> list:
    return [_e(ev.READINESS_ITEM_DONE, team="care", item=i, evidence="yes",
               connection="care-masto", minutes=2) for i in ITEMS]


def test_a_request_waits_for_the_hub_then_runs_in_shadow_then_goes_live():
    sam = ORG.member("sam")
    p = governance.replay(_requested())
    c = p.channels["care-masto"]
    assert c.state == governance.REQUESTED and c.mode == governance.SHADOW and c.open
    assert "has not connected" in governance.channel_approvable(p, "care-masto", sam)
    assert governance.sends_blocked(p, "care-masto")

    p = governance.replay([*_requested(), _e(ev.CHANNEL_CONNECTED, "sam", 1,
                                             connection="care-masto")])
    assert p.channels["care-masto"].state == governance.SHADOW
    assert "not complete: understanding" in governance.channel_approvable(p, "care-masto", sam)

    p = governance.replay([*_requested(), _e(ev.CHANNEL_CONNECTED, "sam", 1,
                                             connection="care-masto"), *_complete()])
    assert governance.channel_missing(p, "care-masto") == []
    assert governance.channel_approvable(p, "care-masto", sam) is None
    # the unit does not approve its own readiness, even a member who could configure
    assert "not the unit's own" in governance.channel_approvable(
        p, "care-masto", ORG.member("priya"))
    assert governance.sends_blocked(p, "care-masto") and governance.owners(p) == {}

    governance.apply(p, _e(ev.CHANNEL_APPROVED, "sam", 3, connection="care-masto"))
    assert p.channels["care-masto"].state == governance.LIVE
    assert not governance.sends_blocked(p, "care-masto")
    assert governance.owners(p) == {"care-masto": "care"}
    assert "already live" in governance.channel_approvable(p, "care-masto", sam)


def test_a_spokes_checklist_and_a_channels_do_not_mix():
    """The same event kinds carry both; the connection field says whose item it is."""
    p = governance.replay([
        ev.make(ev.GOVERNANCE_PREFIX + "spoke:care", ev.SPOKE_REQUESTED, NOW, "tom",
                {"team": "care", "hub": "hub"}), *_requested(), *_complete()])
    assert len(governance.channel_missing(p, "care-masto")) == 0
    assert len(governance.missing(p, "care")) == len(ITEMS)


def test_rejected_and_withdrawn_requests_send_nothing_and_route_nothing():
    for kind, data in ((ev.CHANNEL_REJECTED, {"reason": "no weekend staff"}),
                       (ev.CHANNEL_WITHDRAWN, {"note": "closing the account"})):
        p = governance.replay([*_requested(), _e(ev.CHANNEL_CONNECTED, "sam", 1,
                                                 connection="care-masto"), *_complete(),
                               _e(ev.CHANNEL_APPROVED, "sam", 3, connection="care-masto"),
                               _e(kind, "sam", 4, connection="care-masto", **data)])
        c = p.channels["care-masto"]
        assert c.state == kind.removeprefix("channel_") and not c.open
        assert c.why_closed == next(iter(data.values()))
        assert governance.sends_blocked(p, "care-masto") and governance.owners(p) == {}


def test_a_connection_governance_never_heard_of_follows_its_switch():
    assert not governance.sends_blocked(governance.Program(), "blogs")


def test_a_live_units_channel_takes_the_hubs_cases_not_a_specialised_teams():
    owned = {"care-masto": "care"}
    assert governance.unit_team("hub", "care-masto", owned, ORG) == "care"
    assert governance.unit_team("legal", "care-masto", owned, ORG) == "legal"
    assert governance.unit_team("hub", "other", owned, ORG) == "hub"
    assert governance.unit_team("hub", "", owned, ORG) == "hub"
    assert governance.unit_team("hub", "care-masto", {"care-masto": "gone"}, ORG) == "hub"
