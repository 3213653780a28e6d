"""`kg gateway` serves the real app under uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from gateway_testing import free_port


@pytest.mark.slow
def test_kg_gateway_serves_and_generates_a_token_when_none_is_set(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {**os.environ, "KGENTS_DATABASE_URL": database_url}
    env.pop("KGENTS_GATEWAY_TOKEN", None)
    kg = Path(sys.executable).parent / "kg"
    process = subprocess.Popen(
        [str(kg), "gateway", "--port", str(port), "--no-dagster", "--repo", str(tmp_path)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.HTTPError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "kg gateway did not start"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{port}/ready").json()["ready"] is True
        agents = httpx.get(f"http://127.0.0.1:{port}/api/agents").json()
        assert [a["id"] for a in agents] == ["daemon", "world"]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert "generated a token" in output and "#token=" in output
