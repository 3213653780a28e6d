"""Gateway benchmarks: the mirror must never slow the agent, whoever is watching.

    uv run python bench/gateway_bench.py            # all figures, ~1 minute
    uv run python bench/gateway_bench.py --quick    # smaller runs

Prints: reflect() cost at 1/100/1,000 observers (baseline: encoding one event alone);
delivery latency at 200 observers x 1,000 events/s over loopback; the same with one
stalled observer (its memory, time until dropped); attach latency; memory per observer.
The server runs in a subprocess (uvicorn, the real app); clients are real websockets.
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
from pathlib import Path
from typing import Any

import httpx
import psutil
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kgents_assets.flux import FluxState, HolographicBuffer, TerrariumEvent  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def event(n: int) -> TerrariumEvent:
    return TerrariumEvent(
        type="tick",
        agent_id="bench",
        data={"n": n, "pad": "x" * 100},
        state=FluxState.FLOWING,
        pressure=0.0,
        flow=1.0,
        temperature=0.1,
    )


# -- 1. reflect() cost ------------------------------------------------------------------


async def reflect_cost(observers: int, calls: int) -> list[float]:
    buffer = HolographicBuffer("bench", capacity=4096)
    attached = [buffer.attach() for _ in range(observers)]

    async def drain(obs: Any) -> None:
        while True:
            buffer.sent(obs, await buffer.next_batch(obs))

    tasks = [asyncio.create_task(drain(o)) for o in attached]
    await asyncio.sleep(0)
    samples: list[float] = []
    template = event(0)
    for i in range(calls):
        t0 = time.perf_counter_ns()
        buffer.reflect(template)
        samples.append((time.perf_counter_ns() - t0) / 1e6)
        if i % 10 == 0:
            await asyncio.sleep(0)  # let observers drain, as a live loop would
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return samples


def encode_baseline(calls: int) -> list[float]:
    template = event(0)
    samples = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        template.model_copy(update={"seq": 1}).model_dump_json()
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return samples


# -- the server subprocess ----------------------------------------------------------------


def serve(port: int, rate: float, agentfs: Path, coalesce_s: float | None) -> None:
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

    extra = {} if coalesce_s is None else {"observer_coalesce_s": coalesce_s}
    settings = GatewaySettings(
        repo_root=agentfs.parent, agentfs_dir=agentfs, dagster_agents=False, **extra
    )
    app = create_app(settings, agents=agents)
    uvicorn.Server(uvicorn_config(app, settings, port=port, log_level="warning")).run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


COALESCE: list[str] = []  # --coalesce passes through to the server subprocess


@contextlib.contextmanager
def server(rate: float) -> Any:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen(
            [
                *(sys.executable, __file__, "--serve", str(port), "--rate", str(rate)),
                *("--agentfs", tmp, *COALESCE),
            ],
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("bench server did not start")
            time.sleep(0.1)
        try:
            yield url, proc
        finally:
            proc.terminate()
            proc.wait(10)


# -- 2/3. delivery latency ----------------------------------------------------------------


RESUMES = {"count": 0}
HIGH_WATER = 32 * 1024  # GatewaySettings.observer_write_high_water's default
CONNECTED = {"count": 0}


async def observe(ws_url: str, latencies: list[float], stop: asyncio.Event) -> None:
    """A well-behaved observer: reads everything, resumes with ?since= when dropped."""
    last_seq: int | None = None
    while not stop.is_set():
        url = ws_url if last_seq is None else f"{ws_url}?since={last_seq}"
        try:
            async with connect(url, max_queue=None, open_timeout=60) as ws:
                await ws.recv()  # hello
                if last_seq is None:
                    CONNECTED["count"] += 1
                replaying = True
                while not stop.is_set():
                    try:
                        message = await asyncio.wait_for(ws.recv(), 1)
                    except TimeoutError:
                        continue
                    now = time.time()
                    text = message if isinstance(message, str) else message.decode()
                    lines = text.split("\n")
                    last_seq = json.loads(lines[-1])["seq"]
                    if replaying:  # the replay is history, not live latency
                        replaying = False
                        continue
                    # The first event of a coalesced message is its oldest: worst latency.
                    latencies.append((now - json.loads(lines[0])["timestamp"]) * 1000)
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 4008:
                raise
            RESUMES["count"] += 1


def server_tx_queue(server_port: int, client_port: int) -> int:
    """Bytes queued in the server's kernel send buffer for one established connection
    (/proc/net/tcp); -1 once the server has dropped it."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if (
            int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
            and state == "01"
        ):
            return int(fields[4].split(":")[0], 16)
    return -1


async def latency_run(
    url: str, observers: int, seconds: float, stalled: bool, server_pid: int
) -> dict[str, Any]:
    ws_url = url.replace("http", "ws") + "/observe/ticker"
    port = int(url.rsplit(":", 1)[1])
    latencies: list[float] = []
    stop = asyncio.Event()
    CONNECTED["count"] = 0
    tasks = [asyncio.create_task(observe(ws_url, latencies, stop)) for _ in range(observers)]
    result: dict[str, Any] = {}
    deadline = time.monotonic() + 120
    while CONNECTED["count"] < observers:
        if time.monotonic() > deadline:
            raise RuntimeError("observers did not all attach")
        await asyncio.sleep(0.1)
    RESUMES["count"] = 0
    raw: socket.socket | None = None
    ws_stalled: ClientConnection | None = None
    if stalled:
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.connect(("127.0.0.1", port))
        ws_stalled = await connect(ws_url, sock=raw, max_queue=1)
        stalled_at = time.monotonic()
    await asyncio.sleep(1.0)  # warm-up
    latencies.clear()
    server_proc, me = psutil.Process(server_pid), psutil.Process()
    server_proc.cpu_percent()
    me.cpu_percent()
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    peak_tx = 0
    while time.monotonic() - started < seconds:
        await asyncio.sleep(0.2)
        if raw is not None and "dropped_after_s" not in result:
            queued = server_tx_queue(port, raw.getsockname()[1])
            peak_tx = max(peak_tx, queued)
            if queued < 0:
                result["dropped_after_s"] = time.monotonic() - stalled_at
    result["server_cpu"] = server_proc.cpu_percent()
    result["client_cpu"] = me.cpu_percent()
    result["load"] = (load_before + os.getloadavg()[0]) / 2
    if raw is not None:
        result["stalled_kernel_sndq_bytes"] = peak_tx
        while "dropped_after_s" not in result and time.monotonic() - stalled_at < 30:
            if server_tx_queue(port, raw.getsockname()[1]) < 0:
                result["dropped_after_s"] = time.monotonic() - stalled_at
            await asyncio.sleep(0.1)
    stop.set()
    samples = list(latencies)
    await asyncio.gather(*tasks, return_exceptions=True)
    if ws_stalled is not None:
        ws_stalled.transport.abort()
    result.update(
        messages=len(samples),
        p50_ms=pct(samples, 0.5),
        p99_ms=pct(samples, 0.99),
        resumes=RESUMES["count"],
    )
    return result


# -- 4/5. attach latency and memory per observer ---------------------------------------


async def attach_latency(url: str, n: int) -> list[float]:
    ws_url = url.replace("http", "ws") + "/observe/ticker"
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with connect(ws_url) as ws:
            await ws.recv()  # hello
            await ws.recv()  # first replayed events
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


async def memory_per_observer(url: str, pid: int, n: int) -> float:
    ws_url = url.replace("http", "ws") + "/observe/ticker"
    process = psutil.Process(pid)
    stop = asyncio.Event()
    latencies: list[float] = []
    CONNECTED["count"] = 0
    warm = [asyncio.create_task(observe(ws_url, latencies, stop)) for _ in range(50)]
    await asyncio.sleep(2)
    before = process.memory_info().rss
    tasks = [asyncio.create_task(observe(ws_url, latencies, stop)) for _ in range(n)]
    deadline = time.monotonic() + 120
    while CONNECTED["count"] < n + 50:
        if time.monotonic() > deadline:
            raise RuntimeError("observers did not all attach")
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)
    after = process.memory_info().rss
    stop.set()
    await asyncio.gather(*warm, *tasks, return_exceptions=True)
    return (after - before) / n


def cpu_line(run: dict[str, Any]) -> str:
    return (
        f"server process {run['server_cpu']:.0f}% CPU, client process {run['client_cpu']:.0f}%"
        f" CPU, machine load {run['load']:.1f} on {os.cpu_count()} cores"
    )


async def main(quick: bool) -> None:
    calls = 5_000 if quick else 20_000
    print(
        f"(machine load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores;"
        " other processes share these cores)"
    )
    print("== reflect(): one emit into the mirror (target p99 <= 0.1 ms, flat in N)")
    base = encode_baseline(calls)
    print(
        f"  baseline (encode one event alone): p50 {pct(base, 0.5):.4f} ms"
        f"  p99 {pct(base, 0.99):.4f} ms"
    )
    for n in (1, 100, 1000):
        samples = await reflect_cost(n, calls)
        print(
            f"  {n:>5} observers: p50 {pct(samples, 0.5):.4f} ms  p99 {pct(samples, 0.99):.4f} ms"
        )

    rate, observers, seconds = 1000.0, 200, (4.0 if quick else 8.0)
    with server(rate) as (url, proc):
        print(
            f"== delivery: {observers} observers x {rate:.0f} events/s over loopback"
            " (target p99 <= 50 ms)"
        )
        clean = await latency_run(url, observers, seconds, stalled=False, server_pid=proc.pid)
        print(
            f"  p50 {clean['p50_ms']:.1f} ms  p99 {clean['p99_ms']:.1f} ms"
            f"  ({clean['messages']} messages, events coalesced per message;"
            f" {clean['resumes']} drop+resume)"
        )
        print(f"  {cpu_line(clean)}")
        print("== with one stalled observer (others unchanged; stalled dropped <= 10 s)")
        dirty = await latency_run(url, observers, seconds, stalled=True, server_pid=proc.pid)
        print(
            f"  others: p50 {dirty['p50_ms']:.1f} ms  p99 {dirty['p99_ms']:.1f} ms"
            f"  (without: p99 {clean['p99_ms']:.1f} ms; {dirty['resumes']} drop+resume)"
        )
        print(f"  {cpu_line(dirty)}")
        print(
            f"  stalled: kernel send queue peak {dirty['stalled_kernel_sndq_bytes'] / 1024:.0f}"
            f" KiB (+ transport buffer capped at {HIGH_WATER // 1024} KiB);"
            f" dropped after {dirty.get('dropped_after_s', float('nan')):.1f} s"
        )
        samples = await attach_latency(url, 20 if quick else 100)
        print(
            f"== attach (connect + hello + 100-event replay; target <= 50 ms):"
            f" p50 {pct(samples, 0.5):.1f} ms  p99 {pct(samples, 0.99):.1f} ms"
        )
        per = await memory_per_observer(url, proc.pid, 200 if quick else 500)
        print(f"== memory per observer (server RSS delta; target < 1 MB): {per / 1024:.1f} KiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1000.0, help=argparse.SUPPRESS)
    parser.add_argument("--agentfs", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--coalesce", type=float, help="observer coalescing window, seconds")
    args = parser.parse_args()
    if args.serve:
        os.environ.pop("KGENTS_DATABASE_URL", None)  # the bench's own embedded store
        serve(args.serve, args.rate, args.agentfs, args.coalesce)
    else:
        if args.coalesce is not None:
            COALESCE.extend(["--coalesce", str(args.coalesce)])
        asyncio.run(main(args.quick))
