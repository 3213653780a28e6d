"""A plain aligned table for `kg fixture list`.

Rich's Table costs ~1 ms per row to lay out; over hundreds of fixtures that alone would
blow the listing's 300 ms budget, so the listing is formatted here (colour only on a TTY).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

ANSI = {"green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "bold": "\x1b[1m"}
RESET = "\x1b[0m"


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    colors: Sequence[str | None] | None = None,
    *,
    color_column: int = 1,
    color: bool = False,
) -> str:
    """Left-aligned columns separated by two spaces; ``colors[i]`` tints row i's cell."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str], tint: str | None = None, bold: bool = False) -> str:
        parts = []
        for index, (cell, width) in enumerate(zip(cells, widths, strict=True)):
            text = cell.ljust(width) if index < len(cells) - 1 else cell
            if color and bold:
                text = f"{ANSI['bold']}{text}{RESET}"
            elif color and tint and index == color_column:
                text = f"{ANSI[tint]}{text}{RESET}"
            parts.append(text)
        return "  ".join(parts).rstrip()

    out = [line(headers, bold=True)]
    for index, row in enumerate(rows):
        out.append(line(row, colors[index] if colors else None))
    return "\n".join(out)
