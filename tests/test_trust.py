"""One definition of trust levels: the rule itself, and proof that the sensors' action
executor and the gateway's daemon agent give the same verdict for every level and kind
of write (they used to disagree about level 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest

from gateway.agents.daemon import make_daemon_agent
from kgents_assets.flux import HolographicBuffer, Purgatory
from kgents_assets.store import Store
from kgents_assets.trust import (
    TrustLevel,
    Verdict,
    decide,
    parse_trust_level,
    trust_from_env,
    writes_only_agentfs,
)
from sensors.trust import Action, ActionExecutor, ActionStatus

INSIDE = (".agentfs/tests/test_new.py",)
OUTSIDE = ("tests/test_new.py",)
ESCAPE = (".agentfs/../src/x.py",)
MIXED = (".agentfs/notes.md", "README.md")

EXPECTED = {
    # level: (inside .agentfs, outside it)
    0: (Verdict.LOG, Verdict.LOG),
    1: (Verdict.ACT, Verdict.LOG),
    2: (Verdict.ACT, Verdict.ASK),
    3: (Verdict.ACT, Verdict.ACT),
}


@pytest.mark.parametrize("level", list(TrustLevel))
def test_the_rule(level: TrustLevel) -> None:
    inside, outside = EXPECTED[int(level)]
    assert decide(level, INSIDE).verdict == inside
    assert decide(level, ()).verdict == inside  # writes nothing: nothing to guard
    for writes in (OUTSIDE, ESCAPE, MIXED, ("/abs/.agentfs/x",), None):
        assert decide(level, writes).verdict == outside, writes


def test_agentfs_paths() -> None:
    assert writes_only_agentfs(INSIDE) and writes_only_agentfs(())
    assert not writes_only_agentfs(ESCAPE) and not writes_only_agentfs(None)
    assert not writes_only_agentfs((".agentfsx/y",))


def test_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_trust_level("2") == parse_trust_level("propose") == TrustLevel.PROPOSE
    with pytest.raises(ValueError, match=r"unknown trust level '7': choose one of 0 \(observe\)"):
        parse_trust_level("7")
    monkeypatch.delenv("KGENTS_TRUST_LEVEL", raising=False)
    assert trust_from_env() == TrustLevel.AGENTFS
    monkeypatch.setenv("KGENTS_TRUST_LEVEL", "3")
    assert trust_from_env() == TrustLevel.AUTONOMOUS


def executor_verdict(store: Store, level: int, writes: tuple[str, ...]) -> Verdict:
    done: list[Action] = []

    def perform(action: Action) -> Mapping[str, Any]:
        done.append(action)
        return {}

    record = ActionExecutor(store, {"write": perform}, trust_level=level).execute(
        Action(name="write", description="write a file", writes=writes)
    )
    by_status = {
        ActionStatus.THOUGHT: Verdict.LOG,
        ActionStatus.AWAITING_HUMAN: Verdict.ASK,
        ActionStatus.DONE: Verdict.ACT,
    }
    assert (record.status == ActionStatus.DONE) == bool(done)
    return by_status[record.status]


async def daemon_verdict(purgatory: Purgatory, level: int, writes: tuple[str, ...]) -> Verdict:
    agent = make_daemon_agent(HolographicBuffer("daemon"), purgatory)
    await agent.start()
    try:
        proposal = {"action": "write a file", "trust": level, "writes": list(writes)}
        perturbation = await agent.perturb(proposal)
        await asyncio.wait(
            {perturbation.result, perturbation.ejected}, return_when=asyncio.FIRST_COMPLETED
        )
        if perturbation.ejected.done() and not perturbation.ejected.cancelled():
            token = perturbation.ejected.result()
            assert [t.id for t in await agent.pending_tokens()] == [token.id]
            await agent.cancel(token.id, "test over")
            return Verdict.ASK
        answer = perturbation.result.result()
        assert answer["by"] == decide(level, writes).reason
        return Verdict.ACT if answer["approved"] else Verdict.LOG
    finally:
        await agent.stop()


def test_executor_and_daemon_agree(store: Store) -> None:
    purgatory = Purgatory(store)
    for level in TrustLevel:
        for writes in (INSIDE, OUTSIDE, ESCAPE, ()):
            expected = decide(level, writes).verdict
            assert executor_verdict(store, level, writes) == expected, (level, writes)
            assert asyncio.run(daemon_verdict(purgatory, level, writes)) == expected, (
                level,
                writes,
            )
