"""Shared fixtures: one real PostgreSQL (pgserver, with pgvector) per test session and a
fresh database per test that asks for ``store``."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from kgents_assets.cli.interrupts import accept_interrupts
from kgents_assets.store import Store
from tests.pg_helpers import stop_embedded_server
from tests.repo_helpers import Files, write_files


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background (`.ci/run &`, nohup in a script) inherits SIGINT
    # ignored; Dagster's in-process runs then leave SIGTERM ignored too, and every process a
    # later test terminates (compute-log tails, code servers) would outlive its SIGTERM.
    accept_interrupts()


@pytest.fixture(autouse=True)
def kgents_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own KGENTS_HOME (embedded store, Dagster instance, workspace),
    so nothing a test does reaches the user's ~/.kgents or another test's.

    Not under pytest's basetemp: as root, pgserver runs PostgreSQL as its own user, which
    cannot enter pytest's private (0700) temp tree; and a concurrent pytest session prunes
    old basetemps from under a running server."""
    home = Path(tempfile.mkdtemp(prefix="kgents-home-"))
    monkeypatch.setenv("KGENTS_HOME", str(home))
    monkeypatch.delenv("KGENTS_WORKSPACE", raising=False)
    yield home
    # a test that used the embedded default (no URL) leaves its server running: stop it
    stop_embedded_server(home / "pg")
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    import pgserver

    # Not under pytest's basetemp: a concurrent pytest session prunes old basetemps,
    # which would pull the data directory from under a running server.
    data_dir = Path(tempfile.mkdtemp(prefix="kgents-test-pg-"))
    server = pgserver.get_server(data_dir, cleanup_mode="delete")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(data_dir, ignore_errors=True)


def _database_url(server_url: str, name: str) -> str:
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    """A URL to a brand-new, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(pg_server_url, name)
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def store(database_url: str) -> Store:
    """A migrated store on a fresh database."""
    s = Store(url=database_url)
    s.migrate()
    return s


@pytest.fixture
def agentfs(tmp_path: Path) -> Path:
    path = tmp_path / ".agentfs"
    path.mkdir()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Callable[[Files], Path]:
    def make(files: Files) -> Path:
        root = tmp_path / "repo"
        root.mkdir(exist_ok=True)
        write_files(root, files)
        return root

    return make


@pytest.fixture
def fresh_store(pg_server_url: str) -> Iterator[Callable[[], Store]]:
    """A factory of extra migrated stores, each on its own new database."""
    names: list[str] = []

    def make() -> Store:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        names.append(name)
        base, _, query = pg_server_url.partition("?")
        store = Store(url=f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else ""))
        store.migrate()
        return store

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
