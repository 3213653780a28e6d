"""A real gateway for the tests: uvicorn on a free loopback port, in a thread with its own
event loop (uvloop, as in production), against the session's real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import uvicorn

from gateway.app import GatewayContext, create_app, default_agents
from gateway.server import uvicorn_config
from gateway.settings import GatewaySettings
from kgents_assets.flux import (
    Collapse,
    FluxAgent,
    FluxConfig,
    Reentry,
    Semaphore,
    refuse_perturbations,
)
from kgents_assets.store import Store

T = TypeVar("T")
TOKEN = "s3cret-token-for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Controls:
    """Switches the test agent's handler obeys (set from the test thread via ``call``)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.crash = asyncio.Event()


def make_test_agents(context: GatewayContext, controls: Controls) -> list[FluxAgent]:
    async def handler(data: Any) -> Any:
        if isinstance(data, Reentry):
            return {"human_said": data.human_input, "original": data.original}
        if isinstance(data, dict) and data.get("hold"):
            await controls.release.wait()
        if isinstance(data, dict) and data.get("crash"):
            await controls.crash.wait()
            raise Collapse("the test crashed it")
        if isinstance(data, dict) and data.get("ask"):
            return Semaphore(reason="test", prompt=str(data["ask"]))
        if isinstance(data, dict) and data.get("fail"):
            raise ValueError("asked to fail")
        return {"echo": data}

    return [
        FluxAgent(
            "echo",
            handler,
            config=FluxConfig(buffer_size=3),
            mirror=context.mirror("echo"),
            purgatory=context.purgatory,
        ),
        FluxAgent("streamer", refuse_perturbations, mirror=context.mirror("streamer")),
    ]


@dataclass
class Gateway:
    url: str
    ws: str
    app: Any
    loop: asyncio.AbstractEventLoop
    controls: Controls

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop thread and return its result."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def agent(self, agent_id: str) -> FluxAgent:
        found = self.app.state.registry.get(agent_id)
        assert found is not None
        return found  # type: ignore[no-any-return]

    def emit(self, agent_id: str, count: int, type_: str = "tick") -> None:
        agent = self.agent(agent_id)
        self.call(lambda: [agent.emit(type_, {"n": i}) for i in range(count)])


@contextlib.contextmanager
def serve_gateway(
    settings: GatewaySettings,
    store: Store,
    agents: Callable[[GatewayContext, Controls], Sequence[FluxAgent]] | None = None,
) -> Iterator[Gateway]:
    controls_box: list[Controls] = []

    def factory(context: GatewayContext) -> Sequence[FluxAgent]:
        controls = Controls()
        controls_box.append(controls)
        extra = list(agents(context, controls)) if agents else []
        return [*default_agents(context), *make_test_agents(context, controls), *extra]

    app = create_app(settings, agents=factory, store=store)
    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(app, settings, host="127.0.0.1", port=port, log_level="warning")
    )
    # uvicorn runs on uvloop in production (`kg gateway`); test on the same loop.
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvicorn[standard] ships uvloop
        loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),), daemon=True)
    thread.start()
    # Generous: a Dagster instance on PostgreSQL creates its schema on first start, and
    # the machine is shared; the loop ends as soon as the server is up.
    deadline = time.monotonic() + 120
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("gateway did not start")
        time.sleep(0.02)
    try:
        yield Gateway(
            url=f"http://127.0.0.1:{port}",
            ws=f"ws://127.0.0.1:{port}",
            app=app,
            loop=loop,
            controls=controls_box[0],
        )
    finally:
        server.should_exit = True
        thread.join(15)
        loop.close()
