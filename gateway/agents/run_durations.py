"""Dagster run durations for ``kgents_pipeline_run_seconds``, from the run events the
``pipeline`` agent mirrors: a run's end minus its start. A run that started before the
gateway did has no start event here; its start comes from the run record instead."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from dagster import DagsterInstance

from gateway.agents.dagster_feed import FeedEvent
from kgents_assets.catalog.metrics import observe_run

log = logging.getLogger(__name__)

END_STATUS = {"run_success": "success", "run_failure": "failure", "run_canceled": "canceled"}
MAX_OPEN = 10_000  # runs started and not yet ended that we remember


class RunDurations:
    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self._started: dict[str, float] = {}

    def observe(self, events: Iterable[FeedEvent]) -> None:
        """Record starts, observe ends (blocking: the run record may be read; call it in a
        thread, like the poll that produced the events)."""
        for event in events:
            run_id, at = event.data.get("run_id"), event.data.get("dagster_timestamp")
            if not isinstance(run_id, str) or not isinstance(at, int | float):
                continue
            if event.type == "run_start":
                if len(self._started) >= MAX_OPEN:
                    self._started.pop(next(iter(self._started)))
                self._started[run_id] = float(at)
            elif (status := END_STATUS.get(event.type)) is not None:
                started = self._started.pop(run_id, None) or self._recorded_start(run_id)
                if started is not None:
                    observe_run(status, float(at) - started)

    def _recorded_start(self, run_id: str) -> float | None:
        try:
            record = self.instance.get_run_record_by_id(run_id)
        except Exception as exc:  # the instance being unreachable must not stop the mirror
            log.warning("pipeline: no run record for %s (%s)", run_id, exc)
            return None
        start = record.start_time if record is not None else None
        return float(start) if start is not None else None
