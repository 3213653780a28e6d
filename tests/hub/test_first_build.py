"""A first build's own paths (streamed states, markdown swapped in whole) give exactly what
the general incremental paths give: nodes, edges, states, traces, marks, markdown bytes."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kgents_assets.hub import markdown_swap, states_first_build
from kgents_assets.hub import refresh_files as refresh_files_mod
from kgents_assets.hub import refresh_states as refresh_states_mod
from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.refresh_files import refresh_files
from kgents_assets.hub.refresh_markdown import refresh_markdown
from kgents_assets.hub.refresh_states import refresh_states
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.hub.test_refresh import BASE
from tests.repo_helpers import Files, snapshot, write_files

REPO = "shop"

#: BASE plus what takes the rarer branches: a syntax error, same-named twins (ordinals),
#: a package, nested functions, methods calling through self, many callers of one name.
EXTRA: Files = {
    "bad/syntax.py": "def ok():\n    return 1\n\ndef broken(:\n    pass\n",
    "bad/blob.py": b"\x00\x01binary\x00",
    "shop/twins.py": "import sys\nif sys.version_info > (3,):\n    def f():\n        return 1\n"
    "else:\n    def f():\n        return 2\n\n\ndef outer():\n    def inner():\n"
    "        return f()\n    return inner()\n",
    "shop/models.py": "class Model:\n    def save(self):\n        return self.clean()\n\n"
    "    def clean(self):\n        return 1\n",
    **{
        f"shop/users{i}.py": f"from shop.models import Model\n\n\ndef use{i}(m):\n"
        f"    m.save()\n    return Model().clean()\n"
        for i in range(60)
    },
    "tests/test_models.py": "from shop.models import Model\n\n\ndef test_save():\n"
    "    Model().save()\n\n\nclass TestModel:\n    def test_clean(self):\n        pass\n",
}


def _everything(store: Store, root: Path) -> dict[str, Any]:
    """snapshot() plus the traces (signals and decisions by node) and the marks left."""
    snap = snapshot(store, root, REPO)
    with store.connect() as conn:
        snap["traces"] = sorted(
            (r[0], str(r[1]), str(r[2]))
            for r in conn.execute(
                "SELECT node_id, signals, decisions FROM hub_traces WHERE repo = %s", (REPO,)
            )
        )
        # readers list a run's nodes in trace id order (traces.nodes_of_run)
        snap["trace_order"] = conn.execute(
            "SELECT node_id, run_id, backend FROM hub_traces WHERE repo = %s ORDER BY id",
            (REPO,),
        ).fetchall()
        snap["marks"] = sorted(
            conn.execute(
                "SELECT node_id, stage, reason FROM hub_dirty WHERE repo = %s", (REPO,)
            ).fetchall()
        )
        # as readers see them: a NULL "before" is the source (tests/hub/test_state_source)
        snap["sources"] = sorted(
            conn.execute(
                "SELECT node_id, source, coalesce(state_source, source) FROM hub_nodes "
                "WHERE repo = %s",
                (REPO,),
            ).fetchall()
        )
    return snap


def _build(store: Store, root: Path, samples: list[str] | None = None) -> tuple[bool, bool]:
    """Stage 1 twice with an edit between (so a node's "before" differs from its source
    while no state exists yet), then stages 2 and 3. Returns which first-build paths ran
    (and puts the markdown report's sample paths in ``samples``)."""
    add_repository(store, REPO, str(root))
    refresh_files(store, root, repo=REPO, workers=1)
    (root / "shop/pricing.py").write_text(
        (root / "shop/pricing.py").read_text().replace("return 1.2", "return 1.25")
    )
    refresh_files(store, root, repo=REPO, workers=1)
    with store.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM hub_nodes WHERE coalesce(state_source, source) <> source"
        ).fetchone()
    assert row is not None and row[0] > 0  # the diff bundle's "before" branch is taken
    states = refresh_states(store, repo=REPO)
    markdown = refresh_markdown(store, root, repo=REPO)
    assert states.nodes_processed > 60 and markdown.written == states.states_added
    if samples is not None:
        samples += markdown.sample_paths
    return states.first_build, markdown.swapped


@pytest.mark.parametrize("batch", [None, 7], ids=["one-batch", "streamed-in-batches-of-7"])
def test_first_build_paths_equal_the_general_paths(
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch: int | None,
) -> None:
    root = repo({**BASE, **EXTRA})
    other_root = tmp_path / "general"
    shutil.copytree(root, other_root)

    if batch is not None:
        # many server-side cursor fetches, with COPYs and queries between them
        monkeypatch.setattr(states_first_build, "BATCH", batch)
        monkeypatch.setattr(markdown_swap, "BATCH", batch)
    monkeypatch.setattr(markdown_swap, "SWAP_THRESHOLD", 1)
    first_samples: list[str] = []
    assert _build(store, root, first_samples) == (True, True)
    first = _everything(store, root)

    monkeypatch.setattr(markdown_swap, "SWAP_THRESHOLD", 10**9)
    monkeypatch.setattr(refresh_states_mod, "is_first_build", lambda conn, repo: False)
    monkeypatch.setattr(refresh_files_mod, "takes_first_build_paths", lambda index: False)
    general_store = fresh_store()
    general_samples: list[str] = []
    assert _build(general_store, other_root, general_samples) == (False, False)
    general = _everything(general_store, other_root)
    assert first_samples == general_samples and len(first_samples) == 5

    assert first["pending"] == general["pending"] == 0
    for part in ("nodes", "edges", "states", "markdown", "traces", "trace_order", "marks",
                 "sources"):  # fmt: skip
        assert first[part] == general[part], part
    # the markdown files are the same bytes (timestamps aside) and nothing else is there
    assert len(first["markdown"]) == len(first["states"])
    assert not list((root / ".agentfs").glob(".nodes-*"))


def test_a_cold_build_equals_an_incremental_sequence(
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same files built cold (first-build paths) and built by an incremental sequence
    (general paths: each step finds stored states) give the same model."""
    monkeypatch.setattr(markdown_swap, "SWAP_THRESHOLD", 1)
    files = {**BASE, **EXTRA}
    names = sorted(files)
    root = repo({k: files[k] for k in names[: len(names) // 3]})
    first = refresh_repository(store, root, repo=REPO, workers=1)
    assert first.states.first_build and first.markdown.swapped
    steps = [names[len(names) // 3 : 2 * len(names) // 3], names[2 * len(names) // 3 :]]
    for step in steps:
        write_files(root, {k: files[k] for k in step})
        later = refresh_repository(store, root, repo=REPO, workers=1)
        assert not later.states.first_build and not later.markdown.swapped
    (root / "shop/cart.py").write_text(
        (root / "shop/cart.py").read_text() + "\n\ndef x():\n    pass\n"
    )
    refresh_repository(store, root, repo=REPO, changed_paths=["shop/cart.py"], workers=1)

    cold_root = tmp_path / "cold"
    shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
    cold_store = fresh_store()
    cold = refresh_repository(cold_store, cold_root, repo=REPO, workers=1)
    assert cold.states.first_build and cold.markdown.swapped
    a, b = snapshot(store, root, REPO), snapshot(cold_store, cold_root, REPO)
    assert a["pending"] == b["pending"] == 0
    for part in ("nodes", "edges", "states", "markdown"):
        assert a[part] == b[part], part


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kgents_assets.hub import markdown_swap
    from kgents_assets.hub.refresh import refresh_repository
    from kgents_assets.store import Store
    markdown_swap.SWAP_THRESHOLD = 1
    print("started", flush=True)
    refresh_repository(Store(url=sys.argv[1]), Path(sys.argv[2]), repo="shop", workers=1)
""")


@pytest.mark.slow
def test_a_first_build_killed_while_writing_markdown_shows_no_partial_tree(
    store: Store, fresh_store: Callable[[], Store], repo: Callable[[Files], Path], tmp_path: Path
) -> None:
    files = dict(BASE)
    files.update(
        {
            f"gen/mod{i}.py": "\n\n".join(
                f"def g{i}_{j}(x):\n    return g{i}_{(j + 1) % 40}(x) if x else None"
                for j in range(40)
            )
            for i in range(40)
        }
    )
    root = repo(files)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, store.url, str(root)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
    deadline = time.monotonic() + 300
    agentfs = root / NODES_DIR.parent
    # kill as soon as the staging directory holds some markdown
    while not (agentfs.exists() and any(agentfs.glob(".nodes-*.tmp/**/*.md"))):
        assert proc.poll() is None, "the run ended before writing any markdown"
        assert time.monotonic() < deadline, "no markdown written in 300 s"
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before the kill"
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    # what a reader sees: no nodes directory at all, never part of one; work still pending
    assert not (root / NODES_DIR).exists()
    assert snapshot(store, root, REPO)["pending"] > 0

    again = refresh_repository(store, root, repo=REPO, workers=1)
    assert again.markdown.written > 1600
    assert not list(agentfs.glob(".nodes-*"))  # the killed run's staging is swept
    cold_root = tmp_path / "cold"
    shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
    cold = fresh_store()
    refresh_repository(cold, cold_root, repo=REPO, workers=1)
    a, b = snapshot(store, root, REPO), snapshot(cold, cold_root, REPO)
    assert a["pending"] == 0
    for part in ("nodes", "edges", "states", "markdown"):
        assert a[part] == b[part], part


def test_twins_resolve_to_the_first_definition_in_any_load_order() -> None:
    """A property and its setter share a full name: which one ``self.x()`` means must not
    depend on the order rows came out of storage (it differs between cold and incremental
    builds, and a cold Django build resolved differently from the general path)."""
    from kgents_assets.hub.models import CallRef
    from kgents_assets.hub.resolution import CallerContext, Symbol, SymbolTable, resolve_call

    twins = [
        Symbol("r:b", "x", "m.C.x", "method", "m", ordinal=1),
        Symbol("r:a", "x", "m.C.x", "method", "m", ordinal=0),
        Symbol("r:m", "m", "m", "module", "m"),
    ]
    ctx = CallerContext("r:caller", "m", "C", {})
    ref = CallRef(name="x", qualifier="self")
    for order in (twins, twins[::-1], [twins[2], twins[0], twins[1]]):
        assert resolve_call(ref, ctx, SymbolTable(order))[0][0].node_id == "r:a"
