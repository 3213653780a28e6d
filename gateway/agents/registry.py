"""AgentRegistry: the agents a gateway hosts, by id, and the way events get into them.

Code in the gateway's process (the event daemon, a sensor loop) posts events with
:meth:`AgentRegistry.post` from any thread; other processes use ``POST
/api/agents/{agent_id}/events``. ``active_registry()`` finds the running gateway's
registry from anywhere in the process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

from kgents_assets.flux import FluxAgent, FluxState

_active: AgentRegistry | None = None


class UnknownAgent(KeyError):
    pass


class AgentRegistry:
    def __init__(self) -> None:
        self._agents: dict[str, FluxAgent] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, agent: FluxAgent) -> FluxAgent:
        if agent.id in self._agents:
            raise ValueError(f"agent {agent.id!r} is already registered")
        self._agents[agent.id] = agent
        return agent

    def get(self, agent_id: str) -> FluxAgent | None:
        return self._agents.get(agent_id)

    def require(self, agent_id: str) -> FluxAgent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise UnknownAgent(agent_id)
        return agent

    def __iter__(self) -> Iterator[FluxAgent]:
        return iter(list(self._agents.values()))

    def __len__(self) -> int:
        return len(self._agents)

    @property
    def observer_count(self) -> int:
        return sum(agent.mirror.observer_count for agent in self._agents.values())

    def post(self, agent_id: str, event_type: str, data: dict[str, Any] | None = None) -> None:
        """Emit an event into an agent's mirror; safe to call from any thread."""
        agent = self.require(agent_id)
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            agent.emit(event_type, data)
        else:
            loop.call_soon_threadsafe(agent.emit, event_type, data)

    async def start_all(self) -> None:
        global _active
        self._loop = asyncio.get_running_loop()
        for agent in self:
            if agent.state is FluxState.DORMANT:
                await agent.start()
        _active = self

    async def stop_all(self) -> None:
        global _active
        if _active is self:
            _active = None
        for agent in self:
            with contextlib.suppress(Exception):
                await agent.stop(drain=False, timeout_s=2.0)
            agent.mirror.close()


def active_registry() -> AgentRegistry | None:
    """The registry of the gateway running in this process, if any."""
    return _active


def post_event(agent_id: str, event_type: str, data: dict[str, Any] | None = None) -> bool:
    """Post to the running gateway's agent; returns False when no gateway is running here."""
    registry = _active
    if registry is None:
        return False
    registry.post(agent_id, event_type, data)
    return True
