"""Demos 1 and 2 on the gateway's hub stream: a failure bundle written by the test-failure
sensor's code path, and an impact summary written by a code refresh's api_impact step,
each reach a real websocket observer of `hub` on a real gateway, as one sentence naming
the test or the symbol and the artifact's path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gateway_testing import serve_gateway
from gateway_ws_helpers import read_until
from websockets.asyncio.client import connect

from gateway.settings import GatewaySettings
from kgents_assets.hub.impact import detect_and_summarize
from kgents_assets.hub.refresh import refresh_repository
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from sensors.events import TestFailed
from sensors.failure_context import record_failure_contexts
from sensors.journal import EventJournal
from tests.repo_helpers import Files

FILES: Files = {
    "shop/__init__.py": "",
    "shop/pricing.py": "def price(item):\n    return item.cost\n\n\ndef rate(x):\n    return x\n",
    "shop/cart.py": "from shop.pricing import price\n\n\ndef total(items):\n"
    "    return sum(price(i) for i in items)\n",
    "tests/test_cart.py": "from shop.cart import total\n\n\ndef test_total():\n"
    "    assert total([]) == 1\n",
}
LONGREPR = "tests/test_cart.py:5: in test_total\n    assert total([]) == 1\nE   assert 0 == 1\n"


def _is(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event.get("type") == kind


@pytest.mark.slow
def test_bundles_and_summaries_appear_on_the_hub_stream(
    settings: GatewaySettings,
    store: Store,
    tmp_path: Path,
    repo: Callable[[Files], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    root = repo(FILES)
    add_repository(store, "shop", str(root))
    refresh_repository(store, root, repo="shop")
    with store.transaction() as conn:
        assert detect_and_summarize(conn, "shop", root)[0] is True  # the API baseline
    config = settings.model_copy(update={"dagster_agents": True, "dagster_home": home})

    async def observe(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(f"{url}/observe/hub") as ws:
            await read_until(ws, _is("watching"), within=60)  # the source is following

            def fail_a_test() -> None:
                seq = EventJournal(store).append(
                    TestFailed(nodeid="tests/test_cart.py::test_total", session_id="s1",
                               message="assert 0 == 1", longrepr=LONGREPR, source="pytest"),
                    repo="shop",
                )  # fmt: skip
                record_failure_contexts(store, [seq])  # the sensor's run does this

            await asyncio.to_thread(fail_a_test)
            (bundle,) = [
                e
                for e in await read_until(ws, _is("failure_bundle"), 20)
                if _is("failure_bundle")(e)
            ]

            def remove_price() -> None:
                pricing = root / "shop/pricing.py"
                pricing.write_text("def rate(x):\n    return x\n")
                refresh_repository(store, root, repo="shop")
                with store.transaction() as conn:
                    detect_and_summarize(conn, "shop", root)  # api_impact's step

            await asyncio.to_thread(remove_price)
            (impact,) = [
                e
                for e in await read_until(ws, _is("impact_summary"), 20)
                if _is("impact_summary")(e)
            ]
            return bundle, impact

    with serve_gateway(config, store) as gateway:
        bundle, impact = asyncio.run(observe(gateway.ws))

    data = bundle["data"]
    assert data["repo"] == "shop" and data["subject"] == "tests/test_cart.py::test_total"
    assert data["path"] == ".agentfs/failures/tests/test_cart.py/test_total.json"
    assert data["summary"].startswith("failure bundle for tests/test_cart.py::test_total")
    assert "assert 0 == 1" in data["summary"]
    assert (root / data["path"]).is_file()

    data = impact["data"]
    assert data["subject"] == "shop.pricing.price" and data["change"] == "removed"
    assert "shop.pricing.price was removed" in data["summary"]
    assert "1 callsite" in data["summary"]
    assert (root / data["path"]).is_file()
