from __future__ import annotations

import socket
import threading
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


def test_a_deadlocked_transaction_says_it_was_rolled_back_not_that_the_database_is_gone(
    store: Store,
) -> None:
    """Two transactions that lock two kv rows in opposite orders: the server cancels one.
    Its caller learns that nothing of it was written and that running it again is safe."""
    with store.transaction() as conn:
        conn.execute("INSERT INTO kv (key, value) VALUES ('a', '1'), ('b', '1')")
    first_locked = threading.Event()
    errors: list[BaseException] = []

    def lock_b_then_a() -> None:
        try:
            with store.transaction() as conn:
                conn.execute("UPDATE kv SET value = '2' WHERE key = 'b'")
                first_locked.set()
                conn.execute("UPDATE kv SET value = '2' WHERE key = 'a'")
        except DatabaseUnavailable as exc:
            errors.append(exc)

    other = threading.Thread(target=lock_b_then_a)
    try:
        with store.transaction() as conn:
            conn.execute("UPDATE kv SET value = '3' WHERE key = 'a'")
            other.start()
            assert first_locked.wait(30)
            conn.execute("UPDATE kv SET value = '3' WHERE key = 'b'")
    except DatabaseUnavailable as exc:
        errors.append(exc)
    other.join(30)
    assert len(errors) == 1
    message = str(errors[0])
    assert "rolled this transaction back, nothing of it was written" in message
    assert "deadlock detected" in message and "lost the database" not in message
    with store.connect() as conn:
        values = {
            r[0]: r[1] for r in conn.execute("SELECT key, value FROM kv WHERE key IN ('a', 'b')")
        }
    assert values in ({"a": 3, "b": 3}, {"a": 2, "b": 2})  # the survivor's writes, whole
