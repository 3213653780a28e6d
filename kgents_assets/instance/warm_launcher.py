"""The run launcher kgents' dagster.yaml names: Dagster's default launcher, with runs
started by a warm worker (``warm_worker.py``) instead of a fresh process per run.

Dagster's ``DefaultRunLauncher`` asks the code server to start each run; the server spawns
a new interpreter that imports Dagster and the code location and builds the repository:
on two shared cores that was 6 s of a save's 13 s on the sensor path, for every run. Here
one process per code location has done that once and forks a child per run; the child
executes the run with Dagster's own run-worker function, so the run, its events, tags,
partition and lineage are what the default launcher gives. Runs still come from the run
queue, so the one-run-per-repository limit still holds.

Whenever the warm path cannot serve a run (no Python origin, an interpreter that is not
on this machine, a code location that fails to load in the worker), the run goes to the
code server as before, and an engine event on the run says why.

A child writes its host and pid into the run's tags before the run starts; ``terminate``
interrupts that pid (SIGINT, what Dagster's own run workers receive) on the same host.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from dagster._core.launcher import LaunchRunContext
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.origin import RepositoryPythonOrigin
from dagster._serdes import ConfigurableClassData, serialize_value

#: run tag with the warm-launched worker's {"host": ..., "pid": ...}
WORKER_TAG = "kgents/run_worker"
WORKER_MODULE = "kgents_assets.instance.warm_worker"
#: loading the code location on a busy machine (measured 3-7 s under load 5)
READY_TIMEOUT_S = 180.0
FORK_TIMEOUT_S = 30.0


class WarmWorkerError(RuntimeError):
    """The warm worker cannot start this run (the launcher falls back to the code server)."""


class StaleWorker(WarmWorkerError):
    """The worker's loaded code changed on disk since it loaded it."""


def worker_tag(pid: int) -> dict[str, str]:
    return {WORKER_TAG: json.dumps({"host": socket.gethostname(), "pid": pid})}


def _working_directory(origin: RepositoryPythonOrigin) -> str | None:
    directory = getattr(origin.code_pointer, "working_directory", None)
    return directory if isinstance(directory, str) and Path(directory).is_dir() else None


class WarmWorker:
    """One ``warm_worker`` process for one code location (repository origin)."""

    def __init__(self, origin: RepositoryPythonOrigin, instance_ref: str) -> None:
        self.proc = subprocess.Popen(
            [origin.executable_path, "-m", WORKER_MODULE, serialize_value(origin), instance_ref],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=_working_directory(origin),
            text=True,
        )
        self.ready = False

    def _stdin(self) -> IO[str]:
        assert self.proc.stdin is not None
        return self.proc.stdin

    def _read(self, timeout: float, waiting_for: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            what = f"gave no answer within {timeout:.0f} s" if self.alive() else "exited"
            self.close()
            raise WarmWorkerError(f"the warm worker {what} while {waiting_for}")
        message: dict[str, Any] = json.loads(line)
        return message

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        if self.ready:
            return
        message = self._read(timeout, "loading the code location")
        if "error" in message:
            self.close()
            raise WarmWorkerError(f"the code location failed to load:\n{message['error']}")
        self.ready = True

    def start(self, run_id: str, instance_ref: str) -> int:
        """Fork a child executing ``run_id``; its pid."""
        self.wait_ready()
        try:
            self._stdin().write(json.dumps({"run_id": run_id, "instance_ref": instance_ref}))
            self._stdin().write("\n")
            self._stdin().flush()
        except OSError as exc:
            self.close()
            raise WarmWorkerError(f"the warm worker is gone: {exc}") from exc
        message = self._read(FORK_TIMEOUT_S, "starting the run")
        if "stale" in message:
            self.close()
            raise StaleWorker(f"{message['stale']} changed since the worker loaded it")
        return int(message["pid"])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        """EOF ends the worker; runs it started carry on."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class WarmRunLauncher(DefaultRunLauncher):
    """``DefaultRunLauncher`` whose runs start from a warm, forking worker."""

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        super().__init__(inst_data=inst_data)
        self._workers: dict[str, WarmWorker] = {}
        self._lock = threading.Lock()

    def _fork(self, origin: RepositoryPythonOrigin, run_id: str) -> int:
        key = serialize_value(origin)
        ref = serialize_value(self._instance.get_ref())
        with self._lock:
            for attempt in (1, 2):
                worker = self._workers.get(key)
                if worker is None or not worker.alive():
                    worker = self._workers[key] = WarmWorker(origin, ref)
                try:
                    return worker.start(run_id, ref)
                except StaleWorker:
                    del self._workers[key]  # changed code: a fresh worker loads it
                    if attempt == 2:
                        raise
                except WarmWorkerError:
                    del self._workers[key]
                    raise
        raise AssertionError("unreachable")

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None:
            reason = "the run has no Python origin"
        elif not os.access(origin.repository_origin.executable_path, os.X_OK):
            reason = f"{origin.repository_origin.executable_path} is not on this machine"
        else:
            try:
                started = time.monotonic()
                pid = self._fork(origin.repository_origin, run.run_id)
            except WarmWorkerError as exc:
                reason = str(exc)
            else:
                self._instance.report_engine_event(
                    f"Forked run worker (pid: {pid}) from the warm worker in "
                    f"{time.monotonic() - started:.2f} s.",
                    run,
                    cls=type(self),
                )
                self._run_ids.add(run.run_id)
                return
        self._instance.report_engine_event(
            f"Launching through the code server: {reason}", run, cls=type(self)
        )
        super().launch_run(context)

    def terminate(self, run_id: str) -> bool:
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or run.is_finished or WORKER_TAG not in run.tags:
            return bool(super().terminate(run_id))  # type: ignore[no-untyped-call]
        worker = json.loads(run.tags[WORKER_TAG])
        if worker.get("host") != socket.gethostname():
            self._instance.report_engine_event(
                f"Cannot interrupt the run worker: it runs on {worker.get('host')}.",
                run,
                cls=type(self),
            )
            return False
        self._instance.report_run_canceling(run)
        try:
            os.kill(int(worker["pid"]), signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def dispose(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.close()
        super().dispose()
