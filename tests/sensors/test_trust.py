from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from kgents_assets.flux.purgatory import Purgatory
from kgents_assets.store import Store
from sensors.journal import EventJournal
from sensors.trust import AGENT_ID, Action, ActionExecutor, ActionStatus, TrustLevel

WRITE_REPO = Action(
    name="write", description="write a test skeleton", writes=("tests/test_new.py",)
)
WRITE_AGENTFS = Action(name="write", description="write a note", writes=(".agentfs/notes/x.md",))


class Performer:
    def __init__(self) -> None:
        self.done: list[Action] = []

    def __call__(self, action: Action) -> Mapping[str, Any]:
        self.done.append(action)
        return {"wrote": list(action.writes)}


def _executor(store: Store, level: int) -> tuple[ActionExecutor, Performer]:
    performer = Performer()
    return ActionExecutor(store, {"write": performer}, trust_level=level), performer


def test_level_0_only_thinks(store: Store) -> None:
    ex, perf = _executor(store, 0)
    assert ex.execute(WRITE_AGENTFS).status == ActionStatus.THOUGHT
    assert perf.done == []


def test_level_1_acts_only_under_agentfs(store: Store) -> None:
    ex, perf = _executor(store, 1)
    assert ex.execute(WRITE_AGENTFS).status == ActionStatus.DONE
    record = ex.execute(WRITE_REPO)
    assert record.status == ActionStatus.THOUGHT and "outside .agentfs" in record.result["thought"]
    assert perf.done == [WRITE_AGENTFS]
    sneaky = Action(name="write", description="escape", writes=(".agentfs/../src/x.py",))
    assert ex.execute(sneaky).status == ActionStatus.THOUGHT


def test_level_2_proposes_a_semaphore_and_acts_once_approved(store: Store) -> None:
    ex, perf = _executor(store, 2)
    record = ex.execute(WRITE_REPO)
    assert record.status == ActionStatus.AWAITING_HUMAN and record.token_id
    purgatory = Purgatory(store)
    (token,) = purgatory.pending(AGENT_ID)
    assert token.id == record.token_id and "test skeleton" in token.reason
    assert ex.settle() == [] and perf.done == []  # still waiting
    purgatory.resolve(AGENT_ID, token.id, "approve")
    (settled,) = ex.settle()
    assert settled.status == ActionStatus.DONE and perf.done == [WRITE_REPO]
    assert ex.settle() == []  # idempotent


def test_level_2_rejection_closes_the_proposal(store: Store) -> None:
    ex, perf = _executor(store, 2)
    record = ex.execute(WRITE_REPO)
    assert record.token_id
    Purgatory(store).resolve(AGENT_ID, record.token_id, "reject")
    (settled,) = ex.settle()
    assert settled.status == ActionStatus.REJECTED and perf.done == []


def test_level_3_acts_and_logs_everything(store: Store) -> None:
    ex, perf = _executor(store, 3)
    assert ex.execute(WRITE_REPO).status == ActionStatus.DONE
    assert perf.done == [WRITE_REPO]
    journal = EventJournal(store)
    (entry,) = journal.read_after(0, kinds=["action_executed"])
    assert entry.event.status == "done"  # type: ignore[union-attr]


def test_failures_are_recorded_and_escalation_journaled(store: Store) -> None:
    def boom(action: Action) -> Mapping[str, Any]:
        raise OSError("disk full")

    ex = ActionExecutor(store, {"write": boom}, trust_level=TrustLevel.AGENTFS)
    record = ex.execute(WRITE_AGENTFS)
    assert record.status == ActionStatus.FAILED and "disk full" in record.result["error"]
    ex.set_trust(3, "operator said so")
    assert ex.trust_level == TrustLevel.AUTONOMOUS
    assert EventJournal(store).count("trust_escalation") == 1
    with pytest.raises(ValueError):
        ex.set_trust(7, "nope")
    with pytest.raises(KeyError, match="no performer"):
        ex.execute(Action(name="unknown", description="?"))
