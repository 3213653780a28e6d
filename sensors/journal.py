"""The event journal (table ``sensor_events``): an append-only log with sequence numbers.

Readers keep the last ``seq`` they handled as their cursor; ``read_after(cursor)`` then
gives exactly what they have not seen, across restarts of anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from kgents_assets.store import Store
from sensors.events import Event, parse_event


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    event: Event
    repo: str | None = None


class EventJournal:
    def __init__(self, store: Store) -> None:
        self.store = store

    def append(self, event: Event, *, repo: str | None = None) -> int:
        """Record one event (of repository ``repo``, if any); returns its sequence number."""
        return self.append_many([event], repo=repo)[0]

    def append_many(
        self,
        events: Iterable[Event],
        conn: psycopg.Connection[Any] | None = None,
        *,
        repo: str | None = None,
    ) -> list[int]:
        rows = [
            (
                repo,
                e.kind,
                int(e.priority),
                e.key,
                e.source,
                e.at,
                Jsonb(e.model_dump(mode="json")),
            )
            for e in events
        ]
        if not rows:
            return []
        if conn is not None:
            return self._insert(conn, rows)
        with self.store.transaction() as c:
            return self._insert(c, rows)

    @staticmethod
    def _insert(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> list[int]:
        seqs: list[int] = []
        with conn.cursor() as cur:
            # One round trip per 1,000 rows: a 5,000-file storm journals in a few ms.
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                values = ",".join(["(%s,%s,%s,%s,%s,%s,%s)"] * len(chunk))
                cur.execute(
                    "INSERT INTO sensor_events (repo, kind, priority, key, source, occurred_at, "
                    f"payload) VALUES {values} RETURNING seq",
                    [v for row in chunk for v in row],
                )
                seqs.extend(r[0] for r in cur.fetchall())
        return seqs

    def read_after(
        self, cursor: int, *, kinds: Sequence[str] | None = None, limit: int = 1000
    ) -> list[JournalEntry]:
        """Entries with ``seq > cursor`` in order (optionally only some kinds).

        A row that no longer validates (written by another version) is skipped with its
        seq still advancing the reader, rather than blocking every later event.
        """
        query = "SELECT seq, payload, repo FROM sensor_events WHERE seq > %s"
        params: list[Any] = [cursor]
        if kinds:
            query += " AND kind = ANY(%s)"
            params.append(list(kinds))
        query += " ORDER BY seq LIMIT %s"
        params.append(limit)
        with self.store.connect() as conn:
            rows = conn.execute(query, params).fetchall()
        out: list[JournalEntry] = []
        for seq, payload, repo in rows:
            try:
                out.append(JournalEntry(seq, parse_event(payload), repo))
            except ValidationError:
                continue
        return out

    def last_seq(self) -> int:
        with self.store.connect() as conn:
            row = conn.execute("SELECT coalesce(max(seq), 0) FROM sensor_events").fetchone()
        return int(row[0]) if row else 0

    def count(self, kind: str | None = None) -> int:
        with self.store.connect() as conn:
            if kind is None:
                row = conn.execute("SELECT count(*) FROM sensor_events").fetchone()
            else:
                row = conn.execute(
                    "SELECT count(*) FROM sensor_events WHERE kind = %s", (kind,)
                ).fetchone()
        return int(row[0]) if row else 0
