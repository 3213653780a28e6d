"""Errors a perturbation's future can end with; each says plainly what happened."""

from __future__ import annotations


class FluxError(RuntimeError):
    """Base of every flux runtime error."""


class QueueFull(FluxError):
    """The agent's perturbation buffer (FluxConfig.buffer_size) has no room."""


class EntropyExhausted(FluxError):
    """The agent's entropy budget cannot pay for another perturbation right now."""


class PerturbationDropped(FluxError):
    """A waiting perturbation was evicted by the drop_oldest policy."""


class AgentNotFlowing(FluxError):
    """The agent is not accepting perturbations (dormant, draining, stopped, collapsed)."""


class AgentCollapsed(FluxError):
    """The agent crashed while this perturbation waited or ran."""


class SemaphoreCancelled(FluxError):
    """A human cancelled the semaphore this perturbation was waiting on."""


class SemaphoreVoided(FluxError):
    """The semaphore this perturbation was waiting on passed its deadline."""


class TokenNotFound(FluxError):
    """No semaphore token with that id (for that agent)."""


class TokenClosed(FluxError):
    """The token was already cancelled or voided, so it cannot be resolved."""
