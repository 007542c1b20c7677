"""Operational signals: backlog growth and SLA breach rate, fed hourly by the caller.

Whatever the cause (a crisis, a launch, an outage of the team), the inbox falling behind is a
signal of its own. Fixed steps, no baseline: these are ratios the program lead sets.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime

import msgspec

from escapevelocity.domain.crisis.detectors import _Cooldown
from escapevelocity.domain.crisis.model import OVERALL, Alert, hour_index, hour_start


class OpsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Thresholds for the operational signals (fed by the caller from the case projection)."""

    breach_levels: tuple[float, float, float, float] = (0.2, 0.35, 0.5, 0.75)
    min_due: int = 5                      # fewer cases due in the hour never alert
    growth_window_hours: int = 3
    growth_levels: tuple[float, float, float, float] = (2.0, 3.0, 5.0, 10.0)
    min_backlog: int = 20                 # a backlog smaller than this never alerts
    cooldown_hours: int = 3


class OpsDetector:
    """Backlog growth and SLA breach rate: is the team falling behind, whatever the cause?"""

    def __init__(self, settings: OpsSettings | None = None, key: str = OVERALL) -> None:
        self.s = settings or OpsSettings()
        self.key = key
        self._backlog: deque[tuple[int, int]] = deque(maxlen=self.s.growth_window_hours + 1)
        self._cool = {"backlog": _Cooldown(), "sla_breach": _Cooldown()}

    @staticmethod
    def _level(value: float, steps: tuple[float, ...]) -> str:
        level = "normal"
        for name, step in zip(("watch", "crisis1", "crisis2", "crisis3"), steps, strict=True):
            if value >= step:
                level = name
        return level

    def update(self, hour: int | datetime, *, backlog: int, due: int = 0, breached: int = 0
               ) -> list[Alert]:
        """`backlog` open cases at the end of the hour; `due`/`breached` SLAs that fell due."""
        h = hour if isinstance(hour, int) else hour_index(hour)
        s = self.s
        alerts: list[Alert] = []
        self._backlog.append((h, backlog))
        if due >= s.min_due:
            rate = breached / due
            level = self._level(rate, s.breach_levels)
            if level != "normal" and self._cool["sla_breach"].allows(h, level):
                self._cool["sla_breach"].start(h, level, s.cooldown_hours)
                alerts.append(Alert(hour=h, at=hour_start(h), key=self.key, signal="sla_breach",
                                    level=level, observed=rate, baseline=s.breach_levels[0],
                                    ratio=rate / s.breach_levels[0], score=0.0, threshold=0.0))
        first_hour, first = self._backlog[0]
        if backlog >= s.min_backlog and len(self._backlog) > 1:
            growth = backlog / max(first, 1)
            level = self._level(growth, s.growth_levels)
            if level != "normal" and self._cool["backlog"].allows(h, level):
                self._cool["backlog"].start(h, level, s.cooldown_hours)
                alerts.append(Alert(hour=h, at=hour_start(h), key=self.key, signal="backlog",
                                    level=level, observed=backlog, baseline=first, ratio=growth,
                                    score=0.0, threshold=0.0, window_hours=h - first_hour))
        return alerts
