from __future__ import annotations

import ast
from pathlib import Path

from kgents_assets.hub.discovery import extract_source, package_dir_checker
from kgents_assets.hub.models import FileStatus

SOURCE = b'''"""Orders: the module docstring. Second sentence."""
import os
import numpy as np
from .pricing import price as unit_price
from ..shared import audit


@audit("orders")
async def place(order, *, retries: int = 3) -> "Receipt":
    """Place an order. Retries on conflict."""
    for attempt in range(retries):
        if order.ok and attempt or order.force:
            return unit_price(order)
    def fallback():
        return np.zeros(1)
    return fallback()


class Basket(Base):
    """A basket of items."""

    def total(self):
        return sum(self.line(i) for i in self.items if i)

    @property
    def size(self):
        return len(self.items)

    @size.setter
    def size(self, value):
        raise AttributeError("read-only")

    class Line:
        def cost(self):
            return os.path.join("a", "b") if self else None
'''


def extract(rel: str = "shop/orders/core.py", source: bytes = SOURCE):
    return extract_source(rel, source, "python", lambda d: d in {"shop", "shop/orders"})


def test_finds_modules_classes_functions_methods_nested_and_decorated() -> None:
    ex = extract()
    found = {(n.kind, n.qualname) for n in ex.nodes}
    assert found == {
        ("module", "__module__"),
        ("function", "place"),
        ("function", "place.fallback"),
        ("class", "Basket"),
        ("method", "Basket.total"),
        ("method", "Basket.size"),  # getter and setter: two nodes, one qualname
        ("class", "Basket.Line"),
        ("method", "Basket.Line.cost"),
    }
    assert len(ex.nodes) == 9
    assert ex.status == FileStatus.OK and ex.parse_errors == 0


def test_module_names_and_imports_follow_the_package_chain() -> None:
    ex = extract()
    assert ex.module == "shop.orders.core"
    assert ex.imports == {
        "os": "os",
        "np": "numpy",
        "unit_price": "shop.orders.pricing.price",
        "audit": "shop.shared.audit",
    }


def test_signature_decorators_docstring_complexity_and_calls() -> None:
    by_name = {n.qualname: n for n in extract().nodes}
    place = by_name["place"]
    assert place.signature == 'async def place(order, *, retries: int = 3) -> "Receipt"'
    assert place.decorators == ('audit("orders")',)
    assert place.docstring == "Place an order. Retries on conflict."
    # 1 + for + if + `and` + `or`
    assert place.complexity == 5
    assert {(c.qualifier, c.name) for c in place.calls} >= {(None, "range"), (None, "unit_price")}
    assert by_name["Basket.total"].complexity == 3  # generator `for` + its `if`
    assert by_name["Basket.total"].class_name == "Basket"
    cost = by_name["Basket.Line.cost"]
    assert cost.complexity == 2 and ("os.path", "join") in {
        (c.qualifier, c.name) for c in cost.calls
    }
    assert by_name["__module__"].docstring.startswith("Orders: the module docstring.")


def test_same_named_nodes_get_distinct_ids() -> None:
    sizes = [n for n in extract().nodes if n.qualname == "Basket.size"]
    assert len({n.node_id for n in sizes}) == 2
    assert [n.ordinal for n in sizes] == [0, 1]


def test_syntax_error_still_yields_nodes_and_is_counted() -> None:
    ex = extract(
        "broken.py",
        b"def ok():\n    return 1\n\ndef broken(:\n    pass\n\nclass After:\n    pass\n",
    )
    assert ex.status == FileStatus.SYNTAX_ERROR
    assert ex.parse_errors >= 1
    names = {n.qualname for n in ex.nodes}
    assert {"ok", "After"} <= names


def test_bad_bytes_become_statuses_not_crashes() -> None:
    binary = extract("blob.py", b"\x7fELF\x00\x00\x01binary")
    assert binary.status == FileStatus.BINARY and binary.nodes == []
    bad_utf8 = extract("latin.py", b"name = '\xe9t\xe9'\n")
    assert bad_utf8.status == FileStatus.INVALID_UTF8 and "byte" in (bad_utf8.error or "")
    empty = extract("empty.py", b"")
    assert empty.status == FileStatus.EMPTY and [n.kind for n in empty.nodes] == ["module"]
    big = extract_source("gen.py", b"x = 1\n" * 1_000_000, "python", lambda d: False)
    assert big.status == FileStatus.TOO_LARGE and "exceeds" in (big.error or "")


def test_node_counts_match_python_ast_on_real_code() -> None:
    """Every def and class that Python's own parser sees, discovery sees: checked on the
    project's own installed dependencies (real third-party code)."""
    import dagster
    import pydantic

    compared = 0
    for package in (
        Path(dagster.__file__).parent / "_core" / "definitions",
        Path(pydantic.__file__).parent,
    ):
        root = package.parent
        is_pkg = package_dir_checker(root)
        for path in sorted(package.rglob("*.py"))[:150]:
            data = path.read_bytes()
            tree = ast.parse(data)
            expected = 1 + sum(
                isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                for n in ast.walk(tree)
            )
            rel = path.relative_to(root).as_posix()
            assert len(extract_source(rel, data, "python", is_pkg).nodes) == expected, rel
            compared += 1
    assert compared > 100
