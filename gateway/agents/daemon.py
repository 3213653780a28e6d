"""`daemon`: the event daemon's stream, and its trust-gated actions.

Events reach it through ``AgentRegistry.post`` (in-process) or the REST endpoint. A
perturbation proposes an action with a trust level; what each level allows is defined
once, in ``kgents_assets.trust`` (an action that does not declare its writes is treated
as writing outside ``.agentfs/``).

The hub's test creation (demo 3) parks its trust-2 proposals here too (context kind
``hub_test_creation``): when a person resolves one, the re-entry carries it out at once
(``settle``: approved -> written into the repository's tests/ and run; rejected ->
recorded, nothing written), so the page's approve button is the whole step.
"""

from __future__ import annotations

import asyncio
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
from kgents_assets.hub.context import repository_root
from kgents_assets.hub.test_creation import PROPOSAL_KIND, TestRun, settle
from kgents_assets.store import Store
from kgents_assets.trust import Verdict, decide


class ProposedAction(BaseModel):
    action: str = Field(min_length=1)
    reason: str = ""
    trust: Literal[0, 1, 2, 3] = 2
    writes: tuple[str, ...] | None = None  # repository-relative; None = not declared
    deadline_s: float | None = Field(default=None, gt=0)


def make_daemon_agent(mirror: HolographicBuffer, purgatory: Purgatory | None) -> FluxAgent:
    async def handler(data: Any) -> Any:
        if isinstance(data, Reentry) and _is_test_proposal(data.original):
            if purgatory is None:
                raise RuntimeError("a test proposal re-entered an agent without purgatory")
            return await asyncio.to_thread(_settle_test, purgatory.store, data)
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


def _is_test_proposal(original: Any) -> bool:
    return isinstance(original, dict) and original.get("kind") == PROPOSAL_KIND


def _settle_test(store: Store, reentry: Reentry) -> dict[str, Any]:
    """Carry out the person's decision on a test proposal; the answer says what happened."""
    repo = str(reentry.original["repo"])
    with store.connect() as conn:
        root = repository_root(conn, repo)
    if root is None or not root.is_dir():
        return {"action": reentry.original.get("action"), "approved": None, "by": "human",
                "error": f"repository {repo!r} is not on this machine: settled by its next "
                "refresh"}  # fmt: skip
    runs: dict[str | None, TestRun] = {r.token_id: r for r in settle(store, repo, root)}
    run = runs.get(reentry.token.id)
    outcome = run.outcome if run else "already settled"
    return {
        "action": f"{reentry.original.get('action')} ({outcome})",
        "approved": run is not None and run.outcome != "rejected",
        "by": "human",
        "outcome": outcome,
        "test": run.pytest_id if run else None,
        "exit_code": run.exit_code if run else None,
    }
