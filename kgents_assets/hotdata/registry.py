"""HotDataRegistry: every registered fixture of one fixtures directory, with its generator."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgents_assets.hotdata.atomic import LOCK_DIR_NAME
from kgents_assets.hotdata.errors import HotDataError, UnknownFixtureError
from kgents_assets.hotdata.hotdata import HotData, RefreshOutcome
from kgents_assets.hotdata.names import fixture_path
from kgents_assets.hotdata.spec import FixtureSpec

if TYPE_CHECKING:
    from kgents_assets.hotdata.generators import GeneratorRegistry
    from kgents_assets.hotdata.generators.llm import ChatEndpoint


class FixtureState(StrEnum):
    FRESH = "FRESH"
    STALE = "STALE"
    MISSING = "MISSING"


@dataclass(frozen=True)
class FixtureStatus:
    name: str
    state: FixtureState
    path: str
    age_seconds: float | None
    ttl_seconds: float | None
    size: int | None
    generator: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass(frozen=True)
class RefreshReport:
    """One fixture's refresh: ``written`` False means it was fresh and kept."""

    name: str
    written: bool
    path: str
    size: int | None = None
    error: str | None = None


class HotDataRegistry:
    """Fixtures by name under ``root``. Registration order is kept (it is display order).

    ``generators`` defaults to the seeded world generators; with ``llm`` set, fixtures
    whose spec has an ``llm_prompt`` are written by that endpoint instead.
    """

    def __init__(
        self,
        root: Path,
        specs: Iterable[FixtureSpec] = (),
        *,
        generators: GeneratorRegistry | None = None,
        llm: ChatEndpoint | None = None,
    ) -> None:
        self.root = Path(root)
        self._generators = generators
        self.llm = llm
        self._specs: dict[str, FixtureSpec] = {}
        self._fixtures: dict[str, HotData[Any]] = {}
        for spec in specs:
            self.register(spec)

    # -- registration --------------------------------------------------------------------

    def register(self, spec: FixtureSpec) -> HotData[Any]:
        if spec.name in self._specs:
            raise ValueError(f"fixture {spec.name!r} is registered twice")
        hotdata: HotData[Any] = HotData(
            fixture_path(self.root, spec.name),
            spec.schema,
            spec.ttl,
            name=spec.name,
            # One lock directory at the root keeps the kind directories clean.
            lock_file=self.root / LOCK_DIR_NAME / f"{spec.name.replace('/', '__')}.lock",
        )
        self._specs[spec.name] = spec
        self._fixtures[spec.name] = hotdata
        return hotdata

    @property
    def generators(self) -> GeneratorRegistry:
        if self._generators is None:
            from kgents_assets.hotdata.generators import WORLD_GENERATORS

            self._generators = WORLD_GENERATORS
        return self._generators

    # -- lookup ------------------------------------------------------------------------

    def get(self, name: str) -> HotData[Any]:
        try:
            return self._fixtures[name]
        except KeyError:
            raise UnknownFixtureError(name, list(self._fixtures)) from None

    def spec(self, name: str) -> FixtureSpec:
        self.get(name)
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._fixtures

    def __len__(self) -> int:
        return len(self._fixtures)

    def list_all(self) -> list[str]:
        return list(self._fixtures)

    def list_stale(self) -> list[str]:
        """Fixtures that need a refresh: older than their TTL *or* missing."""
        return [name for name, hd in self._fixtures.items() if not hd.is_fresh()]

    def list_missing(self) -> list[str]:
        return [name for name, hd in self._fixtures.items() if not hd.exists()]

    def get_status(self, name: str, now: float | None = None) -> FixtureStatus:
        hd, spec = self.get(name), self._specs[name]
        try:
            stat = hd.path.stat()  # one stat per fixture: listings cover hundreds
        except OSError:
            stat = None
        if stat is None:
            state, age, size = FixtureState.MISSING, None, None
        else:
            age = max(0.0, (time.time() if now is None else now) - stat.st_mtime)
            fresh = spec.ttl is None or age < spec.ttl.total_seconds()
            state = FixtureState.FRESH if fresh else FixtureState.STALE
            size = stat.st_size
        return FixtureStatus(
            name=name,
            state=state,
            path=str(hd.path),
            age_seconds=age,
            ttl_seconds=spec.ttl.total_seconds() if spec.ttl else None,
            size=size,
            generator=self._generator_label(spec),
            description=spec.description,
        )

    def statuses(self) -> list[FixtureStatus]:
        return [self.get_status(name) for name in self._fixtures]

    # -- generation --------------------------------------------------------------------

    def _generator_label(self, spec: FixtureSpec) -> str:
        if self.llm is not None and spec.llm_prompt:
            return f"llm:{self.llm.model}"
        return spec.generator_name

    def generator_for(self, name: str) -> Callable[[], Coroutine[Any, Any, Any]]:
        """The zero-argument generator ``HotData.refresh`` calls for fixture ``name``."""
        from kgents_assets.hotdata.generators import GenerationContext

        spec = self.spec(name)
        ctx = GenerationContext(
            name=name, seed=spec.seed, entropy=spec.entropy, params=dict(spec.params)
        )
        if self.llm is not None and spec.llm_prompt:
            from kgents_assets.hotdata.generators.llm import llm_generator

            fn = llm_generator(self.llm, spec.llm_prompt, spec.resolved_schema())
        else:
            fn = self.generators.get(spec.generator_name)
        return lambda: fn(ctx)

    async def render(self, name: str) -> tuple[Any, bytes]:
        """Generate and validate fixture ``name`` without writing it (``--dry-run``)."""
        hd = self.get(name)
        return hd.render(await self.generator_for(name)(), source="generator output")

    async def refresh(self, name: str, *, force: bool = False) -> RefreshOutcome[Any]:
        """Regenerate ``name`` if stale or missing (always with ``force``)."""
        return await self.get(name).refresh_outcome(self.generator_for(name), force=force)

    async def refresh_all_stale(
        self, *, force: bool = False, concurrency: int = 4
    ) -> list[RefreshReport]:
        """Refresh every stale or missing fixture (all with ``force``).

        One failing fixture does not stop the others; its report carries the error.
        """
        import asyncio

        names = self.list_all() if force else self.list_stale()
        gate = asyncio.Semaphore(concurrency)

        async def one(name: str) -> RefreshReport:
            async with gate:
                try:
                    outcome = await self.refresh(name, force=force)
                except HotDataError as exc:
                    return RefreshReport(name, False, str(self.get(name).path), error=str(exc))
                return RefreshReport(name, outcome.written, str(outcome.path), outcome.size)

        return list(await asyncio.gather(*(one(name) for name in names)))
