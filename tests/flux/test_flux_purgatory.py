import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kgents_assets.flux import (
    FluxAgent,
    Purgatory,
    Reentry,
    Semaphore,
    SemaphoreVoided,
    Severity,
    TokenClosed,
    TokenNotFound,
    TokenStatus,
)
from kgents_assets.store import Store


def test_resolve_is_idempotent_and_audited(store: Store) -> None:
    purgatory = Purgatory(store)
    token = purgatory.eject("a", Semaphore(reason="delete 3 files", prompt="ok?"), {"op": "rm"})
    assert token.id.startswith("sem-") and len(token.id) == 12
    assert [t.id for t in purgatory.pending("a")] == [token.id]
    first = purgatory.resolve("a", token.id, "approve")
    second = purgatory.resolve("a", token.id, "reject")
    assert first.changed and not second.changed
    assert second.token.resolution == "approve" and second.token.status is TokenStatus.RESOLVED
    assert purgatory.pending("a") == []
    assert [e.action for e in purgatory.audit(token.id)] == [
        "ejected",
        "resolved",
        "resolved_again",
    ]
    with pytest.raises(TokenClosed, match="already resolved"):
        purgatory.cancel("a", token.id)
    with pytest.raises(TokenNotFound):
        purgatory.resolve("other-agent", token.id, "approve")


def test_pending_tokens_survive_a_restart_and_deadlines_void(store: Store) -> None:
    Purgatory(store).eject("a", Semaphore(reason="r", prompt="p", deadline_s=60), None)
    kept = Purgatory(store).eject("a", Semaphore(reason="r2", prompt="p2"), None)
    reopened = Purgatory(Store(url=store.url))  # a new process sees the same tokens
    assert len(reopened.pending("a")) == 2
    voided = reopened.void_expired("a", now=datetime.now(UTC) + timedelta(seconds=61))
    assert len(voided) == 1 and voided[0].status is TokenStatus.VOIDED
    assert [t.id for t in reopened.pending("a")] == [kept.id]
    with pytest.raises(TokenClosed, match="voided"):
        reopened.resolve("a", voided[0].id, "approve")


def _asking_handler(seen: list[Any]) -> Any:
    async def handler(data: Any) -> Any:
        if isinstance(data, Reentry):
            seen.append(data)
            return {"decision": data.human_input, "for": data.original}
        if data.get("deadline"):
            return Semaphore(reason="risky", prompt="go?", deadline_s=data["deadline"])
        return Semaphore(reason="risky", prompt="go?", severity=Severity.WARNING)

    return handler


def test_semaphore_ejects_to_the_mirror_and_resolution_re_enters(store: Store) -> None:
    async def scenario() -> None:
        seen: list[Any] = []
        agent = FluxAgent("a", _asking_handler(seen), purgatory=Purgatory(store))
        await agent.start()
        perturbation = await agent.perturb({"op": "deploy"})
        token = await asyncio.wait_for(perturbation.ejected, 2)
        assert not perturbation.result.done()
        ejected = [e for e in agent.mirror.recent() if e.type == "semaphore_ejected"]
        assert ejected[0].data["token"]["id"] == token.id
        assert [t.id for t in await agent.pending_tokens()] == [token.id]
        first = await agent.resolve(token.id, "approve")
        again = await agent.resolve(token.id, "approve")
        assert first.changed and not again.changed
        assert await asyncio.wait_for(perturbation.result, 2) == {
            "decision": "approve",
            "for": {"op": "deploy"},
        }
        assert len(seen) == 1  # the second resolve did not re-enter

    asyncio.run(scenario())


def test_a_token_resolved_after_a_restart_re_enters_the_new_agent(store: Store) -> None:
    async def scenario() -> None:
        seen: list[Any] = []
        before = FluxAgent("a", _asking_handler(seen), purgatory=Purgatory(store))
        await before.start()
        token = await (await before.perturb({"op": "deploy"})).ejected
        await before.stop(drain=False)

        after = FluxAgent("a", _asking_handler(seen), purgatory=Purgatory(store))
        await after.start()
        await after.resolve(token.id, "approve")
        deadline = asyncio.get_running_loop().time() + 10
        while not seen:
            assert asyncio.get_running_loop().time() < deadline, "the re-entry never arrived"
            await asyncio.sleep(0.01)
        assert seen[0].original == {"op": "deploy"}
        results = [e for e in after.mirror.recent() if e.type == "perturbation_result"]
        assert results and results[0].data["token_id"] == token.id

    asyncio.run(scenario())


def test_deadline_voids_the_token_and_fails_the_waiter(store: Store) -> None:
    async def scenario() -> None:
        agent = FluxAgent("a", _asking_handler([]), purgatory=Purgatory(store))
        await agent.start()
        perturbation = await agent.perturb({"deadline": 0.2})
        with pytest.raises(SemaphoreVoided):
            await asyncio.wait_for(perturbation.result, 3)
        assert "semaphore_voided" in [e.type for e in agent.mirror.recent()]
        assert await agent.pending_tokens() == []

    asyncio.run(scenario())
