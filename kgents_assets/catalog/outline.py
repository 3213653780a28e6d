"""A class's or a module's own code: each direct child reduced to its header.

A class's source contains its methods' and a module's source everything in the file, and
each of those children has a catalog entry of its own. Embedding and keyword-indexing the
whole text again in the parent made every body count two or three times (Django: 41 MB of
entry bodies for 18 MB of code, 20 MB outlined) and let a module or a class outrank, for
words found only in one of its methods, the method itself. The outline keeps what the
parent itself says (its docstring, attributes, statements, its children's decorators) and
what it offers (each child's signature), so it still answers for its interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Child(NamedTuple):
    """A direct child's lines in the file and the signature they are reduced to."""

    #: 1-based, inclusive, as discovery gives them: from the ``def``/``class`` line (its
    #: decorators, above it, stay in the outline as they are written)
    start_line: int
    end_line: int
    signature: str


def _header(child: Child, first_line: str) -> str:
    if not child.signature:
        return first_line
    return first_line[: len(first_line) - len(first_line.lstrip())] + child.signature


def outline(source: str, first_line: int, children: Sequence[Child]) -> str:
    """``source`` (whose first line is line ``first_line`` of its file) with the lines of
    each child replaced by its signature. Children outside the source, or overlapping one
    already taken, are left as they are: the result never loses the parent's own lines."""
    if not children:
        return source
    lines = source.split("\n")
    out: list[str] = []
    at = 0  # index in ``lines`` of the next line not yet copied
    for child in sorted(children):
        first, last = child.start_line - first_line, child.end_line - first_line
        if first < at or last >= len(lines) or last < first:
            continue
        out += lines[at:first]
        out.append(_header(child, lines[first]))
        at = last + 1
    out += lines[at:]
    return "\n".join(out)


__all__ = ["Child", "outline"]
