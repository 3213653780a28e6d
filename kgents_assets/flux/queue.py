"""A bounded priority queue of perturbations with the FluxConfig drop policies."""

from __future__ import annotations

import asyncio
import heapq

from kgents_assets.flux.config import DropPolicy
from kgents_assets.flux.errors import PerturbationDropped, QueueFull
from kgents_assets.flux.perturbation import Perturbation


class PerturbationQueue:
    def __init__(self, capacity: int, policy: DropPolicy) -> None:
        self.capacity = capacity
        self.policy = policy
        self._heap: list[tuple[tuple[int, int], Perturbation]] = []
        self._not_empty = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._heap)

    def put_nowait(self, item: Perturbation, *, bypass_bound: bool = False) -> None:
        """Admit ``item`` or raise QueueFull; under drop_oldest evict instead of refusing.

        ``bypass_bound`` is for re-entries of resolved semaphores: they were admitted once
        already and a human is waiting on them, so a full queue must not lose them.
        """
        if len(self._heap) >= self.capacity and not bypass_bound:
            if self.policy is DropPolicy.DROP_OLDEST:
                self._evict_oldest()
            else:
                self.dropped += self.policy is DropPolicy.DROP_NEWEST
                raise QueueFull(f"perturbation buffer full ({self.capacity} waiting)")
        heapq.heappush(self._heap, (item.sort_key, item))
        self._not_empty.set()
        if len(self._heap) >= self.capacity:
            self._room.clear()

    async def put(self, item: Perturbation) -> None:
        """Wait for room under the block policy; otherwise behave like put_nowait."""
        while self.policy is DropPolicy.BLOCK and len(self._heap) >= self.capacity:
            self._room.clear()
            await self._room.wait()
        self.put_nowait(item)

    def _evict_oldest(self) -> None:
        index = min(range(len(self._heap)), key=lambda i: self._heap[i][1].order)
        _, victim = self._heap[index]
        self._heap[index] = self._heap[-1]
        self._heap.pop()
        heapq.heapify(self._heap)
        self.dropped += 1
        victim.fail(PerturbationDropped("evicted by drop_oldest: the buffer was full"))

    async def get(self) -> Perturbation:
        while not self._heap:
            self._not_empty.clear()
            await self._not_empty.wait()
        _, item = heapq.heappop(self._heap)
        if len(self._heap) < self.capacity:
            self._room.set()
        return item

    def drain_all(self) -> list[Perturbation]:
        items = [item for _, item in sorted(self._heap, key=lambda pair: pair[0])]
        self._heap.clear()
        self._room.set()
        return items
