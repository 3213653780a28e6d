"""A known password in the test database's connection string, and a trap for it.

The test server trusts local connections, so any password is accepted: the tests can run
the real store, search and gateway code with a password in the URL (or in keyword form)
and then look for it everywhere a user or an operator could see it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict, make_conninfo

#: Holds the characters that broke naive redaction: "@" and ":" (raw in keyword form,
#: percent-encoded in a URL).
TEST_PASSWORD = "Pw-Leak@Canary:42"
#: Loggers that do not all propagate to the root logger but may print a connection string.
WATCHED_LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access", "psycopg", "psycopg.pool")


def with_password(url: str, form: str) -> str:
    """``url`` (the tests' passwordless database URL) carrying ``TEST_PASSWORD``."""
    params = conninfo_to_dict(url)
    if form == "keywords":
        return make_conninfo("", **{**params, "password": TEST_PASSWORD})
    assert form == "url", form
    host = params.pop("host")
    dbname = params.pop("dbname")
    user = params.pop("user", "postgres")
    query = "&".join(f"{k}={quote(str(v), safe='/')}" for k, v in {"host": host, **params}.items())
    return f"postgresql://{user}:{quote(TEST_PASSWORD, safe='')}@/{dbname}?{query}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.lines.append(text)


@contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log record (message and traceback) of the watched loggers, at any level."""
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        yield handler.lines
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


def assert_no_password(*texts: object) -> None:
    for text in texts:
        assert TEST_PASSWORD not in str(text), f"the password leaked into: {str(text)[:300]}"
        assert quote(TEST_PASSWORD, safe="") not in str(text), f"leaked: {str(text)[:300]}"
