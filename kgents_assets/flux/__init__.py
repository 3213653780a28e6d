"""Flux runtime: agents with a life cycle, perturbations, semaphores and a mirror.

No Dagster and no web framework here; the gateway and the Dagster wiring build on it.
"""

from kgents_assets.flux.agent import Collapse, FluxAgent, refuse_perturbations
from kgents_assets.flux.config import DropPolicy, FluxConfig
from kgents_assets.flux.errors import (
    AgentCollapsed,
    AgentNotFlowing,
    EntropyExhausted,
    FluxError,
    PerturbationDropped,
    QueueFull,
    SemaphoreCancelled,
    SemaphoreVoided,
    TokenClosed,
    TokenNotFound,
)
from kgents_assets.flux.events import TerrariumEvent
from kgents_assets.flux.mirror import Batch, HolographicBuffer, Observer, ObserverDropped
from kgents_assets.flux.perturbation import DEFAULT_PRIORITY, Perturbation
from kgents_assets.flux.purgatory import Purgatory, Transition
from kgents_assets.flux.semaphore import Reentry, Semaphore, SemaphoreToken, Severity, TokenStatus
from kgents_assets.flux.states import FluxState, IllegalTransition

__all__ = [
    "DEFAULT_PRIORITY",
    "AgentCollapsed",
    "AgentNotFlowing",
    "Batch",
    "Collapse",
    "DropPolicy",
    "EntropyExhausted",
    "FluxAgent",
    "FluxConfig",
    "FluxError",
    "FluxState",
    "HolographicBuffer",
    "IllegalTransition",
    "Observer",
    "ObserverDropped",
    "Perturbation",
    "PerturbationDropped",
    "Purgatory",
    "QueueFull",
    "Reentry",
    "Semaphore",
    "SemaphoreCancelled",
    "SemaphoreToken",
    "SemaphoreVoided",
    "Severity",
    "TerrariumEvent",
    "TokenClosed",
    "TokenNotFound",
    "TokenStatus",
    "Transition",
    "refuse_perturbations",
]
