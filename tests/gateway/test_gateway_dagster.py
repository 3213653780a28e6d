"""`pipeline` and `hub` mirror a real Dagster instance's event log."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from gateway_testing import serve_gateway
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from gateway.settings import GatewaySettings
from kgents_assets.store import Store


@dg.asset(group_name="code")
def code_nodes() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"files_scanned": 3, "nodes_changed": 1})


@dg.asset(group_name="elsewhere")
def unrelated() -> None:
    return None


def code_group_keys(defs: dg.Definitions) -> tuple[str, ...]:
    graph = defs.resolve_asset_graph()
    return tuple(
        k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).group_name == "code"
    )


async def collect(ws: ClientConnection, want: set[str], within: float) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def loop() -> None:
        while not want <= set(found):
            for line in (await ws.recv()).split("\n"):
                event = json.loads(line)
                found.setdefault(event["type"], (event, time.time()))

    await asyncio.wait_for(loop(), within)
    return found


def successful_runs(url: str) -> float:
    text = httpx.get(f"{url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "kgents_pipeline_run_seconds_count"
        and sample.labels == {"status": "success"}
    )


@pytest.mark.slow
def test_runs_and_materializations_reach_observers_within_2_s(
    settings: GatewaySettings, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The instance lives on the test's server (the dagster.yaml written for this home
    # refers to $KGENTS_DATABASE_URL), as it would in a deployment.
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    defs = dg.Definitions(assets=[code_nodes, unrelated])
    config = settings.model_copy(
        update={
            "dagster_agents": True,
            "dagster_home": home,
            "hub_asset_keys": code_group_keys(defs),
        }
    )
    with serve_gateway(config, store) as gateway:

        async def scenario() -> None:
            async with (
                connect(f"{gateway.ws}/observe/pipeline") as pipeline,
                connect(f"{gateway.ws}/observe/hub") as hub,
            ):
                await pipeline.recv()
                await hub.recv()
                await asyncio.sleep(0.5)  # the feeds take their starting cursor
                runs_before = successful_runs(gateway.url)

                def run() -> float:
                    with dg.DagsterInstance.from_config(str(home)) as instance:
                        result = dg.materialize([code_nodes, unrelated], instance=instance)
                    assert result.success
                    return time.time()

                finished = asyncio.create_task(asyncio.to_thread(run))
                seen = await collect(
                    pipeline, {"run_start", "asset_materialization", "run_success"}, 60
                )
                hub_seen = await collect(hub, {"node_update"}, 10)
                done_at = await finished
                run_success, arrived = seen["run_success"]
                assert arrived - done_at <= 2.0
                assert run_success["data"]["job_name"] == "__ephemeral_asset_job__"
                # the pipeline agent timed the run for kgents_pipeline_run_seconds
                assert successful_runs(gateway.url) == runs_before + 1
                update, _ = hub_seen["node_update"]
                assert update["data"]["asset_key"] == "code_nodes"
                assert update["data"]["metadata"] == {"files_scanned": 3, "nodes_changed": 1}

        asyncio.run(scenario())
