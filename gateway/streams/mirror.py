"""SharedMirror: an agent's mirror whose sequence numbers come from the shared stream.

The agent still calls ``reflect`` once per event and it still never awaits: the event goes
into the replica's outbox (a deque append) and comes back into the ring only once the
database gave it its seq, from this replica's writer or from the listener, whichever has
it first. ``accept`` places frames strictly in seq order; anything out of order is left to
the replica's gap filler, which reads the rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from kgents_assets.flux import HolographicBuffer, TerrariumEvent

Outbox = Callable[[str, TerrariumEvent], None]


class SharedMirror(HolographicBuffer):
    def __init__(self, agent_id: str, outbox: Outbox, **buffer: Any) -> None:
        super().__init__(agent_id, **buffer)
        self._outbox = outbox
        self._head_waiters: list[tuple[int, asyncio.Future[None]]] = []

    def reflect(self, event: TerrariumEvent) -> TerrariumEvent:
        """Queue ``event`` for the shared stream; its seq is assigned when it is written."""
        self._outbox(self.agent_id, event)
        return event

    def accept(
        self,
        first: int,
        frames: Sequence[str],
        events: Sequence[TerrariumEvent] | None = None,
    ) -> int:
        """Place the frames (seqs ``first``, ``first + 1``, ...) that continue the ring;
        returns how many were new. Frames already held are skipped; a hole stops it.
        ``events``: the frames' events when the caller has them (its own writes), else
        each frame is parsed once here."""
        placed = 0
        for offset, frame in enumerate(frames):
            seq = first + offset
            if seq <= self.head:
                continue
            if seq != self.head + 1:
                break
            if events is not None:
                event = events[offset]
            else:
                event = TerrariumEvent.model_validate_json(frame)
            self.place(event, frame)
            placed += 1
        if placed and self._head_waiters:
            self._release_waiters()
        return placed

    def _release_waiters(self) -> None:
        keep = []
        for target, future in self._head_waiters:
            if target <= self.head:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((target, future))
        self._head_waiters = keep

    async def wait_for_head(self, target: int, timeout_s: float) -> bool:
        """Wait until the ring holds ``target`` (a resume from a replica that is ahead)."""
        if self.head >= target:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._head_waiters.append((target, future))
        try:
            await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return False
        finally:
            self._head_waiters = [w for w in self._head_waiters if w[1] is not future]
        return True
