"""Rows encoded as PostgreSQL COPY text lines, by the parse workers, for a first build.

psycopg's ``write_row`` adapts each value through its generic dumpers in the process that
holds the connection: on a cold build of Django that was the main process's largest cost
(47k node rows, two ``text[]`` columns each, every array element matched by regexes),
paid on the core the parse workers need. The workers know every value's type, so they
encode the rows themselves and the main process only forwards bytes (``Copy.write``).

The encoding is the one psycopg sends for the same Python values (its text COPY
format): ``\\N`` for None, ``t``/``f``, str of ints and floats, arrays as quoted literals, then the
COPY escapes of ``_copy_base._dump_re``. tests/hub/test_copy_text.py holds the two to the
same stored rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

#: What COPY's text format escapes, as psycopg does (backslash first).
_ESCAPES = (
    ("\\", "\\\\"),
    ("\b", "\\b"),
    ("\t", "\\t"),
    ("\n", "\\n"),
    ("\v", "\\v"),
    ("\f", "\\f"),
    ("\r", "\\r"),
)


def _escape(text: str) -> str:
    # ``in`` scans in C; most fields (names, ids, paths) hold none of these
    for raw, escaped in _ESCAPES:
        if raw in text:
            text = text.replace(raw, escaped)
    return text


def _array(items: Sequence[str]) -> str:
    """A ``text[]`` literal; every element quoted (always valid, whatever it holds)."""
    quoted = [
        '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if '"' in item or "\\" in item
        else f'"{item}"'
        for item in items
    ]
    return "{" + ",".join(quoted) + "}"


def _field(value: object) -> str:
    if type(value) is str:
        return _escape(value)
    if value is None:
        return "\\N"
    if isinstance(value, bool):  # before int: a bool is an int
        return "t" if value else "f"
    if isinstance(value, str):
        return _escape(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):  # psycopg's float dumper: str(), i.e. the shortest repr
        return str(value)
    if isinstance(value, list | tuple):
        return _escape(_array(value))
    raise TypeError(f"no COPY text encoding for {type(value).__name__}: {value!r}")


def copy_line(row: Sequence[object]) -> str:
    """One row as a COPY text line (tab-separated, newline-terminated). A value given
    twice in a row (a new node's source is also its "before") is encoded once."""
    seen: dict[int, str] = {}
    fields = []
    for value in row:
        encoded = seen.get(id(value))
        if encoded is None:
            encoded = seen[id(value)] = _field(value)
        fields.append(encoded)
    return "\t".join(fields) + "\n"


def copy_block(rows: Sequence[Sequence[object]]) -> bytes:
    """Rows as COPY text data, ready for ``Copy.write``."""
    return "".join(copy_line(r) for r in rows).encode("utf-8")


def copy_encoded(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], blocks: Iterable[bytes]
) -> None:
    """COPY rows already encoded (``copy_block``) into ``table``: new rows only. Blocks
    may come from a generator: each is encoded just before it is sent, not all at once."""
    pending = (block for block in blocks if block)
    first = next(pending, None)
    if first is None:
        return
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), cols)
    ) as copy:
        copy.write(first)
        for block in pending:
            copy.write(block)
