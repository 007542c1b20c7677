"""Business calendars: open periods per weekday in a time zone, holidays, and business time.

The format is the playbook's (`calendars:` in a playbook; `playbook.Calendar`): hours per
weekday or weekday range, several periods a day separated by commas, spans through midnight,
holiday dates in the calendar's own zone. This module adds the arithmetic SLAs need:
`add(start, minutes)` (when does a budget of business minutes run out) and `minutes(a, b)`
(how many business minutes lie between two instants). Both are pure and work on aware UTC
datetimes; periods are laid out in local time day by day, so daylight-saving changes move the
open hours with the wall clock, as people expect.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from escapevelocity.domain.playbook import Calendar, Playbook, _compile_calendar

MAX_DAYS = 3 * 366  # a budget that does not run out within three years is a broken calendar
_MIDNIGHT = 24 * 60


@dataclass(frozen=True)
class BusinessCalendar:
    zone: tzinfo
    open: tuple[tuple[tuple[int, int], ...], ...]  # per weekday (mon=0): sorted, merged minutes
    holidays: frozenset[date] = frozenset()
    name: str = ""

    @property
    def always(self) -> bool:
        return not self.holidays and all(day == ((0, _MIDNIGHT),) for day in self.open)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        minute = local.hour * 60 + local.minute
        return any(a <= minute < b for a, b in self.open[local.weekday()])

    def periods(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open periods (UTC, in order) from the local day of `start` onwards; the first may
        begin before `start`. Stops after MAX_DAYS."""
        day = start.astimezone(self.zone).date()
        for _ in range(MAX_DAYS):
            if day not in self.holidays:
                for a, b in self.open[day.weekday()]:
                    yield self._at(day, a), self._at(day, b)
            day += timedelta(days=1)

    def _at(self, day: date, minute: int) -> datetime:
        if minute >= _MIDNIGHT:
            day, minute = day + timedelta(days=1), minute - _MIDNIGHT
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)
        return local.astimezone(UTC)

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant at which `minutes` of business time have passed since `start`."""
        if self.always:
            return start + timedelta(minutes=minutes)
        left = timedelta(minutes=minutes)
        for a, b in self.periods(start):
            if b <= start:
                continue
            a = max(a, start)
            if a + left <= b:
                return a + left
            left -= b - a
        raise ValueError(f"calendar {self.name!r} has no business time within {MAX_DAYS} days")

    def minutes(self, start: datetime, end: datetime) -> float:
        """Business minutes in [start, end); 0 when end is not after start."""
        if end <= start:
            return 0.0
        if self.always:
            return (end - start).total_seconds() / 60
        total = 0.0
        for a, b in self.periods(start):
            if a >= end:
                break
            lo, hi = max(a, start), min(b, end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        return total / 60

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when open, else the start of the next open period."""
        for a, b in self.periods(at):
            if b > at:
                return max(a, at)
        raise ValueError(f"calendar {self.name!r} never opens")


def _merge(spans: tuple[tuple[int, int], ...]) -> tuple[tuple[int, int], ...]:
    out: list[list[int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


ALWAYS = BusinessCalendar(UTC, tuple(((0, _MIDNIGHT),) for _ in range(7)), name="always")


def from_spec(spec: Calendar, name: str = "") -> BusinessCalendar:
    """Compile a playbook calendar (same parser, same error messages as the playbook's)."""
    hours = _compile_calendar(name, spec)
    cal = BusinessCalendar(hours.zone, tuple(_merge(d) for d in hours.open), hours.holidays, name)
    if not any(cal.open):
        raise ValueError(f"calendar {name!r} has no open hours")
    return cal


def from_dict(data: dict, name: str = "") -> BusinessCalendar:
    import msgspec

    return from_spec(msgspec.convert(data, Calendar), name)


def track_calendars(playbook: Playbook) -> dict[str, BusinessCalendar]:
    """Each track's SLA calendar; tracks without one run around the clock."""
    compiled = {name: from_spec(spec, name) for name, spec in playbook.spec.calendars.items()}
    return {track: compiled.get(t.calendar, ALWAYS) if t.calendar else ALWAYS
            for track, t in playbook.spec.tracks.items()}
