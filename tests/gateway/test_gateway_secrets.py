"""The gateway on a store whose connection string holds a password: neither its answers
nor its logs ever show it, also when the database goes away under it."""

from __future__ import annotations

import httpx
import psycopg
import pytest
from gateway_testing import serve_gateway

from gateway.settings import GatewaySettings
from kgents_assets.catalog.connections import close_pools
from kgents_assets.store import open_store
from tests.secrets_helpers import assert_no_password, captured_logs, with_password


@pytest.mark.parametrize("form", ["url", "keywords"])
def test_answers_and_logs_never_show_the_database_password(
    form: str,
    settings: GatewaySettings,
    database_url: str,
    pg_server_url: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    store = open_store(with_password(database_url, form))
    seen: list[str] = []
    with captured_logs() as logs:
        with serve_gateway(settings, store) as gateway, httpx.Client(base_url=gateway.url) as http:
            assert http.get("/ready").json()["store"] == "ok"
            search = http.get("/api/library/discover", params={"q": "parser"})
            assert search.status_code == 200, search.text
            dbname = psycopg.conninfo.conninfo_to_dict(store.url)["dbname"]
            with psycopg.connect(pg_server_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{dbname}" WITH (FORCE)')
            ready = http.get("/ready")
            search = http.get("/api/library/discover", params={"q": "parser"})
            assert ready.status_code == 503 and search.status_code == 503
            assert "does not exist" in search.json()["detail"]  # the reason is shown
            seen += [ready.text, search.text]
        close_pools()
    out, err = capfd.readouterr()
    assert_no_password(*seen, *logs, out, err)
