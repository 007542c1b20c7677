"""Routing hands cases only to members whose role may answer them."""

from datetime import UTC, datetime

from escapevelocity.domain.org import load_org
from escapevelocity.domain.routing import Need, RoutingState, assign

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
ORG = load_org({
    "teams": [{"id": "care", "name": "Care", "kind": "hub", "strategy": "least_load"}],
    "members": [
        {"id": "eva", "name": "Eva", "teams": ["care"], "role": "analyst", "capacity": 50},
        {"id": "lin", "name": "Lin", "teams": ["care"], "role": "community_manager",
         "capacity": 2},
    ],
})


def test_an_analyst_is_never_assigned_a_case_even_when_idle():
    state = RoutingState(presence={"eva": "online", "lin": "online"}, load={})
    got = [assign(Need("care", "support"), ORG, state, NOW).member for _ in range(4)]
    assert got == ["lin", "lin", None, None]  # Lin's capacity is 2; Eva never answers
