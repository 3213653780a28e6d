"""Import-scoped call resolution: which node does ``name(...)`` in a file mean?

Each edge carries a confidence. What the file itself defines or imports is near certain;
a bare method call on an unknown object matched by name alone is a guess, and a name
defined in many places is not guessed at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, Protocol

MAX_NAME_CANDIDATES = 3  # more same-named definitions than this and we do not guess


@dataclass(frozen=True)
class Symbol:
    node_id: str
    name: str
    full_name: str
    kind: str
    module: str
    ordinal: int = 0  # same-named twins of one file (a property and its setter): 0, 1...


@dataclass(frozen=True)
class CallerContext:
    """What a call site's meaning depends on besides the call itself."""

    node_id: str
    module: str
    class_qualname: str | None
    imports: Mapping[str, str]


class CallSite(Protocol):
    """A call as resolution reads it: a CallRef, or any pair with these two fields (a
    first build resolves tens of thousands of calls straight from stored JSON)."""

    @property
    def name(self) -> str: ...

    @property
    def qualifier(self) -> str | None: ...


class Call(NamedTuple):
    """A call site without a pydantic model: what a first build resolves."""

    name: str
    qualifier: str | None = None


class SymbolTable:
    def __init__(self, symbols: Iterable[Symbol]) -> None:
        self.by_full_name: dict[str, list[Symbol]] = {}
        self.by_name: dict[str, list[Symbol]] = {}
        #: by_simple_name's answers: every call of a popular name asks the same question
        self._by_kinds: dict[tuple[str, frozenset[str]], list[Symbol]] = {}
        for sym in symbols:
            self.by_full_name.setdefault(sym.full_name, []).append(sym)
            if sym.kind != "module":
                self.by_name.setdefault(sym.name, []).append(sym)

    def exact(self, full_name: str) -> Symbol | None:
        found = self.by_full_name.get(full_name)
        if not found:
            return None
        # ``Foo()`` means the class; its __module__ twin cannot be called. Among same-named
        # twins the first definition wins, whatever order the symbols were loaded in (rows
        # come in storage order, which differs between a cold and an incremental build).
        callable_ = [s for s in found if s.kind != "module"] or found
        return min(callable_, key=lambda s: (s.ordinal, s.node_id))

    def by_simple_name(self, name: str, kinds: frozenset[str]) -> list[Symbol]:
        found = self._by_kinds.get((name, kinds))
        if found is None:
            found = [s for s in self.by_name.get(name, ()) if s.kind in kinds]
            self._by_kinds[(name, kinds)] = found
        return found


_CALLABLE = frozenset({"function", "class", "method"})
_METHODS = frozenset({"method"})


def _guess(
    table: SymbolTable, name: str, kinds: frozenset[str], base: float
) -> list[tuple[Symbol, float]]:
    found = table.by_simple_name(name, kinds)
    if not found or len(found) > MAX_NAME_CANDIDATES:
        return []
    return [(s, round(base / len(found), 3)) for s in found]


def resolve_call(
    ref: CallSite, ctx: CallerContext, table: SymbolTable
) -> list[tuple[Symbol, float]]:
    name, qualifier = ref.name, ref.qualifier
    if qualifier is None:
        if (local := table.exact(f"{ctx.module}.{name}")) is not None:
            return [(local, 1.0)]
        if (target := ctx.imports.get(name)) is not None:
            if (imported := table.exact(target)) is not None:
                return [(imported, 0.95)]
            return []  # imported from outside the repository
        return _guess(table, name, _CALLABLE, 0.5)
    if qualifier in ("self", "cls") and ctx.class_qualname:
        if (own := table.exact(f"{ctx.module}.{ctx.class_qualname}.{name}")) is not None:
            return [(own, 0.9)]
        return _guess(table, name, _METHODS, 0.4)  # inherited: a base class's method
    head, _, rest = qualifier.partition(".")
    if (target := ctx.imports.get(head)) is not None:
        dotted = ".".join(p for p in (target, rest, name) if p)
        if (hit := table.exact(dotted)) is not None:
            return [(hit, 0.9)]
        return []
    if (local_cls := table.exact(f"{ctx.module}.{qualifier}.{name}")) is not None:
        return [(local_cls, 0.85)]  # ``Klass.static_method()`` inside its own module
    return _guess(table, name, _METHODS, 0.3)


def resolve_node_calls(
    calls: Iterable[CallSite], ctx: CallerContext, table: SymbolTable
) -> dict[str, float]:
    """Callee node id -> best confidence over all of the node's call sites."""
    edges: dict[str, float] = {}
    for ref in calls:
        for sym, confidence in resolve_call(ref, ctx, table):
            if sym.node_id != ctx.node_id and confidence > edges.get(sym.node_id, 0.0):
                edges[sym.node_id] = confidence
    return edges
