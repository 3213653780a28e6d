"""Retrieval quality in a whole repository's catalog: class and module entries outlined
(node entry format 2, catalog/outline.py) against the same entries holding their whole
source (format 1, what releases before it stored), in one run.

    uv run python bench/outline_quality_bench.py [--corpus rich] [--embedder hashing] ...

``--corpus``: a package of the venv (``rich``) or a directory under bench/.cache. It is
copied, and the definitions that become queries lose their docstring, CodeSearchNet-style:
the first sentence of a function's, method's or class's docstring is the query, the
definition without it the answer. The hub builds the node states (``refresh_repository``)
and the catalog syncs them (format 2). The same queries are then asked of format 1: the
class and module entries rewritten with their whole source, as ``nodes.node_entry`` made
them, and re-embedded; every other entry is untouched. Printed per embedder, mode and kind
of answer: MRR@10, Hit@1, Hit@10, and how many times per query a class or module entry
ranks above the answer. Exits non-zero when a query's answer is not in the catalog.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pgserver

from kgents_assets.catalog import nodes, storage
from kgents_assets.catalog.embedders import Embedder, build_embedder
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.hub.state_store import load_state
from kgents_assets.store import Store

HERE = Path(__file__).resolve().parent
REPO = "corpus"
MAX_QUERIES = 400
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


@dataclass
class Query:
    text: str
    file_path: str
    start_line: int  # the ``def``/``class`` line (the hub's start_line)
    kind: str  # "function" (functions and methods) or "class"
    node_id: str = ""


def first_sentence(doc: str) -> str:
    text = " ".join(doc.strip().split("\n\n", 1)[0].split())
    end = text.find(". ")
    return text[: end + 1] if end > 0 else text


def corpus_dir(name: str) -> Path:
    cached = HERE / ".cache" / name
    if cached.is_dir():
        return cached
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"no corpus {name!r}: neither bench/.cache/{name} nor a package")
    return Path(spec.origin).parent


def candidates(root: Path) -> list[Query]:
    found: list[Query] = []
    seen: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, Definition):
                continue
            doc = ast.get_docstring(node)
            if not doc or node.name.startswith("__") or len(node.body) < 2:
                continue
            text = first_sentence(doc)
            if len(text.split()) < 4 or text in seen:
                continue
            seen.add(text)
            start = node.lineno
            kind = "class" if isinstance(node, ast.ClassDef) else "function"
            found.append(Query(text, path.relative_to(root).as_posix(), start, kind))
    return found


def blank_docstrings(root: Path, queries: list[Query]) -> None:
    """Each query's definition loses its docstring; line numbers stay (blank lines)."""
    by_file: dict[str, set[int]] = {}
    for q in queries:
        by_file.setdefault(q.file_path, set()).add(q.start_line)
    for rel, starts in by_file.items():
        path = root / rel
        lines = path.read_text(encoding="utf-8").split("\n")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, Definition):
                continue
            if node.lineno not in starts:
                continue
            doc = node.body[0]
            first, last = doc.lineno - 1, (doc.end_lineno or doc.lineno) - 1
            indent = lines[first][: len(lines[first]) - len(lines[first].lstrip())]
            lines[first : last + 1] = [f"{indent}pass"] + [""] * (last - first)
        path.write_text("\n".join(lines), encoding="utf-8")


def answer_ids(store: Store, queries: list[Query]) -> None:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT file_path, (extract->>'start_line')::int, kind, node_id FROM hub_nodes"
        ).fetchall()
    where = {(f, s, "class" if k == "class" else "function"): i for f, s, k, i in rows}
    lost = [q for q in queries if (q.file_path, q.start_line, q.kind) not in where]
    if lost:
        raise SystemExit(f"{len(lost)} answers have no node, e.g. {lost[0]}")
    for q in queries:
        q.node_id = where[(q.file_path, q.start_line, q.kind)]


def as_format_1(store: Store, embedder: Embedder) -> int:
    """Class and module entries with their whole source, re-embedded (releases before
    outlines stored these)."""
    with store.transaction() as conn:
        storage.prepare(conn)
        rows = conn.execute(
            "SELECT node_id, source FROM hub_nodes WHERE kind IN ('class', 'module')"
        ).fetchall()
        old = []
        for node_id, source in rows:
            state = load_state(conn, node_id)
            if state is not None:
                current = storage.get_entry(conn, node_id)
                entry = nodes.node_entry(state, source)
                old.append(entry.model_copy(update={"relationships": current.relationships}))
        storage.upsert_entries(conn, old)
        texts = [storage.embedding_text(e) for e in old]
        storage.upsert_embeddings(conn, old, embedder.embed(texts), embedder)
        conn.execute("ANALYZE catalog_entries, catalog_embeddings")
    return len(old)


def measure(
    store: Store, queries: list[Query], embedder: Embedder, mode: str
) -> dict[str, tuple[float, float, float, float]]:
    """kind -> (MRR@10, Hit@1, Hit@10, class/module entries above the answer per query)."""
    with store.connect() as conn:
        outlined = {
            r[0]
            for r in conn.execute(
                "SELECT node_id FROM hub_nodes WHERE kind IN ('class', 'module')"
            ).fetchall()
        }
    ranks: dict[str, list[int | None]] = {}
    above: dict[str, list[int]] = {}
    for q in queries:
        hits = discover(store, q.text, mode=mode, limit=10, embedder=embedder)  # type: ignore[arg-type]
        ids = [h.entry.id for h in hits]
        rank = ids.index(q.node_id) + 1 if q.node_id in ids else None
        ranks.setdefault(q.kind, []).append(rank)
        ahead = ids[: (rank or 11) - 1]
        above.setdefault(q.kind, []).append(
            sum(1 for i in ahead if i in outlined and i != q.node_id)
        )
    out = {}
    for kind, rs in ranks.items():
        out[kind] = (
            sum(1 / r for r in rs if r) / len(rs),
            sum(1 for r in rs if r == 1) / len(rs),
            sum(1 for r in rs if r) / len(rs),
            statistics.mean(above[kind]),
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default="rich")
    parser.add_argument("--embedder", action="append", help="an embedder spec (repeatable)")
    parser.add_argument("--queries", type=int, default=MAX_QUERIES)
    args = parser.parse_args()
    specs = args.embedder or ["hashing"]
    with tempfile.TemporaryDirectory(dir=HERE / ".cache") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(corpus_dir(args.corpus), root)
        found = candidates(root)
        step = max(1, len(found) // args.queries)
        queries = found[::step][: args.queries]
        blank_docstrings(root, queries)
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="stop")
        store = Store(url=server.get_uri())
        store.migrate()
        started = time.perf_counter()
        refresh_repository(store, root, repo=REPO, workers=2)
        answer_ids(store, queries)
        kinds = {k: sum(1 for q in queries if q.kind == k) for k in ("function", "class")}
        print(f"corpus {args.corpus}: {len(queries)} queries ({kinds['function']} functions "
              f"and methods, {kinds['class']} classes) of {len(found)} candidates; hub "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        rows = []
        for spec in specs:
            embedder = build_embedder(spec)
            with store.transaction() as conn:  # a catalog of this embedder only
                conn.execute("DELETE FROM catalog_relationships")
                conn.execute("DELETE FROM catalog_embeddings")
                conn.execute("DELETE FROM catalog_entries")
                conn.execute("DELETE FROM kv WHERE key LIKE 'catalog:%%'")
            report = sync_catalog(store, embedder, repo=REPO, full=True)
            with store.connect() as conn:
                body_2 = conn.execute("SELECT sum(length(body)) FROM catalog_entries").fetchone()
            results = {"2 (outlines)": {m: measure(store, queries, embedder, m)
                                        for m in ("keyword", "semantic", "hybrid")}}  # fmt: skip
            rewritten = as_format_1(store, embedder)
            with store.connect() as conn:
                body_1 = conn.execute("SELECT sum(length(body)) FROM catalog_entries").fetchone()
            results["1 (whole source)"] = {
                m: measure(store, queries, embedder, m) for m in ("keyword", "semantic", "hybrid")
            }
            print(f"{spec}: {report.added} entries, {rewritten} classes and modules; entry "
                  f"bodies {body_1[0] / 1e6 if body_1 else 0:.1f} MB in format 1, "
                  f"{body_2[0] / 1e6 if body_2 else 0:.1f} MB in format 2")  # fmt: skip
            for mode in ("keyword", "semantic", "hybrid"):
                for kind in ("function", "class"):
                    for fmt in ("1 (whole source)", "2 (outlines)"):
                        mrr, h1, h10, ahead = results[fmt][mode][kind]
                        rows.append((spec, mode, kind, fmt, f"{mrr:.3f}", f"{h1:.3f}",
                                     f"{h10:.3f}", f"{ahead:.2f}"))  # fmt: skip
        header = ("embedder", "mode", "answer", "entry format", "MRR@10", "Hit@1", "Hit@10",
                  "class/module above")  # fmt: skip
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        print()
        for n, row in enumerate([header, *rows]):
            print("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
            if n == 0:
                print("  " + "  ".join("-" * w for w in widths))
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
