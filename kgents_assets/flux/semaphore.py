"""Semaphores: when an agent needs a human, it ejects a token instead of an answer."""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class TokenStatus(StrEnum):
    PENDING = "pending"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"
    VOIDED = "voided"


def new_token_id() -> str:
    return f"sem-{secrets.token_hex(4)}"


class Semaphore(BaseModel):
    """What a handler returns to ask a human; the agent turns it into a SemaphoreToken."""

    model_config = ConfigDict(frozen=True)

    reason: str
    prompt: str
    options: list[str] = Field(default_factory=lambda: ["approve", "reject"])
    severity: Severity = Severity.INFO
    deadline_s: float | None = Field(default=None, gt=0, description="seconds until voided")


class SemaphoreToken(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^sem-[0-9a-f]{8}$")
    agent_id: str
    reason: str
    prompt: str
    options: list[str]
    severity: Severity
    deadline: datetime | None = None
    # The perturbation data that led here; the re-entry hands it back to the agent, so a
    # token resolved after a gateway restart still has everything the agent needs.
    context: Any = None
    created_at: datetime
    resolved_at: datetime | None = None
    cancelled_at: datetime | None = None
    voided_at: datetime | None = None
    resolution: Any = None
    #: the repository the request concerns (None: an agent's own business)
    repo: str | None = None

    @property
    def status(self) -> TokenStatus:
        if self.resolved_at is not None:
            return TokenStatus.RESOLVED
        if self.cancelled_at is not None:
            return TokenStatus.CANCELLED
        if self.voided_at is not None:
            return TokenStatus.VOIDED
        return TokenStatus.PENDING

    def public(self) -> dict[str, Any]:
        """The JSON a browser or API client sees (status included)."""
        return {**self.model_dump(mode="json"), "status": self.status.value}


class Reentry(BaseModel):
    """What the handler receives when a human resolves its semaphore."""

    model_config = ConfigDict(frozen=True)

    token: SemaphoreToken
    human_input: Any
    original: Any


class AuditEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    token_id: str
    at: datetime
    action: str
    detail: dict[str, Any]
