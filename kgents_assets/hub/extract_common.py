"""What both language extractors share: scoping captures to the innermost definition."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

import tree_sitter as ts

from kgents_assets.hub.models import CallRef

DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
MAX_CALLS_PER_NODE = 500


@dataclass
class Scope:
    """A definition found in a file, before it becomes a CodeNode."""

    start: int  # byte range of the definition (decorators included)
    end: int
    kind: str
    name: str
    ts_node: ts.Node
    parent: int = -1
    qualname: str = ""
    branches: int = 0
    calls: dict[CallRef, None] = field(default_factory=dict)  # ordered set


def nest_scopes(scopes: list[Scope]) -> list[Scope]:
    """Sort by position and link each scope to the innermost scope containing it."""
    scopes.sort(key=lambda s: (s.start, -s.end))
    stack: list[int] = []
    for i, scope in enumerate(scopes):
        while stack and scopes[stack[-1]].end < scope.end:
            stack.pop()
        scope.parent = stack[-1] if stack else -1
        stack.append(i)
    return scopes


class ScopeLocator:
    """Finds the innermost scope holding a byte offset in O(log n + depth)."""

    def __init__(self, scopes: list[Scope]) -> None:
        self._scopes = scopes
        self._starts = [s.start for s in scopes]

    def innermost(self, offset: int) -> int:
        i = bisect_right(self._starts, offset) - 1
        while i >= 0 and self._scopes[i].end <= offset:
            i = self._scopes[i].parent
        return i


def qualifier_of(text: str) -> str | None:
    """A call's receiver as written when it is a plain dotted name, else ``"?"``."""
    return text if DOTTED.match(text) else "?"


def add_call(calls: dict[CallRef, None], ref: CallRef) -> None:
    if len(calls) < MAX_CALLS_PER_NODE:
        calls[ref] = None


def one_line(text: str) -> str:
    return " ".join(text.split())


def first_sentence(docstring: str | None) -> str | None:
    """The docstring's first paragraph, up to its first sentence end."""
    if not docstring:
        return None
    paragraph = one_line(docstring.strip().split("\n\n", 1)[0])
    match = re.search(r"(?<=[.!?])\s", paragraph)
    return paragraph[: match.start()] if match else paragraph
