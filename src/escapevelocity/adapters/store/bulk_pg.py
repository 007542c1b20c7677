"""PostgreSQL's bulk writes: one statement per table and batch, not one per row.

psycopg's executemany sends a Bind/Execute per row; at 5,000 mentions a batch that is tens of
thousands of statements the server parses, plans and answers one by one, and ingest spent two
thirds of its wall time waiting on them (2.1k mentions/s against 7.8k into SQLite). Here a
batch is a handful of round trips: rows go as one array per column (`unnest`, which keeps
ON CONFLICT and a row count) or through COPY (new rows only: events, new cases). SQLite keeps
executemany, which is already in-process.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from itertools import islice
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


COPY_CHUNK = 1000  # rows a write: the server stores one chunk while the next is formatted


def copy_rows(cur: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
              ) -> None:
    """COPY new rows in: one stream per batch in COPY's text format, built column by column
    (`copy_text`) and sent a chunk at a time, so the server inserts (and indexes) one chunk
    while this process formats the next. `rows` may be a generator: its rows are made chunk
    by chunk too. Datetimes go as ISO text with their offset (naive means UTC), so they need
    no conversion before."""
    it = iter(rows)
    chunk = list(islice(it, COPY_CHUNK))
    if not chunk:
        return
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        while chunk:
            copy.write(copy_text(chunk).encode())
            chunk = list(islice(it, COPY_CHUNK))


def copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """Rows as COPY's text format. Each column is escaped at once (`_column`), then rows are
    joined with str.join: the per-value Python call of the row-by-row version (and psycopg's
    write_row, twice as slow again) was most of a batch's client time."""
    columns = [_column(values) for values in zip(*rows, strict=True)]
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


_ESCAPES = ("\\", "\t", "\n", "\r")
_NONE = type(None)
_SEP = "\x00"  # never in a PostgreSQL text value: the server refuses NUL in text


def _column(values: tuple[Any, ...]) -> list[str]:
    """One column's values as COPY text fields. Strings: joined with NUL, escaped by one
    chain of str.replace over the whole column (C speed), split again; a value holding NUL
    itself would shift the split, so the count is checked and such a column goes value by
    value (the server then refuses the NUL as it always did). Columns of one other type
    (datetimes, booleans, numbers; None allowed) convert each distinct value once."""
    kinds = set(map(type, values))
    if kinds <= {str, _NONE}:
        nulls = _NONE in kinds
        texts = [v if v is not None else "" for v in values] if nulls else values
        joined = _SEP.join(texts)
        if any(c in joined for c in _ESCAPES):
            joined = (joined.replace("\\", "\\\\").replace("\t", "\\t")
                      .replace("\n", "\\n").replace("\r", "\\r"))
        out = joined.split(_SEP)
        if len(out) != len(values):
            return [_field(v) for v in values]
        if nulls:
            out = [o if v is not None else "\\N" for v, o in zip(values, out, strict=True)]
        return out
    if len(kinds - {_NONE}) == 1 and all(k.__hash__ is not None for k in kinds):
        # one type: equal values are the same text (True and 1 would share a slot, hence
        # one type only)
        table = {v: _field(v) for v in set(values)}
        return list(map(table.__getitem__, values))
    return [_field(v) for v in values]


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
