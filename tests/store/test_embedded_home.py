"""Nothing configured: the store is the embedded server under ``$KGENTS_HOME/pg``, shared by
every repository of the machine (not one server per repository)."""

from __future__ import annotations

from pathlib import Path

from kgents_assets.store import open_store


def test_the_embedded_default_lives_in_kgents_home(kgents_home: Path) -> None:
    store = open_store(None)
    with store.connect() as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert store.embedded and (kgents_home / "pg" / "postmaster.pid").exists()
    again = open_store(None)  # a second opener joins the same server
    assert again.url == store.url
