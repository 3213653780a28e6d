"""The store and the catalog searches with a password in the connection string: it never
reaches an error message or a log record, on success or when the database goes away."""

from __future__ import annotations

import psycopg
import pytest

from kgents_assets.catalog.connections import close_pools, run_search
from kgents_assets.store import DatabaseUnavailable, Store, open_store
from tests.secrets_helpers import assert_no_password, captured_logs, with_password


def _drop(pg_server_url: str, store: Store) -> None:
    dbname = psycopg.conninfo.conninfo_to_dict(store.url)["dbname"]
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')


@pytest.mark.parametrize("form", ["url", "keywords"])
def test_store_and_search_errors_never_show_the_password(
    form: str, database_url: str, pg_server_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    url = with_password(database_url, form)
    errors: list[str] = []
    with captured_logs() as logs:
        store = open_store(url)  # connects and migrates with the password
        assert_no_password(store.display_url, repr(store.display_url))
        assert run_search(store, lambda c: c.execute("SELECT 1").fetchone()) == (1,)
        _drop(pg_server_url, store)
        for attempt in (
            store.connect,
            lambda: run_search(store, lambda c: c.execute("SELECT 1").fetchone()),
            lambda: open_store(url),
        ):
            with pytest.raises(DatabaseUnavailable) as err:
                attempt()
            errors.append(str(err.value))
            cause = err.value.__cause__ or err.value.__context__
            errors.append(str(cause) if cause is not None else "")
        close_pools()
    out, err_out = capfd.readouterr()
    assert all("does not exist" in e for e in errors[::2]), errors
    assert_no_password(*errors, *logs, out, err_out)
