"""Purgatory: where semaphore tokens wait for a human, persisted in the store.

Every state change is a single conditional UPDATE (``... WHERE <still pending>``), so two
people clicking "approve" at once, or a retry after a timeout, resolve the token exactly
once. Tokens are never deleted: together with ``flux_semaphore_audit`` they are the record
of who decided what, and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from kgents_assets.flux.errors import TokenClosed, TokenNotFound
from kgents_assets.flux.semaphore import (
    AuditEntry,
    Semaphore,
    SemaphoreToken,
    TokenStatus,
    new_token_id,
)
from kgents_assets.store import Store

_COLUMNS = (
    "id, agent_id, reason, prompt, options, severity, deadline, context, created_at,"
    " resolved_at, cancelled_at, voided_at, resolution, repo"
)
_PENDING = "resolved_at IS NULL AND cancelled_at IS NULL AND voided_at IS NULL"


@dataclass(frozen=True)
class Transition:
    """The token after an action, and whether this call was the one that changed it."""

    token: SemaphoreToken
    changed: bool


def _token(row: dict[str, Any]) -> SemaphoreToken:
    return SemaphoreToken.model_validate(row)


class Purgatory:
    def __init__(self, store: Store) -> None:
        self.store = store

    def eject(
        self,
        agent_id: str,
        semaphore: Semaphore,
        context: Any = None,
        *,
        repo: str | None = None,
    ) -> SemaphoreToken:
        """Park a request for a human; ``repo``: the repository it concerns, if any."""
        now = datetime.now(UTC)
        deadline = now + timedelta(seconds=semaphore.deadline_s) if semaphore.deadline_s else None
        with self.store.transaction() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"INSERT INTO flux_semaphores (id, agent_id, reason, prompt, options, severity,"
                f" deadline, context, created_at, repo) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                f" RETURNING {_COLUMNS}",
                (
                    new_token_id(),
                    agent_id,
                    semaphore.reason,
                    semaphore.prompt,
                    Jsonb(semaphore.options),
                    semaphore.severity.value,
                    deadline,
                    Jsonb(context),
                    now,
                    repo,
                ),
            )
            row = cur.fetchone()
            assert row is not None
            token = _token(row)
            self._audit(cur, token.id, "ejected", {"reason": semaphore.reason})
        return token

    def get(self, token_id: str, agent_id: str | None = None) -> SemaphoreToken:
        with self.store.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM flux_semaphores WHERE id = %s", (token_id,))
            row = cur.fetchone()
        if row is None or (agent_id is not None and row["agent_id"] != agent_id):
            raise TokenNotFound(
                f"no semaphore {token_id!r}" + (f" for {agent_id}" if agent_id else "")
            )
        return _token(row)

    def pending(self, agent_id: str | None = None) -> list[SemaphoreToken]:
        where = _PENDING + (" AND agent_id = %s" if agent_id is not None else "")
        params = (agent_id,) if agent_id is not None else ()
        with self.store.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM flux_semaphores WHERE {where} ORDER BY created_at, id",
                params,
            )
            return [_token(row) for row in cur.fetchall()]

    def resolve(self, agent_id: str, token_id: str, human_input: Any) -> Transition:
        """Resolve once; a repeat returns the first resolution with ``changed=False``."""
        return self._close(agent_id, token_id, "resolved", human_input)

    def cancel(self, agent_id: str, token_id: str, reason: str = "") -> Transition:
        return self._close(agent_id, token_id, "cancelled", {"reason": reason})

    def _close(self, agent_id: str, token_id: str, action: str, payload: Any) -> Transition:
        column = {"resolved": "resolved_at", "cancelled": "cancelled_at"}[action]
        with self.store.transaction() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"UPDATE flux_semaphores SET {column} = now(), resolution = %s"
                f" WHERE id = %s AND agent_id = %s AND {_PENDING} RETURNING {_COLUMNS}",
                (Jsonb(payload), token_id, agent_id),
            )
            row = cur.fetchone()
            if row is not None:
                self._audit(cur, token_id, action, {"input": payload})
                return Transition(_token(row), changed=True)
            cur.execute(
                f"SELECT {_COLUMNS} FROM flux_semaphores WHERE id = %s AND agent_id = %s",
                (token_id, agent_id),
            )
            row = cur.fetchone()
            if row is None:
                raise TokenNotFound(f"no semaphore {token_id!r} for {agent_id}")
            token = _token(row)
            self._audit(cur, token_id, f"{action}_again", {"status": token.status.value})
        if token.status.value == action:
            return Transition(token, changed=False)
        raise TokenClosed(f"semaphore {token_id} is already {token.status.value}")

    def void_expired(self, agent_id: str, now: datetime | None = None) -> list[SemaphoreToken]:
        """Void the agent's pending tokens whose deadline has passed; returns those voided."""
        at = now or datetime.now(UTC)
        with self.store.transaction() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"UPDATE flux_semaphores SET voided_at = %s"
                f" WHERE agent_id = %s AND deadline <= %s AND {_PENDING} RETURNING {_COLUMNS}",
                (at, agent_id, at),
            )
            voided = [_token(row) for row in cur.fetchall()]
            for token in voided:
                self._audit(cur, token.id, "voided", {"deadline": str(token.deadline)})
        return voided

    def next_deadline(self, agent_id: str) -> datetime | None:
        with self.store.connect() as conn:
            row = conn.execute(
                f"SELECT min(deadline) FROM flux_semaphores WHERE agent_id = %s"
                f" AND deadline IS NOT NULL AND {_PENDING}",
                (agent_id,),
            ).fetchone()
        return row[0] if row else None

    def audit(self, token_id: str) -> list[AuditEntry]:
        with self.store.connect() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                "SELECT token_id, at, action, detail FROM flux_semaphore_audit"
                " WHERE token_id = %s ORDER BY id",
                (token_id,),
            )
            return [AuditEntry.model_validate(row) for row in cur.fetchall()]

    def counts(self, agent_id: str) -> dict[TokenStatus, int]:
        with self.store.connect() as conn:
            rows = conn.execute(
                "SELECT CASE WHEN resolved_at IS NOT NULL THEN 'resolved'"
                " WHEN cancelled_at IS NOT NULL THEN 'cancelled'"
                " WHEN voided_at IS NOT NULL THEN 'voided' ELSE 'pending' END, count(*)"
                " FROM flux_semaphores WHERE agent_id = %s GROUP BY 1",
                (agent_id,),
            ).fetchall()
        return {TokenStatus(status): n for status, n in rows}

    @staticmethod
    def _audit(cur: Any, token_id: str, action: str, detail: dict[str, Any]) -> None:
        cur.execute(
            "INSERT INTO flux_semaphore_audit (token_id, action, detail) VALUES (%s, %s, %s)",
            (token_id, action, Jsonb(detail)),
        )
