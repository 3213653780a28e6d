"""A popular method keeps its strongest callers and the count of all of them."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from kgents_assets.hub.models import NodeState
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_states import CALLERS_CAP
from kgents_assets.store import Store
from tests.repo_helpers import Files, snapshot

REPO = "shop"
GUESSED = CALLERS_CAP + 15


def _callers(guessed: int) -> str:
    return "\n\n".join(f"def caller_{i:03}(obj):\n    obj.save()\n" for i in range(guessed))


def _files(guessed: int) -> Files:
    return {
        "shop/__init__.py": "",
        "shop/ledger.py": """
            class Ledger:
                def save(self):
                    return 1

                def save_twice(self):
                    self.save()
                    return self.save()
            """,
        "shop/callers.py": _callers(guessed),
    }


def _save_state(store: Store) -> NodeState:
    with store.connect() as conn:
        rows = conn.execute("SELECT value FROM kv WHERE key LIKE 'node:%%:state'").fetchall()
    states = [NodeState.model_validate(r[0]) for r in rows]
    return next(s for s in states if s.qualname == "Ledger.save")


def test_a_popular_method_keeps_the_strongest_callers_and_counts_the_rest(
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    tmp_path: Path,
) -> None:
    root = repo(_files(GUESSED))
    refresh_repository(store, root, repo=REPO, workers=1)
    state = _save_state(store)
    assert state.callers_total == state.caller_count == GUESSED + 1
    assert len(state.callers) == CALLERS_CAP
    names = [e.full_name for e in state.callers]
    assert names == sorted(names)  # shown by name, as uncapped lists are
    # the method's own class calls it for sure: that caller is never cut for a guess
    strongest = max(e.confidence for e in state.callers)
    assert "shop.ledger.Ledger.save_twice" in names
    assert {e.confidence for e in state.callers if e.full_name.endswith("save_twice")} == {
        strongest
    }
    md = (root / state.markdown_path).read_text()
    assert md.count("- `shop.callers.caller_") == CALLERS_CAP - 1
    omitted = GUESSED + 1 - CALLERS_CAP
    assert f"…and {omitted} more (the {CALLERS_CAP} most confident shown)" in md
    assert f"Called by {GUESSED + 1}," in state.summary

    # fewer callers than the cap: the full list and no "more" line, and incremental ==
    # cold in both directions of crossing the cap
    (root / "shop/callers.py").write_text(_callers(10))
    refresh_repository(store, root, repo=REPO, workers=1)
    state = _save_state(store)
    assert state.callers_total == len(state.callers) == 11
    assert "more (the" not in (root / state.markdown_path).read_text()
    (root / "shop/callers.py").write_text(_callers(GUESSED + 5))
    refresh_repository(store, root, repo=REPO, workers=1)
    assert _save_state(store).callers_total == GUESSED + 6

    cold_root = tmp_path / "cold"
    shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
    cold = fresh_store()
    refresh_repository(cold, cold_root, repo=REPO, workers=1)
    incremental_snap, cold_snap = snapshot(store, root), snapshot(cold, cold_root)
    assert incremental_snap["states"] == cold_snap["states"]
    assert incremental_snap["markdown"] == cold_snap["markdown"]


def test_a_state_stored_before_the_cap_loads_and_counts_its_callers() -> None:
    old = {
        "node_id": "shop:0123456789abcdef0123",
        "kind": "function",
        "name": "f",
        "qualname": "f",
        "full_name": "m.f",
        "file_path": "m.py",
        "language": "python",
        "start_line": 1,
        "end_line": 2,
        "source_hash": "x",
        "signature": "def f()",
        "callers": [{"node_id": "shop:1", "full_name": "m.g", "confidence": 1.0}],
    }
    state = NodeState.model_validate(old)
    assert state.callers_total is None and state.caller_count == 1
