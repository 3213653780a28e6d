"""Registering an artifact by hand (``kg library register PATH --type T``)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders.base import Embedder
from kgents_assets.catalog.errors import CatalogError, EmptyDescription
from kgents_assets.catalog.models import (
    CatalogEntry,
    EntityType,
    RelationKind,
    Status,
    parse_entity_type,
    parse_status,
)
from kgents_assets.store import Store

MAX_FILE_BYTES = 5_000_000  # read at most this much; the stored body is bounded anyway
_SLUG = re.compile(r"[^a-z0-9._/-]+")


def slug(text: str) -> str:
    return _SLUG.sub("-", text.lower()).strip("-/") or "entry"


def summary_of(path: Path, text: str) -> str:
    """A file's own one-line account of itself: a module docstring, a markdown paragraph,
    else its first non-empty line."""
    if path.suffix == ".py":
        try:
            doc = ast.get_docstring(ast.parse(text))
        except (SyntaxError, ValueError):
            doc = None
        if doc and doc.strip():
            return doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    if path.suffix in (".md", ".markdown", ".rst", ".txt"):
        paragraph: list[str] = []
        for line in lines:
            if not line or line.startswith(("#", "=", "-", "```")):
                if paragraph:
                    break
                continue
            paragraph.append(line)
        if paragraph:
            return " ".join(paragraph)
    for line in lines:
        cleaned = line.strip("#/*;\"' \t-")
        if cleaned:
            return cleaned
    return ""


def entry_from_file(
    path: Path,
    entity_type: str | EntityType,
    *,
    root: Path | None = None,
    name: str | None = None,
    description: str | None = None,
    keywords: Iterable[str] = (),
    status: str | Status = Status.ACTIVE,
    version: str = "1",
    author: str | None = None,
) -> CatalogEntry:
    etype = parse_entity_type(entity_type) if isinstance(entity_type, str) else entity_type
    stat = parse_status(status) if isinstance(status, str) else status
    if not path.is_file():
        raise CatalogError(f"{path} is not a file")
    with path.open("rb") as handle:
        raw = handle.read(MAX_FILE_BYTES)
    if b"\0" in raw[:8192]:
        raise CatalogError(f"{path} looks binary: register text files (code, specs, docs)")
    text = raw.decode("utf-8", errors="replace")
    resolved = path.resolve()
    base = (root or Path.cwd()).resolve()
    shown = (
        resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(resolved)
    )
    desc = description if description is not None else summary_of(path, text)
    if not desc.strip():
        raise EmptyDescription(
            f"{shown} has no description to register it by (no docstring or first "
            "paragraph): pass one with --description"
        )
    return CatalogEntry(
        id=f"{etype.value}:{slug(shown)}",
        entity_type=etype,
        name=name or path.stem,
        version=version,
        description=desc,
        keywords=tuple(keywords),
        status=stat,
        origin="registered",
        author=author,
        path=shown,
        body=text,
    )


def register_entry(
    store: Store,
    entry: CatalogEntry,
    embedder: Embedder,
    relationships: Iterable[tuple[RelationKind, str]] = (),
) -> CatalogEntry:
    """Store and embed ``entry`` with its relationships, all or nothing."""
    with store.transaction() as conn:
        storage.prepare(conn)
        storage.catalog_lock(conn)
        storage.require_same_embedder(conn, embedder)
        storage.upsert_entries(conn, [entry])
        vectors = embedder.embed([storage.embedding_text(entry)])
        storage.upsert_embeddings(conn, [entry], vectors, embedder)
        conn.execute("DELETE FROM catalog_relationships WHERE src = %s", (entry.id,))
        edges = [*((k, d) for k, ds in entry.relationships.items() for d in ds), *relationships]
        for kind, dst in edges:
            storage.add_relationship(conn, entry.id, kind, dst)
        if storage.read_embedder_meta(conn) is None:
            storage.write_embedder_meta(conn, embedder)
        return storage.get_entry(conn, entry.id)
