"""Texts that COPY's text format, array literals and JSON must escape or keep apart: the
encodings of bulk writes are held to psycopg's own with them."""

from __future__ import annotations

TRICKY_TEXTS = (
    "plain",
    "tab\there",
    "line\nbreak\r\nwindows",
    "back\\slash \\N not null",
    'quote " and \\" both',
    "{braces}, commas, and spaces",
    "NULL",
    "",
    "\b\v\f controls",
    "unicode: é ß 漢字 🐍",
)
