from __future__ import annotations

from kgents_assets.hub.discovery import extract_source
from kgents_assets.hub.models import FileStatus

TS = b"""/** Cart helpers. */
import { price as unitPrice } from './pricing';
import * as log from '../log/index';

/** Total of a cart. */
export function total(cart: Cart): number {
  let sum = 0;
  for (const item of cart.items) {
    sum += item.ok && item.qty ? unitPrice(item) : 0;
  }
  log.info(sum);
  return sum;
}

export const half = (n: number) => n / 2;

export class Cart {
  items: Item[] = [];
  add(item: Item) { if (!item) { throw new Error('x'); } this.items.push(item); return total(this); }
}

interface Item { qty: number; ok: boolean }
"""


def test_typescript_functions_arrows_classes_methods_and_imports() -> None:
    ex = extract_source("web/src/cart.ts", TS, "typescript", lambda d: False)
    assert ex.status == FileStatus.OK
    kinds = {(n.kind, n.qualname) for n in ex.nodes}
    assert kinds == {
        ("module", "__module__"),
        ("function", "total"),
        ("function", "half"),
        ("class", "Cart"),
        ("method", "Cart.add"),
        ("class", "Item"),
    }
    assert ex.imports == {"unitPrice": "web.src.pricing.price", "log": "web.log"}
    by = {n.qualname: n for n in ex.nodes}
    assert by["total"].docstring == "Total of a cart."
    assert by["total"].complexity == 4  # for + ternary + &&
    assert {(c.qualifier, c.name) for c in by["total"].calls} == {
        (None, "unitPrice"),
        ("log", "info"),
    }
    assert ("self", "push") not in {(c.qualifier, c.name) for c in by["Cart.add"].calls}
    assert (None, "total") in {(c.qualifier, c.name) for c in by["Cart.add"].calls}


def test_javascript_and_a_broken_file() -> None:
    ex = extract_source(
        "app.js", b"function a() { return b(); }\nfunction (\n", "javascript", lambda d: False
    )
    assert ex.status == FileStatus.SYNTAX_ERROR and ex.parse_errors >= 1
    assert "a" in {n.qualname for n in ex.nodes}
