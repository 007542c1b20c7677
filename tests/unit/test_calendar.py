"""Business calendars: several periods a day, holidays, time zones, daylight saving."""

from datetime import UTC, date, datetime, timedelta

import pytest

from escapevelocity.domain.calendar import ALWAYS, from_dict

BERLIN = {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-12:00,13:00-17:00"},
          "holidays": [date(2026, 12, 25)]}


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_open_periods_lunch_break_and_zone():
    cal = from_dict(BERLIN, "care")
    # Friday 20 Nov 2026: Berlin is UTC+1
    assert cal.is_open(utc(2026, 11, 20, 8, 0))  # 09:00 local
    assert not cal.is_open(utc(2026, 11, 20, 11, 30))  # 12:30 local, lunch
    assert not cal.is_open(utc(2026, 11, 21, 10, 0))  # Saturday
    assert not cal.is_open(utc(2026, 12, 25, 10, 0))  # holiday


def test_add_skips_lunch_nights_weekends_and_holidays():
    cal = from_dict(BERLIN, "care")
    # Friday 16:30 local + 60 business minutes: 30 today, 30 on Monday from 09:00
    assert cal.add(utc(2026, 11, 20, 15, 30), 60) == utc(2026, 11, 23, 8, 30)
    # 11:30 local + 60: 30 before lunch, 30 after
    assert cal.add(utc(2026, 11, 20, 10, 30), 60) == utc(2026, 11, 20, 12, 30)
    # Thursday 24 Dec 16:00 local + 120: 60 that day; the 25th is a holiday, then a weekend
    assert cal.add(utc(2026, 12, 24, 15, 0), 120) == utc(2026, 12, 28, 9, 0)
    # starting while closed counts from the next opening
    assert cal.add(utc(2026, 11, 21, 10, 0), 10) == utc(2026, 11, 23, 8, 10)


def test_minutes_between_is_the_inverse_of_add():
    cal = from_dict(BERLIN, "care")
    start = utc(2026, 11, 19, 7, 13)
    for budget in (1, 59, 60, 180, 420, 1000, 5000):
        end = cal.add(start, budget)
        assert cal.minutes(start, end) == pytest.approx(budget)
    assert cal.minutes(utc(2026, 11, 21, 0, 0), utc(2026, 11, 22, 23, 0)) == 0  # a weekend


def test_daylight_saving_moves_hours_with_the_wall_clock():
    cal = from_dict({"timezone": "Europe/London", "hours": {"mon-sun": "09:00-17:00"}})
    assert cal.is_open(utc(2026, 3, 27, 9, 0))  # GMT: 09:00 local
    assert not cal.is_open(utc(2026, 3, 30, 16, 30))  # BST: 17:30 local
    assert cal.is_open(utc(2026, 3, 30, 8, 0))  # BST: 09:00 local
    assert cal.minutes(utc(2026, 3, 28, 0, 0), utc(2026, 3, 30, 0, 0)) == 16 * 60


def test_through_midnight_and_always():
    cal = from_dict({"timezone": "UTC", "hours": {"mon-fri": "22:00-06:00"}})
    assert cal.is_open(utc(2026, 11, 21, 3, 0))  # Saturday 03:00 is Friday night's shift
    assert cal.add(utc(2026, 11, 20, 23, 0), 120) == utc(2026, 11, 21, 1, 0)
    assert ALWAYS.add(utc(2026, 1, 1), 90) == utc(2026, 1, 1, 1, 30)
    assert ALWAYS.minutes(utc(2026, 1, 1), utc(2026, 1, 2)) == 1440


def test_next_open_and_broken_calendars():
    cal = from_dict(BERLIN)
    assert cal.next_open(utc(2026, 11, 20, 11, 30)) == utc(2026, 11, 20, 12, 0)
    with pytest.raises(ValueError, match="not HH:MM"):
        from_dict({"hours": {"mon": "9-5"}}, "bad")
    with pytest.raises(ValueError, match="no open hours"):
        from_dict({"hours": {}}, "empty")


def test_track_calendars_from_a_playbook():
    from escapevelocity.domain.calendar import track_calendars
    from escapevelocity.domain.playbook import compile_playbook

    pb = compile_playbook({
        "name": "t", "calendars": {"care": BERLIN},
        "tracks": {"support": {"team": "care", "sla": {"first_response": 60}, "calendar": "care"},
                   "crisis": {"team": "pr", "sla": {"first_response": 15}}},
        "rules": [], "default": {"track": "support"}})
    cals = track_calendars(pb)
    assert cals["crisis"].always and not cals["support"].always
    assert cals["support"].add(utc(2026, 11, 20, 15, 30), 60) - utc(2026, 11, 20, 15, 30) > \
        timedelta(days=2)
