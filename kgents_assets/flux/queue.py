"""A bounded priority queue of perturbations with the FluxConfig drop policies.

The ordering (most urgent first, submission order within a priority) is the shared
``kgents_assets.queues.KeyedPriorityQueue``; this module adds the bound, the drop policies
and waiting on the event loop.
"""

from __future__ import annotations

import asyncio

from kgents_assets.flux.config import DropPolicy
from kgents_assets.flux.errors import PerturbationDropped, QueueFull
from kgents_assets.flux.perturbation import Perturbation
from kgents_assets.queues import KeyedPriorityQueue


class PerturbationQueue:
    def __init__(self, capacity: int, policy: DropPolicy) -> None:
        self.capacity = capacity
        self.policy = policy
        # Keyed by the perturbation's submission number, which also orders equal priorities.
        self._queue: KeyedPriorityQueue[int, Perturbation] = KeyedPriorityQueue()
        self._not_empty = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._queue)

    def put_nowait(self, item: Perturbation, *, bypass_bound: bool = False) -> None:
        """Admit ``item`` or raise QueueFull; under drop_oldest evict instead of refusing.

        ``bypass_bound`` is for re-entries of resolved semaphores: they were admitted once
        already and a human is waiting on them, so a full queue must not lose them.
        """
        if len(self._queue) >= self.capacity and not bypass_bound:
            if self.policy is DropPolicy.DROP_OLDEST:
                self._evict_oldest()
            else:
                self.dropped += self.policy is DropPolicy.DROP_NEWEST
                raise QueueFull(f"perturbation buffer full ({self.capacity} waiting)")
        self._queue.push(item.order, item, item.priority, order=item.order)
        self._not_empty.set()
        if len(self._queue) >= self.capacity:
            self._room.clear()

    async def put(self, item: Perturbation) -> None:
        """Wait for room under the block policy; otherwise behave like put_nowait."""
        while self.policy is DropPolicy.BLOCK and len(self._queue) >= self.capacity:
            self._room.clear()
            await self._room.wait()
        self.put_nowait(item)

    def _evict_oldest(self) -> None:
        victim = self._queue.evict_oldest()
        if victim is None:
            return
        self.dropped += 1
        victim.value.fail(PerturbationDropped("evicted by drop_oldest: the buffer was full"))

    async def get(self) -> Perturbation:
        while (entry := self._queue.pop()) is None:
            self._not_empty.clear()
            await self._not_empty.wait()
        if len(self._queue) < self.capacity:
            self._room.set()
        return entry.value

    def drain_all(self) -> list[Perturbation]:
        items = [entry.value for entry in self._queue.drain()]
        self._room.set()
        return items
