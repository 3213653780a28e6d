"""One cold build of the hub's three stages, run as its own process by hub_bench.py so its
peak memory is measured alone and PYTHONPATH can point at another tree (before/after).

    python _hub_cold_driver.py DATABASE_URL ROOT REPO WORKERS [EDITS TARGET] [--general]

Prints one JSON line: wall seconds by stage, counts, and a digest of what the build
stored (nodes, edges, states minus timestamps, markdown minus its timestamp line), which
hub_bench compares between trees. With EDITS > 0, then times no-op refreshes and one-file
edits on the built model (the same edit in every tree).
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROW_QUERIES = {
    "node_rows": "SELECT node_id, file_path, kind, name, qualname, full_name, class_name, "
    "is_test, source, coalesce(state_source, source), call_names, tested_names, "
    "extract::text FROM hub_nodes WHERE repo = %s ORDER BY node_id",
    "file_rows": "SELECT path, mtime_ns, size, content_hash, language, status, error, module, "
    "imports::text FROM hub_files WHERE repo = %s ORDER BY path",
}


def digest(store: Any, root: Path, repo: str) -> dict[str, str]:
    """sha256 of each part of the model, in a canonical order: node ids, edges, states,
    markdown, and every index row (hub_nodes, hub_files)."""
    parts: dict[str, Any] = {}
    with store.connect() as conn:
        parts["nodes"] = sorted(
            r[0] for r in conn.execute("SELECT node_id FROM hub_nodes WHERE repo = %s", (repo,))
        )
        parts["edges"] = sorted(
            (r[0], r[1], round(float(r[2]), 3))
            for r in conn.execute(
                "SELECT src_id, dst_id, confidence FROM hub_edges WHERE repo = %s", (repo,)
            )
        )
        parts["states"] = sorted(
            (k, json.dumps({f: x for f, x in v.items() if f != "updated"}, sort_keys=True))
            for k, v in conn.execute(
                "SELECT key, value FROM kv WHERE repo = %s AND key LIKE 'node:%%'", (repo,)
            )
        )
        # the index rows as readers see them (a NULL "before" reads as the source, and
        # jsonb as the server prints it): hashed row by row, never held whole
        for part, query in ROW_QUERIES.items():
            h = hashlib.sha256()
            with conn.cursor(name=f"digest_{part}") as cur:
                cur.itersize = 2000
                cur.execute(query, (repo,))
                for row in cur:
                    h.update(json.dumps(row, default=str).encode())
            parts[part] = h.hexdigest()
    nodes_dir = root / ".agentfs" / "nodes"
    parts["markdown"] = [
        (
            p.relative_to(root).as_posix(),
            "\n".join(
                line for line in p.read_text().splitlines() if not line.startswith("<sub>updated")
            ),
        )
        for p in sorted(nodes_dir.rglob("*.md"))
    ]
    return {
        name: hashlib.sha256(json.dumps(value).encode()).hexdigest()[:16]
        for name, value in parts.items()
    }


def incremental(store: Any, root: Path, repo: str, edits: int, target_rel: str) -> dict[str, Any]:
    from kgents_assets.hub.refresh import refresh_repository

    noop = []
    for _ in range(edits):
        t0 = time.perf_counter()
        refresh_repository(store, root, repo=repo)
        noop.append(time.perf_counter() - t0)
    target = root / target_rel
    text = target.read_text()
    edit_scan, edit_set = [], []
    for i in range(edits):
        target.write_text(text + f"\n\ndef bench_added_{i}(x):\n    return x + {i}\n")
        t0 = time.perf_counter()
        r = refresh_repository(store, root, repo=repo)
        edit_scan.append(time.perf_counter() - t0)
        assert r.files.files_parsed == 1, r.files
        target.write_text(
            text + f"\n\ndef bench_added_{i}(x):\n    if x:\n        return x\n    return {i}\n"
        )
        t0 = time.perf_counter()
        r = refresh_repository(store, root, repo=repo, changed_paths=[target_rel])
        edit_set.append(time.perf_counter() - t0)
        assert r.files.files_parsed == 1, r.files
    return {
        "noop_s": statistics.median(noop),
        "edit_scan_s": statistics.median(edit_scan),
        "edit_changeset_s": statistics.median(edit_set),
    }


def main() -> None:
    argv = [a for a in sys.argv if a != "--general"]
    url, root_arg, repo, workers = argv[1:5]
    edits = int(argv[5]) if len(argv) > 5 else 0
    target_rel = argv[6] if len(argv) > 6 else ""
    import kgents_assets
    from kgents_assets.hub.refresh_files import refresh_files
    from kgents_assets.hub.refresh_markdown import refresh_markdown
    from kgents_assets.hub.refresh_states import refresh_states
    from kgents_assets.repos.registry import add_repository
    from kgents_assets.store import Store

    if "--general" in sys.argv:
        # the general (incremental) paths on a cold build: what the first-build paths of
        # this tree must equal
        from kgents_assets.hub import markdown_swap
        from kgents_assets.hub import refresh_files as files_mod
        from kgents_assets.hub import refresh_states as states_mod

        markdown_swap.SWAP_THRESHOLD = 10**9  # type: ignore[attr-defined]
        states_mod.is_first_build = lambda conn, repo: False  # type: ignore[attr-defined]
        files_mod.takes_first_build_paths = lambda index: False  # type: ignore[attr-defined]
    root = Path(root_arg)
    store = Store(url=url)
    store.migrate()
    add_repository(store, repo, str(root))
    t0 = time.perf_counter()
    files = refresh_files(store, root, repo=repo, workers=int(workers))
    t1 = time.perf_counter()
    states = refresh_states(store, repo=repo)
    t2 = time.perf_counter()
    markdown = refresh_markdown(store, root, repo=repo)
    t3 = time.perf_counter()
    out: dict[str, Any] = {
        "code": str(Path(kgents_assets.__file__).parent.parent),
        "files_s": t1 - t0,
        "states_s": t2 - t1,
        "markdown_s": t3 - t2,
        "nodes": files.nodes_added,
        "states": states.states_added,
        "markdown": markdown.written,
        "digest": digest(store, root, repo),
    }
    if edits:
        out.update(incremental(store, root, repo, edits, target_rel))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
