"""The demo world as one scene: the fixtures of a *fixture set*, composed for a screen.

Fixture names are ``kind/variant`` (``flux_states/crowded``). A fixture set is a variant
name across the world's kinds: set ``crowded`` takes ``flux_states/crowded`` and, for every
kind without a ``crowded`` fixture, that kind's default (its ``demo`` fixture, else its
first registered one). So the sets are the variant names the registry knows (``demo``,
``busy``, ``calm``, ``crowded``, ``main``, ``stressed``, ...), each one scene, and adding
``garden_states/crowded`` changes set ``crowded`` without any table to edit. ``test/`` is
not a world kind: it holds data for the test suite.

The scene keeps the last good value of every fixture. A broken file (bad JSON, a field
out of range) leaves that value on screen and records the problem with its location; a
deleted file is replaced by what its generator makes from the fixture's own seed, in
memory only (a viewer never writes fixtures). The gateway's ``world`` agent and
``kg world`` both draw :class:`WorldScene`; this module imports neither.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from kgents_assets import sentences
from kgents_assets.hotdata.errors import (
    FixtureMissingError,
    FixtureValidationError,
    ValidationIssue,
)
from kgents_assets.hotdata.models import (
    AgentSnapshot,
    FluxState,
    GardenSnapshot,
    Phase,
    PolynomialState,
    Thought,
    ThoughtStream,
    YieldTurn,
    YieldTurnLog,
    record_count,
)
from kgents_assets.hotdata.registry import HotDataRegistry

FLUX, AGENT, GARDEN, POLY, TURNS, THOUGHTS = (
    "flux_states",
    "agent_snapshots",
    "garden_states",
    "polynomial_states",
    "yield_turns",
    "thought_streams",
)
#: The kinds a scene is made of, in the order a reader meets them.
WORLD_KINDS = (FLUX, AGENT, GARDEN, POLY, TURNS, THOUGHTS)
DEFAULT_SET = "demo"
LATEST_THOUGHTS = 8

ChangeKind = Literal["loaded", "recovered", "invalid", "missing", "unchanged"]


class UnknownFixtureSet(KeyError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown fixture set {name!r}; known sets: {', '.join(known)}")
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


def fixture_sets(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Set name -> {kind: fixture name}, from the registered fixture names.

    ``demo`` comes first, then the other variants alphabetically.
    """
    variants: dict[str, list[str]] = {}
    for name in names:
        kind, _, variant = name.partition("/")
        if kind in WORLD_KINDS and variant and "/" not in variant:
            variants.setdefault(kind, []).append(variant)
    defaults = {k: DEFAULT_SET if DEFAULT_SET in v else v[0] for k, v in variants.items()}
    every = {v for vs in variants.values() for v in vs}
    ordered = sorted(every, key=lambda v: (v != DEFAULT_SET, v))
    return {
        set_name: {
            kind: f"{kind}/{set_name if set_name in variants[kind] else defaults[kind]}"
            for kind in WORLD_KINDS
            if kind in variants
        }
        for set_name in ordered
    }


# -- what a screen draws ---------------------------------------------------------------


class IssueView(BaseModel):
    location: str
    message: str

    @classmethod
    def of(cls, issue: ValidationIssue) -> IssueView:
        got = f" (got {issue.input_preview})" if issue.input_preview is not None else ""
        return cls(location=issue.location or "<file>", message=issue.message + got)


class FixtureSource(BaseModel):
    """Where one kind of the scene comes from, and what is wrong with it, if anything."""

    fixture: str
    kind: str
    path: str
    origin: Literal["file", "generator", "none"]
    issues: list[IssueView] = Field(default_factory=list, description="the file is invalid")
    notice: str | None = None


class AgentView(BaseModel):
    id: str
    name: str
    phase: Phase
    activity: float
    children: list[str]
    summary: str
    x: int
    y: int
    connections: dict[str, float]
    featured: bool = Field(default=False, description="from the set's agent snapshot")


class GridView(BaseModel):
    width: int
    height: int
    focused_id: str | None
    agents: list[AgentView]


class WorldScene(BaseModel):
    """Everything a screen shows of one fixture set at one revision."""

    set: str
    revision: int
    grid: GridView
    gardens: list[GardenSnapshot]
    polynomial: PolynomialState | None
    awaiting: list[YieldTurn] = Field(description="yield turns nobody approved or rejected")
    decided_turns: int
    thoughts: list[Thought] = Field(description="the latest first")
    sources: list[FixtureSource]

    @property
    def problems(self) -> list[FixtureSource]:
        return [s for s in self.sources if s.issues]

    @property
    def notices(self) -> list[str]:
        return [s.notice for s in self.sources if s.notice]


class FixtureChange(BaseModel):
    """What reloading one fixture did; the ``world`` agent's events carry it."""

    fixture: str
    change: ChangeKind
    sets: list[str]
    revision: int
    path: str
    records: int | None = None
    issues: list[IssueView] = Field(default_factory=list)
    fallback: str | None = None

    @property
    def event_type(self) -> str:
        return f"fixture_{self.change}"

    def event_data(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_none=True)
        data["summary"] = sentences.describe(self.event_type, data)
        return data


# -- the fixtures behind the scenes ----------------------------------------------------


@dataclass
class _Slot:
    name: str
    kind: str
    path: str
    value: Any = None  # the last good value
    origin: Literal["file", "generator", "none"] = "none"
    issues: list[IssueView] = field(default_factory=list)
    notice: str | None = None
    seen: tuple[int, int, int] | None = None  # the file as last read; None: missing
    read: bool = False


def _signature(path: str) -> tuple[int, int, int] | None:
    """What tells an edited file apart: mtime, size and inode (an atomic replace)."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class WorldFixtures:
    """The last good value of every fixture some set uses, and the scenes made of them."""

    def __init__(self, registry: HotDataRegistry) -> None:
        self.registry = registry
        self.sets = fixture_sets(registry.list_all())
        self.revision = 0
        used = sorted({name for kinds in self.sets.values() for name in kinds.values()})
        self._slots = {
            name: _Slot(name, name.split("/", 1)[0], str(registry.get(name).path)) for name in used
        }
        self._lock: asyncio.Lock | None = None

    def __contains__(self, name: object) -> bool:
        return name in self._slots

    @property
    def fixtures(self) -> list[str]:
        return list(self._slots)

    def sets_using(self, fixture: str) -> list[str]:
        return [s for s, kinds in self.sets.items() if fixture in kinds.values()]

    def require_set(self, name: str) -> dict[str, str]:
        try:
            return self.sets[name]
        except KeyError:
            raise UnknownFixtureSet(name, self.sets) from None

    async def load_all(self) -> list[FixtureChange]:
        return [await self.reload(name) for name in self._slots]

    async def refresh(self, names: Iterable[str] | None = None) -> list[FixtureChange]:
        """Reload the fixtures (default: all) whose file changed since it was last read.

        A few stats: a reader calls it before drawing, so a process that is not watching
        the files (no dev mode, or a replica whose watcher runs elsewhere) still shows what
        is on disk.
        """
        wanted = self._slots if names is None else names
        return [
            await self.reload(name)
            for name in wanted
            if not self._slots[name].read
            or _signature(self._slots[name].path) != self._slots[name].seen
        ]

    async def reload(self, name: str) -> FixtureChange:
        """Read fixture ``name`` again and say what changed (it must be a world fixture)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # the watcher and a reader may reload the same file at once
            return await self._reload(name)

    async def _reload(self, name: str) -> FixtureChange:
        slot = self._slots[name]
        slot.seen, slot.read = _signature(slot.path), True
        hotdata = self.registry.get(name)
        before = (slot.value, slot.origin, bool(slot.issues))
        had_issues = bool(slot.issues) or slot.origin == "generator"
        fallback: str | None = None
        try:
            value = hotdata.load()
        except FixtureMissingError:
            spec = self.registry.spec(name)
            value = await self._generated(name)
            fallback = f"{spec.generator_name} generator, seed {spec.seed}"
            change: ChangeKind = "missing"
            slot.value, slot.origin, slot.issues = value, "generator", []
        except (FixtureValidationError, OSError) as exc:
            issues = (
                [IssueView.of(i) for i in exc.issues]
                if isinstance(exc, FixtureValidationError)
                else [IssueView(location="<file>", message=f"{type(exc).__name__}: {exc}")]
            )
            change = "invalid"
            slot.issues = issues
            if slot.value is None:  # nothing good yet: the generator's scene, said so
                spec = self.registry.spec(name)
                slot.value, slot.origin = await self._generated(name), "generator"
                fallback = f"{spec.generator_name} generator, seed {spec.seed}"
        else:
            change = "recovered" if had_issues else "loaded"
            slot.value, slot.origin, slot.issues = value, "file", []
        data = {"fixture": name, "path": slot.path, "fallback": fallback}
        if change == "missing":
            slot.notice = sentences.fixture_missing(data)
        elif change == "invalid" and fallback:
            slot.notice = sentences.fallback_notice(data)
        elif change in ("loaded", "recovered"):
            slot.notice = None
        if change == "loaded" and before == (slot.value, slot.origin, bool(slot.issues)):
            change = "unchanged"
        else:
            self.revision += 1
        return FixtureChange(
            fixture=name,
            change=change,
            sets=self.sets_using(name),
            revision=self.revision,
            path=slot.path,
            records=record_count(slot.value) if slot.value is not None else None,
            issues=slot.issues,
            fallback=fallback,
        )

    async def _generated(self, name: str) -> Any:
        hotdata = self.registry.get(name)
        produced = await self.registry.generator_for(name)()
        model, _ = hotdata.render(produced, source="generator output")
        return model

    # -- composing a scene -------------------------------------------------------------

    def _value(self, kinds: dict[str, str], kind: str) -> Any:
        name = kinds.get(kind)
        return self._slots[name].value if name is not None else None

    def scene(self, set_name: str = DEFAULT_SET) -> WorldScene:
        kinds = self.require_set(set_name)
        flux = self._value(kinds, FLUX)
        grid = _grid(flux if isinstance(flux, FluxState) else FluxState())
        featured = self._value(kinds, AGENT)
        if isinstance(featured, AgentSnapshot):
            # The set's single agent joins the grid (replacing a namesake): editing
            # agent_snapshots/demo.json moves an agent on the demo's grid.
            grid.agents = [a for a in grid.agents if a.id != featured.id]
            grid.agents.append(_agent_view(featured, featured=True))
            # Its file may place it past a small grid's edge: widen the grid, never hide it.
            grid.width = max(grid.width, featured.grid_x + 1)
            grid.height = max(grid.height, featured.grid_y + 1)
        garden = self._value(kinds, GARDEN)
        poly = self._value(kinds, POLY)
        turns = self._value(kinds, TURNS)
        turn_list: list[YieldTurn] = turns.root if isinstance(turns, YieldTurnLog) else []
        thoughts = self._value(kinds, THOUGHTS)
        thought_list: list[Thought] = thoughts.root if isinstance(thoughts, ThoughtStream) else []
        latest = sorted(thought_list, key=lambda t: t.timestamp, reverse=True)[:LATEST_THOUGHTS]
        return WorldScene(
            set=set_name,
            revision=self.revision,
            grid=grid,
            gardens=[garden] if isinstance(garden, GardenSnapshot) else [],
            polynomial=poly if isinstance(poly, PolynomialState) else None,
            awaiting=[t for t in turn_list if t.is_approved is None],
            decided_turns=sum(t.is_approved is not None for t in turn_list),
            thoughts=latest,
            sources=[self._source(kinds[kind]) for kind in WORLD_KINDS if kind in kinds],
        )

    def _source(self, name: str) -> FixtureSource:
        slot = self._slots[name]
        return FixtureSource(
            fixture=name,
            kind=slot.kind,
            path=slot.path,
            origin=slot.origin,
            issues=list(slot.issues),
            notice=slot.notice,
        )


def _agent_view(agent: AgentSnapshot, *, featured: bool = False) -> AgentView:
    return AgentView(
        id=agent.id,
        name=agent.name,
        phase=agent.phase,
        activity=agent.activity,
        children=list(agent.children),
        summary=agent.summary,
        x=agent.grid_x,
        y=agent.grid_y,
        connections=dict(agent.connections),
        featured=featured,
    )


def _grid(flux: FluxState) -> GridView:
    return GridView(
        width=flux.grid_width,
        height=flux.grid_height,
        focused_id=flux.focused_id,
        agents=[_agent_view(a) for a in flux.agents.values()],
    )
