"""`kg admin migrate`: what the Helm migration hook runs first."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from kgents_assets.cli.admin import EXIT_UNREACHABLE
from kgents_assets.cli.main import app
from kgents_assets.store.migrations import discover_migrations

runner = CliRunner()


def test_migrate_applies_every_migration_once_and_says_which(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KGENTS_DATABASE_URL", database_url)
    first = runner.invoke(app, ["admin", "migrate"])
    assert first.exit_code == 0, first.output
    expected = [f"{m.version:04d}_{m.name}" for m in discover_migrations()]
    assert [line.removeprefix("applied ") for line in first.output.splitlines()[:-1]] == expected
    assert f"{len(expected)} migration(s) applied" in first.output
    with psycopg.connect(database_url) as conn:
        count = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()
    assert count == (len(expected),)

    again = runner.invoke(app, ["admin", "migrate", "--database-url", database_url])
    assert again.exit_code == 0, again.output
    assert again.output.startswith("schema up to date on ")
    assert "applied 0" not in again.output


def test_migrate_against_an_unreachable_database_exits_3_with_what_to_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KGENTS_DATABASE_URL", "postgresql://kgents:s3cret@127.0.0.1:9/kgents")
    result = runner.invoke(app, ["admin", "migrate"])
    assert result.exit_code == EXIT_UNREACHABLE == 3
    assert "database unreachable" in result.output
    assert "127.0.0.1:9" in result.output and "s3cret" not in result.output
    assert "Check KGENTS_DATABASE_URL" in result.output
