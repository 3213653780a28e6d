"""The catalog over a live gateway: search, list and show narrowed by repository, the
registered repositories, and the catalog's Prometheus metrics scraped after a search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from gateway_testing import Gateway
from prometheus_client.parser import text_string_to_metric_families

from kgents_assets.catalog.embedders import DEFAULT_SPEC, get_embedder
from kgents_assets.catalog.sync import sync_catalog
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.store import Store
from tests.repo_helpers import Files, write_files

SHOP: Files = {
    "shop/pricing.py": '''
        def price(item):
            """Unit price of an item, taxes included."""
            return item.cost * 1.2
        ''',
}
TOOLS: Files = {
    "tools/pricing_report.py": '''
        def price_report(items):
            """A report of every item's price."""
            return [i.cost for i in items]
        ''',
}


def _two_repositories(store: Store, tmp_path: Path) -> None:
    for name, files in (("shop", SHOP), ("tools", TOOLS)):
        root = tmp_path / name
        write_files(root, files)
        refresh_repository(store, root, repo=name)
    sync_catalog(store, get_embedder(DEFAULT_SPEC), repo=None)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_library_routes_narrow_by_repository(
    gateway: Gateway, store: Store, tmp_path: Path
) -> None:
    _two_repositories(store, tmp_path)
    with httpx.Client(base_url=gateway.url) as http:
        everything = http.get("/api/library/catalog", params={"origin": "node"}).json()
        assert {e["repo"] for e in everything} == {"shop", "tools"}
        assert all("body" not in e for e in everything)
        tools = http.get("/api/library/catalog", params={"repo": "tools"}).json()
        assert tools and {e["repo"] for e in tools} == {"tools"}

        hits = http.get("/api/library/discover", params={"q": "price", "mode": "keyword"})
        assert {h["entry"]["repo"] for h in hits.json()["hits"]} == {"shop", "tools"}
        narrowed = http.get(
            "/api/library/discover", params={"q": "price", "mode": "keyword", "repo": "shop"}
        ).json()
        assert narrowed["repo"] == "shop"
        assert narrowed["hits"] and {h["entry"]["repo"] for h in narrowed["hits"]} == {"shop"}

        entry_id = tools[0]["id"]
        shown = http.get(f"/api/library/entries/{entry_id}").json()
        assert shown["id"] == entry_id and shown["embedder"] and shown["dimension"] > 0
        assert "body" in shown and isinstance(shown["incoming"], list)
        assert (
            http.get(f"/api/library/entries/{entry_id}", params={"repo": "shop"}).status_code == 404
        )
        missing = http.get("/api/library/entries/no-such-entry")
        assert missing.status_code == 404 and "no-such-entry" in missing.json()["detail"]
        assert (
            http.get("/api/library/catalog", params={"entity_type": "nonsense"}).status_code == 400
        )

        repos = http.get("/api/repos").json()
        assert [(r["name"], r["source"]) for r in repos] == [("shop", "local"), ("tools", "local")]
        assert repos[0]["location"] == str((tmp_path / "shop").resolve())
        assert repos[0]["files"] == 1 and repos[0]["nodes"] == 2  # the module and price()
        assert repos[0]["last_refresh_at"] is None or isinstance(repos[0]["last_refresh_at"], str)


def test_catalog_metrics_are_scraped_after_a_search(
    gateway: Gateway, store: Store, tmp_path: Path
) -> None:
    _two_repositories(store, tmp_path)
    with httpx.Client(base_url=gateway.url) as http:
        before = _samples(http.get("/metrics").text)
        assert http.get("/api/library/discover", params={"q": "price"}).status_code == 200
        refused = http.get("/api/library/discover", params={"q": "the", "mode": "keyword"})
        assert refused.status_code == 400  # only stop words: counted as invalid
        after = _samples(http.get("/metrics").text)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("kgents_catalog_search_seconds_count", mode="hybrid") == 1
    assert delta("kgents_catalog_search_seconds_count", mode="keyword") == 1
    assert delta("kgents_catalog_search_seconds_sum", mode="hybrid") > 0
    assert delta("kgents_catalog_operations_total", operation="search", status="ok") == 1
    assert delta("kgents_catalog_operations_total", operation="search", status="invalid") == 1
    functions = _value(after, "kgents_catalog_entries", entity_type="function")
    modules = _value(after, "kgents_catalog_entries", entity_type="module")
    assert functions == 2 and modules == 2
    pool = {
        state: _value(after, "kgents_catalog_pool_connections", state=state)
        for state in ("in_use", "idle", "waiting")
    }
    assert pool["idle"] >= 1 and pool["in_use"] == 0 and pool["waiting"] == 0
    # every metric the dashboard may chart is described, even before it has a sample
    families = {f.name for f in text_string_to_metric_families(http_text(gateway))}
    assert {
        "kgents_catalog_search_seconds",
        "kgents_catalog_operations",
        "kgents_catalog_entries",
        "kgents_catalog_pool_connections",
        "kgents_pipeline_run_seconds",
    } <= families


def http_text(gateway: Gateway) -> str:
    return httpx.get(f"{gateway.url}/metrics").text
