"""One markdown file per node under ``.agentfs/nodes/``, mirroring the repository layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from kgents_assets.hub.generated_tests import GeneratedTest

NODES_DIR = Path(".agentfs") / "nodes"


class EdgeFacts(Protocol):
    @property
    def full_name(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class MarkdownFacts(Protocol):
    """What the markdown shows of a node state: a NodeState, or a StateView of its JSON."""

    @property
    def kind(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def qualname(self) -> str: ...
    @property
    def file_path(self) -> str: ...
    @property
    def start_line(self) -> int: ...
    @property
    def end_line(self) -> int: ...
    @property
    def language(self) -> str: ...
    @property
    def node_id(self) -> str: ...
    @property
    def complexity(self) -> int: ...
    @property
    def source_hash(self) -> str: ...
    @property
    def signature(self) -> str: ...
    @property
    def decorators(self) -> Sequence[str]: ...
    @property
    def summary(self) -> str: ...
    @property
    def callers(self) -> Sequence[EdgeFacts]: ...
    @property
    def caller_count(self) -> int: ...
    @property
    def callees(self) -> Sequence[EdgeFacts]: ...
    @property
    def related_tests(self) -> Sequence[str]: ...
    @property
    def suggested_test(self) -> str | None: ...
    @property
    def updated(self) -> Mapping[str, datetime]: ...


class _Edge(NamedTuple):
    full_name: str
    confidence: float


class StateView:
    """A stored state's JSON read as the markdown reads a NodeState, without building the
    model and an Edge model per caller and callee: a first build renders 44k of them
    (NodeState.model_construct and its edges were half of that stage's Python time).
    Timestamps are parsed once per distinct text (a build stamps every node alike)."""

    __slots__ = ("_d", "callees", "callers", "updated")

    def __init__(self, data: Mapping[str, Any], stamps: dict[str, datetime]) -> None:
        self._d = data
        self.callers = [_Edge(e["full_name"], e["confidence"]) for e in data.get("callers", ())]
        self.callees = [_Edge(e["full_name"], e["confidence"]) for e in data.get("callees", ())]
        updated: dict[str, datetime] = {}
        for kind, at in data.get("updated", {}).items():
            parsed = stamps.get(at)
            if parsed is None:
                parsed = stamps[at] = datetime.fromisoformat(at)
            updated[kind] = parsed
        self.updated = updated

    def __getattr__(self, name: str) -> Any:
        # the plain fields, with NodeState's defaults for what an older state lacks
        try:
            return self._d[name]
        except KeyError:
            if name in _DEFAULTS:
                return _DEFAULTS[name]
            raise AttributeError(name) from None

    @property
    def caller_count(self) -> int:
        total = self._d.get("callers_total")
        return len(self.callers) if total is None else int(total)


_DEFAULTS: dict[str, Any] = {
    "decorators": [],
    "complexity": 1,
    "related_tests": [],
    "summary": "",
    "suggested_test": None,
}


def markdown_relpath(file_path: str, qualname: str, ordinal: int) -> str:
    """``.agentfs/nodes/{file}/{qualname}.md``; a same-named twin gets ``~2``, ``~3``..."""
    suffix = f"~{ordinal + 1}" if ordinal else ""
    return f"{NODES_DIR.as_posix()}/{file_path}/{qualname}{suffix}.md"


def _edges(title: str, edges: list[tuple[str, float]], total: int | None = None) -> list[str]:
    if not edges:
        return []
    lines = [f"## {title}", ""]
    lines += [f"- `{name}` (confidence {conf:.2f})" for name, conf in edges]
    if total is not None and total > len(edges):
        lines.append(f"- …and {total - len(edges)} more (the {len(edges)} most confident shown)")
    return [*lines, ""]


def _generated(test: GeneratedTest) -> list[str]:
    exit_code = "no exit code" if test.exit_code is None else f"exit {test.exit_code}"
    duration = "" if test.duration_s is None else f", {test.duration_s:.2f} s"
    return [
        "## Hub-generated test",
        "",
        f"- test: `{test.pytest_id}`",
        f"- last result: **{test.outcome}** ({exit_code}{duration}, "
        f"{test.at.isoformat(timespec='seconds')})",
        "",
    ]


def render_markdown(state: MarkdownFacts, generated: GeneratedTest | None = None) -> str:
    """The node's markdown: a function of its state and of its hub-generated test's last
    run (``kgents_assets.hub.generated_tests``), so any later render keeps that section."""
    label = state.full_name if state.kind == "module" else state.qualname
    lines = [
        f"# {label}",
        "",
        f"- **kind**: {state.kind}",
        f"- **file**: `{state.file_path}` (lines {state.start_line}-{state.end_line})",
        f"- **language**: {state.language}",
        f"- **node id**: `{state.node_id}`",
        f"- **complexity**: {state.complexity}",
        f"- **source hash**: `{state.source_hash}`",
        "",
    ]
    if state.signature:
        lines += ["## Signature", "", "```" + state.language, state.signature, "```", ""]
    if state.decorators:
        lines += ["Decorators: " + ", ".join(f"`@{d}`" for d in state.decorators), ""]
    lines += ["## Summary", "", state.summary, ""]
    lines += _edges(
        "Callers", [(e.full_name, e.confidence) for e in state.callers], state.caller_count
    )
    lines += _edges("Callees", [(e.full_name, e.confidence) for e in state.callees])
    if state.related_tests:
        lines += ["## Related tests", "", *[f"- `{t}`" for t in state.related_tests], ""]
    if state.suggested_test:
        lines += ["## Suggested test", "", "```python", state.suggested_test.rstrip(), "```", ""]
    if generated is not None:
        lines += _generated(generated)
    # the offset in the key: equal instants in other zones compare (and hash) equal
    stamps = tuple((k, v, v.utcoffset()) for k, v in sorted(state.updated.items()))
    lines += [_updated_line(stamps), ""]
    return "\n".join(lines)


@lru_cache(maxsize=256)
def _updated_line(stamps: tuple[tuple[str, datetime, timedelta | None], ...]) -> str:
    # a build stamps its nodes alike: a few distinct lines for 44k files, not 350k
    # isoformat calls
    text = ", ".join(f"{k} {v.isoformat(timespec='seconds')}" for k, v, _ in stamps)
    return f"<sub>updated: {text}</sub>"


def remove_markdown(repo_root: Path, relpath: str) -> None:
    """Delete a node's file and the directories it leaves empty, up to ``nodes/``."""
    path = repo_root / relpath
    path.unlink(missing_ok=True)
    stop = repo_root / NODES_DIR
    parent = path.parent
    while parent != stop and stop in parent.parents:
        try:
            parent.rmdir()
        except OSError:
            break
        parent = parent.parent
