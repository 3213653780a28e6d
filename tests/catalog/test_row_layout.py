"""Where a catalog entry's values are stored: a keyword search reads the search vector of
every entry it matches, so a mid-sized function's vector stays in its row (migration 0102)
rather than out of line in the TOAST table, where each read costs a lookup and a fetch."""

from __future__ import annotations

from typing import Any

import psycopg

from kgents_assets.catalog import storage
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import discover
from kgents_assets.store import Store


def mid_sized_function() -> CatalogEntry:
    # 80 distinct identifiers: a search vector of ~3.5 kB, a body of ~3 kB (both over the
    # 2 kB at which PostgreSQL's default moves a row's largest values out of line)
    names = [f"handler{i}value" for i in range(80)]
    body = "def collect_handlers(x):\n" + "\n".join(f"    {n} = x.{n}()" for n in names)
    return CatalogEntry(
        id="pkg:collect",
        entity_type="function",
        name="collect_handlers",
        description="function collect_handlers: gather every handler value",
        origin="node",
        body=body,
    )


def out_of_line_values(conn: psycopg.Connection[Any]) -> int:
    toast = conn.execute(
        "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = 'catalog_entries'::regclass"
    ).fetchone()
    assert toast is not None
    row = conn.execute(f"SELECT count(DISTINCT chunk_id) FROM {toast[0]}").fetchone()
    return int(row[0]) if row else 0


def test_a_mid_sized_function_is_stored_whole_in_its_row(store: Store) -> None:
    entry = mid_sized_function()
    with store.transaction() as conn:
        storage.upsert_entries(conn, [entry])
        size = conn.execute(
            "SELECT pg_column_size(tsv), pg_column_size(body) FROM catalog_entries"
        ).fetchone()
        assert size is not None and size[0] > 2048 and size[0] + size[1] < 8000, size
        assert out_of_line_values(conn) == 0
        assert storage.get_entry(conn, entry.id).body == entry.body
    hits = discover(store, "handler value", mode="keyword")
    assert [h.entry.name for h in hits] == ["collect_handlers"]


def test_before_0102_the_same_function_went_out_of_line_and_is_still_found(
    store: Store,
) -> None:
    # the control of the test above (its entry is big enough for the old layout to move
    # values out), and a store upgraded from before: its old rows read the same
    entry = mid_sized_function()
    with store.transaction() as conn:
        conn.execute("ALTER TABLE catalog_entries RESET (toast_tuple_target)")
        storage.upsert_entries(conn, [entry])
        assert out_of_line_values(conn) > 0
        conn.execute("ALTER TABLE catalog_entries SET (toast_tuple_target = 8160)")
    hits = discover(store, "handler value", mode="keyword")
    assert [(h.entry.name, h.entry.description) for h in hits] == [
        ("collect_handlers", entry.description)
    ]
