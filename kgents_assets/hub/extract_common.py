"""What both language extractors share: scoping captures to the innermost definition."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import tree_sitter as ts

from kgents_assets.hub.models import CallRef, CodeNode, FileExtract, NodeKind
from kgents_assets.hub.node_ids import content_hash, make_node_id

DOTTED = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*$")
MAX_CALLS_PER_NODE = 500

#: A call site as captured: (name, qualifier). Captures stay plain tuples (hashed in C) and
#: become CallRef models once per distinct call when a node is emitted: Django's 186k call
#: sites name ~1/6 as many distinct calls, and a model per site was the parse workers'
#: largest Python cost after the tree-sitter query itself.
CallKey = tuple[str, str | None]


@lru_cache(maxsize=1 << 16)
def call_ref(name: str, qualifier: str | None) -> CallRef:
    """The (frozen, hence shareable) CallRef of a captured call."""
    return CallRef.model_construct(name=name, qualifier=qualifier)


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
    calls: dict[CallKey, None] = field(default_factory=dict)  # ordered set


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


def add_call(calls: dict[CallKey, None], ref: CallKey) -> None:
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


#: A capture placed in the file: a call (with its reference) or a branch (None).
Event = tuple[int, CallKey | None]


def assign_events(scopes: list[Scope], events: list[Event], module_scope: Scope) -> None:
    """Nest the scopes and give each call and branch to its innermost definition."""
    nest_scopes(scopes)
    locate = ScopeLocator(scopes)
    for pos, call in events:
        i = locate.innermost(pos)
        scope = scopes[i] if i >= 0 else module_scope
        if call is None:
            scope.branches += 1
        else:
            add_call(scope.calls, call)


def named_scopes(scopes: list[Scope]) -> Iterator[tuple[Scope, NodeKind, Scope | None]]:
    """Each nested scope with its qualified name set, its node kind and its parent."""
    for scope in scopes:
        parent = scopes[scope.parent] if scope.parent >= 0 else None
        scope.qualname = f"{parent.qualname}.{scope.name}" if parent else scope.name
        kind: NodeKind
        if scope.kind == "class":
            kind = "class"
        else:
            kind = "method" if parent is not None and parent.kind == "class" else "function"
        yield scope, kind, parent


def cyclomatic_complexity(branches: int) -> int:
    """McCabe's number for one function: 1 + its decision points (the ``@branch``
    captures of the language's query: if/elif, loops, except, boolean operators...)."""
    return 1 + branches


#: A node as discovery emits it: its CodeNode fields by name, in the model's field order
#: (pydantic-core dumps such a dict to the same JSON as the model). The parse workers turn
#: these into index rows directly: a CodeNode per node (``model_construct``) and its JSON
#: dump were their largest Python cost after tree-sitter. ``Discovered.to_extract`` makes
#: the models for everyone else.
NodeFields = dict[str, Any]


@dataclass
class Discovered:
    """One file's discovery: the FileExtract without its nodes, and the nodes' fields."""

    extract: FileExtract
    nodes: list[NodeFields] = field(default_factory=list)

    def to_extract(self) -> FileExtract:
        """The FileExtract with its nodes as CodeNodes."""
        self.extract.nodes = [CodeNode.model_construct(**n) for n in self.nodes]
        return self.extract


class NodeBuilder:
    """Turns scopes of one file into nodes' fields, numbering same-named twins (ordinals)."""

    def __init__(self, rel_path: str, module: str, language: str, source: bytes) -> None:
        self.rel_path, self.module, self.language, self.source = rel_path, module, language, source
        self.nodes: list[NodeFields] = []
        self._seen: dict[tuple[str, str], int] = {}

    def emit(
        self,
        scope: Scope,
        kind: NodeKind,
        qualname: str,
        *,
        byte_range: tuple[int, int],
        lines: tuple[int, int],
        signature: str,
        docstring: str | None,
        decorators: tuple[str, ...] = (),
        class_name: str | None = None,
        is_test: bool = False,
    ) -> None:
        ordinal = self._seen.get((kind, qualname), 0)
        self._seen[(kind, qualname)] = ordinal + 1
        body = self.source[byte_range[0] : byte_range[1]]
        self.nodes.append(
            {  # CodeNode's fields, in its order
                "node_id": make_node_id(self.rel_path, kind, qualname, ordinal),
                "kind": kind,
                "name": scope.name,
                "qualname": qualname,
                "module": self.module,
                "file_path": self.rel_path,
                "language": self.language,
                "start_line": lines[0],
                "end_line": lines[1],
                "source_hash": content_hash(body),
                "source": body.decode("utf-8", "replace"),
                "signature": signature,
                "decorators": decorators,
                "docstring": docstring,
                "complexity": cyclomatic_complexity(scope.branches),
                "calls": tuple([call_ref(name, qualifier) for name, qualifier in scope.calls]),
                "class_name": class_name,
                "is_test": is_test,
                "ordinal": ordinal,
            }
        )
