"""kmock's Kubernetes API emulator on loopback, in a thread, with a kubeconfig for it.

The emulator keeps the objects clients create in memory and serves them back, so a real
``kubernetes`` client (the one K8sRunLauncher uses) really POSTs its Job over HTTP.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import yaml


@dataclass
class Emulator:
    handler: kmock.KubernetesEmulator
    url: str
    kubeconfig: Path

    def objects(self, plural: str) -> list[dict[str, Any]]:
        """Stored objects of a resource (e.g. ``jobs``), as the server keeps them."""
        found: list[dict[str, Any]] = []
        for key in list(self.handler.objects):
            resource, _namespace, _name = key
            if resource.plural == plural and not self.handler.objects[key].deleted:
                found.append(dict(self.handler.objects[key].raw))
        return found


def write_kubeconfig(path: Path, url: str, namespace: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "emulated"}}],
        "contexts": [
            {
                "name": "emulator",
                "context": {"cluster": "emulator", "user": "tester", "namespace": namespace},
            }
        ],
        "current-context": "emulator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@contextmanager
def kube_emulator(directory: Path, namespace: str) -> Iterator[Emulator]:
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop: asyncio.Event | None = None
    holder: dict[str, Any] = {}

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler) as server:
            holder["handler"] = handler
            holder["url"] = str(server.url).rstrip("/")
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(serve())
        except BaseException as exc:  # surfaced to the test below
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(target=run, name="kmock", daemon=True)
    thread.start()
    assert ready.wait(30), "the Kubernetes emulator did not start"
    if "error" in holder:
        raise holder["error"]
    try:
        url = holder["url"]
        yield Emulator(
            holder["handler"], url, write_kubeconfig(directory / "kubeconfig", url, namespace)
        )
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        loop.close()
