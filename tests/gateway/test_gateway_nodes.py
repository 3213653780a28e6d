"""Nodes over REST: state and markdown from the store, byte for byte the file the
pipeline wrote, with nothing read from disk; listing and lookup narrowed by repository."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
from gateway_testing import Gateway
from psycopg.types.json import Jsonb

from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files

FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": '''
        """Prices."""


        def price(item):
            """Unit price of an item."""
            return item.cost * rate(item)


        def rate(item):
            return 1.2 if item.taxed else 1.0
        ''',
    "tests/test_pricing.py": """
        from shop.pricing import price


        def test_price():
            assert price(None) is None
        """,
}


def test_markdown_is_rendered_from_state_byte_identical_to_the_asset_file(
    gateway: Gateway, store: Store, repo: Callable[[Files], Path]
) -> None:
    root = repo(FILES)
    refresh_repository(store, root, repo="shop")
    written = {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in (root / ".agentfs" / "nodes").rglob("*.md")
    }
    assert len(written) >= 4
    shutil.rmtree(root / ".agentfs" / "nodes")  # another pod's disk: the gateway has none
    with httpx.Client(base_url=gateway.url) as http:
        listing = http.get("/api/nodes", params={"repo": "shop"}).json()
        assert listing["total"] == len(written)
        for summary in listing["nodes"]:
            node_id = summary["node_id"]
            assert node_id.startswith("shop:")
            body = http.get(f"/api/nodes/{node_id}").json()
            markdown = http.get(f"/api/nodes/{node_id}/markdown")
            assert markdown.headers["content-type"].startswith("text/markdown")
            assert markdown.content == written[body["markdown_path"]]
            assert body["markdown"].encode() == written[body["markdown_path"]]
        first = listing["nodes"][0]["node_id"]
        assert http.get(f"/api/nodes/{first}", params={"repo": "shop"}).status_code == 200
        elsewhere = http.get(f"/api/nodes/{first}", params={"repo": "other"})
        assert elsewhere.status_code == 404 and "'other'" in elsewhere.json()["detail"]
        functions = http.get("/api/nodes", params={"repo": "shop", "kind": "function"}).json()
        assert {n["qualname"] for n in functions["nodes"]} >= {"price", "rate", "test_price"}
        assert http.get("/api/nodes", params={"repo": "none"}).json()["total"] == 0
        assert http.get("/api/nodes/shop:missing").status_code == 404


def test_a_state_that_cannot_be_rendered_says_why(gateway: Gateway, store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO kv (key, value) VALUES (%s, %s)", ("node:x:n1:state", Jsonb({"name": "f"}))
        )
    with httpx.Client(base_url=gateway.url) as http:
        body = http.get("/api/nodes/x:n1").json()
        assert body["state"] == {"name": "f"} and body["markdown"] is None
        assert "cannot be rendered" in body["markdown_error"]
        assert http.get("/api/nodes/x:n1/markdown").status_code == 422
