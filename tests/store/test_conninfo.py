"""The password of a connection string never reaches what a user or a log sees."""

from __future__ import annotations

import logging
import socket

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from kgents_assets.store import DatabaseUnavailable, Store
from kgents_assets.store.conninfo import redact, scrub

SECRET = "s3cret-Zq9"


@pytest.mark.parametrize(
    ("conninfo", "shown"),
    [
        (f"host=db password={SECRET} user=kg", "host=db password=*** user=kg"),
        (f"host=db password='{SECRET} x' dbname=k", "host=db password=*** dbname=k"),
        (f"postgresql://kg:{SECRET}@db:5432/kgents", "postgresql://kg:***@db:5432/kgents"),
        # A raw "@" and ":" in the password: hidden whole, the host shown as it is.
        (f"postgresql://kg:{SECRET}@x:y@db/kgents", "postgresql://kg:***@db/kgents"),
        (f"postgresql://kg:{SECRET}%40x%3Ay@db/kgents", "postgresql://kg:***@db/kgents"),
        (f"postgresql+psycopg2://kg:{SECRET}@db/kgents", "postgresql+psycopg2://kg:***@db/kgents"),
        (
            f"postgresql://db/kgents?password={SECRET}&a=1",
            "postgresql://db/kgents?password=***&a=1",
        ),
        ("postgresql://kg@db/kgents", "postgresql://kg@db/kgents"),
        ("postgresql:///kgents?host=/tmp/pg", "postgresql:///kgents?host=/tmp/pg"),
        ("host=db user=kg", "host=db user=kg"),
    ],
)
def test_redact_hides_the_password_in_both_forms(conninfo: str, shown: str) -> None:
    if "://" in shown:
        assert redact(conninfo) == shown
    else:  # libpq does not keep the order of keywords
        assert conninfo_to_dict(redact(conninfo)) == conninfo_to_dict(shown)
    assert SECRET not in redact(conninfo)


def test_a_string_that_does_not_parse_is_not_echoed() -> None:
    broken = f"host=db password={SECRET} user"
    with pytest.raises(psycopg.ProgrammingError):
        conninfo_to_dict(broken)
    assert SECRET not in redact(broken)


@pytest.mark.parametrize(
    ("conninfo", "echoed"),
    [
        (f"host=db password={SECRET} user", f"bad string 'host=db password={SECRET} user'"),
        (f"host=db password='{SECRET}", f"unterminated: password='{SECRET}"),
        (f"postgresql://kg:{SECRET}%40x@db/kgents", f"auth failed for {SECRET}@x"),
        (f"postgresql://kg:{SECRET}%40x@db/kgents", f"echoed raw {SECRET}%40x"),
        # libpq splits at the first "@" and quotes the rest as the host name.
        (f"postgresql://kg:pw@{SECRET}@db/kgents", f'failed to resolve host "{SECRET}@db"'),
    ],
)
def test_scrub_hides_every_spelling_of_the_password(conninfo: str, echoed: str) -> None:
    assert SECRET in echoed
    assert SECRET not in scrub(echoed, conninfo)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://kg:{pw}@127.0.0.1:{port}/kgents",
        "postgresql://kg:{pw}@x@127.0.0.1:{port}/kgents",  # libpq reads host "x@127.0.0.1"
        "host=127.0.0.1 port={port} user=kg password={pw}",
        "host=127.0.0.1 port={port} password={pw} user",  # does not parse
    ],
)
def test_a_failed_connection_names_the_server_not_the_password(
    template: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store(url=template.format(pw=SECRET, port=_free_port()))
    with caplog.at_level(logging.DEBUG), pytest.raises(DatabaseUnavailable) as err:
        store.connect()
    assert SECRET not in str(err.value)
    assert err.value.__cause__ is None or SECRET not in str(err.value.__cause__)
    assert SECRET not in caplog.text
