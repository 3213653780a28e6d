"""Sub-command groups imported only when they run; ``kg --help`` lists them unimported.

Importing every group to print one line of help each used to cost ``kg --help`` the
catalog's numpy and psycopg, Dagster and tree-sitter: seconds, for a help page. So the
listing reads each group's help straight from its source (``ast``, a few ms per module),
and a group's module is imported only when a command of it runs.

A registry entry is ``"module:attribute"``. The attribute is a ``typer.Typer`` (a group)
or a plain function (a single command); when it is missing, a function named like the
group is used instead, so a module may turn its command into a group (``hub`` ->
``hub_app``) without the registry and the module having to change in one step.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import typer
from typer.core import TyperCommand, TyperGroup

from kgents_assets.cli._deferred_params import defer_coercion

#: ctx.meta key set while a help page is being written
_LISTING = "kgents.cli.listing"
_COMPLETION_OPTIONS = {"install_completion", "show_completion"}


def load_command(name: str, target: str) -> Any:
    """Import ``target`` ("module:attribute") and build the click command named ``name``."""
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, attribute, None)
    if obj is None:
        obj = getattr(module, name, None)
    if isinstance(obj, typer.Typer):
        command = typer.main.get_command(obj)
    elif callable(obj):
        single = typer.Typer()
        single.command(name)(obj)
        command = typer.main.get_command(single)
    else:
        raise RuntimeError(f"kg {name}: {module_name} has neither {attribute} nor {name}")
    command.name = name
    # typer gives every app it builds the shell-completion options; they belong to `kg`
    command.params = [p for p in command.params if p.name not in _COMPLETION_OPTIONS]
    return defer_coercion(command)


def _literal(node: ast.expr) -> str | None:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def _help_keyword(node: ast.stmt, attribute: str) -> str | None:
    """``help="..."`` of ``attribute = Call(..., help=...)``, if ``node`` is that statement."""
    if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if any(isinstance(t, ast.Name) and t.id == attribute for t in targets):
            for keyword in node.value.keywords:
                if keyword.arg == "help" and (text := _literal(keyword.value)):
                    return text
    return None


def _assigned_help(source: str, attribute: str) -> str | None:
    """The help of ``attribute = typer.Typer(help=...)`` from that statement alone.

    Parsing a whole module costs a few ms; ``kg --help`` would pay it once per group. The
    statement starts at a line beginning with the name and ends before the next line that
    starts in column 0 (other than its closing bracket); anything unexpected returns None
    and the caller parses the module.
    """
    match = re.search(rf"^{re.escape(attribute)}\s*(?::[^=\n]*)?=[^=]", source, re.MULTILINE)
    if match is None:
        return None
    lines = source[match.start() :].splitlines(keepends=True)
    end = next(
        (i for i in range(1, len(lines)) if lines[i][:1] not in (" ", "\t", "\n", ")", "]", "#")),
        len(lines),
    )
    try:
        tree = ast.parse("".join(lines[:end]))
    except SyntaxError:
        return None
    return _help_keyword(tree.body[0], attribute) if tree.body else None


def static_help(name: str, target: str) -> str:
    """The help text ``load_command`` would show, read from the module's source."""
    module_name, _, attribute = target.partition(":")
    try:
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.origin is None:
            return ""
        source = Path(spec.origin).read_text(encoding="utf-8")
        if (text := _assigned_help(source, attribute)) is not None:
            return text
        tree = ast.parse(source)
    except (ImportError, OSError, SyntaxError, ValueError):
        return ""
    functions: dict[str, str] = {}
    for node in tree.body:
        if (text := _help_keyword(node, attribute)) is not None:
            return text
        if isinstance(node, ast.FunctionDef):
            functions[node.name] = ast.get_docstring(node) or ""
    return functions.get(attribute) or functions.get(name) or ast.get_docstring(tree) or ""


class LazyGroup(TyperGroup):
    """A Typer group whose sub-groups come from ``registry`` (name -> "module:attribute")."""

    registry: ClassVar[Mapping[str, str]] = {}

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # its own options (Typer adds the shell-completion ones after __init__) are parsed
        # on every call
        defer_coercion(self)
        return list(super().parse_args(ctx, args))

    # ctx is typer's vendored click Context; typed loosely to stay out of its internals
    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.registry})

    def format_help(self, ctx: Any, formatter: Any) -> None:
        ctx.meta[_LISTING] = True
        try:
            super().format_help(ctx, formatter)
        finally:
            ctx.meta.pop(_LISTING, None)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        target = self.registry.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        if ctx.meta.get(_LISTING):
            # one line each, as a loaded command's help is listed
            return TyperCommand(name=cmd_name, help=" ".join(static_help(cmd_name, target).split()))
        return load_command(cmd_name, target)
