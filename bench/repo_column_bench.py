"""What the repository column costs the hot paths: no-op and one-file-edit refreshes of
Django, the previous release (one repository per database) against this tree, in one run.

Both trees run the same worker in a subprocess of their own (``PYTHONPATH`` = the tree),
against fresh databases on one pgserver, with the same edit: a body change in
``django/utils/text.py`` toggled back and forth. Times are wall clock around the library
call ``refresh_repository`` (all three hub stages, markdown included), medians over runs.

    uv run python bench/repo_column_bench.py --before /path/to/checkout/of/0d19b00 [--runs 15]

``git worktree add /tmp/before 0d19b00`` makes such a checkout. Exits non-zero when the
two trees' models differ in size (the equality this comparison rests on).
"""

from __future__ import annotations

import argparse
import json
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

url, root, runs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
store = Store(url=url)
store.migrate()
named = "repo" in inspect.signature(refresh_repository).parameters
kw = {"repo": "django"} if named else {}
t = time.perf_counter()
refresh_repository(store, root, workers=2, **kw)
cold = time.perf_counter() - t
target = root / "django/utils/text.py"
original = target.read_text()
noop, edit = [], []
for i in range(runs):
    t = time.perf_counter()
    refresh_repository(store, root, workers=2, **kw)
    noop.append(time.perf_counter() - t)
    body = original.replace("def capfirst(x):", f"def capfirst(x):\n    _bench = {i}", 1)
    target.write_text(body if i % 2 == 0 else original)
    t = time.perf_counter()
    report = refresh_repository(
        store, root, changed_paths=["django/utils/text.py"], workers=2, **kw
    )
    edit.append(time.perf_counter() - t)
    assert report.files.files_parsed == 1, report.files
target.write_text(original)
with store.connect() as conn:
    nodes = conn.execute("SELECT count(*) FROM hub_nodes").fetchone()[0]
    files = conn.execute("SELECT count(*) FROM hub_files").fetchone()[0]
print(json.dumps({"cold": cold, "noop": noop, "edit": edit, "nodes": nodes, "files": files}))
"""


def _database(server: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def _run(tree: Path, url: str, root: Path, runs: int) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", WORKER, url, str(root), str(runs)],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin", "HOME": str(root.parent)},
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{tree}: worker failed\n{out.stderr[-4000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="checkout of 0d19b00")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import pgserver

    source = fetch_sdist("django", "5.2")
    with tempfile.TemporaryDirectory(prefix="kgents-colbench-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        results = {}
        for label, tree in (("before (0d19b00)", args.before.resolve()), ("after", HERE)):
            root = Path(tmp) / label.split()[0] / "django"
            subprocess.run(["cp", "-r", str(source), str(root.parent)], check=True)
            (root.parent / source.name).rename(root)
            results[label] = _run(tree, _database(server.get_uri()), root, args.runs)
        server.cleanup()

    print(
        f"Django {results['after']['files']} files, {results['after']['nodes']} nodes; "
        f"medians of {args.runs} runs (wall, all three hub stages)"
    )
    print(f"{'tree':<18} {'cold s':>8} {'no-op ms':>10} {'one-edit ms':>12}")
    for label, r in results.items():
        noop = statistics.median(r["noop"]) * 1000  # type: ignore[arg-type]
        edit = statistics.median(r["edit"]) * 1000  # type: ignore[arg-type]
        print(f"{label:<18} {r['cold']:>8.1f} {noop:>10.1f} {edit:>12.1f}")
    before, after = results["before (0d19b00)"], results["after"]
    if (before["nodes"], before["files"]) != (after["nodes"], after["files"]):
        raise SystemExit(
            f"models differ: {before['nodes']}/{before['files']} vs "
            f"{after['nodes']}/{after['files']} nodes/files"
        )


if __name__ == "__main__":
    main()
