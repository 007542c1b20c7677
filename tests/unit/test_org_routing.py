"""Organisation model and routing: visibility, shifts, overflow, expertise, stickiness."""

from datetime import UTC, datetime, timedelta

import pytest

from escapevelocity.domain.access import visible_teams
from escapevelocity.domain.org import Member, load_org
from escapevelocity.domain.routing import Need, RoutingState, assign, presence_at

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)  # Friday 14:00 UTC

ORG = load_org({
    "teams": [
        {"id": "hub", "name": "Hub", "kind": "hub"},
        {"id": "brand2", "name": "Brand 2 hub", "kind": "hub"},
        {"id": "care", "name": "Care EU", "hub": "hub", "strategy": "expertise", "region": "eu",
         "overflows": [{"to": "agency", "when": "busy", "start": "2026-11-20T00:00:00Z",
                        "end": "2026-11-21T00:00:00Z", "description": "launch day"},
                       {"to": "care_us", "when": "off_hours"}],
         "overflow": "hub"},
        {"id": "care_us", "name": "Care US", "hub": "hub", "region": "us"},
        {"id": "agency", "name": "Agency", "kind": "agency", "hub": "hub"},
        {"id": "b2care", "name": "Brand 2 care", "hub": "brand2"},
    ],
    "members": [
        {"id": "ana", "name": "Ana", "teams": ["hub"], "role": "community_manager"},
        {"id": "tom", "name": "Tom", "teams": ["care"], "skills": {"billing": 5, "launch": 5},
         "skill_until": {"launch": "2026-11-19"}, "languages": ["en", "de"],
         "shift": {"tz": "Europe/Berlin", "start": "08:00", "end": "18:00",
                   "holidays": ["2026-12-25"]}},
        {"id": "mei", "name": "Mei", "teams": ["care"], "skills": {"billing": 2, "launch": 3},
         "shift": {"tz": "Europe/Berlin", "start": "08:00", "end": "18:00"}},
        {"id": "joe", "name": "Joe", "teams": ["agency"], "role": "agency"},
        {"id": "us1", "name": "Una", "teams": ["care_us"],
         "shift": {"tz": "America/New_York", "start": "08:00", "end": "20:00"}},
        {"id": "b2", "name": "Bo", "teams": ["brand2"]},
        {"id": "root", "name": "Root", "teams": ["hub"], "role": "admin"},
    ],
})


def state(**presence):
    return RoutingState(presence={m.id: presence.get(m.id, "online") for m in ORG.members})


def test_hub_sees_its_spokes_spoke_sees_own_agency_limited():
    def sees(member_id: str) -> set[str]:
        member = ORG.member(member_id) or Member(member_id, "Nobody", ["hub"])
        return set(visible_teams(ORG, member))

    assert sees("ana") == {"hub", "care", "care_us", "agency"}
    assert sees("b2") == {"brand2", "b2care"}
    assert sees("tom") == {"care"}
    assert sees("joe") == {"agency"}
    assert sees("root") == {t.id for t in ORG.teams}  # admins: every team, every hub
    assert sees("nobody") == set()  # not in the organisation: nothing


def test_expertise_explains_and_uses_history_and_skill_expiry():
    s = state()
    s.first_reply[("mei", "support")] = 2.0
    a = assign(Need("care", "support", ("billing",), "de"), ORG, s, NOW)
    assert a.member == "tom"
    assert a.explanation == ("routed to Tom: billing skill 5/5, speaks de, online, 0/10 cases")
    # the launch skill expired yesterday: Mei (launch 3, fast replies) wins
    a = assign(Need("care", "support", ("launch",), "en"), ORG, s, NOW)
    assert a.member == "mei" and "median first reply 2 min on support" in a.explanation


def test_sticky_routing_prefers_the_last_handler_when_available():
    a = assign(Need("care", "support", ("billing",)), ORG, state(), NOW, prefer="mei")
    assert a.member == "mei" and "handled this author before" in a.explanation
    a = assign(Need("care", "support", ("billing",)), ORG, state(mei="away"), NOW, prefer="mei")
    assert a.member == "tom"


def test_launch_window_overflows_to_agency_then_off_hours_follow_the_sun():
    busy = state(tom="offline", mei="offline")
    a = assign(Need("care"), ORG, busy, NOW)
    assert (a.team, a.member) == ("agency", "joe") and "overflow from care" in a.explanation
    night = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)  # Sunday night in Berlin, 17:00 in NY
    a = assign(Need("care"), ORG, state(), night)
    assert (a.team, a.member) == ("care_us", "us1")
    a = assign(Need("care"), ORG, state(us1="offline", ana="offline"), night)
    assert (a.team, a.member) == ("care_us", None) and "off hours" in a.explanation


def test_nobody_at_capacity_or_off_shift_or_on_holiday():
    s = state()
    s.load.update(tom=10, mei=10)
    a = assign(Need("care"), ORG, s, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))  # after launch
    assert (a.team, a.member) == ("hub", "ana")
    xmas = datetime(2026, 12, 25, 10, 0, tzinfo=UTC)
    assert not ORG.member("tom").shift.covers(xmas) and ORG.member("mei").shift.covers(xmas)


def test_presence_from_activity():
    seen = NOW - timedelta(minutes=12)
    assert presence_at("online", seen, NOW) == "away"
    assert presence_at("online", NOW - timedelta(hours=2), NOW) == "offline"
    assert presence_at("online", NOW, NOW) == "online"
    assert presence_at("away", NOW, NOW) == "away"


def test_organisation_problems_are_named():
    with pytest.raises(ValueError) as exc:
        load_org({"teams": [{"id": "a", "name": "A", "strategy": "magic", "lead": "ghost",
                             "overflows": [{"to": "b", "when": "sometimes"}]}],
                  "members": [{"id": "x", "name": "X", "teams": ["a"], "skills": {"s": 9},
                               "shift": {"tz": "Mars/Olympus"}}],
                  "sla": {"warn_at": 1.5,
                          "escalation": {"default": [{"action": "shout", "at": 1}]}}})
    text = str(exc.value)
    for part in ("unknown strategy 'magic'", "unknown team 'b'", "overflow when 'sometimes'",
                 "unknown member 'ghost'", "proficiency of s", "Mars/Olympus", "warn_at 1.5",
                 "unknown action 'shout'"):
        assert part in text


def test_the_on_shift_memo_gives_what_each_shift_says():
    """routing.on_shift_members memoises per team and UTC minute: at any second of any minute,
    in the demo organisation's zones (follow the sun: three continents), it is the shifts'
    own answer."""
    import random
    from pathlib import Path

    import yaml

    from escapevelocity.domain.org import index
    from escapevelocity.domain.routing import on_shift_members

    demo = Path(__file__).parents[2] / "src" / "escapevelocity" / "demo"
    org = load_org(yaml.safe_load((demo / "org_follow_the_sun.yaml").read_text()))
    ix = index(org)
    rng = random.Random(7)
    start = datetime(2026, 3, 1, tzinfo=UTC)  # spans the March and October clock changes
    for _ in range(1_000):
        minute = start + timedelta(minutes=rng.randrange(240 * 1_440))
        for _ in range(3):  # the first fills the memo, the others read it
            now = minute + timedelta(seconds=rng.randrange(60), microseconds=rng.randrange(10**6))
            for team in org.teams:
                want = tuple(m for m in ix.members_of.get(team.id, ()) if m.shift.covers(now))
                assert on_shift_members(ix, team.id, now) == want, (team.id, now)
