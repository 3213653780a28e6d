"""The life cycle of a flux agent and the only transitions it may make."""

from __future__ import annotations

from enum import StrEnum


class FluxState(StrEnum):
    DORMANT = "DORMANT"  # built, not started
    FLOWING = "FLOWING"  # running, waiting for or streaming events
    PERTURBED = "PERTURBED"  # handling an injected perturbation
    DRAINING = "DRAINING"  # stop requested: finishing what is queued, admitting nothing new
    STOPPED = "STOPPED"  # stopped cleanly; may be started again
    COLLAPSED = "COLLAPSED"  # crashed; every waiting perturbation was failed


LEGAL_TRANSITIONS: dict[FluxState, frozenset[FluxState]] = {
    FluxState.DORMANT: frozenset({FluxState.FLOWING, FluxState.STOPPED, FluxState.COLLAPSED}),
    FluxState.FLOWING: frozenset(
        {FluxState.PERTURBED, FluxState.DRAINING, FluxState.STOPPED, FluxState.COLLAPSED}
    ),
    FluxState.PERTURBED: frozenset(
        {FluxState.FLOWING, FluxState.DRAINING, FluxState.STOPPED, FluxState.COLLAPSED}
    ),
    FluxState.DRAINING: frozenset({FluxState.STOPPED, FluxState.COLLAPSED}),
    FluxState.STOPPED: frozenset({FluxState.FLOWING}),
    # A collapsed agent is inspected, then explicitly reset to DORMANT before a restart.
    FluxState.COLLAPSED: frozenset({FluxState.DORMANT}),
}


class IllegalTransition(RuntimeError):
    """An agent was asked to move between two states that are not connected."""

    def __init__(self, current: FluxState, target: FluxState) -> None:
        super().__init__(f"illegal flux transition {current} -> {target}")
        self.current = current
        self.target = target


def check_transition(current: FluxState, target: FluxState) -> None:
    if target not in LEGAL_TRANSITIONS[current]:
        raise IllegalTransition(current, target)
