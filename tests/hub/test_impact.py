"""API change impact summaries over a real model: removing a function lists each broken
callsite, a new signature lists the real callers, a rename is recognised; artifacts on
disk; private and unexported symbols are not API."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kgents_assets.hub.api_surface import load_snapshot, public_api
from kgents_assets.hub.impact import detect_and_summarize, impact_for
from kgents_assets.hub.node_lookup import Miss
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

PRICING = '''
def price(item):
    """Unit price."""
    return item.cost * rate(item)


def rate(item):
    return 1.2 if item.taxed else 1.0


def _helper():
    return rate(None)


def internal_only():
    return 1
'''

SHOP: Files = {
    "shop/__init__.py": 'from shop.pricing import price, rate\n\n__all__ = ["price", "rate"]\n',
    "shop/pricing.py": PRICING.replace(
        "def internal_only", '__all__ = ["price", "rate", "_helper"]\n\n\ndef internal_only'
    ),
    "shop/cart.py": """
        import shop.pricing as sp
        from shop.pricing import price


        class Cart:
            def __init__(self):
                self.items = []

            def total(self):
                return sum(price(i) for i in self.items)

            def taxes(self):
                return [sp.rate(i) for i in self.items]
        """,
    "tests/test_pricing.py": """
        from shop.pricing import price


        def test_price():
            assert price(None) is None
        """,
    "tests/test_cart.py": """
        from shop.cart import Cart


        def test_total():
            assert Cart().total() == 0
        """,
}


@pytest.fixture
def shop(store: Store, repo: Callable[[Files], Path]) -> Path:
    root = repo(SHOP)
    refresh_repository(store, root, repo="shop")
    with store.transaction() as conn:
        baseline, summaries = detect_and_summarize(conn, "shop", root)
    assert baseline and summaries == []
    return root


def detect(store: Store, root: Path) -> list:  # type: ignore[type-arg]
    refresh_repository(store, root, repo="shop")
    with store.transaction() as conn:
        baseline, summaries = detect_and_summarize(conn, "shop", root)
    assert not baseline
    return summaries


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_removing_a_function_lists_each_broken_callsite(store: Store, shop: Path) -> None:
    edit(shop, "shop/pricing.py", 'def price(item):\n    """Unit price."""\n    return '
         "item.cost * rate(item)\n", "")  # fmt: skip
    (summary,) = detect(store, shop)
    assert summary.change == "removed" and summary.symbol == "shop.pricing.price"
    assert summary.description == "shop.pricing.price was removed (def price(item))"
    sites = [(s.file_path, s.line, s.caller, s.confidence) for s in summary.callsites]
    assert sites == [
        ("shop/cart.py", 10, "shop.cart.Cart.total", 1.0),
        ("tests/test_pricing.py", 5, "test_pricing.test_price", 1.0),
    ]
    assert summary.tests == ["tests/test_cart.py::test_total", "tests/test_pricing.py::test_price"]
    assert summary.exported_by == ["shop.pricing", "shop"]

    json_file = shop / ".agentfs/impact/shop/pricing.py/price.json"
    assert summary.artifact == ".agentfs/impact/shop/pricing.py/price.json"
    assert json.loads(json_file.read_text())["symbol"] == "shop.pricing.price"
    markdown = (shop / ".agentfs/impact/shop/pricing.py/price.md").read_text()
    assert "## Callsites (2) (each one breaks)" in markdown
    assert "`shop/cart.py:10` in `shop.cart.Cart.total` (confidence 1.00)" in markdown

    # asked later by name, the removed symbol is still summarised from the recorded surface
    with store.connect() as conn:
        again = impact_for(conn, "shop.pricing.price", "shop")
    assert not isinstance(again, Miss) and again.change == "removed"
    assert [s.line for s in again.callsites] == [s.line for s in summary.callsites]
    assert detect(store, shop) == []  # recorded once


def test_signature_change_and_rename(store: Store, shop: Path) -> None:
    edit(shop, "shop/pricing.py", "def rate(item):", "def rate(item, region=None):")
    (summary,) = detect(store, shop)
    assert summary.change == "signature_changed" and summary.symbol == "shop.pricing.rate"
    assert summary.signature_after == "def rate(item, region=None)"
    by_caller = {s.caller: s for s in summary.callsites}
    assert by_caller["shop.cart.Cart.taxes"].confidence == 1.0  # sp.rate(i), sp = the module
    assert by_caller["shop.cart.Cart.taxes"].code == "return [sp.rate(i) for i in self.items]"
    assert by_caller["shop.pricing.price"].confidence == 0.95  # same module
    assert by_caller["shop.pricing._helper"].line == 11

    # a rename: same body, new name (a method: its module has no __all__)
    edit(shop, "shop/cart.py", "def taxes(self):", "def all_taxes(self):")
    (renamed,) = detect(store, shop)
    assert renamed.change == "renamed" and renamed.renamed_to == "shop.cart.Cart.all_taxes"
    assert renamed.description == "shop.cart.Cart.taxes was renamed to shop.cart.Cart.all_taxes"
    # renaming rate to a name its module's __all__ does not list takes it out of the API
    edit(
        shop, "shop/pricing.py", "def rate(item, region=None):", "def tax_rate(item, region=None):"
    )
    (gone,) = detect(store, shop)
    assert gone.change == "removed" and gone.symbol == "shop.pricing.rate"
    assert {s.caller for s in gone.callsites} >= {"shop.cart.Cart.all_taxes", "shop.pricing.price"}
    # each detection wrote only what changed; what is stored is still the whole surface
    with store.connect() as conn:
        assert load_snapshot(conn, "shop") == public_api(conn, "shop", shop)


def test_private_and_unexported_symbols_are_not_api(store: Store, shop: Path) -> None:
    edit(
        shop,
        "shop/pricing.py",
        "def internal_only():\n    return 1",
        "def internal_only(x):\n    return x",
    )
    edit(shop, "shop/pricing.py", "def _helper():", "def _helper(y=0):")
    assert detect(store, shop) == []  # not in __all__ / private: no API change


def test_impact_of_a_symbol_as_it_stands_and_of_an_unknown_name(store: Store, shop: Path) -> None:
    with store.connect() as conn:
        summary = impact_for(conn, "Cart.total", "shop")
        missing = impact_for(conn, "no_such_api", "shop")
    assert not isinstance(summary, Miss) and summary.change is None
    assert [(s.caller, s.confidence) for s in summary.callsites] == [
        ("test_cart.test_total", 0.3)  # Cart().total(): a method through an object
    ]
    assert isinstance(missing, Miss) and "no node named 'no_such_api'" in missing.reason


STARS: Files = {
    # the package re-exports two modules with stars: one lists __all__, one does not
    "kit/__init__.py": "from .tools import *\nfrom kit.extra import *\n",
    "kit/tools.py": """
        __all__ = ["hammer"]


        def hammer(nail):
            return nail


        def saw(board):
            return board
        """,
    "kit/extra.py": """
        from kit.deep.impl import drill


        def glue(a, b):
            return a, b


        def _secret():
            return 1
        """,
    "kit/deep/__init__.py": "",
    "kit/deep/impl.py": "__all__ = []\n\n\ndef drill(hole):\n    return hole\n",
    # make().drill(4): a call on an expression, no qualifier name (same line: one site)
    "app.py": "from kit import drill, glue, hammer\n\n\ndef build():\n"
    "    return hammer(1), glue(1, 2), drill(3), make().drill(4)\n",
}


def test_star_re_exports_count_as_exports(store: Store, repo: Callable[[Files], Path]) -> None:
    root = repo(STARS)
    refresh_repository(store, root, repo="kit")
    with store.connect() as conn:
        from kgents_assets.hub.api_surface import public_api

        surface = {s.full_name: s.exported_by for s in public_api(conn, "kit", root).values()}
    # __all__ of tools says what its star exports: hammer, not saw (not public at all)
    assert surface["kit.tools.hammer"] == ("kit.tools", "kit")
    assert "kit.tools.saw" not in surface
    # no __all__ in extra: its public names, imported ones followed to their definition
    assert surface["kit.extra.glue"] == ("kit.extra", "kit")
    assert "kit.extra._secret" not in surface
    # impl's __all__ is empty, but the package re-exports drill through extra's star
    assert surface["kit.deep.impl.drill"] == ("kit.deep.impl", "kit")

    with store.transaction() as conn:
        assert detect_and_summarize(conn, "kit", root)[0] is True
    (root / "kit/deep/impl.py").write_text("__all__ = []\n")
    refresh_repository(store, root, repo="kit")
    with store.transaction() as conn:
        _, (summary,) = detect_and_summarize(conn, "kit", root)
    assert summary.description == "kit.deep.impl.drill was removed (def drill(hole))"
    assert summary.exported_by == ["kit.deep.impl", "kit"]
    # imported from the package that re-exports it: the callsite is certain
    assert [(s.file_path, s.caller, s.confidence) for s in summary.callsites] == [
        ("app.py", "app.build", 1.0)
    ]
