"""Small real repositories on disk, and snapshots of what the pipeline stored so an
incremental result can be compared with a cold rebuild."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from kgents_assets.hub.markdown import NODES_DIR
from kgents_assets.store import Store

Files = dict[str, str | bytes]


def write_files(root: Path, files: Files) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"))


def snapshot(store: Store, root: Path, repo: str | None = None) -> dict[str, Any]:
    """Everything the pipeline produced (for ``repo``, else every repository), minus
    timestamps: states, edges, nodes, markdown and pending work."""
    scope = {"r": repo}
    where = "(%(r)s::text IS NULL OR repo = %(r)s)"
    with store.connect() as conn:
        states = {
            k: {f: v for f, v in value.items() if f != "updated"}
            for k, value in conn.execute(
                f"SELECT key, value FROM kv WHERE key LIKE 'node:%%' AND {where}", scope
            )
        }
        edges = sorted(
            conn.execute(
                f"SELECT src_id, dst_id, confidence FROM hub_edges WHERE {where}", scope
            ).fetchall()
        )
        nodes = sorted(
            r[0] for r in conn.execute(f"SELECT node_id FROM hub_nodes WHERE {where}", scope)
        )
        pending = conn.execute(
            f"SELECT count(*) FROM hub_dirty WHERE stage <> 'catalog' AND {where}", scope
        ).fetchone()
    nodes_dir = root / NODES_DIR
    markdown = (
        {
            p.relative_to(root).as_posix(): "\n".join(
                line for line in p.read_text().splitlines() if not line.startswith("<sub>updated")
            )
            for p in sorted(nodes_dir.rglob("*"))
            if p.is_file()
        }
        if nodes_dir.exists()
        else {}
    )
    return {
        "states": states,
        "edges": edges,
        "nodes": nodes,
        "markdown": markdown,
        "pending": pending[0] if pending else 0,
    }
