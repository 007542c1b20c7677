"""Conditions over time: business calendars (hours per weekday, holidays, time zone), named
windows such as launches, and weekdays. `_compile_calendar` is shared with domain/calendar.py."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from escapevelocity.domain.playbook.conditions import _as_set, _Conditions, _words
from escapevelocity.domain.playbook.errors import PlaybookError
from escapevelocity.domain.playbook.facts import Cond
from escapevelocity.domain.playbook.spec import Calendar

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class _Hours:
    """A compiled business calendar: open minute ranges per weekday, holidays, time zone."""

    zone: Any
    open: tuple[tuple[tuple[int, int], ...], ...]  # per weekday, minutes since midnight
    holidays: frozenset[date]

    def local(self, now: datetime) -> datetime:
        return now.astimezone(self.zone)

    def is_holiday(self, now: datetime) -> bool:
        return self.local(now).date() in self.holidays

    def is_open(self, now: datetime) -> bool:
        local = self.local(now)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.open[local.weekday()])


def _compile_calendar(name: str, cal: Calendar) -> _Hours:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(cal.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlaybookError(f"calendar {name!r}: unknown time zone {cal.timezone!r}") from None
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for key, spans in cal.hours.items():
        first, _, last = key.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise PlaybookError(f"calendar {name!r}: {key!r} is not a day or range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        chosen = [d % 7 for d in range(a, b + 1 if b >= a else b + 8)]
        for span in filter(None, (s.strip() for s in spans.split(","))):
            found = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", span)
            if not found:
                raise PlaybookError(f"calendar {name!r}: {span!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = map(int, found.groups())
            start, end = h1 * 60 + m1, h2 * 60 + m2
            if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or start == end:
                raise PlaybookError(f"calendar {name!r}: {span!r} is not a valid span")
            for d in chosen:
                if end > start:
                    days[d].append((start, end))
                else:  # through midnight into the next day
                    days[d].append((start, 24 * 60))
                    days[(d + 1) % 7].append((0, end))
    return _Hours(zone, tuple(tuple(d) for d in days), frozenset(cal.holidays))


def _aware(t: datetime) -> datetime:
    from datetime import UTC

    return t if t.tzinfo else t.replace(tzinfo=UTC)


class _TimeConditions(_Conditions):
    """The time conditions of the catalogue; `now` is the context's, else the mention's time."""

    calendars: dict[str, _Hours]

    def _calendar(self, value: Any, key: str) -> _Hours:
        if value is True or value is False:
            if not self.calendars and not self.spec.calendars:
                raise PlaybookError(f"{key} needs a calendar under 'calendars'")
            name = "default" if "default" in self.spec.calendars else next(
                iter(self.spec.calendars))
        elif isinstance(value, str):
            name = value
        else:
            raise PlaybookError(f"{key} expects true, false or a calendar name, got {value!r}")
        if name not in self.spec.calendars:
            raise PlaybookError(f"unknown calendar {name!r}; calendars: "
                                f"{', '.join(self.spec.calendars) or 'none'}")
        if name not in self.calendars:  # the calendar itself was broken; reported already
            raise PlaybookError(f"calendar {name!r} is invalid")
        return self.calendars[name]

    def _business_hours(self, value: Any) -> Cond:
        """Now is within (true, or a calendar name) or outside (false) business hours."""
        hours = self._calendar(value, "business_hours")
        want = value is not False
        return Cond("business_hours", want,
                    "in business hours" if want else "outside business hours",
                    lambda f: hours.is_open(f.now) is want,
                    lambda f: hours.local(f.now).strftime("%a %H:%M %Z"))

    def _holiday(self, value: Any) -> Cond:
        """Today is (true, or a calendar name) or is not (false) a holiday in the calendar."""
        hours = self._calendar(value, "holiday")
        want = value is not False
        return Cond("holiday", want, "a holiday" if want else "not a holiday",
                    lambda f: hours.is_holiday(f.now) is want,
                    lambda f: hours.local(f.now).strftime("%Y-%m-%d"))

    def _window(self, value: Any) -> Cond:
        """Now is inside one of the named windows (launches, campaigns, maintenance)."""
        wanted = _as_set(value, "window")
        unknown = wanted - set(self.spec.windows)
        if unknown:
            raise PlaybookError(f"unknown window {sorted(unknown)}; windows: "
                                f"{', '.join(self.spec.windows) or 'none'}")
        spans = tuple((_aware(w.start), _aware(w.end)) for n in sorted(wanted)
                      for w in self.spec.windows[n])
        return Cond("window", wanted, f"during {_words(wanted)}",
                    lambda f: any(a <= f.now < b for a, b in spans),
                    lambda f: f.now.isoformat(timespec="minutes"))

    def _weekday(self, value: Any) -> Cond:
        """The day of the week (mon … sun) in the default calendar's time zone (UTC if none)."""
        wanted = _as_set(value, "weekday", DAYS)
        zone = self._zone()
        days = frozenset(DAYS.index(d) for d in wanted)
        return Cond("weekday", wanted, f"on {_words(wanted)}",
                    lambda f: f.now.astimezone(zone).weekday() in days,
                    lambda f: DAYS[f.now.astimezone(zone).weekday()])

    def _zone(self) -> Any:
        from datetime import UTC

        if not self.spec.calendars:
            return UTC
        name = "default" if "default" in self.spec.calendars else next(iter(self.spec.calendars))
        return self.calendars[name].zone if name in self.calendars else UTC
