from __future__ import annotations

from kgents_assets.hub.models import CallRef
from kgents_assets.hub.resolution import CallerContext, Symbol, SymbolTable, resolve_call

TABLE = SymbolTable(
    [
        Symbol("m1", "helper", "app.util.helper", "function", "app.util"),
        Symbol("m2", "save", "app.models.Model.save", "method", "app.models"),
        Symbol("m3", "run", "app.main.run", "function", "app.main"),
        Symbol("m4", "Model", "app.models.Model", "class", "app.models"),
        Symbol("m5", "clean", "app.models.Model.clean", "method", "app.models"),
        Symbol("m6", "util", "app.util", "module", "app.util"),
        *[Symbol(f"c{i}", "common", f"app.m{i}.common", "function", f"app.m{i}") for i in range(5)],
    ]
)


def resolve(name: str, qualifier: str | None = None, **ctx: object) -> list[tuple[str, float]]:
    context = CallerContext(
        node_id="caller",
        module=str(ctx.get("module", "app.main")),
        class_qualname=ctx.get("cls"),  # type: ignore[arg-type]
        imports=ctx.get("imports", {}),  # type: ignore[arg-type]
    )
    ref = CallRef(name=name, qualifier=qualifier)
    return [(s.node_id, c) for s, c in resolve_call(ref, context, TABLE)]


def test_same_module_and_imported_names_are_near_certain() -> None:
    assert resolve("run") == [("m3", 1.0)]
    assert resolve("h", imports={"h": "app.util.helper"}) == [("m1", 0.95)]
    assert resolve("Model", imports={"Model": "app.models.Model"}) == [("m4", 0.95)]
    assert resolve("helper", "util", imports={"util": "app.util"}) == [("m1", 0.9)]


def test_self_calls_resolve_within_the_class() -> None:
    assert resolve("clean", "self", module="app.models", cls="Model") == [("m5", 0.9)]


def test_guesses_are_weak_and_ambiguity_is_not_guessed() -> None:
    assert resolve("helper") == [("m1", 0.5)]  # not imported: a name-only guess
    assert resolve("save", "obj") == [("m2", 0.3)]
    assert resolve("common") == []  # five definitions: no guess
    assert resolve("dumps", imports={"dumps": "json.dumps"}) == []  # outside the repo
