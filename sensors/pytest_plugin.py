"""pytest plugin: test runs as events in the journal (started/passed/failed/complete).

Off unless asked for, so ordinary test runs stay as fast and clean as before::

    KGENTS_EVENTS=1 pytest          # or
    pytest --kgents-events

It writes to the same store as everything else (``$KGENTS_DATABASE_URL``, else the
embedded server under ``<rootdir>/.agentfs``). Failures are written at once (the
test-failure sensor reacts to them); starts and passes are written in batches. If the
store cannot be reached the run goes on and says why in its summary.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from sensors.events import Event
    from sensors.journal import EventJournal

ENV = "KGENTS_EVENTS"
BATCH = 200
LONGREPR_LIMIT = 8000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kgents", "kgents event journal")
    group.addoption(
        "--kgents-events",
        action="store_true",
        default=False,
        help=f"record test events to the kgents event journal (or set {ENV}=1)",
    )


def _enabled(config: pytest.Config) -> bool:
    if config.getoption("kgents_events", default=False):
        return True
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def pytest_configure(config: pytest.Config) -> None:
    if _enabled(config) and not hasattr(config, "workerinput"):  # not on xdist workers
        config.pluginmanager.register(TestEventRecorder(config), "kgents_events_recorder")


class TestEventRecorder:
    __test__ = False

    def __init__(self, config: pytest.Config) -> None:
        self.session_id = uuid.uuid4().hex[:12]
        self.rootpath = Path(config.rootpath)
        self.buffer: list[Event] = []
        self.journal: EventJournal | None = None
        self.problem: str | None = None
        self.recorded = 0
        self.counts = {"passed": 0, "failed": 0, "skipped": 0}
        self.started = time.monotonic()

    def _open(self) -> EventJournal | None:
        if self.journal is None and self.problem is None:
            from kgents_assets.store import DatabaseUnavailable, open_store
            from sensors.journal import EventJournal

            try:
                self.journal = EventJournal(open_store(None))
            except DatabaseUnavailable as exc:
                self.problem = str(exc)
        return self.journal

    def _add(self, event: Event, flush: bool = False) -> None:
        self.buffer.append(event)
        if flush or len(self.buffer) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        journal = self._open()
        if journal is not None:
            try:
                journal.append_many(self.buffer)
                self.recorded += len(self.buffer)
            except Exception as exc:  # the test run matters more than its journal
                self.problem = f"could not write test events: {exc}"
        self.buffer = []

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        from sensors.events import TestStarted

        self._add(TestStarted(nodeid=nodeid, session_id=self.session_id, source="pytest"))

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from sensors.events import TestFailed, TestPassed

        if report.failed:
            self.counts["failed"] += 1
            text = report.longreprtext or ""
            crash = getattr(report.longrepr, "reprcrash", None)
            message = str(getattr(crash, "message", "") or "")
            if not message:
                lines = [ln for ln in text.strip().splitlines() if ln.strip()]
                first_e = next((ln for ln in lines if ln.startswith("E ")), "")
                message = first_e[1:].strip() or (lines[-1] if lines else "")
            self._add(
                TestFailed(
                    nodeid=report.nodeid,
                    session_id=self.session_id,
                    phase=report.when if report.when in ("setup", "call", "teardown") else "call",
                    duration_s=report.duration,
                    message=message[:500],
                    longrepr=text[-LONGREPR_LIMIT:],
                    source="pytest",
                ),
                flush=True,
            )
        elif report.skipped:
            self.counts["skipped"] += 1
        elif report.when == "call":
            self.counts["passed"] += 1
            self._add(
                TestPassed(
                    nodeid=report.nodeid,
                    session_id=self.session_id,
                    duration_s=report.duration,
                    source="pytest",
                )
            )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from sensors.events import TestSessionComplete

        self._add(
            TestSessionComplete(
                session_id=self.session_id,
                exit_status=int(exitstatus),
                duration_s=time.monotonic() - self.started,
                source="pytest",
                **self.counts,
            ),
            flush=True,
        )

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.problem:
            terminalreporter.write_line(f"kgents-events: not recorded: {self.problem}", yellow=True)
        else:
            terminalreporter.write_line(
                f"kgents-events: {self.recorded} events journaled (session {self.session_id})"
            )
