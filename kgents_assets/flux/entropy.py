"""The entropy budget: a token bucket that caps how much steering an agent absorbs."""

from __future__ import annotations

import time
from collections.abc import Callable


class EntropyBudget:
    def __init__(
        self,
        budget: float | None,
        regen_per_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.budget = budget
        self.regen_per_s = regen_per_s
        self._clock = clock
        self._remaining = budget if budget is not None else float("inf")
        self._at = clock()
        self.spent = 0.0

    @property
    def remaining(self) -> float:
        self._refill()
        return self._remaining

    def _refill(self) -> None:
        if self.budget is None or self.regen_per_s == 0:
            return
        now = self._clock()
        self._remaining = min(self.budget, self._remaining + (now - self._at) * self.regen_per_s)
        self._at = now

    def try_spend(self, cost: float) -> bool:
        if self.budget is None:
            self.spent += cost
            return True
        self._refill()
        if cost > self._remaining:
            return False
        self._remaining -= cost
        self.spent += cost
        return True

    def fraction_used(self) -> float:
        if self.budget is None:
            return 0.0
        return max(0.0, min(1.0, 1.0 - self.remaining / self.budget))
