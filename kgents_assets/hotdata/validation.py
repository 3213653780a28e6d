"""Validate fixture bytes against a schema and say exactly where they are wrong."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from pydantic import TypeAdapter, ValidationError

from kgents_assets.hotdata.errors import FixtureValidationError, ValidationIssue

T = TypeVar("T")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def adapter_for(schema: Any) -> TypeAdapter[Any]:
    """One TypeAdapter per schema (building one costs far more than a validation)."""
    adapter = _ADAPTERS.get(schema)
    if adapter is None:
        adapter = _ADAPTERS[schema] = TypeAdapter(schema)
    return adapter


def format_location(loc: tuple[int | str, ...]) -> str:
    """``("agents", "a-1", "phase")`` -> ``agents.a-1.phase``; list indexes as ``[2]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _preview(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None  # the location already says which object; don't dump it
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def issues_from(exc: ValidationError) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    for err in exc.errors(include_url=False):
        # RootModel wraps its list in a "root" location part nobody wrote in the file.
        loc = tuple(p for p in err["loc"] if p != "root")
        preview = None if err["type"] == "json_invalid" else _preview(err.get("input"))
        issues.append(ValidationIssue(format_location(loc), err["msg"], preview))
    return issues


def validate_json(name: str, schema: type[T], data: str | bytes, *, source: str) -> T:
    """Parse and validate JSON ``data``; FixtureValidationError lists every problem."""
    try:
        return cast(T, adapter_for(schema).validate_json(data))
    except ValidationError as exc:
        raise FixtureValidationError(name, source, issues_from(exc)) from None


def validate_python(name: str, schema: type[T], value: Any, *, source: str) -> T:
    """Validate a Python value (e.g. a generator's output) the same way as a file."""
    if isinstance(schema, type) and isinstance(value, schema):
        # Re-validate through a dump: a model built with model_construct or mutated
        # without validation must not reach the disk unchecked.
        value = adapter_for(schema).dump_python(value, mode="json")
    try:
        return cast(T, adapter_for(schema).validate_python(value))
    except ValidationError as exc:
        raise FixtureValidationError(name, source, issues_from(exc)) from None


def dump_json(schema: type[T], value: T) -> bytes:
    """Canonical file bytes: 2-space indented JSON with a trailing newline (diff-friendly)."""
    return adapter_for(schema).dump_json(value, indent=2) + b"\n"
