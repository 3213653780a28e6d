"""The registered fixtures: the built-in demo world plus any a project adds.

Schemas are ``"module:Name"`` references so that reading this table (e.g. for
`kg fixture list`) imports no pydantic model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from kgents_assets.hotdata.registry import HotDataRegistry
from kgents_assets.hotdata.spec import FixtureSpec, resolve_ref

SPECS_ENV = "KGENTS_HOTDATA_SPECS"

_M = "kgents_assets.hotdata.models"
AGENT = f"{_M}:AgentSnapshot"
FLUX = f"{_M}:FluxState"
GARDEN = f"{_M}:GardenSnapshot"
POLY = f"{_M}:PolynomialState"
TURNS = f"{_M}:YieldTurnLog"
THOUGHTS = f"{_M}:ThoughtStream"

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

BUILTIN_SPECS: tuple[FixtureSpec, ...] = (
    FixtureSpec(
        "agent_snapshots/demo",
        AGENT,
        7 * DAY,
        seed=1,
        description="The default demo agent with children and connections.",
    ),
    FixtureSpec(
        "agent_snapshots/soul_kgent",
        AGENT,
        7 * DAY,
        seed=7,
        entropy=0.2,
        description="A calm K-gent soul state.",
    ),
    FixtureSpec(
        "agent_snapshots/busy",
        AGENT,
        DAY,
        seed=3,
        entropy=0.95,
        description="An agent in a crowded, volatile moment.",
    ),
    FixtureSpec(
        "flux_states/demo", FLUX, DAY, seed=1, description="The terrarium's default 8x6 grid."
    ),
    FixtureSpec(
        "flux_states/calm",
        FLUX,
        7 * DAY,
        seed=2,
        entropy=0.1,
        description="Few agents, mostly active: a quiet garden.",
    ),
    FixtureSpec(
        "flux_states/crowded",
        FLUX,
        DAY,
        seed=3,
        entropy=1.0,
        params={"agents": 24},
        description="Half the grid occupied, every phase present.",
    ),
    FixtureSpec(
        "garden_states/main",
        GARDEN,
        DAY,
        seed=1,
        entropy=0.3,
        description="The Observatory's main garden.",
    ),
    FixtureSpec(
        "garden_states/stressed",
        GARDEN,
        DAY,
        seed=4,
        entropy=1.0,
        description="A garden in trouble: low health, diverging.",
    ),
    FixtureSpec(
        "polynomial_states/demo",
        POLY,
        7 * DAY,
        seed=1,
        description="A polynomial agent's mode walk.",
    ),
    FixtureSpec(
        "yield_turns/demo",
        TURNS,
        DAY,
        seed=1,
        description="Turns yielded to a human, approved and rejected.",
    ),
    FixtureSpec(
        "thought_streams/demo",
        THOUGHTS,
        12 * HOUR,
        seed=1,
        description="A stream of agent thoughts for the terrarium ticker.",
        llm_prompt="Write 12 short, varied thoughts of kgents agents (K-gent, "
        "L-gent, J-gent...) tending a garden of code, with tags.",
    ),
    FixtureSpec(
        "thought_streams/long",
        THOUGHTS,
        DAY,
        seed=2,
        entropy=0.8,
        params={"thoughts": 60},
        description="A long stream for scrolling tests.",
    ),
    FixtureSpec(
        "test/agent_snapshot",
        AGENT,
        None,
        generator="agent_snapshots",
        seed=11,
        description="Stable agent for the test suite (never stale).",
    ),
    FixtureSpec(
        "test/flux_state",
        FLUX,
        None,
        generator="flux_states",
        seed=11,
        description="Stable flux grid for the test suite (never stale).",
    ),
    FixtureSpec(
        "test/thought_stream",
        THOUGHTS,
        None,
        generator="thought_streams",
        seed=11,
        entropy=0.2,
        description="Stable thought stream for the test suite.",
    ),
)


def extra_specs(refs: str | None = None) -> list[FixtureSpec]:
    """Specs a project adds via ``$KGENTS_HOTDATA_SPECS`` (comma-separated ``module:attr``,
    each an iterable of FixtureSpec or a callable returning one)."""
    raw = refs if refs is not None else os.environ.get(SPECS_ENV, "")
    specs: list[FixtureSpec] = []
    for ref in filter(None, (part.strip() for part in raw.split(","))):
        obj = resolve_ref(ref)
        items: Iterable[object] = obj() if callable(obj) else obj
        for item in items:
            if not isinstance(item, FixtureSpec):
                raise TypeError(f"{ref} yielded {item!r}, not a FixtureSpec")
            specs.append(item)
    return specs


def load_specs() -> list[FixtureSpec]:
    """Built-in specs followed by the project's extra ones."""
    return [*BUILTIN_SPECS, *extra_specs()]


def default_registry(root: Path | None = None) -> HotDataRegistry:
    """The registry of every fixture, rooted at ``root`` (default: the fixtures dir)."""
    from kgents_assets.hotdata.paths import default_fixtures_dir

    return HotDataRegistry(root if root is not None else default_fixtures_dir(), load_specs())
