"""Trust levels: how far an automated action may go without a person (DESIGN §5).

The one definition every actor obeys (the sensors' action executor, the gateway's daemon
agent, the hub's test creation):

=====  ==========  ===================================================================
level  name        an action that...
=====  ==========  ===================================================================
0      observe     ...whatever it does, is only logged
1      agentfs     ...writes only under ``.agentfs/`` runs; anything else is logged
2      propose     ...writes only under ``.agentfs/`` runs; anything else waits for a
                   person (a SemaphoreToken in purgatory) and runs once approved
3      autonomous  ...runs
=====  ==========  ===================================================================

An action whose writes are not known (``None``) is treated as writing outside
``.agentfs/``: nothing can vouch that it stays inside.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from enum import IntEnum, StrEnum
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict

TRUST_ENV = "KGENTS_TRUST_LEVEL"
AGENTFS = ".agentfs"


class TrustLevel(IntEnum):
    OBSERVE = 0
    AGENTFS = 1
    PROPOSE = 2
    AUTONOMOUS = 3


DEFAULT_TRUST = TrustLevel.AGENTFS


class Verdict(StrEnum):
    """What happens to an action at a trust level."""

    LOG = "log"  # recorded as a thought, nothing done
    ASK = "ask"  # a semaphore in purgatory; done once a person approves
    ACT = "act"  # done now


class TrustDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    level: TrustLevel
    verdict: Verdict
    reason: str


def parse_trust_level(value: str | int) -> TrustLevel:
    """A level from user input ("0".."3" or a name); the error lists the choices."""
    text = str(value).strip().lower()
    if text.isdigit() and int(text) in set(TrustLevel):
        return TrustLevel(int(text))
    for level in TrustLevel:
        if text == level.name.lower():
            return level
    choices = ", ".join(f"{int(t)} ({t.name.lower()})" for t in TrustLevel)
    raise ValueError(f"unknown trust level {value!r}: choose one of {choices}")


def trust_from_env(default: TrustLevel = DEFAULT_TRUST) -> TrustLevel:
    raw = os.environ.get(TRUST_ENV, "")
    return parse_trust_level(raw) if raw.strip() else default


def default_trust_for(source: str) -> TrustLevel:
    """The level when nobody chose one, by where the repository's code comes from.

    A checkout on this machine is the user's own code: skeletons are written and run under
    .agentfs/. A repository added by git URL is cloned onto whatever runs the job (a
    Kubernetes pod, a shared worker): running its tests there would execute code nobody on
    this side has read, so it is only observed until ``$KGENTS_TRUST_LEVEL`` or the run's
    config says otherwise.
    """
    return DEFAULT_TRUST if source == "local" else TrustLevel.OBSERVE


def writes_only_agentfs(writes: Iterable[str] | None) -> bool:
    """True when every path is repository-relative under ``.agentfs/`` (no ``..``)."""
    if writes is None:
        return False
    for raw in writes:
        path = PurePosixPath(raw)
        parts = path.parts
        if path.is_absolute() or not parts or parts[0] != AGENTFS or ".." in parts:
            return False
    return True


def decide(level: int, writes: Iterable[str] | None) -> TrustDecision:
    """The verdict for an action writing ``writes`` (None: unknown) at ``level``."""
    trust = TrustLevel(level)
    inside = writes_only_agentfs(writes)
    if trust == TrustLevel.OBSERVE:
        return TrustDecision(level=trust, verdict=Verdict.LOG, reason="trust 0 observes only")
    if trust == TrustLevel.AUTONOMOUS:
        return TrustDecision(level=trust, verdict=Verdict.ACT, reason="trust 3 acts")
    if inside:
        return TrustDecision(
            level=trust, verdict=Verdict.ACT, reason=f"trust {int(trust)}: writes only under "
            f"{AGENTFS}/",
        )  # fmt: skip
    outside = "writes outside .agentfs/" if writes is not None else "writes are not declared"
    if trust == TrustLevel.AGENTFS:
        return TrustDecision(level=trust, verdict=Verdict.LOG, reason=f"trust 1: {outside}")
    return TrustDecision(
        level=trust, verdict=Verdict.ASK, reason=f"trust 2: {outside}, a person decides"
    )
