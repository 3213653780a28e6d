"""/observe over real websockets: replay, resume, and the faults that must not hurt."""

from __future__ import annotations

import asyncio
import resource
import socket
import time
from collections.abc import Iterator

import pytest
from gateway_testing import Gateway, serve_gateway
from gateway_ws_helpers import close_code, parse, read_until, seqs
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.settings import GatewaySettings
from kgents_assets.store import Store


def head(gateway: Gateway, agent_id: str = "streamer") -> int:
    return gateway.call(lambda: gateway.agent(agent_id).mirror.head)


def test_replays_the_last_100_then_streams_and_resumes_with_since(gateway: Gateway) -> None:
    gateway.emit("streamer", 150)
    top = head(gateway)

    async def scenario() -> None:
        async with connect(f"{gateway.ws}/observe/streamer") as ws:
            hello = parse(await ws.recv())[0]
            assert hello["type"] == "hello" and hello["head"] == top
            assert hello["replay_from"] == top - 99
            got = await read_until(ws, lambda o: o.get("seq") == top)
            assert seqs(got) == list(range(top - 99, top + 1))
            assert {o["type"] for o in got} == {"tick"}
            assert {"agent_id", "state", "pressure", "flow", "temperature"} <= set(got[0])
            gateway.emit("streamer", 1, "late")
            live = await read_until(ws, lambda o: o.get("seq") == top + 1)
            assert live[-1]["type"] == "late"
        async with connect(f"{gateway.ws}/observe/streamer?since={top - 10}") as ws:
            got = await read_until(ws, lambda o: o.get("seq") == top + 1)
            assert seqs(got) == list(range(top - 9, top + 2))

    asyncio.run(scenario())


def test_unknown_agent_closes_with_4404(gateway: Gateway) -> None:
    async def scenario() -> None:
        async with connect(f"{gateway.ws}/observe/nobody") as ws:
            assert await close_code(ws) == 4404

    asyncio.run(scenario())


@pytest.fixture
def file_limit_8192() -> Iterator[None]:
    """Room for 2,000 sockets (both ends live in this process), restored afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.slow
@pytest.mark.usefixtures("file_limit_8192")
def test_a_thousand_observers_connecting_at_once(gateway: Gateway) -> None:
    gateway.emit("streamer", 100)
    top = head(gateway)
    n = 1000
    mirror = gateway.agent("streamer").mirror

    async def one(ready: asyncio.Event) -> int:
        async with connect(f"{gateway.ws}/observe/streamer", open_timeout=60) as ws:
            got = await read_until(ws, lambda o: o.get("seq") == top, within=60)
            await ready.wait()
            got += await read_until(ws, lambda o: o.get("seq") == top + 1, within=60)
            return len(seqs(got))

    async def scenario() -> float:
        ready = asyncio.Event()
        started = time.monotonic()
        tasks = [asyncio.create_task(one(ready)) for _ in range(n)]
        # Read from this thread: a blocking gateway.call here would stall these clients'
        # own loop, and wait behind 1,000 handshakes on the gateway's.
        while mirror.observer_count < n:
            await asyncio.sleep(0.05)
            assert time.monotonic() - started < 60, "1,000 observers did not attach in 60 s"
        gateway.emit("streamer", 1)
        ready.set()
        counts = await asyncio.gather(*tasks)
        assert counts == [101] * n  # every one got the replay and the live event
        return time.monotonic() - started

    asyncio.run(scenario())
    # All gone again: nothing leaks per observer.
    deadline = time.monotonic() + 10
    while mirror.observer_count:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_an_observer_that_never_reads_is_dropped_and_others_are_unaffected(
    gateway: Gateway,
) -> None:
    agent = gateway.agent("streamer")
    mirror = agent.mirror
    total = 6000
    payload = "x" * 400

    async def emit_steadily() -> None:
        for i in range(total):
            agent.emit("tick", {"n": i, "pad": payload})
            if i % 20 == 0:
                await asyncio.sleep(0.001)

    async def scenario() -> None:
        # The stalled client: a tiny receive buffer and a one-message queue, never read.
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", int(gateway.url.rsplit(":", 1)[1])))
        stalled = await connect(f"{gateway.ws}/observe/streamer", sock=raw, max_queue=1)
        async with connect(f"{gateway.ws}/observe/streamer", max_queue=None) as healthy:
            await read_until(healthy, lambda o: o["type"] == "hello")
            start = mirror.head
            started = time.monotonic()
            emitting = asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(emit_steadily(), gateway.loop)
            )
            got = await read_until(healthy, lambda o: o.get("seq") == start + total, within=60)
            await emitting
            delivered = [s for s in seqs(got) if s > start]
            assert delivered == list(range(start + 1, start + total + 1))  # no gap, no loss
            while not mirror.dropped_total:
                assert time.monotonic() - started < 15, "the stalled observer was not dropped"
                await asyncio.sleep(0.1)
            assert mirror.observer_count == 1  # only the healthy one remains
        raw_dropped = sum(mirror.dropped_total.values())
        assert raw_dropped == 1
        stalled.transport.abort()

    asyncio.run(scenario())


def test_a_client_that_disconnects_mid_replay(gateway: Gateway) -> None:
    gateway.emit("streamer", 100)
    top = head(gateway)

    async def scenario() -> None:
        async with connect(f"{gateway.ws}/observe/streamer") as watcher:
            await read_until(watcher, lambda o: o.get("seq") == top)
            for _ in range(20):
                quitter = await connect(f"{gateway.ws}/observe/streamer")
                await quitter.recv()  # the hello; the replay is on its way
                quitter.transport.abort()
            gateway.emit("streamer", 1, "after")
            got = await read_until(watcher, lambda o: o.get("seq") == top + 1)
            assert got[-1]["type"] == "after"
        deadline = time.monotonic() + 10
        while gateway.call(lambda: gateway.agent("streamer").mirror.observer_count):
            assert time.monotonic() < deadline, "aborted observers were not detached"
            await asyncio.sleep(0.05)
        assert gateway.agent("streamer").state.value == "FLOWING"

    asyncio.run(scenario())


def test_observers_beyond_the_configured_bound_are_told_to_retry(
    settings: GatewaySettings, store: Store
) -> None:
    bounded = settings.model_copy(update={"max_observers": 2})
    with serve_gateway(bounded, store) as gateway:

        async def scenario() -> None:
            async with (
                connect(f"{gateway.ws}/observe/streamer") as first,
                connect(f"{gateway.ws}/observe/daemon") as second,
            ):
                await first.recv()
                await second.recv()
                async with connect(f"{gateway.ws}/observe/streamer") as third:
                    assert await close_code(third) == 1013  # try again later

        asyncio.run(scenario())


def test_a_slow_reader_gets_a_resumable_close_and_resumes(
    settings: GatewaySettings, store: Store
) -> None:
    small = settings.model_copy(update={"ring_capacity": 512, "observer_send_timeout_s": 30.0})
    with serve_gateway(small, store) as gateway:
        agent = gateway.agent("streamer")
        pad = "y" * 300

        async def flood() -> None:
            for i in range(20_000):
                agent.emit("tick", {"n": i, "pad": pad})
                if i % 50 == 0:
                    await asyncio.sleep(0.005)

        async def scenario() -> None:
            port = int(gateway.url.rsplit(":", 1)[1])
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
            raw.connect(("127.0.0.1", port))
            last = 0
            async with connect(
                f"{gateway.ws}/observe/streamer", sock=raw, max_queue=1, max_size=None
            ) as slow:
                await slow.recv()
                flooding = asyncio.wrap_future(
                    asyncio.run_coroutine_threadsafe(flood(), gateway.loop)
                )
                try:
                    while True:
                        for obj in parse(await asyncio.wait_for(slow.recv(), 10)):
                            last = obj.get("seq", last)
                        await asyncio.sleep(0.2)  # a reader far slower than the agent
                except ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 4008
                    assert f"resume with since={last}" in closed.rcvd.reason
                await flooding
            async with connect(f"{gateway.ws}/observe/streamer?since={last}") as again:
                hello = parse(await again.recv())[0]
                assert hello["replay_from"] == last + 1 or hello["gap"][0] == last + 1

        asyncio.run(scenario())
