"""Which entries a keyword search ranks: in a large catalog a query term that many
entries hold ("value" in a catalog of getters) still scores, but only rarer terms select
candidates, so a docstring query is not spent ranking the whole catalog and its telling
word decides. A small catalog ranks every entry that holds any term, as before.

The rungs are counts of entries (search.SELECTING_ENTRIES: 500 then 2,000); most tests
scale them down to 10 then 50 for a catalog of 400 entries."""

from __future__ import annotations

import pytest

from kgents_assets.catalog import search, storage
from kgents_assets.catalog.models import CatalogEntry
from kgents_assets.catalog.search import discover
from kgents_assets.store import Store

VALUES = 60  # "value" in names, descriptions and bodies: 50 or more entries
FROBNICATORS = 12  # between 10 and 50, and more than a search's 10 hits
QUUXIFIERS = 3  # fewer than 10


def entry(i: int, name: str, description: str, body: str) -> CatalogEntry:
    return CatalogEntry(
        id=f"pkg:{i}", entity_type="function", name=name, description=description,
        origin="node", body=body,
    )  # fmt: skip


def catalog_entries(values: int = VALUES, size: int = 400) -> list[CatalogEntry]:
    entries: list[CatalogEntry] = []
    for i in range(values):
        name = f"value_of_field{i}"
        entries.append(entry(len(entries), name, f"function {name}: the value value",
                             f"def {name}(x):\n    value = x.value\n    return value"))  # fmt: skip
    for i in range(FROBNICATORS):
        name = f"helper{i}"
        entries.append(entry(len(entries), name, f"function {name}",
                             f"def {name}(x):\n    return frobnicate(x)"))  # fmt: skip
    for i in range(QUUXIFIERS):
        name = f"tool{i}"
        entries.append(entry(len(entries), name, f"function {name}",
                             f"def {name}(x):\n    return quuxify(x)"))  # fmt: skip
    for i in range(size - len(entries)):
        name = f"unrelated{i}"
        entries.append(entry(len(entries), name, f"function {name}",
                             f"def {name}(x):\n    return x + {i}"))  # fmt: skip
    return entries


def load(store: Store, entries: list[CatalogEntry] | None = None) -> None:
    with store.transaction() as conn:
        storage.upsert_entries(conn, entries or catalog_entries())
        conn.execute("ANALYZE catalog_entries")  # as the sync does after a load


def bodies(store: Store, query: str) -> list[str]:
    hits = discover(store, query, mode="keyword", limit=10)
    with store.connect() as conn:
        return [storage.get_entry(conn, h.entry.id).body for h in hits]


@pytest.fixture
def scaled_rungs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "SELECTING_ENTRIES", (10, 50))


def every_term_selecting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "SELECTING_ENTRIES", ())


@pytest.mark.usefixtures("scaled_rungs")
def test_the_rare_word_of_a_query_decides_which_entries_are_ranked(store: Store) -> None:
    load(store)
    found = bodies(store, "frobnicate value")
    assert len(found) == 10
    assert all("frobnicate(x)" in body for body in found), found


def test_with_every_term_selecting_the_common_word_buries_the_rare_one(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the control of the test above: ranked on their own, the entries full of "value"
    # outscore every entry that holds "frobnicate" once
    load(store)
    every_term_selecting(monkeypatch)
    found = bodies(store, "frobnicate value")
    assert not any("frobnicate(x)" in body for body in found), found


@pytest.mark.usefixtures("scaled_rungs")
def test_the_entries_of_the_rarest_word_come_first_then_the_next_rarest_fill_the_list(
    store: Store,
) -> None:
    # 3 entries hold "quuxify" (under 10), 12 "frobnicate" (under 50): a search for 10
    # shows the 3, then 7 of the 12, and no entry that holds only "value"
    load(store)
    found = bodies(store, "quuxify frobnicate value")
    assert len(found) == 10
    assert all("quuxify(x)" in body for body in found[:QUUXIFIERS]), found
    assert all("frobnicate(x)" in body for body in found[QUUXIFIERS:]), found


@pytest.mark.usefixtures("scaled_rungs")
def test_a_keyword_search_shows_as_many_hits_as_entries_match(store: Store) -> None:
    # 12 entries hold "frobnicate"; asked for 20, the list goes on with entries that
    # hold "value", each entry once
    load(store)
    hits = discover(store, "frobnicate value", mode="keyword", limit=20)
    with store.connect() as conn:
        found = [storage.get_entry(conn, h.entry.id).body for h in hits]
    assert len({h.entry.id for h in hits}) == 20
    assert all("frobnicate(x)" in body for body in found[:FROBNICATORS]), found
    assert all("x.value" in body for body in found[FROBNICATORS:]), found
    assert [h.keyword_rank for h in hits] == list(range(1, 21))


@pytest.mark.usefixtures("scaled_rungs")
def test_when_no_entry_holds_the_rarest_word_the_next_rarest_selects(store: Store) -> None:
    # "xyzzy" is rarer than anything (no statistics know it) and selects nothing; then
    # "frobnicate" (12 entries) does, and the entries full of "value" still do not
    load(store)
    found = bodies(store, "xyzzy frobnicate value")
    assert len(found) == 10
    assert all("frobnicate(x)" in body for body in found), found


@pytest.mark.usefixtures("scaled_rungs")
def test_when_no_entry_holds_a_rare_word_every_term_selects(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(store)
    hits = discover(store, "xyzzy value", mode="keyword", limit=10)
    assert len(hits) == 10
    every_term_selecting(monkeypatch)
    assert discover(store, "xyzzy value", mode="keyword", limit=10) == hits


@pytest.mark.usefixtures("scaled_rungs")
def test_a_query_of_common_words_only_still_finds_entries(store: Store) -> None:
    load(store)
    hits = discover(store, "value", mode="keyword", limit=10)
    assert len(hits) == 10
    assert all("value" in h.entry.name for h in hits)


@pytest.mark.usefixtures("scaled_rungs")
def test_hybrid_search_takes_its_keyword_half_from_the_rare_word(store: Store) -> None:
    load(store)
    with store.connect() as conn:
        ranked = search.keyword_ranking(conn, ["frobnicate", "value"], search.HYBRID_DEPTH)
        found = storage.get_entries(conn, [i for i, _ in ranked]).values()
    assert len(found) == FROBNICATORS
    assert all("frobnicate(x)" in e.body for e in found)


def test_a_small_catalog_ranks_every_entry_that_holds_a_term(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 400 entries: every term is held by fewer than the shipped 500, so every term
    # selects and the answer is the one of every term selecting
    load(store)
    shipped = discover(store, "frobnicate value", mode="keyword", limit=10)
    every_term_selecting(monkeypatch)
    assert discover(store, "frobnicate value", mode="keyword", limit=10) == shipped


def test_in_a_large_catalog_the_shipped_rungs_select_by_the_rare_word(store: Store) -> None:
    # 1,200 of 2,000 entries hold "value": more than the first rung's 500
    load(store, catalog_entries(values=1_200, size=2_000))
    found = bodies(store, "frobnicate value")
    assert len(found) == 10
    assert all("frobnicate(x)" in body for body in found), found


@pytest.mark.usefixtures("scaled_rungs")
def test_an_entry_that_holds_the_rare_and_the_common_word_is_listed_once(store: Store) -> None:
    # these outscore every other entry on "quuxify value": the wider selection that fills
    # the list must not bring them back
    both = [
        entry(1_000 + i, f"quuxify_value{i}", "function quuxify value",
              f"def quuxify_value{i}(x):\n    return quuxify(x.value)")
        for i in range(QUUXIFIERS)
    ]  # fmt: skip
    load(store, catalog_entries() + both)
    hits = discover(store, "quuxify value", mode="keyword", limit=10)
    with store.connect() as conn:
        found = [storage.get_entry(conn, h.entry.id).body for h in hits]
    assert len({h.entry.id for h in hits}) == 10, [h.entry.id for h in hits]
    assert all("quuxify(" in body for body in found[: 2 * QUUXIFIERS]), found
    assert not any("quuxify(" in body for body in found[2 * QUUXIFIERS :]), found
