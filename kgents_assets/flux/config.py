"""How much an agent buffers, what it drops when full, and how much it may spend."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class DropPolicy(StrEnum):
    BLOCK = "block"  # in-process callers wait for room; non-waiting callers get QueueFull
    DROP_OLDEST = "drop_oldest"  # evict the earliest-submitted waiting perturbation
    DROP_NEWEST = "drop_newest"  # refuse the perturbation that does not fit


class FluxConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    buffer_size: int = Field(default=100, ge=1, description="waiting perturbations, at most")
    drop_policy: DropPolicy = DropPolicy.BLOCK
    entropy_budget: float | None = Field(
        default=None,
        gt=0,
        description="entropy an agent may spend on perturbations; None means unbounded",
    )
    entropy_regen_per_s: float = Field(
        default=0.0, ge=0, description="entropy regained per second, up to the budget"
    )
    default_perturbation_cost: float = Field(default=1.0, ge=0)
