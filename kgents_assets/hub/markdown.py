"""One markdown file per node under ``.agentfs/nodes/``, mirroring the repository layout."""

from __future__ import annotations

from pathlib import Path

from kgents_assets.hub.generated_tests import GeneratedTest
from kgents_assets.hub.models import NodeState

NODES_DIR = Path(".agentfs") / "nodes"


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


def render_markdown(state: NodeState, generated: GeneratedTest | None = None) -> str:
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
    stamps = ", ".join(
        f"{k} {v.isoformat(timespec='seconds')}" for k, v in sorted(state.updated.items())
    )
    lines += [f"<sub>updated: {stamps}</sub>", ""]
    return "\n".join(lines)


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
