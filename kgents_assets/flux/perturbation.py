"""Perturbation: data injected into a running agent, with a future for its result."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kgents_assets.flux.semaphore import SemaphoreToken

DEFAULT_PRIORITY = 100
_order = itertools.count()


@dataclass(eq=False)
class Perturbation:
    """Highest priority first; equal priorities in submission order.

    ``result`` resolves with the handler's answer (or an error). When the handler asks a
    human (a semaphore), ``ejected`` resolves with the token first and ``result`` waits
    until the token is resolved and the agent has handled the human's input.
    """

    data: Any
    priority: int = DEFAULT_PRIORITY
    cost: float = 1.0
    submitted_at: float = field(default_factory=time.time)
    order: int = field(default_factory=lambda: next(_order))
    result: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    ejected: asyncio.Future[SemaphoreToken] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Set for the re-entry of a resolved semaphore: the agent's handler sees a Reentry.
    reentry: bool = False

    @property
    def sort_key(self) -> tuple[int, int]:
        return (-self.priority, self.order)

    def fail(self, exc: BaseException) -> None:
        if not self.result.done():
            self.result.set_exception(exc)
            # A caller that never awaits the result must not produce "exception was never
            # retrieved" noise; callers that do await still see the exception.
            self.result.exception()
        if not self.ejected.done():
            self.ejected.cancel()

    def succeed(self, value: Any) -> None:
        if not self.result.done():
            self.result.set_result(value)
        if not self.ejected.done():
            self.ejected.cancel()
