"""A store for a long-running process: ``connect()`` hands back a connection closed earlier.

One save's refresh opens a connection per stage and per journal write (about ten); on a
busy machine each new connection costs 5-20 ms of the save's latency, and a fresh
connection never reaches psycopg's prepared statements. The watch daemon lives for hours
and talks to one database, so a connection its code closes goes back on a short list
instead, when it is clean: idle (no transaction open or failed), not broken, in its
default autocommit and row factory. Anything else is really closed. Callers keep using
``with store.connect() as conn`` and ``store.transaction()`` unchanged.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from kgents_assets.store import Store
from kgents_assets.store.database import CONNECT_TIMEOUT_S, DatabaseUnavailable

#: idle connections kept: the daemon's stages and the markdown writers' threads
MAX_IDLE = 6


class _ReturnedConnection(psycopg.Connection[Any]):
    """A connection whose ``close()`` offers it back to the store that opened it."""

    _home: ReusingStore | None = None

    def close(self) -> None:
        home, self._home = self._home, None
        if home is not None and home._take_back(self):
            return
        super().close()


@dataclass
class ReusingStore(Store):
    _idle: list[_ReturnedConnection] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, store: Store) -> ReusingStore:
        return cls(url=store.url, embedded=store.embedded, _migrated=store._migrated)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        if kwargs:  # autocommit and the like: a connection of its own, really closed
            return super().connect(**kwargs)
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            try:
                conn = _ReturnedConnection.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S)
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(
                    f"cannot reach the database at {self.display_url}: {self.reason(exc)}"
                ) from None
        conn._home = self
        return conn

    def _take_back(self, conn: _ReturnedConnection) -> bool:
        clean = (
            not conn.closed
            and not conn.broken
            and conn.info.transaction_status == TransactionStatus.IDLE
            and not conn.autocommit
            and conn.row_factory is tuple_row
        )
        with self._lock:
            if clean and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
                return True
        return False

    def close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            psycopg.Connection.close(conn)
