"""What changed about one node, seen four ways (standard, structural, ast, embedding).

Plain dataclasses, not pydantic: a cold build makes one bundle per node (tens of
thousands), and nothing here comes from outside the process.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from kgents_assets.hub.models import Edge, NodeState

MAX_UNIFIED_LINES = 200


@dataclass(slots=True)
class StandardDiff:
    lines_added: int = 0
    lines_removed: int = 0
    unified: str = ""


@dataclass(slots=True)
class StructuralDiff:
    signature_before: str | None = None
    signature_after: str | None = None
    decorators_changed: bool = False

    @property
    def signature_changed(self) -> bool:
        return self.signature_before != self.signature_after


@dataclass(slots=True)
class AstDiff:
    complexity_before: int | None = None
    complexity_after: int = 1

    @property
    def complexity_delta(self) -> int:
        return self.complexity_after - (self.complexity_before or 0)


@dataclass(slots=True)
class RelationalDiff:
    callers_changed: bool = False
    callees_changed: bool = False
    tests_changed: bool = False


@dataclass(slots=True)
class DiffBundle:
    node_id: str
    is_new: bool
    source_changed: bool
    standard: StandardDiff
    structural: StructuralDiff
    ast: AstDiff
    relational: RelationalDiff
    moved: bool = False  # same source, other lines: the position facts must follow
    renamed: bool = False  # same node, new full name: its package was renamed
    embedding_drift: float | None = None  # cosine distance, when the catalog knows it

    def signals(self) -> list[str]:
        found = ["new_node"] if self.is_new else []
        if not self.is_new:
            if self.source_changed:
                found.append("source_changed")
            elif self.moved:
                found.append("moved")
            if self.renamed:
                found.append("renamed")
            if self.structural.signature_changed:
                found.append("signature_changed")
            if self.structural.decorators_changed:
                found.append("decorators_changed")
            if self.ast.complexity_delta:
                found.append("complexity_delta")
        if self.relational.callers_changed:
            found.append("callers_changed")
        if self.relational.callees_changed:
            found.append("callees_changed")
        if self.relational.tests_changed:
            found.append("tests_changed")
        if self.embedding_drift is not None and self.embedding_drift > 0:
            found.append("embedding_drift")
        return found


def _edge_keys(edges: list[Edge]) -> set[tuple[str, str, float]]:
    return {(e.node_id, e.full_name, e.confidence) for e in edges}


def build_diff_bundle(
    old: NodeState | None,
    old_source: str | None,
    new: NodeState,
    new_source: str,
) -> DiffBundle:
    standard = StandardDiff()
    if old_source is not None and old_source != new_source:
        diff = list(
            difflib.unified_diff(
                old_source.splitlines(), new_source.splitlines(), "before", "after", lineterm=""
            )
        )
        standard = StandardDiff(
            lines_added=sum(1 for d in diff if d.startswith("+") and not d.startswith("+++")),
            lines_removed=sum(1 for d in diff if d.startswith("-") and not d.startswith("---")),
            unified="\n".join(diff[:MAX_UNIFIED_LINES]),
        )
    return DiffBundle(
        node_id=new.node_id,
        is_new=old is None,
        source_changed=old is None or old.source_hash != new.source_hash,
        renamed=old is not None and old.full_name != new.full_name,
        moved=old is not None and (old.start_line, old.end_line) != (new.start_line, new.end_line),
        standard=standard,
        structural=StructuralDiff(
            signature_before=old.signature if old else None,
            signature_after=new.signature,
            decorators_changed=old is not None and old.decorators != new.decorators,
        ),
        ast=AstDiff(
            complexity_before=old.complexity if old else None, complexity_after=new.complexity
        ),
        relational=RelationalDiff(
            # the count too: callers past the stored cap come and go unseen otherwise
            callers_changed=old is not None
            and (
                _edge_keys(old.callers) != _edge_keys(new.callers)
                or old.caller_count != new.caller_count
            ),
            callees_changed=old is not None and _edge_keys(old.callees) != _edge_keys(new.callees),
            tests_changed=old is not None and old.related_tests != new.related_tests,
        ),
    )
