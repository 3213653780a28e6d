"""Fixtures of the gateway tests; the server harness is in gateway_testing.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gateway_testing import TOKEN, Gateway, serve_gateway
from pydantic import SecretStr

from gateway.settings import GatewaySettings
from kgents_assets.store import Store


@pytest.fixture
def settings(tmp_path: Path) -> GatewaySettings:
    return GatewaySettings(
        token=SecretStr(TOKEN),
        repo_root=tmp_path,
        dagster_agents=False,
        poll_interval_s=0.2,
    )


@pytest.fixture
def gateway(settings: GatewaySettings, store: Store) -> Iterator[Gateway]:
    with serve_gateway(settings, store) as running:
        yield running
