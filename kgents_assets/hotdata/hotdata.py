"""HotData[T]: one pre-computed JSON fixture that loads instantly and knows when it is stale."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from kgents_assets.hotdata.atomic import atomic_write_bytes, file_lock
from kgents_assets.hotdata.errors import (
    FixtureMissingError,
    FixtureValidationError,
    GeneratorError,
    HotDataError,
)

T = TypeVar("T")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshOutcome(Generic[T]):
    """What ``refresh`` did: ``written`` is False when the fixture was fresh and kept."""

    value: T
    written: bool
    path: Path
    size: int


class HotData(Generic[T]):
    """A fixture file at ``path`` holding JSON valid against ``schema``.

    ``ttl`` is measured from the file's mtime; ``ttl=None`` means the fixture never goes
    stale. ``schema`` may be a type or a ``"module:Name"`` reference, resolved on first use.
    """

    def __init__(
        self,
        path: Path,
        schema: type[T] | str,
        ttl: timedelta | None = None,
        *,
        name: str | None = None,
        lock_timeout: float = 60.0,
        lock_file: Path | None = None,
    ) -> None:
        self.path = Path(path)
        self._schema_ref = schema
        self._schema: type[T] | None = None if isinstance(schema, str) else schema
        self.ttl = ttl
        self.name = name or self.path.stem
        self.lock_timeout = lock_timeout
        self.lock_file = lock_file

    def __repr__(self) -> str:
        return f"HotData(name={self.name!r}, path={str(self.path)!r}, ttl={self.ttl!r})"

    @property
    def schema(self) -> type[T]:
        if self._schema is None:
            from kgents_assets.hotdata.spec import resolve_ref

            self._schema = resolve_ref(self._schema_ref)
        return self._schema

    # -- state -------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.is_file()

    def mtime(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def age_seconds(self, now: float | None = None) -> float | None:
        mtime = self.mtime()
        if mtime is None:
            return None
        return max(0.0, (time.time() if now is None else now) - mtime)

    def is_fresh(self, now: float | None = None) -> bool:
        """Exists and is younger than the TTL (always fresh if ``ttl`` is None)."""
        age = self.age_seconds(now)
        if age is None:
            return False
        return self.ttl is None or age < self.ttl.total_seconds()

    def is_stale(self, now: float | None = None) -> bool:
        """Exists but older than its TTL (a missing fixture is *missing*, not stale)."""
        return self.exists() and not self.is_fresh(now)

    # -- reading -----------------------------------------------------------------------

    def load(self) -> T:
        """Read and validate the file.

        Raises FixtureMissingError if there is no file and FixtureValidationError (with
        the location of every problem) if it is not valid JSON for the schema.
        """
        # Imported here, not at the top: listing fixtures must not pay for pydantic.
        from kgents_assets.hotdata.validation import validate_json

        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise FixtureMissingError(self.name, self.path) from None
        return validate_json(self.name, self.schema, data, source=str(self.path))

    def load_or_default(self, default: T) -> T:
        """``load()``, or ``default`` if the file is missing, unreadable or invalid.

        Never raises: a demo must keep running on a broken fixture; the reason is logged.
        """
        try:
            return self.load()
        except FixtureMissingError:
            return default
        except Exception as exc:  # the contract is "never raises", whatever went wrong
            logger.warning("using the default for fixture %s: %s", self.name, exc)
            return default

    def validate(self) -> T:
        """Alias of ``load`` for readers who only want the check."""
        return self.load()

    # -- writing -----------------------------------------------------------------------

    def render(self, value: Any, *, source: str = "value") -> tuple[T, bytes]:
        """Validate ``value`` and return it with the exact bytes ``save`` would write."""
        from kgents_assets.hotdata.validation import dump_json, validate_python

        model = validate_python(self.name, self.schema, value, source=source)
        return model, dump_json(self.schema, model)

    def save(self, value: Any) -> T:
        """Validate and atomically write ``value`` (no lock; ``refresh`` takes one)."""
        model, data = self.render(value)
        atomic_write_bytes(self.path, data)
        return model

    async def refresh(self, generator: Callable[[], Awaitable[Any]], *, force: bool = False) -> T:
        """Regenerate the fixture if it is stale or missing (always with ``force``)."""
        return (await self.refresh_outcome(generator, force=force)).value

    async def refresh_outcome(
        self, generator: Callable[[], Awaitable[Any]], *, force: bool = False
    ) -> RefreshOutcome[T]:
        """Like ``refresh`` but also says whether a file was written, and its size.

        Holds the fixture's lock: a second refresh started meanwhile waits, then finds the
        fixture fresh and keeps it (unless forced), so concurrent refreshes never tear a
        file or generate twice. Nothing is written unless the output validates.
        """
        async with file_lock(self.path, lock_file=self.lock_file, wait_seconds=self.lock_timeout):
            if not force and self.is_fresh():
                try:
                    value = self.load()
                    return RefreshOutcome(value, False, self.path, self.path.stat().st_size)
                except FixtureValidationError as exc:
                    logger.warning(
                        "fixture %s is fresh but invalid; regenerating: %s", self.name, exc
                    )
            try:
                produced = await generator()
            except HotDataError:
                raise
            except Exception as exc:
                raise GeneratorError(
                    f"generator for fixture {self.name!r} failed: {type(exc).__name__}: {exc}"
                    f" (the previous file is unchanged)"
                ) from exc
            model, data = self.render(produced, source="generator output")
            atomic_write_bytes(self.path, data)
            return RefreshOutcome(model, True, self.path, len(data))
