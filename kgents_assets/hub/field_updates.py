"""Field updates of a node state: the deterministic "tools" triage approves, each the
owner of some fields (signature, complexity, callers, tests, summary...).

A refresh derives every fact afresh (cheap: it is already in memory) and triage decides
which tools may write their fields into the stored state. Each tool that changes a field
stamps the update type it owns, so a reader can tell how fresh each part is.
"""

from __future__ import annotations

from collections.abc import Sized
from datetime import datetime
from typing import Protocol

from kgents_assets.hub.models import NodeState

#: tool -> (fields it writes, the update type it stamps)
TOOL_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "extract_source_facts": (
        ("start_line", "end_line", "source_hash", "docstring_summary"),
        "source",
    ),
    "extract_signature": (("signature", "decorators"), "signature"),
    "compute_complexity": (("complexity",), "complexity"),
    "find_callers": (("callers", "callers_total"), "callers"),
    "find_callees": (("callees",), "callees"),
    "find_tests": (("related_tests",), "tests"),
    "generate_test_skeleton": (("suggested_test",), "tests"),
    "summarize": (("summary",), "summary"),
}

#: Fields that name the node rather than describe it: always those of the fresh facts.
IDENTITY_FIELDS = (
    "node_id",
    "kind",
    "name",
    "qualname",
    "full_name",
    "file_path",
    "language",
    "is_test",
    "markdown_path",
)


def apply_tools(
    old: NodeState | None, fresh: NodeState, approved: list[str], now: datetime
) -> NodeState:
    """The stored state after the approved tools ran; ``fresh`` holds every derived fact."""
    if old is None:
        base = fresh.model_copy(update={"updated": {}})
        updated: dict[str, datetime] = {"discovered": now}
    else:
        base = old.model_copy(update={f: getattr(fresh, f) for f in IDENTITY_FIELDS})
        updated = dict(old.updated)
    changes: dict[str, object] = {}
    for tool in approved:
        if tool not in TOOL_FIELDS:
            continue
        fields, update_type = TOOL_FIELDS[tool]
        for name in fields:
            value = getattr(fresh, name)
            if value != getattr(base, name):
                changes[name] = value
                updated[update_type] = now
            elif old is None:
                updated.setdefault(update_type, now)
    return base.model_copy(update={**changes, "updated": updated})


class StateFacts(Protocol):
    """What the summary and the suggested test read of a state: a NodeState, or the
    plain facts a first build derives a new node's state from (hub/new_states.py)."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def qualname(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def file_path(self) -> str: ...
    @property
    def language(self) -> str: ...
    @property
    def start_line(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def signature(self) -> str: ...
    @property
    def docstring_summary(self) -> str | None: ...
    @property
    def complexity(self) -> int: ...
    @property
    def caller_count(self) -> int: ...
    @property
    def callees(self) -> Sized: ...
    @property
    def related_tests(self) -> Sized: ...
    @property
    def is_test(self) -> bool: ...


def summarize(state: StateFacts) -> str:
    """A short, factual description built from the state alone (no model involved)."""
    kind = state.kind.capitalize()
    where = f"`{state.file_path}` lines {state.start_line}-{state.end_line}"
    label = state.full_name if state.kind == "module" else state.qualname
    parts = [f"{kind} `{label}` in {where}."]
    parts.append(state.docstring_summary or "No docstring.")
    if state.kind != "module":
        parts.append(f"Cyclomatic complexity {state.complexity}.")
    parts.append(
        f"Called by {state.caller_count}, calls {len(state.callees)}"
        + ("." if state.is_test else f", covered by {len(state.related_tests)} test(s).")
    )
    return " ".join(parts)


def suggest_test_skeleton(state: StateFacts, module: str) -> str | None:
    """A pytest skeleton for a public function or method that no test covers yet."""
    if state.is_test or state.related_tests or state.kind not in ("function", "method"):
        return None
    if state.name.startswith("_") or ("." in state.qualname and state.kind == "function"):
        return None  # private or nested: test it through its public caller
    if state.language != "python":
        return None
    if state.kind == "method":
        owner = state.qualname.split(".", 1)[0]
        target = f"{owner}(...).{state.name}(...)"
    else:
        owner = state.name
        target = f"{state.name}(...)"
    return (
        f"from {module} import {owner}\n\n\n"
        f"def test_{state.name.lstrip('_')}() -> None:\n"
        f"    # {state.signature}\n"
        f"    result = {target}\n"
        f"    assert result == ...\n"
    )
