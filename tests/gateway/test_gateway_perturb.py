"""/perturb over real websockets: auth, bad input, back-pressure, crashes, semaphores."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from gateway_testing import TOKEN, Gateway
from gateway_ws_helpers import close_code, parse
from websockets.asyncio.client import ClientConnection, connect

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def ask(ws: ClientConnection, payload: Any) -> dict[str, Any]:
    await ws.send(json.dumps(payload))
    return parse(await asyncio.wait_for(ws.recv(), 10))[0]


@pytest.mark.parametrize(
    ("headers", "first_message", "code"),
    [
        ({}, {}, 4401),  # a first message that is not an auth message
        ({"Authorization": "Bearer wrong"}, None, 4401),
        ({}, {"type": "auth", "token": "wrong"}, 4401),
        ({}, {"data": "no auth first"}, 4401),
    ],
)
def test_unauthenticated_clients_are_closed_with_4401(
    gateway: Gateway, headers: dict[str, str], first_message: Any, code: int
) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/echo", additional_headers=headers) as ws:
            if first_message is not None:
                await ws.send(json.dumps(first_message))
            assert await close_code(ws) == code

    asyncio.run(scenario())


def test_header_and_first_message_auth_both_work(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/echo", additional_headers=AUTH) as ws:
            assert parse(await ws.recv())[0]["type"] == "ready"
            reply = await ask(ws, {"data": {"x": 1}, "id": "a"})
            assert reply == {"type": "result", "id": "a", "result": {"echo": {"x": 1}}}
        async with connect(f"{gateway.ws}/perturb/echo") as ws:
            await ws.send(json.dumps({"type": "auth", "token": TOKEN}))
            assert parse(await ws.recv())[0]["type"] == "ready"
            assert (await ask(ws, {"data": 2}))["result"] == {"echo": 2}

    asyncio.run(scenario())


def test_unknown_agent_and_stream_only_agent(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/nobody", additional_headers=AUTH) as ws:
            assert await close_code(ws) == 4404
        async with connect(f"{gateway.ws}/perturb/streamer", additional_headers=AUTH) as ws:
            assert await close_code(ws) == 4403

    asyncio.run(scenario())


def test_malformed_json_gets_an_error_frame_and_the_connection_stays(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/echo", additional_headers=AUTH) as ws:
            await ws.recv()
            await ws.send("{not json")
            error = parse(await ws.recv())[0]
            assert error["type"] == "error" and "malformed JSON" in error["error"]
            await ws.send(json.dumps({"priority": 5}))  # no data
            error = parse(await ws.recv())[0]
            assert error["type"] == "error" and "invalid request" in error["error"]
            assert (await ask(ws, {"data": "still here"}))["result"] == {"echo": "still here"}
            failed = await ask(ws, {"data": {"fail": True}})
            assert failed["type"] == "error" and "asked to fail" in failed["error"]

    asyncio.run(scenario())


def test_message_too_big_closes_with_1009(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(
            f"{gateway.ws}/perturb/echo", additional_headers=AUTH, max_size=None
        ) as ws:
            await ws.recv()
            await ws.send(json.dumps({"data": "x" * 100_000}))
            assert await close_code(ws) == 1009

    asyncio.run(scenario())


def test_a_full_queue_closes_with_4429(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/echo", additional_headers=AUTH) as ws:
            await ws.recv()
            # One is taken by the handler (held), three wait: the buffer (3) is then full.
            for i in range(5):
                await ws.send(json.dumps({"data": {"hold": True, "i": i}}))
            assert await close_code(ws) == 4429
        gateway.call(gateway.controls.release.set)

    asyncio.run(scenario())


def test_a_crash_fails_every_waiting_perturbation(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/echo", additional_headers=AUTH) as ws:
            await ws.recv()
            await ws.send(json.dumps({"data": {"crash": True}, "id": 0}))
            await asyncio.sleep(0.2)  # the handler takes it; three more fill the buffer
            for i in range(1, 4):
                await ws.send(json.dumps({"data": {"i": i}, "id": i}))
            await asyncio.sleep(0.2)
            gateway.call(gateway.controls.crash.set)
            replies: list[dict[str, Any]] = []
            while len(replies) < 4:
                replies += parse(await asyncio.wait_for(ws.recv(), 5))
            assert sorted(r["id"] for r in replies) == [0, 1, 2, 3]
            assert all(r["type"] == "error" and "collapsed" in r["error"] for r in replies)
        assert gateway.agent("echo").state.value == "COLLAPSED"

    asyncio.run(scenario())


def test_semaphore_round_trip_through_purgatory(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/perturb/daemon", additional_headers=AUTH) as ws:
            await ws.recv()
            request = {"action": "rewrite README", "reason": "stale", "trust": 2}
            await ws.send(json.dumps({"data": request, "id": "r1"}))
            ejected = parse(await asyncio.wait_for(ws.recv(), 10))[0]
            assert ejected["type"] == "ejected" and ejected["token"]["status"] == "pending"
            token_id = ejected["token"]["id"]
            async with httpx.AsyncClient(base_url=gateway.url) as http:
                pending = (await http.get("/api/purgatory/daemon/pending")).json()
                assert [t["id"] for t in pending] == [token_id]
                url = f"/api/purgatory/daemon/resolve/{token_id}"
                assert (await http.post(url, json={"input": "approve"})).status_code == 401
                first = await http.post(url, json={"input": "approve"}, headers=AUTH)
                second = await http.post(url, json={"input": "reject"}, headers=AUTH)
                assert first.json()["changed"] is True and second.json()["changed"] is False
                assert second.json()["token"]["resolution"] == "approve"
                result = parse(await asyncio.wait_for(ws.recv(), 10))[0]
                assert result == {
                    "type": "result",
                    "id": "r1",
                    "result": {"action": "rewrite README", "approved": True, "by": "human"},
                }
                cancel = await http.post(f"/api/purgatory/daemon/cancel/{token_id}", headers=AUTH)
                assert cancel.status_code == 409
                audit = (await http.get(f"/api/purgatory/daemon/audit/{token_id}")).json()
                assert [a["action"] for a in audit["audit"]] == [
                    "ejected",
                    "resolved",
                    "resolved_again",
                    "cancelled_again",
                ]

    asyncio.run(scenario())
