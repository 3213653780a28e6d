"""What can happen to a repository, as typed events with a priority.

Every event has a ``key``: two events with the same key describe the same thing (one file,
one commit, one test) and may be coalesced into one. ``affected_paths`` lists the
repository-relative POSIX paths whose code model the event may change; a change set is the
union of those.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class Priority(IntEnum):
    """Higher is more urgent: a failing test outranks a commit outranks a saved file."""

    LOW = 0
    NORMAL = 1
    HIGH = 2
    CRITICAL = 3


def _now() -> datetime:
    return datetime.now(UTC)


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)

    at: datetime = Field(default_factory=_now)
    source: str = "unknown"

    @property
    def priority(self) -> Priority:
        return Priority.NORMAL

    @property
    def key(self) -> str:
        raise NotImplementedError

    @property
    def affected_paths(self) -> tuple[str, ...]:
        return ()

    def summary(self) -> str:
        return self.key


# --- files ----------------------------------------------------------------------------


class _FileEvent(_Event):
    path: str = Field(min_length=1, description="POSIX, relative to the repository root")

    @property
    def key(self) -> str:
        return f"file:{self.path}"

    @property
    def affected_paths(self) -> tuple[str, ...]:
        return (self.path,)


class FileCreated(_FileEvent):
    kind: Literal["file_created"] = "file_created"

    def summary(self) -> str:
        return f"created {self.path}"


class FileModified(_FileEvent):
    kind: Literal["file_modified"] = "file_modified"

    def summary(self) -> str:
        return f"modified {self.path}"


class FileDeleted(_FileEvent):
    kind: Literal["file_deleted"] = "file_deleted"
    transient: bool = Field(
        default=False,
        description="created and deleted again before anyone looked: never part of the model",
    )

    def summary(self) -> str:
        return f"deleted {self.path}"


class FileRenamed(_FileEvent):
    """``path`` is the new name; the old name is gone."""

    kind: Literal["file_renamed"] = "file_renamed"
    old_path: str = Field(min_length=1)

    @property
    def affected_paths(self) -> tuple[str, ...]:
        return (self.old_path, self.path)

    def summary(self) -> str:
        return f"renamed {self.old_path} -> {self.path}"


class RescanRequested(_Event):
    """Too much happened to list (queue overflow, lost history): re-detect everything.

    ``absorbed`` counts, per event kind, what this rescan stands for, so an overflow is
    visible in the journal rather than a silent drop.
    """

    kind: Literal["rescan"] = "rescan"
    reason: str
    absorbed: dict[str, int] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return "rescan"

    def summary(self) -> str:
        total = sum(self.absorbed.values())
        return f"rescan ({self.reason}; {total} events absorbed)"


# --- git ------------------------------------------------------------------------------


class _GitEvent(_Event):
    sha: str = Field(pattern=r"^[0-9a-f]{7,64}$")
    branch: str | None = Field(default=None, description="None when HEAD is detached")
    changed_paths: tuple[str, ...] = ()

    @property
    def priority(self) -> Priority:
        return Priority.HIGH

    @property
    def affected_paths(self) -> tuple[str, ...]:
        return self.changed_paths


class GitCommit(_GitEvent):
    kind: Literal["git_commit"] = "git_commit"
    parent: str | None = None
    message: str = ""
    author: str = ""

    @property
    def key(self) -> str:
        return f"commit:{self.sha}"

    def summary(self) -> str:
        first = self.message.splitlines()[0] if self.message else ""
        return f"commit {self.sha[:10]} on {self.branch or 'detached HEAD'}: {first}"


class GitPush(_GitEvent):
    kind: Literal["git_push"] = "git_push"
    remote_ref: str

    @property
    def key(self) -> str:
        return f"push:{self.remote_ref}:{self.sha}"

    def summary(self) -> str:
        return f"pushed {self.sha[:10]} to {self.remote_ref}"


class GitPull(_GitEvent):
    kind: Literal["git_pull"] = "git_pull"
    old_sha: str

    @property
    def key(self) -> str:
        return f"pull:{self.sha}"

    def summary(self) -> str:
        n = len(self.changed_paths)
        return f"pull {self.old_sha[:10]}..{self.sha[:10]} on {self.branch}: {n} files"


class GitBranchSwitch(_GitEvent):
    """HEAD moved to another branch or commit (checkout/switch), possibly detached."""

    kind: Literal["git_branch_switch"] = "git_branch_switch"
    old_sha: str
    old_branch: str | None = None

    @property
    def key(self) -> str:
        return f"checkout:{self.sha}"

    def summary(self) -> str:
        to = self.branch or f"detached HEAD at {self.sha[:10]}"
        return f"checkout {self.old_branch or self.old_sha[:10]} -> {to}"


class GitHistoryRewritten(_GitEvent):
    """The branch moved to a commit that does not descend from the old one (rebase, reset,
    amend): the old commits are no longer on the branch."""

    kind: Literal["git_history_rewritten"] = "git_history_rewritten"
    old_sha: str
    operation: str = Field(description="what git's reflog says did it: rebase, reset, ...")

    @property
    def key(self) -> str:
        return f"rewrite:{self.sha}"

    def summary(self) -> str:
        return (
            f"history rewritten by {self.operation} on {self.branch or 'detached HEAD'}: "
            f"{self.old_sha[:10]} -> {self.sha[:10]}, {len(self.changed_paths)} files differ"
        )


# --- tests ----------------------------------------------------------------------------


class _TestEvent(_Event):
    nodeid: str = Field(min_length=1, description="pytest node id, e.g. tests/t.py::test_x")
    session_id: str

    @property
    def key(self) -> str:
        return f"test:{self.session_id}:{self.nodeid}"


class TestStarted(_TestEvent):
    __test__ = False  # not a pytest test class
    kind: Literal["test_started"] = "test_started"

    @property
    def priority(self) -> Priority:
        return Priority.LOW


class TestPassed(_TestEvent):
    __test__ = False
    kind: Literal["test_passed"] = "test_passed"
    duration_s: float = 0.0

    @property
    def priority(self) -> Priority:
        return Priority.LOW


class TestFailed(_TestEvent):
    __test__ = False
    kind: Literal["test_failed"] = "test_failed"
    phase: Literal["setup", "call", "teardown"] = "call"
    duration_s: float = 0.0
    message: str = ""
    longrepr: str = ""

    @property
    def priority(self) -> Priority:
        return Priority.CRITICAL

    def summary(self) -> str:
        return f"FAILED {self.nodeid} ({self.phase}): {self.message}"


class TestSessionComplete(_Event):
    __test__ = False
    kind: Literal["test_session_complete"] = "test_session_complete"
    session_id: str
    exit_status: int
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    duration_s: float = 0.0

    @property
    def key(self) -> str:
        return f"session:{self.session_id}"

    @property
    def priority(self) -> Priority:
        return Priority.CRITICAL if self.failed else Priority.LOW

    def summary(self) -> str:
        return f"test session {self.session_id}: {self.passed} passed, {self.failed} failed"


# --- CI -------------------------------------------------------------------------------

CIStatus = Literal["queued", "in_progress", "completed"]
CIConclusion = Literal[
    "success", "failure", "cancelled", "skipped", "timed_out", "neutral", "action_required"
]
_FAILED_CONCLUSIONS = frozenset({"failure", "timed_out"})


class _CIEvent(_Event):
    provider: str = "github"
    run_id: str = Field(min_length=1)
    workflow: str = Field(min_length=1)
    status: CIStatus
    conclusion: CIConclusion | None = None
    sha: str | None = Field(default=None, pattern=r"^[0-9a-f]{7,64}$")
    branch: str | None = None
    url: str | None = None

    @property
    def failed(self) -> bool:
        return self.conclusion in _FAILED_CONCLUSIONS

    @property
    def priority(self) -> Priority:
        return Priority.CRITICAL if self.failed else Priority.NORMAL


class CIWorkflowEvent(_CIEvent):
    kind: Literal["ci_workflow"] = "ci_workflow"

    @property
    def key(self) -> str:
        return f"ci:{self.provider}:{self.run_id}"

    def summary(self) -> str:
        return f"CI {self.workflow} #{self.run_id}: {self.conclusion or self.status}"


class CIJobEvent(_CIEvent):
    kind: Literal["ci_job"] = "ci_job"
    job_id: str = Field(min_length=1)
    job: str = Field(min_length=1)
    failed_steps: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"ci:{self.provider}:{self.run_id}:{self.job_id}"

    def summary(self) -> str:
        return f"CI {self.workflow}/{self.job} #{self.run_id}: {self.conclusion or self.status}"


# --- agents ---------------------------------------------------------------------------


class TrustEscalation(_Event):
    kind: Literal["trust_escalation"] = "trust_escalation"
    old_level: int = Field(ge=0, le=3)
    new_level: int = Field(ge=0, le=3)
    reason: str

    @property
    def key(self) -> str:
        return f"trust:{self.at.isoformat()}"

    @property
    def priority(self) -> Priority:
        return Priority.HIGH

    def summary(self) -> str:
        return f"trust {self.old_level} -> {self.new_level}: {self.reason}"


class ActionExecuted(_Event):
    kind: Literal["action_executed"] = "action_executed"
    action: str
    trust_level: int = Field(ge=0, le=3)
    status: str
    detail: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"action:{self.action}:{self.at.isoformat()}"

    @property
    def priority(self) -> Priority:
        return Priority.LOW

    def summary(self) -> str:
        return f"{self.action}: {self.status} (trust {self.trust_level})"


class HealthCheck(_Event):
    kind: Literal["health"] = "health"
    component: str
    healthy: bool = True
    detail: str = ""

    @property
    def key(self) -> str:
        return f"health:{self.component}"

    @property
    def priority(self) -> Priority:
        return Priority.LOW


Event = Annotated[
    FileCreated
    | FileModified
    | FileDeleted
    | FileRenamed
    | RescanRequested
    | GitCommit
    | GitPush
    | GitPull
    | GitBranchSwitch
    | GitHistoryRewritten
    | TestStarted
    | TestPassed
    | TestFailed
    | TestSessionComplete
    | CIWorkflowEvent
    | CIJobEvent
    | TrustEscalation
    | ActionExecuted
    | HealthCheck,
    Field(discriminator="kind"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

FILE_EVENT_TYPES = (FileCreated, FileModified, FileDeleted, FileRenamed)


def parse_event(data: dict[str, Any]) -> Event:
    """An event from its JSON form (``kind`` selects the model); raises ValidationError."""
    return EVENT_ADAPTER.validate_python(data)
