"""Errors a HotData user can see. Each message names the fixture and what to do next."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class HotDataError(Exception):
    """Base class: anything wrong with a fixture, its name, its file or its generator."""


class FixtureNameError(HotDataError, ValueError):
    """A fixture name that would escape the fixtures directory or is not a plain path."""


class UnknownFixtureError(HotDataError, KeyError):
    """A name that no registered fixture has."""

    def __init__(self, name: str, known: list[str]) -> None:
        close = [k for k in known if name.split("/")[-1] in k][:5]
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        super().__init__(f"unknown fixture {name!r}{hint} (`kg fixture list` shows all)")
        self.name = name

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class FixtureMissingError(HotDataError, FileNotFoundError):
    """The fixture has never been generated (or its file was removed)."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(f"fixture {name!r} has no file at {path}; run `kg fixture refresh {name}`")
        self.name = name
        self.path = path


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a fixture: where (a JSON path such as ``agents.a-1.phase``) and what."""

    location: str
    message: str
    input_preview: str | None = None

    def __str__(self) -> str:
        where = self.location or "<root>"
        got = f" (got {self.input_preview})" if self.input_preview is not None else ""
        return f"{where}: {self.message}{got}"


class FixtureValidationError(HotDataError, ValueError):
    """Data that does not match the fixture's schema, or is not JSON at all."""

    def __init__(self, name: str, source: str, issues: list[ValidationIssue]) -> None:
        self.name = name
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues[:20])
        more = f"\n  ... and {len(issues) - 20} more" if len(issues) > 20 else ""
        super().__init__(
            f"fixture {name!r} is invalid ({source}): {len(issues)} problem(s)\n{lines}{more}"
        )


class GeneratorError(HotDataError, RuntimeError):
    """The generator raised; the previous file (if any) is untouched."""


class FixturesNotWritableError(HotDataError, PermissionError):
    """The fixtures directory (or the file) cannot be written."""


class RefreshInProgressError(HotDataError, TimeoutError):
    """Another process kept the fixture's lock longer than we were willing to wait."""
