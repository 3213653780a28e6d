"""The catalog behind the hub's real pipeline: files -> node states -> catalog entries.
Editing one function re-embeds only the entries of that file whose text changed."""

from __future__ import annotations

import textwrap
from pathlib import Path

from kgents_assets.catalog import storage
from kgents_assets.catalog.embedders import HashingEmbedder
from kgents_assets.catalog.models import EntityType, RelationKind
from kgents_assets.catalog.search import discover
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store

REPO = "shop"

FILES = {
    "shop/__init__.py": "",
    "tests/__init__.py": "",
    "shop/cart.py": '''
        """Shopping cart arithmetic."""


        def cart_total(prices, discount=0.0):
            """Sum the item prices and apply a percentage discount."""
            return sum(prices) * (1 - discount)


        def format_money(amount):
            """Render an amount of money with two decimals and a currency sign."""
            return f"${amount:.2f}"
        ''',
    "shop/mail.py": '''
        """Outgoing mail."""


        def send_receipt(address, total):
            """Email the customer a receipt for their order."""
            return smtp_send(address, f"Your total is {total}")
        ''',
    "tests/test_cart.py": """
        from shop.cart import cart_total


        def test_cart_total():
            assert cart_total([10, 20], 0.5) == 15
        """,
}


def write_repo(root: Path) -> None:
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def test_one_function_edit_reembeds_only_its_file(store: Store, tmp_path: Path) -> None:
    write_repo(tmp_path)
    embedder = HashingEmbedder(128)
    refresh_repository(store, tmp_path, repo=REPO, workers=1)
    cold = sync_catalog(store, embedder, repo=REPO)
    with store.connect() as conn:
        entries = {e.name: e for e in storage.list_entries(conn)}
    assert cold.added == len(entries) == cold.reembedded
    assert entries["shop.cart.cart_total"].entity_type is EntityType.FUNCTION
    assert entries["tests.test_cart.test_cart_total"].entity_type is EntityType.TEST
    cart_total = entries["shop.cart.cart_total"]
    # the hub relates the test (by name and by call); the catalog keeps it as tested_by
    assert cart_total.relationships[RelationKind.TESTED_BY] == (
        entries["tests.test_cart.test_cart_total"].id,
    )
    hits = discover(store, "apply a discount to the prices", embedder=embedder, limit=3)
    assert hits[0].entry.name == "shop.cart.cart_total"

    cart = tmp_path / "shop/cart.py"
    cart.write_text(cart.read_text().replace("* (1 - discount)", "* (1 - discount / 100)"))
    refresh_repository(store, tmp_path, repo=REPO, changed_paths=["shop/cart.py"], workers=1)
    warm = sync_catalog(store, embedder, repo=REPO)
    with store.connect() as conn:
        vectors = dict(
            conn.execute(
                "SELECT e.name, v.embedded_at FROM catalog_entries e "
                "JOIN catalog_embeddings v ON v.entry_id = e.id"
            ).fetchall()
        )
    # the function got a new vector; its module's entry holds the function's signature
    # only (an outline), which did not change: its text and vector stay
    assert warm.reembedded == 1 and warm.removed == 0 and warm.added == 0
    assert warm.updated == 2  # both rows are rewritten: the module's source hash changed
    newest = max(vectors.values())
    assert {n for n, at in vectors.items() if at == newest} == {"shop.cart.cart_total"}
    full = sync_catalog(store, embedder, repo=REPO, full=True)
    assert (full.added, full.updated, full.removed, full.reembedded) == (0, 0, 0, 0)
