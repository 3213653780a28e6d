"""The read token: off by default; when set, REST and /observe need it (or the steering
token), probes and /metrics stay open, and the secret never prints."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_testing import TOKEN, Gateway, serve_gateway
from gateway_ws_helpers import close_code, parse
from pydantic import SecretStr
from websockets.asyncio.client import connect

from gateway.close_codes import CloseCode
from gateway.settings import GatewaySettings
from kgents_assets.store import Store

READ = "read-only-s3cret"


@pytest.fixture
def closed(tmp_path: Path, store: Store) -> Iterator[Gateway]:
    settings = GatewaySettings(
        token=SecretStr(TOKEN),
        read_token=SecretStr(READ),
        repo_root=tmp_path,
        dagster_agents=False,
    )
    with serve_gateway(settings, store) as gateway:
        yield gateway


def test_rest_needs_the_read_token_when_one_is_set(closed: Gateway) -> None:
    with httpx.Client(base_url=closed.url) as http:
        for path in ("/api/agents", "/api/daemon/snapshot", "/api/fixtures", "/api/repos"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert "KGENTS_GATEWAY_READ_TOKEN" in refused.json()["detail"]
            assert refused.headers["www-authenticate"] == "Bearer"
            assert http.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert http.get(path, headers={"Authorization": f"Bearer {READ}"}).status_code == 200
            # whoever may steer may read
            assert http.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        search = http.get("/api/library/discover", params={"q": "parser"})
        assert search.status_code == 401
        # probes and the scraper need no token; the page itself holds no data
        for path in ("/health", "/ready", "/metrics", "/"):
            assert http.get(path).status_code == 200, path
        # the read token does not steer
        post = http.post(
            "/api/agents/daemon/events",
            json={"type": "commit"},
            headers={"Authorization": f"Bearer {READ}"},
        )
        assert post.status_code == 401


def test_observe_needs_the_read_token_by_header_or_query(closed: Gateway) -> None:
    url = f"{closed.ws}/observe/daemon"

    async def scenario() -> None:
        async with connect(url) as ws:
            assert await close_code(ws) == CloseCode.UNAUTHENTICATED
        async with connect(f"{url}?token=wrong") as ws:
            assert await close_code(ws) == CloseCode.UNAUTHENTICATED
        async with connect(f"{url}?token={READ}") as ws:
            assert parse(await ws.recv())[0]["type"] == "hello"
        async with connect(url, additional_headers={"Authorization": f"Bearer {READ}"}) as ws:
            assert parse(await ws.recv())[0]["type"] == "hello"

    asyncio.run(scenario())


def test_reads_are_open_without_a_read_token(gateway: Gateway) -> None:
    with httpx.Client(base_url=gateway.url) as http:
        assert http.get("/api/agents").status_code == 200

    async def scenario() -> None:
        async with connect(f"{gateway.ws}/observe/daemon") as ws:
            assert parse(await ws.recv())[0]["type"] == "hello"

    asyncio.run(scenario())


def test_the_read_token_comes_from_the_environment_and_never_prints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KGENTS_GATEWAY_READ_TOKEN", READ)
    monkeypatch.setenv("KGENTS_GATEWAY_TOKEN", TOKEN)
    settings = GatewaySettings.from_env()
    assert settings.read_token is not None
    assert settings.read_token.get_secret_value() == READ
    assert READ not in repr(settings) and READ not in str(settings.model_dump())
    monkeypatch.delenv("KGENTS_GATEWAY_READ_TOKEN")
    assert GatewaySettings.from_env().read_token is None
