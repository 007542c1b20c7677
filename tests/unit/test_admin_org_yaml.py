"""The organisation an admin page saves is a YAML document `ev org apply` reads back to the
same organisation, and it reads like a written one (defaults left out)."""

from __future__ import annotations

from datetime import date
from importlib.resources import files

import msgspec

from escapevelocity.domain import yamlsafe
from escapevelocity.domain.org import Shift, load_org
from escapevelocity.services.admin import org_yaml, parse_ladder


def test_saved_organisation_round_trips_through_its_yaml():
    for name in ("org.yaml", "org_follow_the_sun.yaml"):
        text = files("escapevelocity").joinpath("demo", name).read_text()
        org = load_org(yamlsafe.load(text))
        first = org.members[0]
        edited = msgspec.structs.replace(
            first, languages=[], skill_until={"billing": date(2026, 12, 31)},
            shift=Shift(tz="Europe/Paris", days=["mon", "tue"], start="22:00", end="06:00",
                        holidays=[date(2026, 12, 25)]))
        org = msgspec.structs.replace(org, members=[edited, *org.members[1:]])
        saved = org_yaml(org)
        assert load_org(yamlsafe.load(saved)) == org
        assert "hub: null" not in saved and "overflows: []" not in saved
        assert "languages: []" in saved  # empty here is not the default (en)


def test_escalation_ladder_in_words():
    steps = parse_ladder("notify_assignee 0.75, reassign 1.0\npage_on_call@1.5")
    assert [(s.action, s.at) for s in steps] == [("notify_assignee", 0.75), ("reassign", 1.0),
                                                 ("page_on_call", 1.5)]
    for bad in ("reassign", "shout 1.0", "reassign soon"):
        try:
            parse_ladder(bad)
        except ValueError as exc:
            assert "escalation" in str(exc)
        else:
            raise AssertionError(bad)
