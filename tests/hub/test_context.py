"""The hub context provider against a real model of a real repository: every way to name
a node, fresh/stale/missing with the warning an agent reads, and the trace of each use."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kgents_assets.hub import dirty
from kgents_assets.hub.context import node_context
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

SHOP: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": '''
        """Prices."""


        def price(item):
            """Unit price of an item, taxes included."""
            return item.cost * rate(item)


        def rate(item):
            return 1.2 if item.taxed else 1.0
        ''',
    "shop/cart.py": """
        from shop.pricing import price


        class Cart:
            def __init__(self):
                self.items = []

            def total(self):
                return sum(price(i) for i in self.items)
        """,
    "tests/test_pricing.py": """
        from shop.pricing import price


        class TestPrice:
            def test_price(self):
                assert price(None) is None
        """,
}


@pytest.fixture
def shop(store: Store, repo: Callable[[Files], Path]) -> Path:
    root = repo(SHOP)
    refresh_repository(store, root, repo="shop")
    return root


def traces(store: Store) -> list[tuple[str, str | None, str, str]]:
    with store.connect() as conn:
        rows = conn.execute(
            "SELECT target, node_id, freshness, surface FROM hub_context_traces ORDER BY id"
        ).fetchall()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def test_fresh_context_by_every_kind_of_target(store: Store, shop: Path) -> None:
    blob = node_context(store, "shop.pricing.price", repo="shop")
    assert blob.freshness_status == "fresh" and blob.warning is None, blob.freshness_reason
    assert blob.node_id is not None and blob.node_id.startswith("shop:")
    assert blob.signature == "def price(item)"
    assert blob.docstring_summary == "Unit price of an item, taxes included."
    assert blob.complexity == 1 and (blob.start_line, blob.end_line) == (4, 6)
    assert blob.hub_state_key == f"node:{blob.node_id}:state"
    assert blob.source_version and blob.last_updated is not None
    assert [c.full_name for c in blob.callees] == ["shop.pricing.rate"]
    assert blob.callees[0].file_path == "shop/pricing.py" and blob.callees[0].line == 9
    callers = {c.full_name: c for c in blob.callers}
    assert set(callers) >= {"shop.cart.Cart.total"}, blob.callers
    assert all(c.confidence is not None and 0 < c.confidence <= 1 for c in blob.callers)
    assert [t.pytest_id for t in blob.related_tests] == [
        "tests/test_pricing.py::TestPrice::test_price"
    ]

    for target, repo in [
        (blob.node_id, None),  # the full id
        (blob.node_id.split(":", 1)[1], "shop"),  # the bare hash with its repository
        ("price", "shop"),  # a bare name, unique
        ("shop:shop.pricing.price", None),  # repo-prefixed name
        ("shop/pricing.py:5", "shop"),  # a line inside the function
        ("shop/pricing.py:5", None),  # the only repository with that file
    ]:
        again = node_context(store, target, repo=repo, surface="cli")
        assert again.node_id == blob.node_id, (target, again.freshness_reason)
        assert again.freshness_status == "fresh"
    # the innermost node holding a line: the method, not its class
    assert node_context(store, "shop/cart.py:9", repo="shop").full_name == "shop.cart.Cart.total"
    assert node_context(store, "Cart.total", repo="shop").kind == "method"

    rows = traces(store)
    assert len(rows) == 9 and rows[0] == ("shop.pricing.price", blob.node_id, "fresh", "python")
    assert {r[3] for r in rows[1:7]} == {"cli"}


def test_stale_when_the_file_changed_and_fresh_after_a_refresh(store: Store, shop: Path) -> None:
    pricing = shop / "shop" / "pricing.py"
    text = pricing.read_text()
    pricing.write_text(text.replace("return item.cost * rate(item)", "return item.cost * 2"))
    blob = node_context(store, "shop.pricing.price", repo="shop")
    assert blob.freshness_status == "stale"
    assert "source of price changed" in blob.freshness_reason
    assert blob.warning is not None and "Read shop/pricing.py:4-6" in blob.warning
    assert blob.signature == "def price(item)"  # what the hub knows, flagged as stale
    assert node_context(store, "rate", repo="shop").freshness_status == "fresh"  # untouched

    pricing.write_text('"""Prices."""\n\n\n\n\n' + text.split('"""Prices."""', 1)[1])
    moved = node_context(store, "rate", repo="shop")
    assert (
        moved.freshness_status == "stale" and "moved from lines 9-10 to" in moved.freshness_reason
    )
    assert moved.start_line == 14  # where to read it now (5 lines further down)

    refresh_repository(store, shop, repo="shop")
    assert node_context(store, "rate", repo="shop").freshness_status == "fresh"
    pricing.unlink()
    gone = node_context(store, "rate", repo="shop")
    assert gone.freshness_status == "stale" and "no longer exists" in gone.freshness_reason


def test_stale_when_old_or_a_refresh_is_pending(store: Store, shop: Path) -> None:
    later = datetime.now(UTC) + timedelta(days=3)
    old = node_context(store, "rate", repo="shop", now=later)
    assert old.freshness_status == "stale"
    assert "last confirmed this state 3.0 days ago (threshold 24.0 h)" in old.freshness_reason
    assert node_context(store, "rate", repo="shop", max_age_s=10 * 86400, now=later).warning is None

    blob = node_context(store, "rate", repo="shop")
    assert blob.node_id is not None
    with store.transaction() as conn:
        dirty.mark_dirty(conn, "shop", dirty.STATE, [blob.node_id], "file changed")
    pending = node_context(store, "rate", repo="shop")
    assert pending.freshness_status == "stale"
    assert pending.freshness_reason == "a refresh of this node is pending (file changed)"


MISSES: list[tuple[str, str | None, str]] = [
    ("nothing_like_it", "shop", "no node named 'nothing_like_it' in shop"),
    ("price", "nope", "unknown repository 'nope'; known: shop"),
    ("0123456789abcdef0123", None, "bare node hash: give its repository"),
    ("shop:0123456789abcdef0123", None, "no node 'shop:0123456789abcdef0123'"),
    ("shop/pricing.py:999", "shop", "no node of shop/pricing.py spans line 999"),
    ("shop/other.py:3", "shop", "no file 'shop/other.py'"),
    ("   ", None, "the target is empty"),
]


def test_missing_says_why_and_what_to_do(store: Store, shop: Path) -> None:
    for target, repo_name, reason in MISSES:
        blob = node_context(store, target, repo=repo_name)
        assert blob.freshness_status == "missing", target
        assert reason in blob.freshness_reason, (target, blob.freshness_reason)
        assert blob.warning is not None
        assert blob.warning.startswith(f"No hub context for {target!r}")
    assert [t[2] for t in traces(store)] == ["missing"] * len(MISSES)
    module = node_context(store, "shop/pricing.py:1", repo="shop")  # only the module spans it
    assert module.full_name == "shop.pricing" and module.kind == "module"


def test_ambiguous_across_repositories_until_one_is_named(
    store: Store, shop: Path, tmp_path: Path
) -> None:
    fork = tmp_path / "fork"
    fork.mkdir()
    for rel in ("shop/__init__.py", "shop/pricing.py"):
        (fork / rel).parent.mkdir(parents=True, exist_ok=True)
        (fork / rel).write_text((shop / rel).read_text())
    refresh_repository(store, fork, repo="fork")
    blob = node_context(store, "shop.pricing.rate")
    assert blob.freshness_status == "missing"
    assert "ambiguous: fork:shop.pricing.rate, shop:shop.pricing.rate" in blob.freshness_reason
    chosen = node_context(store, "shop.pricing.rate", repo="fork")
    assert chosen.node_id is not None and chosen.node_id.startswith("fork:")
    assert chosen.freshness_status == "fresh"


def test_a_store_that_is_down_answers_missing_without_raising() -> None:
    down = Store(url="postgresql://kg:secret@127.0.0.1:9/none")
    blob = node_context(down, "price", repo="shop")
    assert blob.freshness_status == "missing" and "the hub is down" in blob.freshness_reason
    assert "secret" not in blob.freshness_reason
    assert node_context(None, "price").freshness_reason == "the hub's store is not configured"
