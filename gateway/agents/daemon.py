"""`daemon`: the event daemon's stream, and its trust-gated actions.

Events reach it through ``AgentRegistry.post`` (in-process) or the REST endpoint. A
perturbation proposes an action with a trust level; what each level allows is defined
once, in ``kgents_assets.trust`` (an action that does not declare its writes is treated
as writing outside ``.agentfs/``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.agents.narrated import NarratedAgent
from kgents_assets.flux import (
    FluxAgent,
    FluxConfig,
    HolographicBuffer,
    Purgatory,
    Reentry,
    Semaphore,
    Severity,
)
from kgents_assets.trust import Verdict, decide


class ProposedAction(BaseModel):
    action: str = Field(min_length=1)
    reason: str = ""
    trust: Literal[0, 1, 2, 3] = 2
    writes: tuple[str, ...] | None = None  # repository-relative; None = not declared
    deadline_s: float | None = Field(default=None, gt=0)


def make_daemon_agent(mirror: HolographicBuffer, purgatory: Purgatory | None) -> FluxAgent:
    async def handler(data: Any) -> Any:
        if isinstance(data, Reentry):
            proposal = ProposedAction.model_validate(data.original)
            approved = data.human_input == "approve" or (
                isinstance(data.human_input, dict) and data.human_input.get("approve") is True
            )
            return {"action": proposal.action, "approved": approved, "by": "human"}
        proposal = ProposedAction.model_validate(data)
        decision = decide(proposal.trust, proposal.writes)
        if decision.verdict == Verdict.LOG:
            return {"action": proposal.action, "approved": False, "by": decision.reason}
        if decision.verdict == Verdict.ACT:
            return {"action": proposal.action, "approved": True, "by": decision.reason}
        return Semaphore(
            reason=proposal.reason or f"daemon wants to {proposal.action}",
            prompt=f"Allow the daemon to {proposal.action}?",
            options=["approve", "reject"],
            severity=Severity.WARNING,
            deadline_s=proposal.deadline_s,
        )

    return NarratedAgent(
        "daemon",
        handler,
        config=FluxConfig(buffer_size=100),
        mirror=mirror,
        purgatory=purgatory,
        description="file, git and test events; actions that need a human go to purgatory",
    )
