"""`CopyingRepository`: the base of the write-side repositories. Rows go by binary COPY (into
`events`, or a per-connection staging table), deltas as binary arrays (`columns`) into one
set-based statement each (see `adapters.postgres.sql`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Connection, func, select

from adapters.postgres import sql
from adapters.postgres.engine import translated_errors

# In a pooled connection's `info`: whether its staging tables exist, and since when. Only a
# rollback of the transaction that CREATED them can undo them; once COMMITTED they stay.
STAGING_READY = "analytics_staging_ready"
CREATED, COMMITTED = "created", "committed"
COPY_TYPES = "analytics_copy_types"
_COPY_TARGET = re.compile(r"COPY (\w+) \(([^)]*)\)")
_TEXT_OID = 25
# Binary COPY sends these as text (the same wire format); psycopg has no binary dumper for bpchar.
_AS_TEXT = {"varchar", "bpchar", "text"}


def columns(rows: Iterable[tuple], width: int) -> list[list]:
    """Rows as `width` parallel lists, one per `unnest` array parameter of a statement."""
    transposed = [list(column) for column in zip(*rows, strict=True)]
    return transposed or [[] for _ in range(width)]


# How a column of `array_params` travels. psycopg adapts a list parameter element by element in
# Python: 0.23 us an element, 0.8 for a Decimal, and a batch's merges send some 100,000 of them.
# Text and numbers go instead as one array literal each, built by `str.join` (a tenth of that) and
# parsed by the server; timestamps and dates stay binary arrays, which formatting would cost more.
TEXT, NUMBER, BINARY = "text", "number", "binary"


def array_params(rows: Iterable[tuple], kinds: tuple[str, ...]) -> list:
    """Rows as one parameter per column for `unnest`: TEXT and NUMBER columns as array literals
    (placeholders `%s::text[]`, `%s::bigint[]`, ...; no NULLs), BINARY ones as lists (`%b::...[]`)."""
    return [
        text_array(column) if kind == TEXT else number_array(column) if kind == NUMBER else column
        for column, kind in zip(columns(rows, len(kinds)), kinds, strict=True)
    ]


def text_array(values: list[str]) -> str:
    """A Postgres array literal of `values`, every element quoted."""
    if not values:
        return "{}"
    if '"' in (flat := "".join(values)) or "\\" in flat:  # rare: escape element by element
        values = [v.replace("\\", "\\\\").replace('"', '\\"') for v in values]
    return '{"' + '","'.join(values) + '"}'


def number_array(values: list[int | float | Decimal]) -> str:
    """A Postgres array literal of integers, floats or decimals (their `str` is a valid numeric)."""
    return "{" + ",".join(map(str, values)) + "}"


def staging_committed(info: dict) -> None:
    """The transaction that created the staging tables committed: they exist for good."""
    if info.get(STAGING_READY) == CREATED:
        info[STAGING_READY] = COMMITTED


def staging_rolled_back(info: dict) -> None:
    """A rollback undoes the staging tables only if they were created in that transaction."""
    if info.get(STAGING_READY) == CREATED:
        del info[STAGING_READY]


class CopyingRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def _cursor(self):
        """A psycopg cursor inside the unit of work's transaction, staging tables ready.

        Temp tables live as long as the connection, so they are created once per pooled
        connection; the unit of work marks them committed with the transaction, or forgets
        them if that transaction rolls back (`staging_committed`, `staging_rolled_back`).
        """
        info = self._conn.connection.info
        cur = self._conn.connection.driver_connection.cursor()
        if not info.get(STAGING_READY):
            cur.execute(sql.CREATE_STAGING_TABLES)
            info[STAGING_READY] = CREATED
        return cur

    def _copy(self, cur, statement: str, rows: Iterable[tuple]) -> None:
        """Binary COPY of `rows` (in the statement's column order) into a staging table."""
        types = self._column_types(cur, statement)  # before the COPY, which holds the connection
        with cur.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _column_types(self, cur, statement: str) -> list[int]:
        """The type oids of a COPY statement's columns, read from its table once per connection."""
        known = self._conn.connection.info.setdefault(COPY_TYPES, {})
        if statement not in known:
            table, columns = _COPY_TARGET.match(statement).groups()
            cur.execute(
                "SELECT attname, atttypid::int, typname FROM pg_attribute JOIN pg_type t ON t.oid = atttypid "
                "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
                (table,),
            )
            by_name = {name: _TEXT_OID if kind in _AS_TEXT else oid for name, oid, kind in cur.fetchall()}
            known[statement] = [by_name[column.strip()] for column in columns.split(",")]
        return known[statement]

    def _count(self, table) -> int:
        with translated_errors():
            return self._conn.execute(select(func.count()).select_from(table)).scalar_one()
