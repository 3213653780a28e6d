"""The incremental refresh against real PostgreSQL and real files."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub import file_reads
from kgents_assets.hub import refresh_files as refresh_files_mod
from kgents_assets.hub.models import NodeState
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files, snapshot, write_files

REPO = "shop"

BASE: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": '''
        """Prices."""


        def price(item):
            """Unit price of an item."""
            return item.cost * rate(item)


        def rate(item):
            return 1.2 if item.taxed else 1.0
        ''',
    "shop/cart.py": """
        from shop.pricing import price


        class Cart:
            def __init__(self):
                self.items = []

            def total(self):
                return sum(price(i) for i in self.items)

            def add(self, item):
                self.items.append(item)
                return self.total()
        """,
    "tests/test_pricing.py": """
        from shop.pricing import price


        def test_price():
            assert price(None) is None


        def test_rate_taxed():
            pass
        """,
    "web/app.ts": "export function hello(name: string) { return greet(name); }\nfunction greet(n: string) { return n; }\n",
}


def states(store: Store) -> dict[str, NodeState]:
    with store.connect() as conn:
        rows = conn.execute("SELECT value FROM kv WHERE key LIKE 'node:%:state'").fetchall()
    return {
        s.qualname if s.kind != "module" else s.file_path: s
        for s in (NodeState.model_validate(r[0]) for r in rows)
    }


def test_cold_build_derives_state_edges_tests_and_markdown(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(BASE)
    report = refresh_repository(store, root, repo=REPO, workers=1)
    assert report.files.files_scanned == 5 and report.files.files_parsed == 5
    by = states(store)
    price = by["price"]
    assert price.signature == "def price(item)"
    assert price.docstring_summary == "Unit price of an item."
    assert price.callees[0].full_name == "shop.pricing.rate"
    assert {e.full_name for e in price.callers} == {
        "shop.cart.Cart.total",
        "test_pricing.test_price",
    }
    assert price.related_tests == ["test_pricing.test_price"]  # called by it and named for it
    assert by["rate"].related_tests == ["test_pricing.test_rate_taxed"]  # named for it only
    assert by["rate"].complexity == 2
    assert by["Cart.add"].callees[0].full_name == "shop.cart.Cart.total"
    assert by["Cart.add"].suggested_test and "def test_add" in by["Cart.add"].suggested_test
    assert by["price"].suggested_test is None  # it has tests
    assert by["hello"].callees[0].full_name == "web.app.greet"
    assert set(price.updated) >= {"discovered", "signature", "callers", "summary"}
    md = (root / price.markdown_path).read_text()
    assert price.markdown_path == ".agentfs/nodes/shop/pricing.py/price.md"
    assert "# price" in md and "shop.cart.Cart.total" in md and "Unit price of an item." in md


def test_noop_refresh_touches_nothing(store: Store, repo: Callable[[Files], Path]) -> None:
    root = repo(BASE)
    refresh_repository(store, root, repo=REPO, workers=1)
    md = root / ".agentfs/nodes/shop/pricing.py/price.md"
    mtime = md.stat().st_mtime_ns
    again = refresh_repository(store, root, repo=REPO, workers=1)
    assert again.files.files_parsed == 0 and again.files.files_unchanged == 5
    assert again.states.nodes_processed == 0 and again.markdown.written == 0
    os.utime(root / "shop/cart.py")  # touched, content identical: hashed, not parsed
    touched = refresh_repository(store, root, repo=REPO, workers=1)
    assert touched.files.files_touched == 1 and touched.files.files_parsed == 0
    assert md.stat().st_mtime_ns == mtime


def test_one_edit_rederives_only_what_it_affects(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(BASE)
    refresh_repository(store, root, repo=REPO, workers=1)
    before = states(store)
    (root / "shop/pricing.py").write_text(
        (root / "shop/pricing.py")
        .read_text()
        .replace(
            "return 1.2 if item.taxed else 1.0",
            "if item.taxed:\n        return 1.2\n    return 1.0",
        )
    )
    report = refresh_repository(
        store, root, repo=REPO, changed_paths=["shop/pricing.py"], workers=1
    )
    assert report.files.files_parsed == 1
    assert report.files.nodes_changed == 2  # the module and rate() (price() moved lines only)
    after = states(store)
    assert after["rate"].complexity == 2 and after["rate"].end_line == before["rate"].end_line + 2
    assert after["rate"].updated["source"] > before["rate"].updated["source"]
    assert after["Cart.total"] == before["Cart.total"]  # untouched file, untouched state
    with store.connect() as conn:
        trace = conn.execute(
            "SELECT signals, decisions FROM hub_traces WHERE node_id = %s ORDER BY id DESC LIMIT 1",
            (after["rate"].node_id,),
        ).fetchone()
    assert trace is not None and "source_changed" in trace[0]
    assert {d["tool"] for d in trace[1]} >= {"extract_source_facts", "summarize"}
    assert all(d["verdict"] == "approved" for d in trace[1])


def _mutate(root: Path, rng: random.Random, step: int) -> None:
    """One random realistic edit: add/remove/rename functions, add tests, delete/add files."""
    py = sorted(p for p in root.rglob("*.py") if ".agentfs" not in p.parts)
    choice = rng.randrange(7)
    target = rng.choice(py)
    text = target.read_text()
    if choice == 0:
        target.write_text(
            text + f"\n\ndef added_{step}(x):\n    return price(x) if x else rate(x)\n"
        )
    elif choice == 1 and "def " in text:
        lines = text.splitlines()
        starts = [i for i, line in enumerate(lines) if line.startswith("def ")]
        if starts:
            i = rng.choice(starts)
            j = next(
                (k for k in range(i + 1, len(lines)) if lines[k].startswith(("def ", "class "))),
                len(lines),
            )
            target.write_text("\n".join(lines[:i] + lines[j:]) + "\n")
    elif choice == 2:
        target.write_text(text.replace("def rate(", f"def rate_{step}(", 1))
    elif choice == 3:
        write_files(
            root,
            {
                f"tests/test_gen_{step}.py": f"from shop.pricing import rate\n\n\ndef test_rate_{step}():\n    rate(None)\n"
            },
        )
    elif choice == 6 and "def " in text:
        # a signature change (the suggested-test skeleton quotes signatures)
        target.write_text(
            text.replace("(x)", f"(x, y{step}=None)", 1).replace("(item)", f"(item, z{step}=0)", 1)
        )
    elif choice == 4 and len(py) > 3:
        target.unlink()
    else:
        write_files(
            root,
            {
                f"shop/mod_{step}.py": f"from shop.cart import Cart\n\n\ndef rate(x):\n    return Cart().add(x)\n\n\nclass K{step}:\n    def total(self):\n        return self.rate()\n"
            },
        )


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_incremental_result_equals_a_cold_rebuild(
    seed: int,
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    tmp_path: Path,
) -> None:
    """After any sequence of edits, the incremental model is exactly the cold one."""
    root = repo(BASE)
    rng = random.Random(seed)
    refresh_repository(store, root, repo=REPO, workers=1)
    seen: set[str] = set()
    for step in range(12):
        before = {p.relative_to(root).as_posix() for p in root.rglob("*.py")}
        _mutate(root, rng, step)
        after = {p.relative_to(root).as_posix() for p in root.rglob("*.py")}
        seen |= before | after
        # Half the runs get a change set as a sensor would send it (every path that may
        # have changed, deleted ones included); the others detect changes themselves.
        changed = sorted(seen) if rng.random() < 0.5 else None
        refresh_repository(store, root, repo=REPO, changed_paths=changed, workers=1)
    cold_root = tmp_path / "cold"
    shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
    cold = fresh_store()
    refresh_repository(cold, cold_root, repo=REPO, workers=1)
    incremental_snap, cold_snap = snapshot(store, root), snapshot(cold, cold_root)
    assert incremental_snap["pending"] == 0
    assert incremental_snap["nodes"] == cold_snap["nodes"]
    assert incremental_snap["edges"] == cold_snap["edges"]
    assert incremental_snap["states"] == cold_snap["states"]
    assert incremental_snap["markdown"] == cold_snap["markdown"]


def test_bad_files_are_reported_and_never_stop_the_scan(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(
        {
            **BASE,
            "bad/syntax.py": "def ok():\n    return 1\n\ndef broken(:\n    pass\n",
            "bad/blob.py": b"\x00\x01\x02ELF binary \x00",
            "bad/latin1.py": b"s = '\xe9'\n",
            "bad/huge_generated.py": "x = 1\n" * 900_000,  # ~5 MB
            "bad/empty.py": "",
        }
    )
    (root / "bad/loop_a").symlink_to(root / "bad/loop_b")
    (root / "bad/loop_b").symlink_to(root / "bad/loop_a")
    (root / "bad/looped.py").symlink_to(root / "bad/looped.py")
    (root / "bad/dirloop").symlink_to(root)  # a directory cycle back to the root
    os.mkfifo(root / "bad/pipe.py")
    report = refresh_repository(store, root, repo=REPO, workers=1)
    problems = report.files.problems
    assert problems["bad/blob.py"].startswith("binary")
    assert problems["bad/latin1.py"].startswith("invalid_utf8")
    assert problems["bad/huge_generated.py"].startswith("too_large")
    assert problems["bad/looped.py"].startswith("cannot stat")
    assert problems["bad/pipe.py"] == "not a regular file"
    assert report.files.parse_errors == 1
    by = states(store)
    assert "ok" in by and "bad/empty.py" in by  # nodes of the broken file and the empty module
    assert not any(s.file_path.startswith("bad/dirloop") for s in by.values())


def test_a_file_deleted_during_the_scan_is_reported(
    store: Store, repo: Callable[[Files], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = repo(BASE)
    real_walk = refresh_files_mod.walk_source_files

    def walk_then_delete(r: Path, rules: object):  # type: ignore[no-untyped-def]
        listed = list(real_walk(r, rules))  # type: ignore[arg-type]
        (root / "shop/cart.py").unlink()  # gone between listing and reading
        return listed

    monkeypatch.setattr(refresh_files_mod, "walk_source_files", walk_then_delete)
    report = refresh_repository(store, root, repo=REPO, workers=1)
    assert report.files.problems["shop/cart.py"].startswith("vanished")
    assert "Cart.total" not in states(store)


def test_change_set_paths_outside_the_repository_are_ignored(
    store: Store, repo: Callable[[Files], Path], tmp_path: Path
) -> None:
    root = repo(BASE)
    (tmp_path / "outside.py").write_text("def secret():\n    pass\n")
    report = refresh_repository(
        store, root, repo=REPO, changed_paths=["../outside.py", "/etc/passwd"], workers=1
    )
    assert report.files.files_parsed == 0 and "secret" not in states(store)


def test_parallel_parse_gives_the_same_model(
    store: Store,
    fresh_store: Callable[[], Store],
    repo: Callable[[Files], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = dict(BASE)
    files.update(
        {f"many/m{i}.py": f"def f{i}():\n    return f{(i + 1) % 50}()\n" for i in range(50)}
    )
    root = repo(files)
    monkeypatch.setattr(file_reads, "PARALLEL_THRESHOLD", 10)
    refresh_repository(store, root, repo=REPO, workers=2)
    other = fresh_store()
    monkeypatch.setattr(file_reads, "PARALLEL_THRESHOLD", 10_000)
    refresh_repository(other, root, repo=REPO, workers=1)
    a, b = snapshot(store, root), snapshot(other, root)
    assert (a["states"], a["edges"]) == (b["states"], b["edges"])


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from kgents_assets.hub.refresh import refresh_repository
    from kgents_assets.store import Store
    print("started", flush=True)
    refresh_repository(Store(url=sys.argv[1]), Path(sys.argv[2]), repo="shop", workers=1)
""")


def _progress(store: Store, root: Path) -> tuple[int, int, int]:
    """How far a refresh of ``root`` got: nodes, node states, markdown files."""
    with store.connect() as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM hub_nodes), "
            "(SELECT count(*) FROM kv WHERE key LIKE 'node:%%')"
        ).fetchone()
    assert row is not None
    nodes_dir = root / ".agentfs/nodes"
    markdown = sum(1 for _ in nodes_dir.rglob("*.md")) if nodes_dir.exists() else 0
    return int(row[0]), int(row[1]), markdown


def test_a_killed_materialization_is_repaired_by_the_next_run(
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
    # Three runs, each killed as soon as it has visibly done part of its work (files, then
    # states, then some of the markdown: each stage commits as a whole, markdown file by
    # file), and each proven to have been killed mid-run: alive at the kill, work left.
    stages_hit = []
    for _ in range(3):
        before = _progress(store, root)
        proc = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, store.url, str(root)], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"started"
        deadline = time.monotonic() + 120
        while (now := _progress(store, root)) == before:
            assert proc.poll() is None, "the run ended before doing any visible work"
            assert time.monotonic() < deadline, "the run made no progress in 120 s"
            time.sleep(0.01)
        assert proc.poll() is None, f"the run finished before the kill (progress {now})"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait() == -signal.SIGKILL
        assert snapshot(store, root, REPO)["pending"] > 0  # the kill left work undone
        stages_hit.append(
            next(i for i, (a, b) in enumerate(zip(before, now, strict=True)) if a != b)
        )
        for md in (root / ".agentfs/nodes").rglob("*.md"):
            assert md.read_text().startswith("# ")  # never a torn file
    assert stages_hit == [0, 1, 2]  # nodes, states, markdown: a kill inside each stage
    refresh_repository(store, root, repo=REPO, workers=1)
    cold_root = tmp_path / "cold"
    shutil.copytree(root, cold_root, ignore=shutil.ignore_patterns(".agentfs"))
    cold = fresh_store()
    refresh_repository(cold, cold_root, repo=REPO, workers=1)
    a, b = snapshot(store, root), snapshot(cold, cold_root)
    assert a["pending"] == 0
    assert (a["nodes"], a["edges"], a["states"], a["markdown"]) == (
        b["nodes"],
        b["edges"],
        b["states"],
        b["markdown"],
    )


def test_removed_nodes_lose_their_state_and_markdown(
    store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(BASE)
    refresh_repository(store, root, repo=REPO, workers=1)
    md = root / ".agentfs/nodes/shop/cart.py/Cart.add.md"
    assert md.exists()
    (root / "shop/cart.py").unlink()
    report = refresh_repository(store, root, repo=REPO, workers=1)
    # the module, the class and its three methods
    assert report.files.files_deleted == 1 and report.states.states_removed == 5
    assert not md.exists() and not md.parent.exists()
    assert states(store)["price"].callers[0].full_name == "test_pricing.test_price"
