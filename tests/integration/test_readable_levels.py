"""Crisis levels as people read them, where a page showed the stored id ("CRISIS1") or an
incident's id: the wall's crisis banner (first render and /wall/data for its script) and
the after-action report's browser tab title (tests/integration/test_governance_paths.py)."""

from __future__ import annotations

import re

import pytest
from web_kit import login

from escapevelocity.services.crisis import CrisisMode
from escapevelocity.web.labels import level_name


@pytest.mark.parametrize(("level", "name"), [
    ("crisis1", "Crisis level 1"), ("crisis3", "Crisis level 3"), ("watch", "Watch"),
    ("normal", "Normal"), (None, ""), ("crisisX", "Crisisx")])
def test_level_names(level, name):
    assert level_name(level) == name


def test_the_walls_crisis_banner_names_the_level(app, workspace):
    client, _ = login(app, "sam")
    assert client.get("/wall/data").json()["crisis"]["name"] == "Normal"
    CrisisMode(workspace.store, workspace.clock).declare("crisis1", "sam", "outage in the north")
    page = client.get("/wall").text
    banner = re.search(r'<div id="wall-crisis".*?</div>', page, re.S).group(0)
    assert 'class="wall-crisis level-crisis1"' in banner  # the id stays for the style
    assert '<strong id="wall-crisis-level">Crisis level 1</strong>' in banner
    assert "CRISIS1" not in banner.upper().replace("LEVEL-CRISIS1", "")
    data = client.get("/wall/data").json()["crisis"]
    assert data["level"] == "crisis1" and data["name"] == "Crisis level 1"
