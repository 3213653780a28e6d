"""Replicas share streams through PostgreSQL: two gateway processes on one database, events
posted to either, observers on both see one sequence (same seqs, same frames, in order),
and ``since=`` resumes on the other replica, from its ring or from the table."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_processes import gateway_process
from gateway_testing import TOKEN, Controls, Gateway, serve_gateway
from gateway_ws_helpers import parse, read_until
from websockets.asyncio.client import connect

from gateway.app import GatewayContext
from gateway.settings import GatewaySettings
from kgents_assets.flux import FluxAgent
from kgents_assets.store import Store

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _post(url: str, source: str, count: int, big_at: int | None = None) -> None:
    with httpx.Client(base_url=url, headers=AUTH) as http:
        for n in range(count):
            data: dict[str, Any] = {"source": source, "n": n}
            if n == big_at:
                data["pad"] = "x" * 12_000  # over NOTIFY's 8000 bytes: read from the table
            response = http.post("/api/agents/daemon/events", json={"type": "tick", "data": data})
            assert response.status_code == 202, response.text


async def _ticks(
    ws_url: str, expected: int, since: int | None = None, attached: asyncio.Event | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    url = ws_url if since is None else f"{ws_url}?since={since}"
    async with connect(url, max_size=None) as ws:
        hello = parse(await ws.recv())[0]
        if attached is not None:
            attached.set()
        seen: list[dict[str, Any]] = []

        def done(obj: dict[str, Any]) -> bool:
            if obj.get("type") == "tick":
                seen.append(obj)
            return len(seen) >= expected

        await read_until(ws, done, within=30)
    return hello, seen


@pytest.mark.slow
def test_two_replicas_share_one_ordered_stream_and_resume_across(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    with (
        gateway_process(database_url, tmp_path) as a,
        gateway_process(database_url, tmp_path) as b,
    ):
        ws_a = a.replace("http", "ws") + "/observe/daemon"
        ws_b = b.replace("http", "ws") + "/observe/daemon"

        async def scenario() -> None:
            on = [asyncio.Event(), asyncio.Event()]
            watch_a = asyncio.create_task(_ticks(ws_a, 80, attached=on[0]))
            watch_b = asyncio.create_task(_ticks(ws_b, 80, attached=on[1]))
            await asyncio.gather(*(e.wait() for e in on))  # both watch before any post
            writers = [
                threading.Thread(target=_post, args=(a, "a", 40, 17)),
                threading.Thread(target=_post, args=(b, "b", 40)),
            ]
            for writer in writers:
                writer.start()
            (hello_a, on_a), (hello_b, on_b) = await asyncio.gather(watch_a, watch_b)
            for writer in writers:
                writer.join()

            assert hello_a["epoch"] == hello_b["epoch"]  # one stream, whoever serves it
            # The same frames, in the same order, on both replicas...
            assert on_a == on_b
            seqs = [e["seq"] for e in on_a]
            assert seqs == list(range(seqs[0], seqs[0] + 80))
            # ...and each producer's events in the order it posted them.
            for source in ("a", "b"):
                ns = [e["data"]["n"] for e in on_a if e["data"]["source"] == source]
                assert ns == list(range(40))
            assert len(next(e for e in on_a if e["data"].get("pad"))["data"]["pad"]) == 12_000

            # Resume on the other replica: exactly what followed, nothing before it.
            cut = on_a[29]["seq"]
            hello, resumed = await _ticks(ws_b, 50, since=cut)
            assert hello["replay_from"] == cut + 1 and hello["gap"] is None
            assert resumed == on_a[30:]

        asyncio.run(scenario())


def test_resume_older_than_the_ring_is_served_from_the_table(tmp_path: Path, store: Store) -> None:
    settings = GatewaySettings(
        token=None,
        repo_root=tmp_path,
        dagster_agents=False,
        shared_streams=True,
        ring_capacity=16,
        history=8,
    )
    with serve_gateway(settings, store) as gateway:
        streams = gateway.app.state.streams
        gateway.emit("streamer", 100)
        assert gateway.run(streams.flush(10))
        head = gateway.agent("streamer").mirror.head

        async def scenario() -> None:
            url = f"{gateway.ws}/observe/streamer"
            hello, fresh = await _ticks(url, 8)
            assert hello["head"] == head and [e["seq"] for e in fresh] == list(
                range(head - 7, head + 1)
            )
            hello, resumed = await _ticks(url, 95, since=head - 95)
            assert hello["gap"] is None and hello["replay_from"] == head - 94
            assert [e["seq"] for e in resumed] == list(range(head - 94, head + 1))
            assert [e["data"]["n"] for e in resumed] == list(range(5, 100))

        asyncio.run(scenario())

    # A restarted gateway (a new replica) starts from the stream, not from zero.
    with serve_gateway(settings, store) as again:
        mirror = again.agent("streamer").mirror
        assert mirror.head >= head and mirror.epoch == hello_epoch(store, "streamer")


def hello_epoch(store: Store, agent_id: str) -> str:
    with store.connect() as conn:
        row = conn.execute(
            "SELECT epoch FROM gateway_streams WHERE agent_id = %s", (agent_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_notice_payload_falls_back_to_the_header_when_too_big() -> None:
    from gateway.streams import journal

    small = journal.decode_notice(journal.encode_notice("daemon", 5, ['{"a":1}', '{"b":2}']))
    assert small == journal.Notice("daemon", 5, 6, ['{"a":1}', '{"b":2}'])
    big = journal.encode_notice("daemon", 7, [json.dumps({"pad": "x" * 9000})])
    assert len(big.encode()) < 8000
    assert journal.decode_notice(big) == journal.Notice("daemon", 7, 7, None)


def _ticker(replica: str) -> Callable[[GatewayContext, Controls], list[FluxAgent]]:
    def agents(context: GatewayContext, _: Controls) -> list[FluxAgent]:
        async def tick(agent: FluxAgent) -> None:
            n = 0
            while True:
                agent.emit("tick", {"replica": replica, "n": n})
                n += 1
                await asyncio.sleep(0.02)

        return [FluxAgent("ticker", source=tick, mirror=context.mirror("ticker"))]

    return agents


def _ticks_held(gateway: Gateway) -> list[dict[str, Any]]:
    events = gateway.call(lambda: gateway.agent("ticker").mirror.recent(4096))
    return [e.model_dump() for e in events if e.type == "tick"]


def _wait_for(condition: Callable[[], bool], within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_source_runs_on_one_replica_and_moves_when_that_replica_stops(
    tmp_path: Path, store: Store
) -> None:
    settings = GatewaySettings(repo_root=tmp_path, dagster_agents=False, shared_streams=True)
    first = serve_gateway(settings, store, _ticker("a"))
    first.__enter__()
    try:
        with serve_gateway(settings, store, _ticker("b")) as b:
            _wait_for(lambda: len(_ticks_held(b)) >= 30)
            # One producer: every tick so far is a's, once each, though b hosts the agent too.
            held = _ticks_held(b)
            assert {t["data"]["replica"] for t in held} == {"a"}
            assert [t["data"]["n"] for t in held] == list(range(len(held)))
            first.__exit__(None, None, None)
            first = None
            _wait_for(lambda: any(t["data"]["replica"] == "b" for t in _ticks_held(b)))
            held = _ticks_held(b)
            seqs = [t["seq"] for t in held]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
            switch = next(i for i, t in enumerate(held) if t["data"]["replica"] == "b")
            assert {t["data"]["replica"] for t in held[switch:]} == {"b"}
    finally:
        if first is not None:
            first.__exit__(None, None, None)


def test_a_foreign_notification_does_not_stop_the_listener(tmp_path: Path, store: Store) -> None:
    settings = GatewaySettings(repo_root=tmp_path, dagster_agents=False, shared_streams=True)
    with serve_gateway(settings, store) as gateway:
        streams = gateway.app.state.streams
        mirror = gateway.agent("streamer").mirror
        assert gateway.run(streams.flush(10))  # the agents' start events are in the ring
        head, before = mirror.head, streams.notified
        with store.connect(autocommit=True) as conn:
            conn.execute("NOTIFY gateway_events, 'not a header'")
            # claims to be the next event, but its frame does not parse
            conn.execute(
                "SELECT pg_notify('gateway_events', %s)",
                (f'["streamer", {head + 1}, {head + 1}]\n{{broken',),
            )
        _wait_for(lambda: streams.notified > before)  # the broken one was read, and ignored
        assert mirror.head == head
        gateway.emit("streamer", 3)
        _wait_for(lambda: mirror.head == head + 3)
        assert [e.data["n"] for e in mirror.recent(3)] == [0, 1, 2]
