"""Delivery latency when gateway replicas share streams through PostgreSQL, against one
process, in the same run.

    uv run python bench/gateway_replicas_bench.py            # ~1 minute
    uv run python bench/gateway_replicas_bench.py --quick --rate 200 --observers 50

One agent (``ticker``) emits R events/s (200); N observers (50) read its stream over loopback
websockets; latency = arrival time - the event's own timestamp (the oldest event of each
message: the worst case of a coalesced message). Three set-ups, each in fresh server
processes on one embedded PostgreSQL (pgserver):

1. one process, streams in memory (``shared_streams`` off: the gateway as before);
2. one replica with shared streams (every event through the table and NOTIFY);
3. two replicas with shared streams, observers split between them: the ticker runs on
   one replica (its source's lock), so half the observers read events another process
   produced.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the server subprocess ----------------------------------------------------------------


def serve(port: int, rate: float, database_url: str, shared: bool, root: Path) -> None:
    import uvicorn

    from gateway.app import GatewayContext, create_app
    from gateway.server import uvicorn_config
    from gateway.settings import GatewaySettings
    from kgents_assets.flux import FluxAgent

    def agents(context: GatewayContext) -> list[FluxAgent]:
        async def tick(agent: FluxAgent) -> None:
            start, sent = time.monotonic(), 0
            while True:
                due = int((time.monotonic() - start) * rate) - sent
                for _ in range(due):
                    agent.emit("tick", {"n": sent, "pad": "x" * 100})
                    sent += 1
                await asyncio.sleep(0.001)

        return [FluxAgent("ticker", source=tick, mirror=context.mirror("ticker"))]

    settings = GatewaySettings(
        repo_root=root, database_url=database_url, dagster_agents=False, shared_streams=shared
    )
    app = create_app(settings, agents=agents)
    uvicorn.Server(uvicorn_config(app, settings, port=port, log_level="warning")).run()


@contextlib.contextmanager
def servers(count: int, rate: float, database_url: str, shared: bool) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for _ in range(count):
                port = free_port()
                args = ["--serve", str(port), "--rate", str(rate), "--database-url", database_url]
                procs.append(
                    subprocess.Popen(
                        [sys.executable, __file__, *args, *(["--shared"] if shared else []),
                         "--root", tmp],
                        cwd=ROOT,
                    )
                )  # fmt: skip
                urls.append(f"http://127.0.0.1:{port}")
                wait_ready(urls[-1], procs[-1])
            yield urls
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(15)


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                return
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"bench server {url} did not start")
        time.sleep(0.1)


# -- observers ----------------------------------------------------------------------------


async def observe(
    ws_url: str, latencies: list[float], attached: list[int], stop: asyncio.Event
) -> None:
    async with connect(ws_url, max_queue=None, open_timeout=60) as ws:
        await ws.recv()  # hello
        attached.append(1)
        replaying = True
        while not stop.is_set():
            try:
                message = await asyncio.wait_for(ws.recv(), 1)
            except TimeoutError:
                continue
            now = time.time()
            if replaying:  # history, not live latency
                replaying = False
                continue
            text = message if isinstance(message, str) else message.decode()
            latencies.append((now - json.loads(text.split("\n", 1)[0])["timestamp"]) * 1000)


async def measure(urls: list[str], observers: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    attached: list[int] = []
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(
            observe(urls[i % len(urls)].replace("http", "ws") + "/observe/ticker",
                    latencies, attached, stop)
        )
        for i in range(observers)
    ]  # fmt: skip
    deadline = time.monotonic() + 60
    while len(attached) < observers:
        if time.monotonic() > deadline:
            raise RuntimeError("observers did not attach")
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)  # warm-up
    latencies.clear()
    await asyncio.sleep(seconds)
    samples = list(latencies)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    return {"messages": len(samples), "p50": pct(samples, 0.5), "p99": pct(samples, 0.99)}


async def emit_to_ring(url: str, events: int) -> list[float]:
    """The shared path alone, in this process: emit -> written, notified -> in the ring."""
    from gateway.streams import StreamReplica
    from kgents_assets.flux import FluxState, TerrariumEvent
    from kgents_assets.store import Store

    replica = StreamReplica(Store(url=url))
    mirror = replica.mirror("path", capacity=4096, history=100)
    await replica.start()
    samples = []
    for n in range(events):
        event = TerrariumEvent(
            type="tick", agent_id="path", data={"n": n}, state=FluxState.FLOWING,
            pressure=0.0, flow=0.0, temperature=0.0,
        )  # fmt: skip
        target = mirror.head + 1
        started = time.perf_counter()
        mirror.reflect(event)
        await mirror.wait_for_head(target, 10)
        samples.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)
    await replica.stop()
    return samples


def embedded_database(data_dir: Path) -> str:
    import pgserver

    from kgents_assets.store import Store

    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    base = str(server.get_uri())
    head, _, query = base.partition("?")
    url = f"{head.rsplit('/', 1)[0]}/replicas_bench" + (f"?{query}" if query else "")
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS replicas_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE replicas_bench")
    Store(url=url).migrate()
    return url


async def main(quick: bool, rate: float, observers: int) -> None:
    seconds = 3.0 if quick else 8.0
    print(
        f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; other processes"
        " share them)"
    )
    print(f"== delivery: {observers} observers x {rate:.0f} events/s over loopback")
    with tempfile.TemporaryDirectory() as pg_dir:
        url = embedded_database(Path(pg_dir))
        path = await emit_to_ring(url, 100 if quick else 300)
        print(
            f"  the shared path alone (emit -> table -> ring, no observers): "
            f"p50 {pct(path, 0.5):.1f} ms  p99 {pct(path, 0.99):.1f} ms"
        )
        setups = [
            ("one process, in-memory streams", 1, False),
            ("one replica, shared streams", 1, True),
            ("two replicas, shared streams", 2, True),
        ]
        for label, count, shared in setups:
            with servers(count, rate, url, shared) as urls:
                result = await measure(urls, observers, seconds)
            print(
                f"  {label:<32} p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms"
                f"  ({result['messages']} messages)"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second")
    parser.add_argument("--observers", type=int, default=50)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--shared", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.rate, args.database_url, args.shared, args.root)
    else:
        asyncio.run(main(args.quick, args.rate, args.observers))
