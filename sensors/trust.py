"""The action executor that obeys the trust levels.

The levels themselves (what 0..3 allow) are defined once, in ``kgents_assets.trust``;
this module records each decision as a row in ``sensor_actions`` and an
``ActionExecuted`` journal event, and carries out approved proposals (``settle``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field

from kgents_assets.flux.purgatory import Purgatory
from kgents_assets.flux.semaphore import Semaphore, Severity, TokenStatus
from kgents_assets.store import Store
from kgents_assets.trust import DEFAULT_TRUST, TrustLevel, Verdict, decide, writes_only_agentfs
from sensors.events import ActionExecuted, TrustEscalation
from sensors.journal import EventJournal

AGENT_ID = "kg-daemon"
__all__ = [
    "AGENT_ID", "DEFAULT_TRUST", "Action", "ActionExecutor", "ActionRecord", "ActionStatus",
    "Performer", "TrustLevel",
]  # fmt: skip


class ActionStatus:
    THOUGHT = "thought"
    DONE = "done"
    AWAITING_HUMAN = "awaiting_human"
    REJECTED = "rejected"
    FAILED = "failed"


class Action(BaseModel):
    """Something the daemon wants to do. ``writes`` are repository-relative paths."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1)
    description: str
    writes: tuple[str, ...] = ()
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def agentfs_only(self) -> bool:
        return writes_only_agentfs(self.writes)


@dataclass(frozen=True)
class ActionRecord:
    id: int
    status: str
    result: dict[str, Any]
    token_id: str | None = None


Performer = Callable[[Action], Mapping[str, Any]]


class ActionExecutor:
    def __init__(
        self,
        store: Store,
        performers: Mapping[str, Performer],
        trust_level: int = DEFAULT_TRUST,
        repo: str | None = None,
    ) -> None:
        self.store = store
        #: the repository whose actions these are: records, proposals and settling stay in it
        self.repo = repo
        self.journal = EventJournal(store)
        self.performers = dict(performers)
        self.trust_level = TrustLevel(trust_level)
        self.purgatory = Purgatory(store)

    def set_trust(self, level: int, reason: str) -> None:
        new = TrustLevel(level)
        if new != self.trust_level:
            self.journal.append(
                TrustEscalation(
                    old_level=int(self.trust_level),
                    new_level=int(new),
                    reason=reason,
                    source="trust",
                )
            )
            self.trust_level = new

    def execute(self, action: Action) -> ActionRecord:
        if action.name not in self.performers:
            raise KeyError(f"no performer registered for action {action.name!r}")
        decision = decide(self.trust_level, action.writes)
        if decision.verdict == Verdict.LOG:
            return self._record(action, ActionStatus.THOUGHT, {"thought": decision.reason})
        if decision.verdict == Verdict.ASK:
            return self._propose(action)
        return self._perform(action)

    def _perform(self, action: Action, record_id: int | None = None) -> ActionRecord:
        try:
            result = dict(self.performers[action.name](action))
        except Exception as exc:
            return self._record(
                action, ActionStatus.FAILED, {"error": f"{type(exc).__name__}: {exc}"}, record_id
            )
        return self._record(action, ActionStatus.DONE, result, record_id)

    def _propose(self, action: Action) -> ActionRecord:
        token = self.purgatory.eject(
            AGENT_ID,
            Semaphore(
                reason=f"{action.name}: {action.description}",
                prompt=f"Allow the daemon to {action.description}? It writes: "
                + ", ".join(action.writes or ("nothing",)),
                options=["approve", "reject"],
                severity=Severity.WARNING,
            ),
            context={"action": action.model_dump(mode="json")},
            repo=self.repo,
        )
        return self._record(action, ActionStatus.AWAITING_HUMAN, {}, token_id=token.id)

    def settle(self) -> list[ActionRecord]:
        """Carry out approved proposals and close rejected ones; returns what changed."""
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT id, token_id, detail FROM sensor_actions WHERE status = %s "
                "AND repo IS NOT DISTINCT FROM %s ORDER BY id",
                (ActionStatus.AWAITING_HUMAN, self.repo),
            ).fetchall()
        out: list[ActionRecord] = []
        for record_id, token_id, detail in rows:
            token = self.purgatory.get(token_id)
            if token.status == TokenStatus.PENDING:
                continue
            action = Action.model_validate(detail["action"])
            approved = token.status == TokenStatus.RESOLVED and _approves(token.resolution)
            if approved:
                out.append(self._perform(action, record_id))
            else:
                out.append(
                    self._record(
                        action,
                        ActionStatus.REJECTED,
                        {"token_status": token.status.value, "resolution": token.resolution},
                        record_id,
                    )
                )
        return out

    def _record(
        self,
        action: Action,
        status: str,
        result: dict[str, Any],
        record_id: int | None = None,
        token_id: str | None = None,
    ) -> ActionRecord:
        detail = {"action": action.model_dump(mode="json"), "result": result}
        with self.store.transaction() as conn:
            if record_id is None:
                row = conn.execute(
                    "INSERT INTO sensor_actions (repo, action, trust_level, status, description, "
                    "token_id, detail) VALUES (%s,%s,%s,%s,%s,%s,%s) RETURNING id, token_id",
                    (
                        self.repo,
                        action.name,
                        int(self.trust_level),
                        status,
                        action.description,
                        token_id,
                        Jsonb(detail),
                    ),
                ).fetchone()
            else:
                row = conn.execute(
                    "UPDATE sensor_actions SET status = %s, detail = %s, updated_at = now() "
                    "WHERE id = %s RETURNING id, token_id",
                    (status, Jsonb(detail), record_id),
                ).fetchone()
            assert row is not None
            self.journal.append_many(
                [
                    ActionExecuted(
                        action=action.name,
                        trust_level=int(self.trust_level),
                        status=status,
                        detail={"record_id": row[0], "token_id": row[1], **result},
                        source="trust",
                    )
                ],
                conn,
                repo=self.repo,
            )
        return ActionRecord(id=row[0], status=status, result=result, token_id=row[1])


def _approves(resolution: Any) -> bool:
    if isinstance(resolution, str):
        return resolution.strip().lower() in {"approve", "approved", "yes"}
    if isinstance(resolution, dict):
        return _approves(resolution.get("choice") or resolution.get("decision"))
    return resolution is True
