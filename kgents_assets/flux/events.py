"""TerrariumEvent: what an agent shows its observers, one immutable record per event."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kgents_assets.flux.states import FluxState


class TerrariumEvent(BaseModel):
    """One event in an agent's mirror. ``seq`` is assigned by the buffer on emission."""

    model_config = ConfigDict(frozen=True)

    type: str
    agent_id: str
    seq: int = 0
    data: dict[str, Any] = Field(default_factory=dict)
    state: FluxState
    pressure: float = Field(ge=0, le=1, description="queue depth / buffer size")
    flow: float = Field(ge=0, description="events per second, smoothed")
    temperature: float = Field(ge=0, le=1, description="recent activity and errors, 0 cold")
    timestamp: float = Field(default_factory=time.time)
