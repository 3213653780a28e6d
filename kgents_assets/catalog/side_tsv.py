"""Keyword-search vectors of a cold load computed on connections of their own.

``to_tsvector`` over a repository's names, docstrings and bodies is most of what writing
its entries costs the server (Django: ~44k bodies), and inside the load's transaction it
runs on one backend, one core. These connections compute the same expression
(``storage.SEARCH_TSV``) for batches of entries, two at a time, while the load's own
connection writes the previous batch: the vectors come back in binary and go into the
load's binary COPY, whose tsvector input rebuilds the very same value. The connections store
nothing, so they may live outside the load's transaction; should one fail, the caller
computes the vectors in its own insert instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg

from kgents_assets.catalog import storage
from kgents_assets.store import DatabaseUnavailable

#: Side connections: the machines this runs on have 2 cores to share.
WORKERS = 2
#: Binary both ways. The texts go as binary arrays (``%b``): for a text-format array
#: psycopg builds the literal in Python, a regex escape per element, and a cold load sends
#: ~100 MB of search texts (Django: ~5 s of this process's CPU, holding the GIL, against
#: ~0.5 s so). The vectors come back in ``tsvector``'s binary form, which the load's
#: binary COPY takes as it is (bulk_write.copy_new_entries): a third shorter than the
#: text form, and neither printed nor parsed.
_QUERY = (
    f"SELECT {storage.SEARCH_TSV} FROM unnest(%b::text[], %b::text[], %b::text[]) "
    "WITH ORDINALITY AS t(search_a, search_b, search_c, n) ORDER BY n"
)

Searches = Sequence[tuple[str, str, str]]  # (search_a, search_b, search_c) per entry


class Pending:
    """The vectors of one batch, in its order, once every part is back."""

    def __init__(self, parts: list[Future[list[bytes]]]) -> None:
        self._parts = parts

    def result(self) -> list[bytes] | None:
        """The vectors (binary), or None when a side connection failed (the caller
        computes them)."""
        out: list[bytes] = []
        try:
            for part in self._parts:
                out += part.result()
        except (psycopg.Error, DatabaseUnavailable, OSError):
            return None
        return out


class SideSearchVectors:
    """``submit`` a batch's search texts; its ``Pending`` gives their vectors. A context
    manager: leaving it closes the connections."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], workers: int = WORKERS):
        self._connect = connect
        self._workers = workers
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="side-tsv")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[psycopg.Connection[Any]] = []

    def _connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect()
            conn.autocommit = True
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _compute(self, searches: Searches) -> list[bytes]:
        rows = (
            self._connection()
            .execute(
                _QUERY,
                ([s[0] for s in searches], [s[1] for s in searches], [s[2] for s in searches]),
                binary=True,
            )
            .fetchall()
        )
        return [r[0] for r in rows]

    def submit(self, searches: Searches) -> Pending:
        size = -(-len(searches) // self._workers) or 1
        return Pending(
            [
                self._executor.submit(self._compute, searches[at : at + size])
                for at in range(0, len(searches), size)
            ]
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()

    def __enter__(self) -> SideSearchVectors:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["WORKERS", "Pending", "SideSearchVectors"]
