"""A cold load writes the new entries' edges in one COPY (storage.copy_new_relationships);
what it stores, drops and refuses must be exactly what the general replace path does."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.errors import RelationshipCycle
from kgents_assets.catalog.models import CatalogEntry, EntityType, RelationKind
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.store import Store
from tests.catalog.conftest import CORPUS, REPO, make_node, put_nodes

T, D = RelationKind.TESTED_BY, RelationKind.DEPENDS_ON


def entry(entry_id: str) -> CatalogEntry:
    return CatalogEntry(
        id=entry_id,
        entity_type=EntityType.FUNCTION,
        name=entry_id,
        description=f"the {entry_id} entry",
        origin="node",
        repo=REPO,
    )


def edges_of(store: Store) -> list[tuple[str, str, str]]:
    with store.connect() as conn:
        return [
            (r[0], r[1], r[2])
            for r in conn.execute(
                "SELECT src, kind, dst FROM catalog_relationships ORDER BY 1, 2, 3"
            ).fetchall()
        ]


def load(store: Store, copy: bool, edges: list[tuple[str, RelationKind, str]]) -> None:
    """``old`` already stored with an edge; ``a``..``c`` written now with ``edges``."""
    with store.transaction() as conn:
        storage.upsert_entries(conn, [entry("pkg:old"), entry("pkg:old2")])
        storage.replace_relationships(conn, ["pkg:old"], [("pkg:old", D, "pkg:old2")])
    new = [entry(i) for i in ("pkg:a", "pkg:b", "pkg:c")]
    with store.transaction() as conn:
        storage.upsert_entries(conn, new)
        if copy:
            storage.copy_new_relationships(conn, edges, [e.id for e in new])
        else:
            storage.replace_relationships(conn, [e.id for e in new], edges)


def test_copy_stores_what_the_replace_path_stores(fresh_store: Callable[[], Store]) -> None:
    edges = [
        ("pkg:a", T, "pkg:b"),
        ("pkg:a", T, "pkg:b"),  # a duplicate: stored once
        ("pkg:a", D, "pkg:a"),  # to itself: dropped
        ("pkg:b", D, "pkg:gone"),  # dangling: dropped
        ("pkg:c", D, "pkg:old"),  # to an entry written before: kept
        ("pkg:c", T, "pkg:a"),
    ]
    copied, replaced = fresh_store(), fresh_store()
    load(copied, True, edges)
    load(replaced, False, edges)
    assert (
        edges_of(copied)
        == edges_of(replaced)
        == [
            ("pkg:a", "tested_by", "pkg:b"),
            ("pkg:c", "depends_on", "pkg:old"),
            ("pkg:c", "tested_by", "pkg:a"),
            ("pkg:old", "depends_on", "pkg:old2"),
        ]
    )


@pytest.mark.parametrize("copy", [True, False], ids=["copy", "replace"])
def test_a_cycle_refuses_the_whole_write(fresh_store: Callable[[], Store], copy: bool) -> None:
    store = fresh_store()
    cycle = [("pkg:a", D, "pkg:b"), ("pkg:b", D, "pkg:c"), ("pkg:c", D, "pkg:a")]
    with pytest.raises(RelationshipCycle, match="depends_on would form a cycle"):
        load(store, copy, cycle)
    with store.connect() as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM catalog_entries ORDER BY id")]
    assert ids == ["pkg:old", "pkg:old2"]  # the transaction's entries went with it
    assert edges_of(store) == [("pkg:old", "depends_on", "pkg:old2")]


def test_cold_sync_then_edit_keeps_the_tested_by_edges(
    store: Store, embedder: HashingEmbedder
) -> None:
    """The cold load's edges (COPY) are then replaced by an edit (the general path)."""
    test_node = make_node(
        "test_parse_config",
        None,
        "def test_parse_config():\n    assert parse_config('a.yaml')",
        file_path="tests/test_config.py",
        is_test=True,
    )
    subject = make_node(
        "parse_config",
        "Read the YAML configuration file and return its settings.",
        "def parse_config(path):\n    return yaml.safe_load(open(path))",
        file_path="app/config.py",
        related_tests=["tests.test_config.test_parse_config"],
    )
    put_nodes(store, [*CORPUS[1:], subject, test_node])
    cold = sync_catalog(store, embedder, repo=REPO)
    assert cold.added == len(CORPUS) + 1
    expected = edges_of(store)
    assert (subject.id, "tested_by", test_node.id) in expected
    edited = make_node(
        "parse_config",
        "Parse a YAML configuration file.",
        "def parse_config(path):\n    return yaml.safe_load(open(path))",
        file_path="app/config.py",
        related_tests=["tests.test_config.test_parse_config"],
    )
    put_nodes(store, [edited])
    report = sync_catalog(store, embedder, repo=REPO)
    assert (report.updated, report.reembedded) == (1, 1)
    assert edges_of(store) == expected
