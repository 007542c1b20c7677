"""Screenshots of the browser tests' pages for a person to look at, in var/screenshots/,
taken when asked for: `EV_SCREENSHOTS=1 make test` (or pytest).

A full-page screenshot is a picture, not a check: the page's layout is checked by the tests
themselves (axe, no sideways scroll, cards on a phone). Taken in every run, the pictures cost
the browser files about a fifth of their time (the sweep of every page at two widths alone
took ~16 s of ~90 s), for files nobody opened in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

SHOTS = Path(os.environ.get("EV_VAR_DIR", Path(__file__).resolve().parents[2] / "var")
             ) / "screenshots"
WANTED = os.environ.get("EV_SCREENSHOTS", "") == "1"


def shoot(page, name: str) -> None:
    """The page, full length, as var/screenshots/NAME.png (when EV_SCREENSHOTS=1)."""
    if WANTED:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
