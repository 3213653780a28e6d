"""FluxAgent: a running agent with a life cycle, a perturbation queue and a mirror.

A flux agent does two things at once: its *source* (optional) streams events of its own
into the mirror (a Dagster poller, a node-update feed, a daemon's journal), and its
*handler* answers perturbations injected from outside, one at a time, highest priority
first. A handler answers with a value, raises (that perturbation fails, the agent goes
on), raises :class:`Collapse` (the agent is broken: it collapses), or returns a
:class:`Semaphore` to ask a human: the question is ejected to purgatory, shown in the
mirror as ``semaphore_ejected``, and the human's answer re-enters the handler as a
:class:`Reentry`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from kgents_assets.flux.config import FluxConfig
from kgents_assets.flux.entropy import EntropyBudget
from kgents_assets.flux.errors import (
    AgentCollapsed,
    AgentNotFlowing,
    EntropyExhausted,
    FluxError,
    SemaphoreCancelled,
    SemaphoreVoided,
)
from kgents_assets.flux.events import TerrariumEvent
from kgents_assets.flux.mirror import HolographicBuffer
from kgents_assets.flux.perturbation import DEFAULT_PRIORITY, Perturbation
from kgents_assets.flux.purgatory import Purgatory, Transition
from kgents_assets.flux.queue import PerturbationQueue
from kgents_assets.flux.semaphore import Reentry, Semaphore, SemaphoreToken
from kgents_assets.flux.states import FluxState, check_transition

log = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[Any]]
Source = Callable[["FluxAgent"], Awaitable[None]]

FLOW_TAU_S = 5.0  # smoothing window of the events-per-second estimate
HEAT_TAU_S = 30.0  # how fast an agent cools down after activity
REENTRY_PRIORITY = 1_000_000  # a human is waiting: their answer goes first


class Collapse(FluxError):
    """Raised by a handler or source when the agent itself is broken, not one request."""


async def refuse_perturbations(data: Any) -> Any:
    """Handler of agents that only stream: say so instead of failing obscurely."""
    raise AgentNotFlowing("this agent only streams events; it takes no perturbations")


class FluxAgent:
    def __init__(
        self,
        agent_id: str,
        handler: Handler = refuse_perturbations,
        *,
        config: FluxConfig | None = None,
        mirror: HolographicBuffer | None = None,
        purgatory: Purgatory | None = None,
        source: Source | None = None,
        description: str = "",
    ) -> None:
        self.id = agent_id
        self.description = description
        self.config = config or FluxConfig()
        self.mirror = mirror or HolographicBuffer(agent_id)
        self.purgatory = purgatory
        self._handler = handler
        self._source = source
        self.state = FluxState.DORMANT
        self._queue = PerturbationQueue(self.config.buffer_size, self.config.drop_policy)
        self.entropy = EntropyBudget(self.config.entropy_budget, self.config.entropy_regen_per_s)
        self._current: Perturbation | None = None
        self._ejected: dict[str, Perturbation] = {}  # token id -> perturbation awaiting it
        self._run_task: asyncio.Task[None] | None = None
        self._source_task: asyncio.Task[None] | None = None
        self._deadline_timer: asyncio.TimerHandle | None = None
        self.collapse_reason: str | None = None
        # Smoothed gauges, updated lazily in O(1) when an event is emitted.
        self._flow = 0.0
        self._heat = 0.0
        self._gauges_at = time.monotonic()
        self.counters: dict[str, int] = {
            "perturbations_submitted": 0,
            "perturbations_completed": 0,
            "perturbations_failed": 0,
            "perturbations_refused": 0,
            "semaphores_ejected": 0,
        }

    # -- life cycle -------------------------------------------------------------------

    def _transition(self, target: FluxState) -> None:
        check_transition(self.state, target)
        previous, self.state = self.state, target
        if target is not FluxState.PERTURBED and previous is not FluxState.PERTURBED:
            self.emit("state_changed", {"from": previous.value, "to": target.value})

    async def start(self) -> None:
        self._transition(FluxState.FLOWING)
        self._run_task = asyncio.create_task(self._run(), name=f"flux-{self.id}")
        if self._source is not None:
            self._source_task = asyncio.create_task(
                self._run_source(self._source), name=f"flux-{self.id}-source"
            )
        if self.purgatory is not None:
            await self._schedule_deadline()

    async def stop(self, *, drain: bool = True, timeout_s: float = 10.0) -> None:
        """Stop admitting work; finish what is queued (``drain``), then stop."""
        if self.state in (FluxState.STOPPED, FluxState.COLLAPSED, FluxState.DORMANT):
            if self.state is FluxState.DORMANT:
                self._transition(FluxState.STOPPED)
            await self._cancel_source()
            await self._cancel_run()
            return
        self._transition(FluxState.DRAINING)
        await self._cancel_source()
        if drain and self._run_task is not None and (len(self._queue) or self._current):
            # The loop returns by itself once the queue is empty in DRAINING.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._run_task), timeout_s)
        await self._cancel_run()
        for waiting in self._queue.drain_all():
            waiting.fail(AgentNotFlowing(f"agent {self.id} stopped before handling this"))
        self._cancel_deadline()
        if not self.collapsed:
            self._transition(FluxState.STOPPED)

    def reset(self) -> None:
        """Bring a collapsed agent back to DORMANT so it can be started again."""
        self._transition(FluxState.DORMANT)
        self.collapse_reason = None

    def collapse(self, reason: BaseException | str) -> None:
        """The agent is broken: fail everything it holds, now, so no caller hangs."""
        if self.state is FluxState.COLLAPSED:
            return
        text = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
        self.collapse_reason = text
        error = AgentCollapsed(f"agent {self.id} collapsed: {text}")
        doomed = [*self._queue.drain_all(), *self._ejected.values()]
        if self._current is not None:
            doomed.append(self._current)
        self._ejected.clear()
        for perturbation in doomed:
            perturbation.fail(error)
        self._heat += 5
        self._transition(FluxState.COLLAPSED)
        self.emit("collapsed", {"reason": text, "failed_perturbations": len(doomed)})
        current = asyncio.current_task()
        for task in (self._run_task, self._source_task):
            if task is not None and task is not current and not task.done():
                task.cancel()
        self._cancel_deadline()

    async def _cancel_source(self) -> None:
        task, self._source_task = self._source_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _cancel_run(self) -> None:
        task, self._run_task = self._run_task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _run_source(self, source: Source) -> None:
        try:
            await source(self)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            log.exception("source of agent %s crashed", self.id)
            self.collapse(exc)

    # -- the mirror -------------------------------------------------------------------

    @property
    def pressure(self) -> float:
        return min(1.0, len(self._queue) / self.config.buffer_size)

    def _decay(self, now: float) -> None:
        dt = now - self._gauges_at
        if dt > 0:
            self._flow *= math.exp(-dt / FLOW_TAU_S)
            self._heat *= math.exp(-dt / HEAT_TAU_S)
            self._gauges_at = now

    @property
    def flow(self) -> float:
        self._decay(time.monotonic())
        return self._flow

    @property
    def temperature(self) -> float:
        self._decay(time.monotonic())
        return max(self.entropy.fraction_used(), 1.0 - math.exp(-self._heat / 10.0))

    def emit(self, type_: str, data: dict[str, Any] | None = None) -> TerrariumEvent:
        """Reflect one event into the mirror with the agent's current gauges."""
        self._decay(time.monotonic())
        self._flow += 1.0 / FLOW_TAU_S
        event = TerrariumEvent(
            type=type_,
            agent_id=self.id,
            data=data or {},
            state=self.state,
            pressure=self.pressure,
            flow=self._flow,
            temperature=max(self.entropy.fraction_used(), 1.0 - math.exp(-self._heat / 10.0)),
        )
        return self.mirror.reflect(event)

    # -- perturbations ----------------------------------------------------------------

    @property
    def takes_perturbations(self) -> bool:
        return self._handler is not refuse_perturbations

    @property
    def collapsed(self) -> bool:
        return self.state is FluxState.COLLAPSED

    @property
    def accepting(self) -> bool:
        return self.state in (FluxState.FLOWING, FluxState.PERTURBED)

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    async def perturb(
        self,
        data: Any,
        *,
        priority: int = DEFAULT_PRIORITY,
        cost: float | None = None,
        wait_for_room: bool = True,
    ) -> Perturbation:
        """Admit a perturbation and return it; await ``.result`` for the answer.

        Raises AgentNotFlowing, EntropyExhausted, or QueueFull (when there is no room and
        the policy is drop_newest, or block with ``wait_for_room=False``).
        """
        if not self.accepting:
            self.counters["perturbations_refused"] += 1
            raise AgentNotFlowing(f"agent {self.id} is {self.state.value}")
        spend = self.config.default_perturbation_cost if cost is None else cost
        if not self.entropy.try_spend(spend):
            self.counters["perturbations_refused"] += 1
            raise EntropyExhausted(
                f"agent {self.id} entropy budget exhausted "
                f"({self.entropy.remaining:.2f} left, {spend:.2f} needed)"
            )
        perturbation = Perturbation(data=data, priority=priority, cost=spend)
        try:
            if wait_for_room:
                await self._queue.put(perturbation)
            else:
                self._queue.put_nowait(perturbation)
        except FluxError:
            self.counters["perturbations_refused"] += 1
            raise
        self.counters["perturbations_submitted"] += 1
        return perturbation

    async def _run(self) -> None:
        try:
            while True:
                perturbation = await self._queue.get()
                await self._handle(perturbation)
                if self.collapsed:
                    return
                if self.state is FluxState.DRAINING and not len(self._queue):
                    return
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except BaseException as exc:  # a bug in the runtime itself: never leave callers hanging
            log.exception("flux loop of agent %s crashed", self.id)
            self.collapse(exc)

    async def _handle(self, perturbation: Perturbation) -> None:
        if self.state is FluxState.FLOWING:
            self._transition(FluxState.PERTURBED)
        self._current = perturbation
        self._heat += 1
        answer: Any = None
        error: Exception | None = None
        token: SemaphoreToken | None = None
        try:
            answer = await self._handler(perturbation.data)
            if isinstance(answer, Semaphore):
                token = await self._store_semaphore(perturbation, answer)
        except Collapse as exc:
            self.collapse(exc)
            return
        except Exception as exc:
            error = exc
        finally:
            self._current = None
        # Back to FLOWING before reporting, so the event a mirror sees last carries the
        # state the agent is actually in.
        if self.state is FluxState.PERTURBED:
            self._transition(FluxState.FLOWING)
        if error is not None:
            self._heat += 2
            self.counters["perturbations_failed"] += 1
            perturbation.fail(error)
            self.emit(
                "perturbation_failed",
                {"priority": perturbation.priority, "error": f"{type(error).__name__}: {error}"},
            )
        elif token is not None:
            self._ejected[token.id] = perturbation
            self.counters["semaphores_ejected"] += 1
            if not perturbation.ejected.done():
                perturbation.ejected.set_result(token)
            self.emit("semaphore_ejected", {"token": token.public()})
            if token.deadline is not None:
                await self._schedule_deadline()
        else:
            self.counters["perturbations_completed"] += 1
            perturbation.succeed(answer)
            data: dict[str, Any] = {"priority": perturbation.priority, "result": answer}
            if isinstance(perturbation.data, Reentry):
                data["token_id"] = perturbation.data.token.id
            self.emit("perturbation_result", data)

    # -- semaphores and purgatory -----------------------------------------------------

    async def _store_semaphore(
        self, perturbation: Perturbation, semaphore: Semaphore
    ) -> SemaphoreToken:
        if self.purgatory is None:
            raise FluxError(f"agent {self.id} has no purgatory for semaphores")
        data = perturbation.data
        context = data.original if isinstance(data, Reentry) else data
        return await asyncio.to_thread(self.purgatory.eject, self.id, semaphore, context)

    async def resolve(self, token_id: str, human_input: Any) -> Transition:
        """Resolve a token (idempotent) and re-enter the agent with the human's input."""
        assert self.purgatory is not None, "agent has no purgatory"
        transition = await asyncio.to_thread(self.purgatory.resolve, self.id, token_id, human_input)
        if not transition.changed:
            return transition
        token = transition.token
        self.emit("semaphore_resolved", {"token": token.public()})
        waiting = self._ejected.pop(token.id, None)
        reentry = Reentry(token=token, human_input=human_input, original=token.context)
        if self.accepting:
            follow_up = Perturbation(data=reentry, priority=REENTRY_PRIORITY, cost=0.0)
            if waiting is not None:
                # The original caller keeps waiting on its own future: chain the answer.
                _chain(follow_up, waiting)
            self._queue.put_nowait(follow_up, bypass_bound=True)
        elif waiting is not None:
            waiting.fail(AgentNotFlowing(f"agent {self.id} is {self.state.value}"))
        return transition

    async def cancel(self, token_id: str, reason: str = "") -> Transition:
        assert self.purgatory is not None, "agent has no purgatory"
        transition = await asyncio.to_thread(self.purgatory.cancel, self.id, token_id, reason)
        if transition.changed:
            waiting = self._ejected.pop(token_id, None)
            if waiting is not None:
                waiting.fail(SemaphoreCancelled(f"semaphore {token_id} cancelled: {reason}"))
            self.emit("semaphore_cancelled", {"token": transition.token.public()})
        return transition

    async def pending_tokens(self) -> list[SemaphoreToken]:
        if self.purgatory is None:
            return []
        return await asyncio.to_thread(self.purgatory.pending, self.id)

    async def void_expired(self) -> list[SemaphoreToken]:
        """Void tokens past their deadline (also run by a timer at the next deadline)."""
        if self.purgatory is None:
            return []
        voided = await asyncio.to_thread(self.purgatory.void_expired, self.id)
        for token in voided:
            waiting = self._ejected.pop(token.id, None)
            if waiting is not None:
                waiting.fail(SemaphoreVoided(f"semaphore {token.id} passed its deadline"))
            self.emit("semaphore_voided", {"token": token.public()})
        return voided

    async def _schedule_deadline(self) -> None:
        """One timer, at the nearest deadline; no polling while nothing is due."""
        assert self.purgatory is not None
        deadline = await asyncio.to_thread(self.purgatory.next_deadline, self.id)
        self._cancel_deadline()
        if deadline is None or self.state is FluxState.COLLAPSED:
            return
        delay = max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.01
        loop = asyncio.get_running_loop()
        self._deadline_timer = loop.call_later(delay, self._on_deadline)

    def _on_deadline(self) -> None:
        self._deadline_timer = None

        async def fire() -> None:
            await self.void_expired()
            await self._schedule_deadline()

        task = asyncio.get_running_loop().create_task(fire())
        _background.add(task)
        task.add_done_callback(_background.discard)

    def _cancel_deadline(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer.cancel()
            self._deadline_timer = None

    # -- views ------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "state": self.state.value,
            "pressure": self.pressure,
            "flow": self.flow,
            "temperature": self.temperature,
            "queue_depth": self.queue_depth,
            "observers": self.mirror.observer_count,
            "head_seq": self.mirror.head,
            "epoch": self.mirror.epoch,
            "collapse_reason": self.collapse_reason,
        }

    def metrics(self) -> dict[str, Any]:
        return {
            **self.counters,
            "perturbations_dropped": self._queue.dropped,
            "events_emitted": self.mirror.head,
            "observers": self.mirror.observer_count,
            "observers_attached_total": self.mirror.attached_total,
            "observers_dropped_total": dict(self.mirror.dropped_total),
            "queue_depth": self.queue_depth,
            "buffer_size": self.config.buffer_size,
            "entropy_remaining": (
                None if self.config.entropy_budget is None else self.entropy.remaining
            ),
            "entropy_spent": self.entropy.spent,
            "semaphores_waiting_in_memory": len(self._ejected),
        }


_background: set[asyncio.Task[None]] = set()


def _chain(source: Perturbation, target: Perturbation) -> None:
    """When ``source`` finishes, finish ``target`` the same way."""

    def done(fut: asyncio.Future[Any]) -> None:
        if fut.cancelled():
            target.fail(AgentNotFlowing("re-entry was cancelled"))
        elif (exc := fut.exception()) is not None:
            target.fail(exc)
        else:
            target.succeed(fut.result())

    source.result.add_done_callback(done)
