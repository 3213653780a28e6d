"""Typer parameters that build their coercion only when a value is actually given.

Typer (0.29) coerces every non-flag parameter through a pydantic ``TypeAdapter``, built on
first use, and it uses it even for a parameter left at its ``None`` default. That first
build imports pydantic's schema machinery: about as long as importing Typer itself, paid
by ``kg fixture list`` for an unused ``--dir``. Typer's own ``RuntimeParam.coerce``
returns ``None`` (or ``()``) for a missing value before it touches the adapter, so a
runtime parameter that defers building the real one until ``_coerce_value`` gives the same
results: a given value goes through Typer's real coercion, unchanged.

This leans on Typer internals (``_TyperParameter._runtime_param``, ``typer._coercion``);
if they move, ``defer_coercion`` does nothing and the CLI is merely slower (the start-time
test in tests/cli/test_cli_start.py then fails and says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

try:
    from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
except ImportError:  # pragma: no cover - a Typer without these internals
    RuntimeParam = None  # type: ignore[assignment,misc]


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _Deferred(RuntimeParam):
        descriptor: TypeDescriptor

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            real = build_runtime_param(self.descriptor)
            param._runtime_param = real  # built once, as Typer would
            return real._coerce_value(value, param=param, ctx=ctx)


def _defer(param: Any) -> None:
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is not None and getattr(param, "_runtime_param", False) is None:
        param._runtime_param = _Deferred(
            parameter_info=descriptor.parameter_info,
            annotation=descriptor.annotation,
            descriptor=descriptor,
        )


def defer_coercion(command: Any) -> Any:
    """Give every Typer parameter of ``command`` and its sub-commands deferred coercion.

    Idempotent. The ``--help`` option is made per command on first use (and parsed on every
    call), so each command's ``get_help_option`` is wrapped to defer it too.
    """
    if RuntimeParam is None:  # pragma: no cover
        return command
    for param in getattr(command, "params", ()):
        _defer(param)
    get_help_option = getattr(command, "get_help_option", None)
    if get_help_option is not None and not getattr(command, "_kg_deferred_help", False):

        def deferred_help_option(ctx: Any) -> Any:
            option = get_help_option(ctx)
            if option is not None:
                _defer(option)
            return option

        command.get_help_option = deferred_help_option
        command._kg_deferred_help = True
    for sub in getattr(command, "commands", {}).values():
        defer_coercion(sub)
    return command
