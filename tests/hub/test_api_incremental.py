"""The API detection that rebuilds only what moved gives what the full comparison gives:
over random sequences of edits (functions added, removed, renamed, re-signed, re-bodied;
``__all__`` changed; names re-exported by a package, star imports, modules added and
deleted) the snapshot equals the full public API after every refresh and the changes equal
the diff of the full surfaces before and after; a one-file edit rebuilds that file only."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kgents_assets.hub import api_surface
from kgents_assets.hub.api_incremental import (
    _load_state,
    changed_files,
    detect_api_changes,
    file_fingerprints,
)
from kgents_assets.hub.api_surface import (
    ApiChange,
    ApiSymbol,
    diff_surfaces,
    load_snapshot,
    public_api,
    re_exports,
)
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "lib"


@dataclass
class Module:
    functions: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> params, body
    methods: dict[str, str] = field(default_factory=dict)  # of class Box: name -> params
    all: list[str] | None = None

    def render(self) -> str:
        out = [f"__all__ = {self.all!r}\n"] if self.all is not None else []
        for name, (params, body) in self.functions.items():
            out.append(f"def {name}({params}):\n    return {body}\n")
        if self.methods:
            out.append("class Box:\n")
            out += [f"    def {m}(self, {p}):\n        return 1\n" for m, p in self.methods.items()]
        return "\n\n".join(out) or "\n"


@dataclass
class Model:
    """The package as data; each edit changes it, ``files`` renders it."""

    rng: random.Random
    modules: dict[str, Module] = field(default_factory=dict)  # "lib/a.py" -> module
    reexports: set[tuple[str, str]] = field(default_factory=set)  # lib/__init__: (mod, name)
    stars: set[str] = field(default_factory=set)  # lib/sub/__init__: ``from .x import *``
    counter: int = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def files(self) -> Files:
        out: Files = {path: m.render() for path, m in self.modules.items()}
        imports = sorted(f"from {mod} import {name}\n" for mod, name in self.reexports)
        out["lib/__init__.py"] = "".join(imports) or "\n"
        out["lib/sub/__init__.py"] = "".join(sorted(f"from .{s} import *\n" for s in self.stars))
        return out

    def module_with_functions(self) -> Module | None:
        candidates = [m for m in self.modules.values() if m.functions]
        return self.rng.choice(candidates) if candidates else None

    # --- edits: each returns the paths it touched
    def add_function(self) -> None:
        module = self.rng.choice(list(self.modules.values()))
        name = self.fresh(self.rng.choice(["f", "_p"]))
        module.functions[name] = (self.rng.choice(["", "x", "x, y=1"]), str(self.counter))

    def remove_function(self) -> None:
        if (module := self.module_with_functions()) is not None:
            del module.functions[self.rng.choice(list(module.functions))]

    def rename_function(self) -> None:
        if (module := self.module_with_functions()) is not None:
            old = self.rng.choice(list(module.functions))
            module.functions[self.fresh("r")] = module.functions.pop(old)

    def resign_function(self) -> None:
        if (module := self.module_with_functions()) is not None:
            name = self.rng.choice(list(module.functions))
            params, body = module.functions[name]
            module.functions[name] = (params + (", " if params else "") + self.fresh("z"), body)

    def rebody_function(self) -> None:
        if (module := self.module_with_functions()) is not None:
            name = self.rng.choice(list(module.functions))
            module.functions[name] = (module.functions[name][0], self.fresh("1 + "))

    def change_all(self) -> None:
        module = self.rng.choice(list(self.modules.values()))
        names = list(module.functions)
        if module.all is None or self.rng.random() < 0.3:
            module.all = self.rng.sample(names, k=len(names) // 2) if names else []
        elif self.rng.random() < 0.3:
            module.all = None
        else:
            module.all = sorted(set(module.all) ^ {self.rng.choice(names or ["ghost"])})

    def change_method(self) -> None:
        module = self.rng.choice(list(self.modules.values()))
        if module.methods and self.rng.random() < 0.5:
            del module.methods[self.rng.choice(list(module.methods))]
        else:
            module.methods[self.fresh("m")] = "a"

    def reexport(self) -> None:
        if self.reexports and self.rng.random() < 0.4:
            self.reexports.discard(self.rng.choice(sorted(self.reexports)))
            return
        path = self.rng.choice(sorted(self.modules))
        if self.modules[path].functions:
            name = self.rng.choice(list(self.modules[path].functions))
            self.reexports.add((path[:-3].replace("/", "."), name))

    def star(self) -> None:
        subs = sorted(p.split("/")[-1][:-3] for p in self.modules if p.startswith("lib/sub/"))
        self.stars ^= {self.rng.choice(subs)}

    def add_module(self) -> None:
        folder = self.rng.choice(["lib", "lib/sub"])
        self.modules[f"{folder}/{self.fresh('mod')}.py"] = Module({"g0": ("x", "0")})

    def delete_module(self) -> None:
        removable = [p for p in self.modules if p not in ("lib/a.py", "lib/sub/c.py")]
        if removable:
            gone = self.rng.choice(removable)
            del self.modules[gone]
            module = gone[:-3].replace("/", ".")
            self.reexports = {(m, n) for m, n in self.reexports if m != module}
            self.stars.discard(gone.split("/")[-1][:-3])

    EDITS = (
        "add_function", "remove_function", "rename_function", "resign_function",
        "rebody_function", "change_all", "change_method", "reexport", "star", "add_module",
        "delete_module",
    )  # fmt: skip


def start_model(rng: random.Random) -> Model:
    model = Model(rng)
    model.modules = {
        "lib/a.py": Module({"alpha": ("x", "1"), "beta": ("y", "2")}, all=["alpha"]),
        "lib/b.py": Module({"util": ("a, b", "3")}, {"open": "a", "close": "a, force"}),
        "lib/sub/c.py": Module({"gamma": ("", "4"), "delta": ("d", "5")}, all=["gamma"]),
        "lib/sub/e.py": Module({"eps": ("e", "6"), "_hidden": ("", "7")}),
    }
    model.reexports = {("lib.a", "beta")}
    model.stars = {"c"}
    return model


def write(root: Path, files: Files) -> None:
    """The package on disk exactly as ``files`` says: files it no longer lists deleted."""
    for path in (root / "lib").rglob("*.py"):
        if path.relative_to(root).as_posix() not in files:
            path.unlink()
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() or target.read_text() != text:
            target.write_text(str(text))


def change_key(change: ApiChange) -> tuple[str, ApiSymbol, ApiSymbol | None]:
    return change.kind, change.old, change.new


def refresh_and_detect(store: Store, root: Path) -> tuple[set[str], list[ApiChange]]:
    """Refresh, then detect; returns (the files the detection rebuilt, the changes)."""
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        state = _load_state(conn, REPO)
        assert state is not None
        rebuilt = changed_files(state, file_fingerprints(conn, REPO), re_exports(conn, REPO, root))
        detection = detect_api_changes(conn, REPO, root)
    assert not detection.baseline
    return rebuilt, detection.changes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_edits_give_the_full_comparisons_result(
    store: Store, repo: Callable[[Files], Path], seed: int
) -> None:
    rng = random.Random(seed)
    model = start_model(rng)
    root = repo(model.files())
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        assert detect_api_changes(conn, REPO, root).baseline
        before = public_api(conn, REPO, root)
    seen_kinds: set[str] = set()
    for step in range(14):
        for _ in range(rng.choice([1, 1, 2])):
            getattr(model, rng.choice(Model.EDITS))()
        write(root, model.files())
        rebuilt, changes = refresh_and_detect(store, root)
        with store.connect() as conn:
            now = public_api(conn, REPO, root)
            # the snapshot is the full surface now, and the changes are the full diff
            assert load_snapshot(conn, REPO) == now, f"seed {seed} step {step}"
        expected = diff_surfaces(before, now)
        assert sorted(map(change_key, changes), key=repr) == sorted(
            map(change_key, expected), key=repr
        ), f"seed {seed} step {step}"
        # whatever moved was among the files rebuilt
        moved = {s.file_path for s in before.values() if now.get(s.node_id) != s}
        moved |= {s.file_path for s in now.values() if before.get(s.node_id) != s}
        assert moved <= rebuilt, f"seed {seed} step {step}: {moved - rebuilt} not rebuilt"
        seen_kinds.update(c.kind for c in changes)
        before = now
    assert seen_kinds  # the edits did change the API


def test_a_one_file_edit_rebuilds_that_file_only(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    model = start_model(random.Random(0))
    root = repo(model.files())
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        detect_api_changes(conn, REPO, root)
    model.modules["lib/b.py"].functions["added"] = ("x", "9")
    write(root, model.files())
    rebuilt, changes = refresh_and_detect(store, root)
    assert rebuilt == {"lib/b.py"}
    assert changes == []
    with store.connect() as conn:
        assert "lib.b.added" in {s.full_name for s in load_snapshot(conn, REPO).values()}  # type: ignore[union-attr]

    # a name the package now re-exports: the file that defines it is rebuilt too
    model.reexports.add(("lib.sub.e", "eps"))
    write(root, model.files())
    rebuilt, _ = refresh_and_detect(store, root)
    assert rebuilt == {"lib/__init__.py", "lib/sub/e.py"}


def test_a_snapshot_written_by_the_full_comparison_is_not_trusted(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    """Other code (an older kg) saving the snapshot leaves the state stale: the next
    detection compares everything, and is right."""
    model = start_model(random.Random(0))
    root = repo(model.files())
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        detect_api_changes(conn, REPO, root)
    del model.modules["lib/b.py"].functions["util"]
    write(root, model.files())
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        (removed,) = api_surface.detect_api_changes(conn, REPO, root).changes
    assert (removed.kind, removed.old.full_name) == ("removed", "lib.b.util")
    model.modules["lib/a.py"].functions["alpha"] = ("x, y", "1")
    write(root, model.files())
    refresh_repository(store, root, repo=REPO)
    with store.transaction() as conn:
        changes = detect_api_changes(conn, REPO, root).changes
        assert load_snapshot(conn, REPO) == public_api(conn, REPO, root)
    assert [(c.kind, c.old.full_name) for c in changes] == [("signature_changed", "lib.a.alpha")]
