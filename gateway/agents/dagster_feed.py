"""Read new Dagster events by storage-id cursor, cheaply when nothing happened.

Each poll first asks the event log for its maximum record id (one indexed lookup); only
when that moved does it fetch records of the types we mirror, after the cursor. The
instance's API is synchronous (SQLite or Postgres), so callers run polls in a thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dagster import DagsterEventType, DagsterInstance, EventLogRecord, EventRecordsFilter
from dagster._core.storage.event_log.base import EventLogCursor  # type: ignore[attr-defined]

from kgents_assets.flux import FluxAgent

log = logging.getLogger(__name__)

RUN_EVENTS = (
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.RUN_CANCELED,
)
MATERIALIZATION = DagsterEventType.ASSET_MATERIALIZATION
# Dagster still spells run events PIPELINE_*; the mirror uses today's names.
EVENT_NAMES = {
    DagsterEventType.RUN_START: "run_start",
    DagsterEventType.RUN_SUCCESS: "run_success",
    DagsterEventType.RUN_FAILURE: "run_failure",
    DagsterEventType.RUN_CANCELED: "run_canceled",
    MATERIALIZATION: "asset_materialization",
}


@dataclass(frozen=True)
class FeedEvent:
    storage_id: int
    type: str
    data: dict[str, Any]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def metadata_of(record: EventLogRecord) -> dict[str, Any]:
    materialization = record.asset_materialization
    if materialization is None:
        return {}
    return {key: _jsonable(entry.value) for key, entry in materialization.metadata.items()}


def describe(record: EventLogRecord) -> FeedEvent:
    entry = record.event_log_entry
    dagster_event = entry.dagster_event
    kind = "unknown"
    if dagster_event is not None:
        kind = EVENT_NAMES.get(dagster_event.event_type, dagster_event.event_type_value.lower())
    data: dict[str, Any] = {
        "run_id": entry.run_id,
        "job_name": entry.job_name,
        "dagster_timestamp": entry.timestamp,
    }
    if record.asset_key is not None:
        data["asset_key"] = record.asset_key.to_user_string()
        data["partition"] = record.partition_key
        data["metadata"] = metadata_of(record)
    return FeedEvent(record.storage_id, kind, data)


class DagsterEventFeed:
    def __init__(
        self,
        instance: DagsterInstance,
        event_types: tuple[DagsterEventType, ...],
        *,
        start_at_latest: bool = True,
        batch: int = 500,
    ) -> None:
        self.instance = instance
        self.event_types = event_types
        self.batch = batch
        # Start at "now": the mirror shows what happens while you watch; history of
        # past runs is in the Dagster UI.
        self.cursor = self._max_id() if start_at_latest else 0
        self.polls = 0
        self.queries = 0

    def _max_id(self) -> int:
        return int(self.instance.event_log_storage.get_maximum_record_id() or 0)

    def poll(self) -> list[FeedEvent]:
        self.polls += 1
        newest = self._max_id()
        if newest <= self.cursor:
            return []
        records: list[EventLogRecord] = []
        for event_type in self.event_types:
            self.queries += 1
            if event_type in RUN_EVENTS:
                # Run status changes are mirrored into the index shard; this API reads
                # them there (SQLite's run-sharded storage cannot page them by cursor).
                cursor = EventLogCursor.from_storage_id(self.cursor).to_string()
                records.extend(
                    self.instance.fetch_run_status_changes(
                        event_type, limit=self.batch, cursor=cursor, ascending=True
                    ).records
                )
            else:
                # Every asset's materializations after the cursor: the instance's
                # fetch_materializations wants one asset key, and its get_event_records
                # (deprecated, gone in Dagster 2.0) only delegated to this same query.
                records.extend(
                    self.instance.event_log_storage.get_event_records(
                        EventRecordsFilter(event_type=event_type, after_cursor=self.cursor),
                        limit=self.batch,
                        ascending=True,
                    )
                )
        records.sort(key=lambda r: r.storage_id)
        if len(records) >= self.batch:
            # More than a batch of one type arrived: advance only as far as every type
            # is complete, the rest comes on the next poll.
            records = records[: self.batch]
            self.cursor = records[-1].storage_id
        else:
            self.cursor = newest
        return [describe(record) for record in records]


async def follow(
    agent: FluxAgent,
    feed: DagsterEventFeed,
    handle: Callable[[FeedEvent], None],
    poll_interval_s: float,
    max_failures: int = 10,
) -> None:
    """Poll ``feed`` forever, handing new events to ``handle``.

    A failed poll (the SQLite file locked by a run, Postgres restarting) is reported in the
    mirror as ``feed_error`` and retried with backoff; only ``max_failures`` in a row
    collapse the agent, which then fails loudly instead of mirroring nothing.
    """
    failures = 0
    while True:
        try:
            events = await asyncio.to_thread(feed.poll)
        except Exception as exc:
            failures += 1
            if failures >= max_failures:
                raise
            log.warning("agent %s: Dagster poll failed (%s), retrying", agent.id, exc)
            agent.emit("feed_error", {"error": f"{type(exc).__name__}: {exc}", "attempt": failures})
            await asyncio.sleep(min(10.0, poll_interval_s * 2**failures))
            continue
        failures = 0
        for event in events:
            handle(event)
        await asyncio.sleep(poll_interval_s)
