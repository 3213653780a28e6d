"""The kgents demo world (DESIGN.md §4), in the JSON shapes the kgents originals use."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from kgents_assets.hotdata.serializable import SerializableList, SerializableModel

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class Phase(StrEnum):
    """Life phase of an agent, as drawn by the terrarium."""

    ACTIVE = "ACTIVE"
    WAKING = "WAKING"
    WANING = "WANING"
    DORMANT = "DORMANT"
    VOID = "VOID"

    @classmethod
    def _missing_(cls, value: object) -> Phase | None:
        # kgents files written by older tools use lower case ("active").
        if isinstance(value, str):
            return cls.__members__.get(value.upper())
        return None


class AgentSnapshot(SerializableModel):
    """One agent at one moment: where it sits on the grid and how busy it is."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    phase: Phase
    activity: Unit = 0.0
    children: list[str] = Field(default_factory=list, description="ids of child agents")
    summary: str = ""
    grid_x: int = Field(default=0, ge=0)
    grid_y: int = Field(default=0, ge=0)
    connections: dict[str, Unit] = Field(
        default_factory=dict, description="agent id -> connection strength (0-1)"
    )


class FluxState(SerializableModel):
    """The terrarium's view of a set of agents on a grid (not the flux runtime state)."""

    agents: dict[str, AgentSnapshot] = Field(default_factory=dict)
    focused_id: str | None = None
    grid_width: int = Field(default=8, ge=1)
    grid_height: int = Field(default=6, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> FluxState:
        for key, agent in self.agents.items():
            if key != agent.id:
                raise ValueError(f"agents[{key!r}] holds an agent whose id is {agent.id!r}")
            if agent.grid_x >= self.grid_width or agent.grid_y >= self.grid_height:
                raise ValueError(
                    f"agent {key!r} at ({agent.grid_x},{agent.grid_y}) is outside the "
                    f"{self.grid_width}x{self.grid_height} grid"
                )
        if self.focused_id is not None and self.focused_id not in self.agents:
            raise ValueError(f"focused_id {self.focused_id!r} is not one of the agents")
        return self


OrchestrationState = Literal["idle", "converging", "diverging", "stable"]


class GardenSnapshot(SerializableModel):
    """A garden of agents and its overall health."""

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    agent_ids: list[str] = Field(default_factory=list)
    health: Unit = 1.0
    flux_rate: float = Field(default=0.0, ge=0.0)
    orchestration_state: OrchestrationState = "idle"
    breath_phase: Unit = 0.0


class PolynomialState(SerializableModel):
    """A polynomial agent's mode machine: current mode, allowed inputs, history."""

    current_mode: str = Field(min_length=1)
    valid_inputs: list[str] = Field(default_factory=list)
    state_hash: str = ""
    transition_history: list[tuple[str, str]] = Field(
        default_factory=list, description="[from_mode, to_mode] pairs, oldest first"
    )


class YieldTurn(SerializableModel):
    """A turn an agent yields to a human for approval."""

    id: str = Field(min_length=1)
    content: str
    turn_type: str = Field(min_length=1)
    timestamp: datetime
    is_approved: bool | None = None
    reason: str | None = None


class Thought(SerializableModel):
    """One line of an agent's stream of thought."""

    content: str
    source: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    timestamp: datetime


class YieldTurnLog(SerializableList[YieldTurn]):
    """A fixture file holding a JSON array of yield turns."""


class ThoughtStream(SerializableList[Thought]):
    """A fixture file holding a JSON array of thoughts."""


def record_count(value: object) -> int:
    """How many records a fixture holds: list items, grid agents, else one."""
    if isinstance(value, YieldTurnLog | ThoughtStream):
        return len(value.root)
    if isinstance(value, FluxState):
        return len(value.agents)
    if isinstance(value, list | dict):
        return len(value)
    return 1
