"""COPY's text format built a column at a time (adapters/store/bulk_pg.copy_text) must be
exactly the row-by-row format (`_field` per value), whatever the values: hostile text,
COPY's own markers, NUL (the column falls back to value by value), None, booleans next to
integers, datetimes with and without a zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from escapevelocity.adapters.store import bulk_pg

ALPHABET = "ab\\\t\n\r\x00N.é漢🔥 " + "xyzXYZ"


def row_by_row(rows: list[tuple]) -> str:
    return "\n".join("\t".join(bulk_pg._field(v) for v in row) for row in rows) + "\n"


def value(rnd: random.Random, kind: int) -> object:
    if kind == 0:
        return "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 8)))
    if kind == 1:
        return rnd.choice([None, "x", "\\N", "", "\\.", "a\tb"])
    if kind == 2:
        return rnd.choice([None, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2),
                           datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=1)))])
    if kind == 3:
        return rnd.choice([True, False, None])
    if kind == 4:
        return rnd.choice([1, 0, True, False, None, "1", 2.5])
    return rnd.randint(0, 5)


def test_column_at_a_time_equals_row_by_row_on_random_tables():
    rnd = random.Random(20)
    with_nul = 0
    for _ in range(2000):
        kinds = [rnd.randint(0, 5) for _ in range(rnd.randint(1, 6))]
        rows = [tuple(value(rnd, k) for k in kinds) for _ in range(rnd.randint(1, 30))]
        with_nul += any(isinstance(v, str) and "\x00" in v for r in rows for v in r)
        assert bulk_pg.copy_text(rows) == row_by_row(rows), rows
    assert with_nul > 100  # the NUL fallback was exercised


def test_markers_and_nulls_stay_apart():
    rows = [("\\N", None, True, 1), (None, "\\N", False, 0), ("tab\there", "", None, None)]
    assert bulk_pg.copy_text(rows) == ("\\\\N\t\\N\tt\t1\n"
                                       "\\N\t\\\\N\tf\t0\n"
                                       "tab\\there\t\t\\N\t\\N\n")


def test_a_nul_in_one_value_does_not_shift_the_others():
    rows = [("a\x00b", "x"), ("c", "y")]
    assert bulk_pg.copy_text(rows) == "a\x00b\tx\nc\ty\n"
