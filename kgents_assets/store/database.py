"""Where the store lives: an external server named by URL, or an embedded pgserver.

The rule that matters: when a URL is configured and the server cannot be reached we fail
loudly. Falling back to an embedded database would silently split the user's data in two.
"""

from __future__ import annotations

import os
import signal
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from kgents_assets.home import embedded_store_dir
from kgents_assets.store.conninfo import redact, scrub
from kgents_assets.store.migrations import LegacyRepository, apply_migrations

DATABASE_URL_ENV = "KGENTS_DATABASE_URL"
CONNECT_TIMEOUT_S = 5
#: SQLSTATE class 40, "transaction rollback": deadlock_detected, serialization_failure, ...
TRANSACTION_ROLLBACK = "40"


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached; the message says which and why."""


def start_embedded_server(data_dir: Path) -> str:
    """Start (or join) the repo-local pgserver under ``data_dir`` and return its URL.

    pgserver is multi-process safe: a second process joins the running postmaster. We
    leave it running (``cleanup_mode=None``) so the next CLI call or Dagster run attaches in
    ~0.1 s instead of paying a restart.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    stop_orphaned_server(data_dir)
    if (url := running_server_uri(data_dir)) is not None and _answers(url):
        return url
    return _pgserver_uri(data_dir)


def running_server_uri(data_dir: Path) -> str | None:
    """The URL of the server already running under ``data_dir`` (the one pgserver would
    join), read from its ``postmaster.pid``; None unless it is up, ready and listening on a
    socket. Joining this way skips importing pgserver (psutil, platformdirs, fasteners:
    0.1-0.8 s on a loaded machine, paid by every ``kg hub --once``) when there is nothing
    to start; pgserver is what starts one (``start_embedded_server``). Our handles are
    ``cleanup_mode=None``: its registry of handles, skipped here, never stops a server."""
    try:
        lines = (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    # pid, data directory, start time, port, socket directory, host, shared memory, status
    if len(lines) != 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    try:
        pid, port = int(lines[0]), int(lines[3])
    except ValueError:
        return None
    socket_dir = Path(lines[4].strip())
    same_dir = Path(lines[1].strip()) == data_dir.expanduser().resolve()
    if not same_dir or not _alive(pid) or _program_deleted(pid):
        return None
    if not (socket_dir / f".s.PGSQL.{port}").is_socket():
        return None
    return f"postgresql://postgres:@/postgres?host={socket_dir}"  # pgserver's own spelling


def _pgserver_uri(data_dir: Path) -> str:
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI): harmless.
            warnings.simplefilter("ignore")
            import pgserver

            server = pgserver.get_server(data_dir, cleanup_mode=None)  # type: ignore[attr-defined]
    except Exception as exc:  # pgserver raises plain exceptions with the initdb log
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL under {data_dir}: {exc}"
        ) from exc
    return str(server.get_uri())


def stop_orphaned_server(data_dir: Path, timeout_s: float = 30.0) -> bool:
    """Stop the server running on ``data_dir`` when its program files are gone.

    The embedded server outlives the process that started it, and it runs from the
    pgserver package of whichever environment started it first. When that environment is
    deleted (a clone removed, a venv rebuilt), the server keeps answering but fails the
    first time it loads a library (``could not access file "$libdir/vector"``). Joining it
    would fail a run halfway; it is stopped (a fast shutdown, the data stays) so this
    environment's pgserver starts it again. Returns whether one was stopped."""
    pid = _postmaster_pid(data_dir)
    if pid is None or not _program_deleted(pid):
        return False
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while _alive(pid):
        if time.monotonic() > deadline:
            raise DatabaseUnavailable(
                f"the embedded PostgreSQL under {data_dir} runs from deleted files and did not "
                f"stop within {timeout_s:.0f} s (pid {pid}); stop it and run again"
            )
        time.sleep(0.05)
    return True


def _postmaster_pid(data_dir: Path) -> int | None:
    try:
        first = (data_dir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
        return int(first)
    except (OSError, ValueError):
        return None


def _program_deleted(pid: int) -> bool:
    """Linux says so in /proc; elsewhere (no /proc) nothing is assumed."""
    try:
        return str(Path(f"/proc/{pid}/exe").readlink()).endswith(" (deleted)")
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (a child of ours that exited) no longer holds the data directory
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class Store:
    """A handle on the store: a URL and a way to get connections to it."""

    url: str
    embedded: bool = False
    _migrated: bool = field(default=False, repr=False)

    @property
    def display_url(self) -> str:
        return redact(self.url)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        try:
            return psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, **kwargs)
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                f"cannot reach the database at {self.display_url}: {self.reason(exc)}"
            ) from None  # the reason above is the driver's message, password hidden
        except psycopg.ProgrammingError as exc:  # a malformed string, e.g. a bad keyword
            raise DatabaseUnavailable(
                f"the database URL {self.display_url} is not valid: {self.reason(exc)}"
            ) from None

    def reason(self, exc: BaseException) -> str:
        """The driver's message for ``exc`` with the password hidden."""
        return scrub(str(exc).strip(), self.url)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection whose work commits on success and rolls back on any error."""
        conn = self.connect()
        try:
            with conn.transaction():
                yield conn
        except psycopg.OperationalError as exc:
            if (exc.sqlstate or "").startswith(TRANSACTION_ROLLBACK):
                # the server is up: it cancelled this transaction (a deadlock, a
                # serialization failure), so nothing of it was written and a retry is safe
                raise DatabaseUnavailable(
                    f"the database at {self.display_url} rolled this transaction back, "
                    f"nothing of it was written (run it again): {self.reason(exc)}"
                ) from exc
            raise DatabaseUnavailable(
                f"lost the database at {self.display_url}: {self.reason(exc)}"
            ) from exc
        finally:
            conn.close()

    def migrate(self, legacy: LegacyRepository | None = None) -> list[str]:
        """Apply pending migrations; returns the names applied (empty when up to date).

        ``legacy`` names the repository that rows of a database built before repositories
        existed belong to (see migration 0005)."""
        with self.connect(autocommit=True) as conn:
            applied = apply_migrations(conn, legacy=legacy)
        self._migrated = True
        return applied


def open_store(
    database_url: str | None = None,
    *,
    data_dir: Path | None = None,
    migrate: bool = True,
    legacy: LegacyRepository | None = None,
) -> Store:
    """Open the store the configuration names.

    ``database_url`` (or ``$KGENTS_DATABASE_URL``) wins; otherwise the embedded server in
    ``data_dir`` (default ``$KGENTS_HOME/pg``, shared by every repository). The connection
    is checked here so a down server fails at start, with the URL (password hidden) in the
    message.
    """
    url = database_url or os.environ.get(DATABASE_URL_ENV) or None
    if url:
        store = Store(url=url)
    else:
        directory = data_dir if data_dir is not None else embedded_store_dir()
        store = Store(url=start_embedded_server(directory), embedded=True)
    with store.connect() as conn:
        conn.execute("SELECT 1")
    if migrate:
        store.migrate(legacy)
    return store


def _answers(url: str) -> bool:
    """The server at ``url`` takes a connection now (not one shutting down meanwhile)."""
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S).close()
    except psycopg.Error:
        return False
    return True
