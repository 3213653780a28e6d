"""A node's "before" (hub_nodes.state_source, the diff bundle's old source) is stored NULL
while it equals the source: a new node gets no copy of its source. It must still be the
source the node's state was derived from whenever stage 2 diffs: across edits, across
stage 1 runs without a stage 2 between, on the first-build paths and the general ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.hub import diff_bundle
from kgents_assets.hub import refresh_files as refresh_files_mod
from kgents_assets.hub import refresh_states as refresh_states_mod
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

REPO = "shop"
V1 = "def rate(x):\n    return x * 2\n"
V2 = "def rate(x):\n    return x * 3\n"
V3 = "def rate(x):\n    if x:\n        return x * 4\n    return 0\n"
#: a function of the edited file that the edits leave alone
KEEP = "\n\ndef keep():\n    return 1\n"
FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": V1 + KEEP,
    "shop/cart.py": "from shop.pricing import rate\n\n\ndef total(x):\n    return rate(x)\n",
}


def _sources(store: Store) -> dict[str, tuple[str, str | None]]:
    """qualname -> (source, state_source as stored) of the repository's functions."""
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT qualname, source, state_source FROM hub_nodes "
            "WHERE repo = %s AND kind = 'function'",
            (REPO,),
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.mark.parametrize("first_build_paths", [True, False], ids=["first-build", "general"])
def test_the_before_is_the_source_the_state_was_derived_from(
    store: Store,
    repo: Callable[[Files], Path],
    monkeypatch: pytest.MonkeyPatch,
    first_build_paths: bool,
) -> None:
    if not first_build_paths:
        monkeypatch.setattr(refresh_files_mod, "takes_first_build_paths", lambda index: False)
        monkeypatch.setattr(refresh_states_mod, "is_first_build", lambda conn, repo: False)
    root = repo(FILES)
    add_repository(store, REPO, str(root))
    refresh_repository(store, root, repo=REPO)
    # a new node stores no copy of its source
    assert {q: s for q, (_, s) in _sources(store).items()} == dict.fromkeys(
        ("rate", "keep", "total")
    )

    # two edits, stage 1 only after each: the before stays the source stage 2 last saw
    (root / "shop/pricing.py").write_text(V2 + KEEP)
    refresh_files(store, root, repo=REPO, workers=1)
    assert _sources(store)["rate"] == (V2.rstrip("\n"), V1.rstrip("\n"))
    (root / "shop/pricing.py").write_text(V3 + KEEP)
    refresh_files(store, root, repo=REPO, workers=1)
    assert _sources(store)["rate"] == (V3.rstrip("\n"), V1.rstrip("\n"))
    # unchanged nodes keep no copy, in another file or in the edited one
    assert _sources(store)["total"][1] is None and _sources(store)["keep"][1] is None

    seen: dict[str, tuple[str | None, str]] = {}
    real = diff_bundle.build_diff_bundle

    def spy(old: Any, old_source: str | None, new: Any, new_source: str) -> Any:
        seen[new.qualname] = (old_source, new_source)
        return real(old, old_source, new, new_source)

    monkeypatch.setattr(refresh_states_mod, "build_diff_bundle", spy)
    report = refresh_states(store, repo=REPO)
    assert report.nodes_processed >= 1
    assert seen["rate"] == (V1.rstrip("\n"), V3.rstrip("\n"))
    # diffed: the before moves on to the source the new state was derived from
    source, before = _sources(store)["rate"]
    assert before in (None, source) and source == V3.rstrip("\n")
