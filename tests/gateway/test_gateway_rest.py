"""REST, health, metrics and docs against the real server; purgatory across a restart."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
from gateway_testing import TOKEN, Gateway, serve_gateway
from websockets.asyncio.client import connect

from gateway.agents.registry import active_registry, post_event
from gateway.settings import GatewaySettings
from kgents_assets.store import Store

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_health_ready_agents_snapshot_metrics_docs(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        assert http.get("/health").json() == {"status": "ok"}
        ready = http.get("/ready")
        assert ready.status_code == 200 and ready.json()["store"] == "ok"
        agents = {a["id"]: a for a in http.get("/api/agents").json()}
        assert {"daemon", "echo", "streamer"} <= set(agents)
        assert agents["daemon"]["state"] == "FLOWING"
        assert agents["streamer"]["takes_perturbations"] is False
        gateway.emit("streamer", 3)
        snapshot = http.get("/api/streamer/snapshot", params={"events": 2}).json()
        assert [e["type"] for e in snapshot["recent_events"]] == ["tick", "tick"]
        assert snapshot["config"]["buffer_size"] == 100
        assert http.get("/api/streamer/metrics").json()["events_emitted"] == 4
        assert http.get("/api/nobody/snapshot").status_code == 404
        prometheus = http.get("/metrics").text
        assert 'kgents_agent_events_total{agent="streamer"} 4.0' in prometheus
        assert 'kgents_agent_state{agent="daemon",state="FLOWING"} 1.0' in prometheus
        assert http.get("/docs").status_code == 200
        paths = http.get("/openapi.json").json()["paths"]
        assert "/api/purgatory/{agent_id}/resolve/{token_id}" in paths
        page = http.get("/")
        assert page.status_code == 200 and "density field" in page.text


def test_ready_reports_a_store_that_went_away(gateway: Gateway) -> None:
    gone = Store(url="postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    gateway.call(lambda: setattr(gateway.app.state, "store", gone))
    with httpx.Client(base_url=gateway.url) as http:
        ready = http.get("/ready")
        assert ready.status_code == 503 and "unavailable" in ready.json()["store"]
        # Routes that need the store say why they cannot answer, instead of a bare 500.
        search = http.get("/api/library/discover", params={"q": "parser"})
        assert search.status_code == 503 and "cannot reach the database" in search.json()["detail"]


def test_fixture_status(gateway: Gateway, settings: GatewaySettings) -> None:
    fixtures = settings.repo_root / "fixtures"
    (fixtures / "agent_snapshots").mkdir(parents=True)
    (fixtures / "agent_snapshots" / "garden.json").write_text(json.dumps({"id": "g"}))
    (fixtures / "agent_snapshots" / "broken.json").write_text("{oops")
    with httpx.Client(base_url=gateway.url) as http:
        body = http.get("/api/fixtures").json()
    assert body["count"] == 2 and body["invalid"] == 1
    by_name = {f["name"]: f for f in body["fixtures"]}
    assert by_name["garden"]["kind"] == "agent_snapshots" and by_name["garden"]["valid_json"]
    assert "JSONDecodeError" in by_name["broken"]["error"]


def test_events_posted_in_process_and_over_rest_reach_observers(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/observe/daemon") as ws:
            await ws.recv()
            # From another thread of the gateway's process (how the event daemon plugs in):
            assert active_registry() is gateway.app.state.registry
            threading.Thread(target=post_event, args=("daemon", "file_changed", {"p": "a"})).start()
            async with httpx.AsyncClient(base_url=gateway.url) as http:
                url = "/api/agents/daemon/events"
                body = {"type": "commit", "data": {"sha": "abc"}}
                assert (await http.post(url, json=body)).status_code == 401
                assert (await http.post(url, json=body, headers=AUTH)).status_code == 202
            types: set[str] = set()
            while not {"file_changed", "commit"} <= types:
                for line in (await asyncio.wait_for(ws.recv(), 5)).split("\n"):
                    types.add(json.loads(line)["type"])

    asyncio.run(scenario())


def test_pending_semaphores_survive_a_gateway_restart(
    settings: GatewaySettings, store: Store
) -> None:
    with serve_gateway(settings, store) as first:
        daemon = first.agent("daemon")
        proposal = {"action": "delete cache", "trust": 2}
        token = first.run(_eject(daemon, proposal))
    with serve_gateway(settings, store) as second, httpx.Client(base_url=second.url) as http:
        pending = http.get("/api/purgatory/daemon/pending").json()
        assert [t["id"] for t in pending] == [token]
        resolved = http.post(
            f"/api/purgatory/daemon/resolve/{token}", json={"input": "approve"}, headers=AUTH
        )
        assert resolved.json()["changed"] is True
        deadline = time.monotonic() + 5
        while True:
            events = http.get("/api/daemon/snapshot").json()["recent_events"]
            results = [e for e in events if e["type"] == "perturbation_result"]
            if results:
                break
            assert time.monotonic() < deadline, "the re-entry never ran"
            time.sleep(0.05)
        assert results[0]["data"]["token_id"] == token
        assert results[0]["data"]["result"]["approved"] is True


async def _eject(daemon: object, proposal: dict[str, object]) -> str:
    from kgents_assets.flux import FluxAgent

    assert isinstance(daemon, FluxAgent)
    perturbation = await daemon.perturb(proposal)
    token = await asyncio.wait_for(perturbation.ejected, 5)
    return token.id


def test_fixture_status_includes_the_hotdata_registry(gateway: Gateway) -> None:
    from kgents_assets.hotdata.catalog import default_registry

    with httpx.Client(base_url=gateway.url) as http:
        body = http.get("/api/fixtures").json()
    expected = default_registry(gateway.app.state.settings.fixtures).list_all()
    assert [f["name"] for f in body["registered"]] == expected
    assert {f["state"] for f in body["registered"]} == {"MISSING"}  # nothing generated yet


def test_library_discover_searches_the_catalog(gateway: Gateway, store: Store) -> None:
    from kgents_assets.catalog.models import CatalogEntry
    from kgents_assets.catalog.register import register_entry
    from kgents_assets.catalog.search import default_embedder

    entry = CatalogEntry(
        id="agent:parser",
        entity_type="agent",
        name="Markdown parser agent",
        description="parses markdown documents into sections",
        keywords=("markdown", "parser"),
    )
    register_entry(store, entry, default_embedder())
    with httpx.Client(base_url=gateway.url) as http:
        found = http.get("/api/library/discover", params={"q": "markdown", "mode": "keyword"})
        assert found.status_code == 200
        assert [h["entry"]["id"] for h in found.json()["hits"]] == ["agent:parser"]
        hybrid = http.get("/api/library/discover", params={"q": "parse markdown"})
        assert hybrid.json()["hits"][0]["entry"]["id"] == "agent:parser"
        assert http.get("/api/library/discover", params={"q": "the"}).status_code == 400
        assert http.get("/api/library/discover", params={"q": "x", "limit": 0}).status_code == 422
