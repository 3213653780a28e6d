from __future__ import annotations

import socket
from pathlib import Path

import pytest

from kgents_assets.store import DatabaseUnavailable, Store, open_store
from kgents_assets.store.migrations import discover_migrations


def test_migrations_apply_once_and_are_idempotent(database_url: str) -> None:
    store = Store(url=database_url)
    first = store.migrate()
    assert first == [f"{m.version:04d}_{m.name}" for m in discover_migrations()]
    assert store.migrate() == []
    with store.connect() as conn:
        ext = conn.execute("SELECT extversion FROM pg_extension WHERE extname='vector'").fetchone()
    assert ext is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_configured_url_that_is_down_fails_clearly_without_fallback(tmp_path: Path) -> None:
    url = f"postgresql://kg:secret@127.0.0.1:{_free_port()}/kgents"
    with pytest.raises(DatabaseUnavailable) as err:
        open_store(url, data_dir=tmp_path / "pg")
    message = str(err.value)
    assert "127.0.0.1" in message
    assert "secret" not in message  # the password never reaches the user's terminal
    assert not (tmp_path / "pg").exists()  # no silent embedded fallback
