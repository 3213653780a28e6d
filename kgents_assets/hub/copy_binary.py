"""Rows encoded in PostgreSQL's binary COPY format, by the parse workers, for a first build.

The text format makes the encoder escape every source and quote every array
element, and makes the server unescape and parse them again: on a cold build of Django
that was ~1.5 s of the workers' CPU and a good part of the server's, for 44k node rows
holding ~50 MB of source. In the binary format a text is its UTF-8 bytes behind a length,
an array its elements behind lengths, so neither side scans the text.

A block is whole rows (``Copy.write`` takes them as they come); ``copy_binary`` writes the
format's header before the first block and its trailer after the last. Each column has a
declared type (``TEXT``, ``BOOL``, ``TEXT_ARRAY``, ``JSONB``); tests/hub/test_copy_binary.py
holds what the server stores to what psycopg stores for the same Python values.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

TEXT, BOOL, TEXT_ARRAY, JSONB = "text", "bool", "text[]", "jsonb"
HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
_NULL = b"\xff\xff\xff\xff"
_length = struct.Struct("!i").pack
_TEXT_OID = 25
#: one-dimensional, no NULL element, of text; then the length and the lower bound 1
_ARRAY_HEAD = struct.Struct("!iiiii")
#: an empty array: zero dimensions, no NULL element, of text
_EMPTY_ARRAY = _length(12) + struct.pack("!iii", 0, 0, _TEXT_OID)
_TRUE, _FALSE = _length(1) + b"\x01", _length(1) + b"\x00"
_JSONB_VERSION = b"\x01"


# Each encoder appends a value's length and bytes to the row's parts: a text (a source of
# up to megabytes) is never copied to sit behind its length before the row is joined.


def _text(value: str | None, out: list[bytes]) -> None:
    if value is None:
        out.append(_NULL)
        return
    data = value.encode("utf-8")
    out.append(_length(len(data)))
    out.append(data)


def _bool(value: bool | None, out: list[bytes]) -> None:
    out.append(_NULL if value is None else _TRUE if value else _FALSE)


def _text_array(items: Sequence[str] | None, out: list[bytes]) -> None:
    if items is None:
        out.append(_NULL)
        return
    if not items:
        out.append(_EMPTY_ARRAY)
        return
    parts = [b""]
    for item in items:
        data = item.encode("utf-8")
        parts.append(_length(len(data)))
        parts.append(data)
    parts[0] = _ARRAY_HEAD.pack(1, 0, _TEXT_OID, len(items), 1)
    body = b"".join(parts)
    out.append(_length(len(body)))
    out.append(body)


def _jsonb(text: str | None, out: list[bytes]) -> None:
    """A JSON document given as text (the server parses it, as from a text COPY)."""
    if text is None:
        out.append(_NULL)
        return
    data = text.encode("utf-8")
    out.append(_length(len(data) + 1))
    out.append(_JSONB_VERSION)
    out.append(data)


_ENCODERS: dict[str, Callable[[Any, list[bytes]], None]] = {
    TEXT: _text,
    BOOL: _bool,
    TEXT_ARRAY: _text_array,
    JSONB: _jsonb,
}


class RowEncoder:
    """Rows of one column layout (``types``, one per column) as binary COPY tuples."""

    def __init__(self, types: Sequence[str]) -> None:
        unknown = sorted({t for t in types if t not in _ENCODERS})
        if unknown:
            raise ValueError(f"no binary COPY encoding for column type(s) {unknown}")
        self._encoders = [_ENCODERS[t] for t in types]
        self._count = struct.pack("!h", len(types))

    def row(self, values: Sequence[Any]) -> bytes:
        """One tuple."""
        return self.block([values])

    def block(self, rows: Iterable[Sequence[Any]]) -> bytes:
        """Rows as one block for ``copy_binary``."""
        parts: list[bytes] = []
        width = len(self._encoders)
        for values in rows:
            if len(values) != width:
                raise ValueError(f"{len(values)} values for {width} columns")
            parts.append(self._count)
            for encode, value in zip(self._encoders, values, strict=True):
                encode(value, parts)
        return b"".join(parts)


def copy_binary(
    conn: psycopg.Connection[Any], table: str, columns: Sequence[str], blocks: Iterable[bytes]
) -> None:
    """COPY rows already encoded (``RowEncoder.block``, same columns in the same order)
    into ``table``: new rows only. Blocks may come from a generator: each is sent as it
    comes, and no COPY is started when there is none."""
    pending = (block for block in blocks if block)
    first = next(pending, None)
    if first is None:
        return
    cols = sql.SQL(", ").join(map(sql.Identifier, columns))
    with conn.cursor().copy(
        sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(table), cols)
    ) as copy:
        copy.write(HEADER + first)
        for block in pending:
            copy.write(block)
        copy.write(TRAILER)
