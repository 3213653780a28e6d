"""``kg library`` as a thin client: with KGENTS_GATEWAY_URL set it answers through a real
gateway on loopback (the same JSON as from the database), and a gateway that does not
answer is "cluster unavailable", never a silent fall back to the local database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from gateway.settings import GatewaySettings
from kgents_assets.cli.gateway_client import (
    ClusterUnavailable,
    GatewayError,
    list_repos_via_gateway,
)
from kgents_assets.cli.main import app
from kgents_assets.repos.registry import add_repository
from kgents_assets.store import Store
from tests.gateway.gateway_testing import Gateway, free_port, serve_gateway

runner = CliRunner()
READ = "cli-read-token"


@pytest.fixture
def env(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KGENTS_DATABASE_URL", store.url)
    monkeypatch.setenv("KGENTS_REPO", str(tmp_path))
    monkeypatch.setenv("KGENTS_EMBEDDER", "hashing:64")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("KGENTS_GATEWAY_URL", raising=False)
    monkeypatch.delenv("KGENTS_GATEWAY_READ_TOKEN", raising=False)
    return tmp_path


@pytest.fixture
def gateway(env: Path, store: Store) -> Iterator[Gateway]:
    settings = GatewaySettings(read_token=SecretStr(READ), repo_root=env, dagster_agents=False)
    with serve_gateway(settings, store) as running:
        yield running


def kg(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["library", *args])
    return result.exit_code, result.stdout, result.stderr


def test_catalog_discover_show_through_the_gateway_match_the_database(
    env: Path, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = env / "specs" / "summarizer.md"
    spec.parent.mkdir(parents=True)
    spec.write_text("# Summarizer\n\nAn agent that condenses meeting transcripts.\n")
    code, stdout, _ = kg("register", str(spec), "--type", "agent", "--json")
    assert code == 0, stdout
    entry_id = json.loads(stdout)["id"]
    commands = [
        ("catalog", "--json"),
        ("catalog", "--type", "agent", "--json"),
        ("discover", "meeting transcripts", "--json"),
        ("discover", "meeting", "--keyword", "--json"),
        ("show", entry_id, "--json"),
    ]
    local = {args: kg(*args) for args in commands}

    monkeypatch.setenv("KGENTS_GATEWAY_URL", gateway.url + "/")
    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    code, _, stderr = kg("catalog")
    assert code == 1 and "needs a read token: set KGENTS_GATEWAY_READ_TOKEN" in stderr
    monkeypatch.setenv("KGENTS_GATEWAY_READ_TOKEN", READ)
    for args in commands:
        code, stdout, stderr = kg(*args)
        assert code == 0, (args, stderr)
        assert json.loads(stdout) == json.loads(local[args][1]), args
    code, stdout, _ = kg("show", entry_id)
    assert code == 0 and "hashing-v1:64 (64 dims)" in stdout and "condenses" in stdout
    code, stdout, _ = kg("discover", "meeting")
    assert code == 0 and "summarizer" in stdout
    code, _, stderr = kg("show", "agent:nope")
    assert code == 1 and "answered 404" in stderr and "agent:nope" in stderr
    code, _, stderr = kg("discover", "meeting", "--embedder", "hashing:32")
    assert code == 1 and "the gateway searches with its own" in stderr


def test_repositories_through_the_gateway(
    env: Path, gateway: Gateway, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_repository(store, "demo", str(env))
    monkeypatch.setenv("KGENTS_GATEWAY_READ_TOKEN", READ)
    repos = list_repos_via_gateway(gateway.url)
    assert [(r["name"], r["source"], r["location"]) for r in repos] == [
        ("demo", "local", str(env.resolve()))
    ]
    monkeypatch.delenv("KGENTS_GATEWAY_READ_TOKEN")
    with pytest.raises(GatewayError, match="read token"):
        list_repos_via_gateway(gateway.url)


def test_an_unreachable_gateway_is_cluster_unavailable_not_a_local_answer(
    env: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = env / "agent.md"
    spec.write_text("# Local\n\nAn agent only the local database knows.\n")
    assert kg("register", str(spec), "--type", "agent")[0] == 0
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("KGENTS_GATEWAY_URL", closed)
    for args in (("catalog",), ("discover", "agent"), ("show", "agent:agent.md")):
        code, stdout, stderr = kg(*args)
        assert code == 2, args
        message = " ".join(stderr.split())
        assert f"cluster unavailable: {closed}:" in message
        assert "check KGENTS_GATEWAY_URL, the gateway Service/port-forward" in message
        assert "Local" not in stdout  # the local database was never asked
    with pytest.raises(ClusterUnavailable, match="cluster unavailable"):
        list_repos_via_gateway(closed)
    monkeypatch.setenv("KGENTS_GATEWAY_URL", "not a url")
    code, _, stderr = kg("catalog")
    assert code == 2 and "cluster unavailable" in stderr
