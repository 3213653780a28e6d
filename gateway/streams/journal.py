"""The tables of shared streams, and the only module that writes SQL for them.

``gateway_streams`` holds one row per agent (its epoch and head); ``gateway_events`` the
frames, each exactly as observers receive it. Appending a batch is one transaction: bump
the head by the batch's size (the row lock orders the writers of one agent, so seqs are
gap-free and commit in seq order), insert the frames, ``NOTIFY`` the channel, and now and
then trim the stream to its last ``retention`` events.

A notification's payload is a header line ``["agent_id", first, last]``, followed by the
frames themselves when they fit (Postgres refuses payloads of 8000 bytes or more);
otherwise listeners read the rows.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from kgents_assets.flux import TerrariumEvent

CHANNEL = "gateway_events"
#: Postgres's limit is 8000 bytes; keep a margin for the header's own growth.
NOTIFY_LIMIT = 7900
#: trim a stream each time its head crosses a multiple of retention // TRIM_EVERY
TRIM_EVERY = 10

_OPEN = (
    "INSERT INTO gateway_streams (agent_id, epoch) VALUES (%s, %s) "
    "ON CONFLICT (agent_id) DO NOTHING"
)
_HEAD = "SELECT epoch, head FROM gateway_streams WHERE agent_id = %s"
_ALLOCATE = (
    "INSERT INTO gateway_streams (agent_id, epoch, head) VALUES (%s, %s, %s) "
    "ON CONFLICT (agent_id) DO UPDATE SET head = gateway_streams.head + EXCLUDED.head "
    "RETURNING head"
)
_INSERT = (
    "INSERT INTO gateway_events (agent_id, seq, frame) "
    "SELECT %s, s, f FROM unnest(%s::bigint[], %s::text[]) AS t(s, f)"
)
_TRIM = "DELETE FROM gateway_events WHERE agent_id = %s AND seq <= %s"
_AFTER = (
    "SELECT seq, frame FROM gateway_events WHERE agent_id = %s AND seq > %s AND seq <= %s "
    "ORDER BY seq LIMIT %s"
)
_TAIL = (
    "SELECT seq, frame FROM (SELECT seq, frame FROM gateway_events WHERE agent_id = %s "
    "ORDER BY seq DESC LIMIT %s) t ORDER BY seq"
)
UNBOUNDED = 2**62


@dataclass(frozen=True)
class StreamHead:
    agent_id: str
    epoch: str
    head: int


@dataclass(frozen=True)
class Notice:
    """One notification: frames ``first..last`` of an agent's stream (None: read the rows)."""

    agent_id: str
    first: int
    last: int
    frames: list[str] | None


def new_epoch() -> str:
    return uuid.uuid4().hex[:12]


def encode_notice(agent_id: str, first: int, frames: Sequence[str]) -> str:
    header = json.dumps([agent_id, first, first + len(frames) - 1])
    full = "\n".join([header, *frames])
    return full if len(full.encode()) < NOTIFY_LIMIT else header


def decode_notice(payload: str) -> Notice:
    header, _, rest = payload.partition("\n")
    agent_id, first, last = json.loads(header)
    frames = rest.split("\n") if rest else None
    if frames is not None and len(frames) != last - first + 1:
        frames = None  # a frame with a raw newline cannot be split: read the rows instead
    return Notice(str(agent_id), int(first), int(last), frames)


def stamp(first: int, events: Sequence[TerrariumEvent]) -> list[TerrariumEvent]:
    return [e.model_copy(update={"seq": first + i}) for i, e in enumerate(events)]


def encode_frames(first: int, events: Sequence[TerrariumEvent]) -> list[str]:
    return [e.model_dump_json(fallback=str) for e in stamp(first, events)]


async def open_stream(conn: psycopg.AsyncConnection[Any], agent_id: str) -> StreamHead:
    """The stream of ``agent_id``, created (with a new epoch) when it has none yet."""
    await conn.execute(_OPEN, (agent_id, new_epoch()))
    cur = await conn.execute(_HEAD, (agent_id,))
    row = await cur.fetchone()
    assert row is not None, "the row was just inserted or already there"
    return StreamHead(agent_id, str(row[0]), int(row[1]))


async def append(
    conn: psycopg.AsyncConnection[Any],
    agent_id: str,
    events: Sequence[TerrariumEvent],
    retention: int,
) -> tuple[list[TerrariumEvent], list[str]]:
    """Append ``events`` in one transaction; returns them numbered, and their frames."""
    async with conn.transaction():
        cur = await conn.execute(_ALLOCATE, (agent_id, new_epoch(), len(events)))
        row = await cur.fetchone()
        assert row is not None
        head = int(row[0])
        first = head - len(events) + 1
        stamped = stamp(first, events)
        frames = [e.model_dump_json(fallback=str) for e in stamped]
        await conn.execute(_INSERT, (agent_id, list(range(first, head + 1)), frames))
        notice = encode_notice(agent_id, first, frames)
        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, notice))
        step = max(1, retention // TRIM_EVERY)
        if head // step != (first - 1) // step and head > retention:
            await conn.execute(_TRIM, (agent_id, head - retention))
    return stamped, frames


async def read_after(
    conn: psycopg.AsyncConnection[Any], agent_id: str, after: int, limit: int
) -> list[tuple[int, str]]:
    cur = await conn.execute(_AFTER, (agent_id, after, UNBOUNDED, limit))
    return [(int(seq), str(frame)) for seq, frame in await cur.fetchall()]


async def read_tail(
    conn: psycopg.AsyncConnection[Any], agent_id: str, count: int
) -> list[tuple[int, str]]:
    cur = await conn.execute(_TAIL, (agent_id, count))
    return [(int(seq), str(frame)) for seq, frame in await cur.fetchall()]


def read_range(
    conn: psycopg.Connection[Any], agent_id: str, after: int, until: int, limit: int
) -> list[tuple[int, str]]:
    """Frames ``after < seq <= until`` (at most ``limit``), for a resume older than a ring."""
    rows = conn.execute(_AFTER, (agent_id, after, until, limit)).fetchall()
    return [(int(seq), str(frame)) for seq, frame in rows]
