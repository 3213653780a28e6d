"""Gateways as separate processes (`kg gateway` from this venv, never from PATH) sharing
one database: the way replicas run behind a Service."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from gateway_testing import TOKEN, free_port

KG = Path(sys.executable).parent / "kg"


@contextlib.contextmanager
def gateway_process(
    database_url: str, repo_root: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """A `kg gateway --no-dagster` on a free loopback port; yields its base URL once
    /ready answers 200, and stops it (SIGTERM, then its output on failure) afterwards."""
    port = free_port()
    env = {
        **os.environ,
        "KGENTS_DATABASE_URL": database_url,
        "KGENTS_GATEWAY_TOKEN": TOKEN,
        "KGENTS_GATEWAY_SHARED_STREAMS": "1",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [str(KG), "gateway", "--port", str(port), "--no-dagster", "--repo", str(repo_root)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate(timeout=10)[0]
                raise RuntimeError(f"kg gateway did not become ready:\n{output}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
