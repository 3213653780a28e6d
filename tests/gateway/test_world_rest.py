"""The `world` agent over REST and its stream: scenes of fixture sets, and in dev mode a
fixture edit arriving as one event (a sentence with the new revision) on /observe/world."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
from gateway_testing import Gateway, serve_gateway
from websockets.asyncio.client import connect

from gateway.settings import GatewaySettings
from kgents_assets.hotdata.paths import PROJECT_FIXTURES_DIR
from kgents_assets.store import Store


def test_world_scenes_and_sets_over_rest(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        sets = http.get("/api/world/sets").json()
        names = [s["name"] for s in sets["sets"]]
        assert names[0] == "demo" and {"crowded", "calm", "stressed"} <= set(names)
        crowded = next(s for s in sets["sets"] if s["name"] == "crowded")
        assert crowded["own"] == ["flux_states/crowded"]
        assert crowded["fixtures"]["garden_states"] == "garden_states/main"
        assert sets["dev"] is False

        scene = http.get("/api/world", params={"set": "crowded"}).json()
        assert scene["set"] == "crowded" and scene["dev"] is False
        assert len(scene["grid"]["agents"]) == 24 and scene["problems"] == []
        assert {a["phase"] for a in scene["grid"]["agents"]} == {
            "ACTIVE",
            "WAKING",
            "WANING",
            "DORMANT",
            "VOID",
        }
        assert scene["gardens"][0]["orchestration_state"] in {
            "idle",
            "converging",
            "diverging",
            "stable",
        }

        missing = http.get("/api/world", params={"set": "nope"})
        assert missing.status_code == 404
        assert "known sets: demo, busy, calm, crowded" in missing.json()["detail"]


async def _events(ws_url: str, want: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    async with connect(ws_url) as ws:
        while len(got) < want:
            for line in str(await asyncio.wait_for(ws.recv(), 10)).split("\n"):
                event = json.loads(line)
                if event["type"] not in ("hello", "state_changed"):
                    got.append(event)
    return got


def test_dev_mode_pushes_a_fixture_edit_through_the_stream(
    settings: GatewaySettings, store: Store, tmp_path: Path
) -> None:
    fixtures = tmp_path / "fx"
    shutil.copytree(PROJECT_FIXTURES_DIR, fixtures)
    config = settings.model_copy(update={"dev_mode": True, "fixtures_dir": fixtures})
    with serve_gateway(config, store) as gateway:
        loaded = gateway.run(_events(f"{gateway.ws}/observe/world", 1))[0]
        assert loaded["type"] == "world_loaded"
        assert loaded["data"]["summary"] == (
            "demo world loaded: 8 fixture sets from 12 fixtures; watching for edits"
        )
        before = loaded["data"]["revision"]

        async def edit_and_listen() -> dict[str, Any]:
            async with connect(f"{gateway.ws}/observe/world?since={loaded['seq']}") as ws:
                await ws.recv()  # hello: we are attached, the edit cannot be missed
                path = fixtures / "garden_states" / "stressed.json"
                data = json.loads(path.read_text())
                data["health"] = 0.05
                path.write_text(json.dumps(data))
                while True:
                    for line in str(await asyncio.wait_for(ws.recv(), 10)).split("\n"):
                        event = json.loads(line)
                        if event["type"].startswith("fixture_"):
                            return event

        event = gateway.run(edit_and_listen())
        assert event["type"] == "fixture_loaded"
        assert event["data"]["summary"] == "garden_states/stressed reloaded (set stressed)"
        assert event["data"]["sets"] == ["stressed"] and event["data"]["revision"] == before + 1
        with httpx.Client(base_url=gateway.url) as http:
            scene = http.get("/api/world", params={"set": "stressed"}).json()
        assert scene["gardens"][0]["health"] == 0.05 and scene["revision"] == before + 1
