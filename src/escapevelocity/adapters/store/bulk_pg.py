"""PostgreSQL's bulk writes: one statement per table and batch, not one per row.

psycopg's executemany sends a Bind/Execute per row; at 5,000 mentions a batch that is tens of
thousands of statements the server parses, plans and answers one by one, and ingest spent two
thirds of its wall time waiting on them (2.1k mentions/s against 7.8k into SQLite). Here a
batch is a handful of round trips: rows go as one array per column (`unnest`, which keeps
ON CONFLICT and a row count) or through COPY (new rows only: events, new cases). SQLite keeps
executemany, which is already in-process.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa


def pg_type(column: sa.Column) -> str:
    """The array element type for a column (what unnest casts each array to)."""
    kind = column.type
    if isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl
    if isinstance(kind, sa.DateTime):
        return "timestamptz"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Float):
        return "double precision"
    return "text"


def columns_of(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows to one list per column (the arrays unnest takes)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(c) for c in zip(*rows, strict=True)]


def unnest(types: Sequence[str]) -> str:
    """Arrays go in binary (%b): psycopg's text array format escapes every element with a
    regular expression, which cost more than the whole insert (JSON bodies are full of
    quotes)."""
    return "unnest(" + ", ".join(f"%b::{t}[]" for t in types) + ")"


def copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
              ) -> None:
    """COPY new rows in: one stream per batch, written as COPY's text format by `_field`
    (str.replace runs in C; psycopg's write_row dumps value by value in Python and cost
    twice as much)."""
    memo: dict[Any, str] = {}  # a batch shares `now` and many due times

    def field(v: Any) -> str:
        if v.__class__ is datetime:
            out = memo.get(v)
            if out is None:
                out = memo[v] = _field(v)
            return out
        return _field(v)

    lines = ["\t".join([field(v) for v in row]) for row in rows]
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(("\n".join(lines) + "\n").encode())


def _field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
            value = (value.replace("\\", "\\\\").replace("\t", "\\t")
                     .replace("\n", "\\n").replace("\r", "\\r"))
        return value
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, datetime):
        return value.isoformat() + ("" if value.tzinfo else "+00:00")  # naive means UTC
    return str(value)
