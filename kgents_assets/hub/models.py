"""The code-node data model: what discovery finds and what node state records.

Compatible in spirit with the kgents originals: a node is a module, class, function or
method; its state gathers what tools derived about it, with a timestamp per update type.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NodeKind = Literal["module", "class", "function", "method"]


class FileStatus(StrEnum):
    """What happened when a file was read and parsed."""

    OK = "ok"
    SYNTAX_ERROR = "syntax_error"  # parsed with error recovery: nodes found, error counted
    EMPTY = "empty"
    BINARY = "binary"
    INVALID_UTF8 = "invalid_utf8"
    TOO_LARGE = "too_large"
    UNREADABLE = "unreadable"
    VANISHED = "vanished"  # deleted between listing and reading


#: Statuses whose file contributes no nodes; they are reported, never fatal.
SKIPPED_STATUSES = frozenset(
    {FileStatus.BINARY, FileStatus.INVALID_UTF8, FileStatus.TOO_LARGE, FileStatus.UNREADABLE}
)


class CallRef(BaseModel):
    """A call site as written: ``name(...)`` or ``qualifier.name(...)``."""

    model_config = ConfigDict(frozen=True)

    name: str
    qualifier: str | None = None


class CodeNode(BaseModel):
    """One module, class, function or method as discovery found it in one file."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    kind: NodeKind
    name: str
    qualname: str  # dotted path inside the module: ``Model.save``, ``outer.inner``
    module: str  # dotted module name derived from the file path
    file_path: str  # POSIX path relative to the repository root
    language: str
    start_line: int  # 1-based, inclusive
    end_line: int
    source_hash: str
    source: str
    signature: str
    decorators: tuple[str, ...] = ()
    docstring: str | None = None
    complexity: int = 1
    calls: tuple[CallRef, ...] = ()
    class_name: str | None = None  # the enclosing class, for ``self.x()`` resolution
    is_test: bool = False
    ordinal: int = 0  # tells apart same-named nodes of one file (see node_ids)

    @property
    def full_name(self) -> str:
        return self.module if self.kind == "module" else f"{self.module}.{self.qualname}"


class FileExtract(BaseModel):
    """Everything discovery learned from one file."""

    path: str
    language: str | None
    status: FileStatus
    error: str | None = None
    module: str = ""
    imports: dict[str, str] = Field(default_factory=dict)  # local alias -> dotted target
    nodes: list[CodeNode] = Field(default_factory=list)
    parse_errors: int = 0


class Edge(BaseModel):
    """A resolved call edge seen from one end, with how sure the resolution is."""

    model_config = ConfigDict(frozen=True)

    node_id: str
    full_name: str
    confidence: float


#: The update types a node-state timestamp is kept for.
UpdateType = Literal[
    "discovered", "source", "signature", "complexity", "callers", "callees", "tests", "summary"
]


class NodeState(BaseModel):
    """The derived, persisted state of one code node (KV key ``node:{node_id}:state``)."""

    node_id: str
    kind: NodeKind
    name: str
    qualname: str
    full_name: str
    file_path: str
    language: str
    start_line: int
    end_line: int
    source_hash: str
    signature: str
    decorators: list[str] = Field(default_factory=list)
    docstring_summary: str | None = None
    complexity: int = 1
    callers: list[Edge] = Field(default_factory=list)  # the strongest CALLERS_CAP of them
    #: every resolved caller, ``callers`` included; None in a state stored before the cap
    callers_total: int | None = None
    callees: list[Edge] = Field(default_factory=list)
    related_tests: list[str] = Field(default_factory=list)  # full names of test nodes
    summary: str = ""
    is_test: bool = False
    suggested_test: str | None = None  # a pytest skeleton while no test covers the node
    markdown_path: str = ""  # relative to the repository root
    updated: dict[str, datetime] = Field(default_factory=dict)

    @property
    def caller_count(self) -> int:
        """How many callers the node has, also those beyond the stored ones."""
        return len(self.callers) if self.callers_total is None else self.callers_total

    def content(self) -> dict[str, object]:
        """Everything but the timestamps: what "equal to a cold rebuild" compares."""
        return self.model_dump(mode="json", exclude={"updated"})


# Rows this pipeline wrote itself are rebuilt without re-validation: at tens of thousands
# of nodes per cold build, pydantic validation of data we produced dominated the run.
def trusted_code_node(data: dict[str, Any]) -> CodeNode:
    calls = tuple(CallRef.model_construct(**c) for c in data.get("calls", ()))
    fields = {
        **data,
        "calls": calls,
        "decorators": tuple(data.get("decorators", ())),
        "source": data.get("source", ""),
    }
    return CodeNode.model_construct(**fields)


def trusted_node_state(data: dict[str, Any]) -> NodeState:
    fields = dict(data)
    fields["callers"] = [Edge.model_construct(**e) for e in data.get("callers", ())]
    fields["callees"] = [Edge.model_construct(**e) for e in data.get("callees", ())]
    fields["updated"] = {
        k: datetime.fromisoformat(v) if isinstance(v, str) else v
        for k, v in data.get("updated", {}).items()
    }
    return NodeState.model_construct(**fields)
