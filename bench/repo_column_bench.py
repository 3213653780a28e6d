"""What the repository column costs the hot paths: no-op and one-file-edit refreshes of
Django, the previous release (one repository per database) against this tree, in one run.

Both trees run the same worker in a subprocess of their own (``PYTHONPATH`` = the tree),
against fresh databases on one pgserver, with the same edit: a body change in
``django/utils/text.py`` toggled back and forth. Rounds alternate between the two trees
(one live worker each), so the machine's load hits both alike. Times are wall clock around
``refresh_repository`` (all three hub stages, markdown included), medians over rounds.

    uv run python bench/repo_column_bench.py --before /path/to/checkout/of/0d19b00 [--runs 15]

``git worktree add /tmp/before 0d19b00`` makes such a checkout. Exits non-zero when the
two trees' models differ in size (the equality this comparison rests on).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _corpus import fetch_sdist

HERE = Path(__file__).resolve().parents[1]

WORKER = r"""
import inspect, json, sys, time
from pathlib import Path
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store

url, root = sys.argv[1], Path(sys.argv[2])
store = Store(url=url)
store.migrate()
named = "repo" in inspect.signature(refresh_repository).parameters
kw = {"repo": "django"} if named else {}
t = time.perf_counter()
refresh_repository(store, root, workers=2, **kw)
with store.connect() as conn:
    nodes = conn.execute("SELECT count(*) FROM hub_nodes").fetchone()[0]
    files = conn.execute("SELECT count(*) FROM hub_files").fetchone()[0]
print(json.dumps({"cold": time.perf_counter() - t, "nodes": nodes, "files": files}), flush=True)
target = root / "django/utils/text.py"
original = target.read_text()
for line in sys.stdin:  # one round per line: a no-op refresh, then the same one-file edit
    i = int(line)
    t = time.perf_counter()
    refresh_repository(store, root, workers=2, **kw)
    noop = time.perf_counter() - t
    body = original.replace("def capfirst(x):", f"def capfirst(x):\n    _bench = {i}", 1)
    target.write_text(body if i % 2 == 0 else original)
    t = time.perf_counter()
    report = refresh_repository(
        store, root, changed_paths=["django/utils/text.py"], workers=2, **kw
    )
    edit = time.perf_counter() - t
    assert report.files.files_parsed == 1, report.files
    print(json.dumps({"noop": noop, "edit": edit}), flush=True)
"""


def _database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def _start(tree: Path, url: str, root: Path) -> tuple[subprocess.Popen[str], dict[str, object]]:
    """A worker for ``tree``, after its cold build (whose figures it returns)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, url, str(root)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(root.parent)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{tree}: worker failed during the cold build")
    return proc, dict(json.loads(line))


def _round(proc: subprocess.Popen[str], i: int) -> dict[str, float]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(f"{i}\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise SystemExit("a worker died mid-round")
    return dict(json.loads(line))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of 0d19b00")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import pgserver

    source = fetch_sdist("django", "5.2")
    with tempfile.TemporaryDirectory(prefix="kgents-colbench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        trees = {"before (0d19b00)": args.before.resolve(), "after": HERE}
        workers: dict[str, subprocess.Popen[str]] = {}
        results: dict[str, dict[str, object]] = {}
        for label, tree in trees.items():
            root = Path(tmp) / label.split()[0] / "django"
            shutil.copytree(source, root)
            workers[label], results[label] = _start(tree, _database(server.get_uri()), root)
        noops: dict[str, list[float]] = {label: [] for label in trees}
        edits: dict[str, list[float]] = {label: [] for label in trees}
        # Rounds alternate between the trees, so the machine's load hits both alike.
        for i in range(args.runs):
            for label, proc in workers.items():
                timing = _round(proc, i)
                noops[label].append(timing["noop"])
                edits[label].append(timing["edit"])
        for proc in workers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(60)
        server.cleanup()

    print(
        f"Django {results['after']['files']} files, {results['after']['nodes']} nodes; "
        f"medians of {args.runs} runs (wall, all three hub stages)"
    )
    print(f"{'tree':<18} {'cold s':>8} {'no-op ms':>10} {'one-edit ms':>12}")
    for label, r in results.items():
        noop = statistics.median(noops[label]) * 1000
        edit = statistics.median(edits[label]) * 1000
        print(f"{label:<18} {r['cold']:>8.1f} {noop:>10.1f} {edit:>12.1f}")
    before, after = results["before (0d19b00)"], results["after"]
    if (before["nodes"], before["files"]) != (after["nodes"], after["files"]):
        raise SystemExit(
            f"models differ: {before['nodes']}/{before['files']} vs "
            f"{after['nodes']}/{after['files']} nodes/files"
        )


if __name__ == "__main__":
    main()
