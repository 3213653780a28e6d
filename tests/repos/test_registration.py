"""``kg hub --once PATH`` registers the path: a name stays with its checkout, a name whose
checkout has gone from this machine follows the new one (moved, or cloned afresh), and a
path another machine registered is never taken over."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.repos.registration import register_local_path
from kgents_assets.repos.registry import RepositoryConflict, get_repository, list_repositories
from kgents_assets.store import Store
from tests.repo_helpers import Files, write_files

FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return rate(item) * 2\n\n\ndef rate(item):\n    return 1\n",
}


def _checkout(parent: Path) -> Path:
    root = parent / "shop"
    root.mkdir(parents=True)
    write_files(root, FILES)
    return root


def _markdown(root: Path) -> dict[Path, bytes]:
    nodes = root / NODES_DIR
    return {p.relative_to(nodes): p.read_bytes() for p in nodes.rglob("*.md")}


def test_a_name_whose_checkout_is_gone_follows_the_new_clone(store: Store, tmp_path: Path) -> None:
    first = _checkout(tmp_path / "a")
    registered = register_local_path(store, first)
    assert (registered.name, registered.location) == ("shop", str(first))
    refresh_repository(store, first, repo="shop", workers=1)
    markdown = _markdown(first)
    with store.connect() as conn:
        nodes = conn.execute("SELECT count(*) FROM hub_nodes WHERE repo = 'shop'").fetchone()

    shutil.rmtree(first.parent)
    second = _checkout(tmp_path / "b")
    said: list[str] = []
    moved = register_local_path(store, second, notify=said.append)

    assert (moved.name, moved.location) == ("shop", str(second))
    assert said == [
        f"repository 'shop' was at {first}, which no longer exists; it now follows {second}"
    ]
    assert [r.name for r in list_repositories(store)] == ["shop"]  # moved, not duplicated
    with store.connect() as conn:  # the index came along: nothing to parse again
        assert (
            conn.execute("SELECT count(*) FROM hub_nodes WHERE repo = 'shop'").fetchone() == nodes
        )
    report = refresh_repository(store, second, repo="shop", workers=1)
    assert report.files.files_parsed == 0
    assert _markdown(second) == markdown  # the new clone has its markdown all the same
    # and it stays put: registering the new path again says nothing
    assert register_local_path(store, second, notify=said.append).location == str(second)
    assert len(said) == 1


def test_a_name_whose_checkout_still_exists_is_refused_naming_both(
    store: Store, tmp_path: Path
) -> None:
    first = _checkout(tmp_path / "a")
    register_local_path(store, first)
    second = _checkout(tmp_path / "b")
    with pytest.raises(RepositoryConflict) as refused:
        register_local_path(store, second)
    assert str(refused.value) == (
        f"repository name 'shop' is already used by {first}; {second} needs another name "
        "(choose one with --name)"
    )
    assert get_repository(store, "shop").location == str(first)


def test_a_path_registered_by_another_machine_is_not_taken_over(
    store: Store, tmp_path: Path
) -> None:
    # a store shared by two machines: the other's path is missing here, not gone
    first = _checkout(tmp_path / "a")
    register_local_path(store, first)
    with store.transaction() as conn:
        conn.execute("UPDATE repositories SET host = 'laptop-of-someone-else'")
    shutil.rmtree(first.parent)
    second = _checkout(tmp_path / "b")
    with pytest.raises(RepositoryConflict, match="already used by"):
        register_local_path(store, second, notify=pytest.fail)
    assert get_repository(store, "shop").location == str(first)
