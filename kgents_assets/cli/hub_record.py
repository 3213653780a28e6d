"""The Dagster record of ``kg hub --once``'s in-process refresh, written by a detached
process of its own that finishes after the command has ended.

Importing Dagster and opening the instance costs ~2.5 s of CPU (Dagster, its storage
modules, alembic); the refresh's stages and follow-up (markdown, impact, catalog,
skeletons) need none of it, and neither does the person who ran the command: their
results are on disk and in the store when the stages end. So the command starts this
module's ``main`` in a new interpreter, in a session of its own (stdio not tied to the
terminal, output appended to ``$KGENTS_HOME/logs/hub-record.log``), as soon as it has
decided to refresh in process, and ends without waiting for it. The child only locks and
waits during the refresh; it imports Dagster once the command has let it go.

What keeps that honest is the repository's "record pending" lock
(``kgents_assets.hub.clean_run.hold_pending_record``). The child's first act, before it
imports Dagster, is to take it on its own PostgreSQL connection and say so on its stdout;
the command reads that acknowledgement before it hands over the events, so the lock is
held before the command can exit. Session-level: a child that dies releases it. Every
reader of what the record decides (``hub_skip.decide``, the next ``kg hub --once``) waits
for it first.

stdin, one JSON line each: the repository and the store's URL (when the command knows
the repository), the asset events (``AssetEventSpec`` list), then the clean-run record to
write once every event reached the instance (``{"refresh_id", "configuration"}``), or
null when something else went wrong. A child that records only some events, or cannot
open the instance, writes no clean-run record (the next command runs the job, which
records everything) and leaves a kv note saying why (``clean_run.record_failure``).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import kgents_assets
from kgents_assets.home import kgents_home
from sensors.asset_events import AssetEventSpec

#: the child's acknowledgement that it holds the repository's "record pending" lock
LOCKED = "locked"
#: how long the command waits for that acknowledgement (the child only connects and locks
#: first; a lock another recorder of the same repository holds is waited for too)
ACK_TIMEOUT_S = 60.0
LOG_NAME = "hub-record.log"
#: past this size the log is moved aside (one earlier generation, ``.1``, is kept): every
#: edit appends a line or two, and a home is never cleaned by anyone
LOG_MAX_BYTES = 1 << 20


def logs_dir() -> Path:
    return kgents_home() / "logs"


def log_path() -> Path:
    return logs_dir() / LOG_NAME


def open_log() -> IO[bytes]:
    """The log, for appending; moved to ``hub-record.log.1`` first when it outgrew
    ``LOG_MAX_BYTES`` (a recorder still writing the old one goes on into ``.1``)."""
    path = log_path()
    try:
        if path.stat().st_size > LOG_MAX_BYTES:
            path.replace(path.with_name(f"{LOG_NAME}.1"))
    except FileNotFoundError:
        pass
    return path.open("ab")


def pid_file(pid: int) -> Path:
    """Present while recorder ``pid`` works (the command writes it, the child removes it):
    what tests and benchmarks wait on before they remove a KGENTS_HOME."""
    return logs_dir() / f"hub-record.{pid}.pid"


class ChildRecorder:
    """A ``sensors.watch_refresh.Recorder`` whose writes happen in a detached child.

    ``flush`` hands the events over once the child holds the lock, without waiting for
    them to be written; ``finish`` hands over the clean-run record and lets the child go;
    ``close`` kills a child that was never handed anything."""

    def __init__(self, repo: str | None = None, store_url: str | None = None) -> None:
        """Start the child; ``repo`` and ``store_url`` (or a later :meth:`name`) say whose
        partition and which store holds the lock and the clean-run record."""
        self.pending: list[AssetEventSpec] = []
        self.recorded = 0  # events handed over (written by the child after the command)
        self.handed = False
        self._named = False
        self._locked = False
        logs_dir().mkdir(parents=True, exist_ok=True)
        # The code this process runs, not whatever ``kgents_assets`` the working directory
        # holds (``-m`` and ``-c`` put the cwd first on sys.path: kg run inside a checkout
        # of this very project would record with that checkout's code).
        code_root = str(Path(kgents_assets.__file__).resolve().parent.parent)
        bootstrap = (
            f"import sys; sys.path.insert(0, {code_root!r}); "
            "from kgents_assets.cli.hub_record import main; raise SystemExit(main())"
        )
        with open_log() as log:
            self._proc: subprocess.Popen[str] | None = subprocess.Popen(
                [sys.executable, "-c", bootstrap],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                # its own session: the terminal's Ctrl-C or hang-up does not reach it
                start_new_session=True,
            )
        self.pid = self._proc.pid
        pid_file(self.pid).write_text(f"{self.pid}\n")
        if repo is not None and store_url is not None:
            self.name(repo, store_url)

    def name(self, repo: str, store_url: str) -> None:
        """The repository whose partition the events go to (the child locks it now)."""
        if self._proc is None or self._proc.stdin is None or self._named:
            return
        self._send({"repo": repo, "store": store_url})
        self._named = True

    def add(self, events: Sequence[AssetEventSpec]) -> None:
        self.pending.extend(events)

    def flush(self) -> str | None:
        """Hand the events to the child once it holds the lock: None when they are handed
        (the child writes them after the command), else why they will not be written."""
        if not self.pending:
            return None
        if not self._named:
            raise RuntimeError("the recorder was never told the repository (ChildRecorder.name)")
        why = self._wait_locked()
        if why is None and not self._send([e.to_json() for e in self.pending]):
            why = f"the recorder ended: {_last_log_line()}"
        if why is not None:
            self._stop()
            return f"{len(self.pending)} asset events not recorded in Dagster ({why})"
        self.recorded += len(self.pending)
        self.pending.clear()
        self.handed = True
        return None

    def finish(self, clean_run: dict[str, Any] | None) -> str | None:
        """The last line: the clean-run record to write once every event landed (None:
        write none). The child goes on alone; None, or why it cannot."""
        if self._proc is None or not self.handed:
            return None
        proc, self._proc = self._proc, None
        sent = self._send_to(proc, clean_run)
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                try:
                    pipe.close()
                except OSError:  # the child is gone and the last line never reached it
                    sent = False
        # The child outlives this process by design. Popen would otherwise count it as
        # unreaped (a ResourceWarning, and a poll at the next Popen); the kernel reparents
        # it when this process exits, and its end is watched through its pid file.
        proc.returncode = 0
        return None if sent else "the recorder ended before the clean-run record was handed"

    def close(self) -> None:
        """Stop a child that was never handed its events (the stages failed, nothing
        changed, a Dagster run records instead); one already handed off goes on."""
        if self._proc is not None:
            self._stop()

    # --- the pipe ------------------------------------------------------------------

    def _send(self, value: Any) -> bool:
        return self._proc is not None and self._send_to(self._proc, value)

    @staticmethod
    def _send_to(proc: subprocess.Popen[str], value: Any) -> bool:
        if proc.stdin is None:
            return False
        try:
            proc.stdin.write(json.dumps(value, default=str) + "\n")
            proc.stdin.flush()
        except OSError:  # the child died: its log says why
            return False
        return True

    def _wait_locked(self) -> str | None:
        """None once the child said it holds the lock, else why it never will."""
        if self._locked:
            return None
        proc = self._proc
        if proc is None or proc.stdout is None:
            return "recorder gone"
        ready, _, _ = select.select([proc.stdout], [], [], ACK_TIMEOUT_S)
        line = proc.stdout.readline() if ready else ""
        if line.strip() == LOCKED:
            self._locked = True
            return None
        if not ready:
            return f"the recorder did not take the record lock within {ACK_TIMEOUT_S:.0f} s"
        return f"the recorder ended: {_last_log_line()}"

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.communicate()
        pid_file(proc.pid).unlink(missing_ok=True)


def _last_log_line() -> str:
    try:
        lines = log_path().read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no log"


# --- the child ---------------------------------------------------------------------


def _say(message: str) -> None:
    """One line in the log (stderr is the log file)."""
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    sys.stderr.write(f"{stamp} [{os.getpid()}] {message}\n")
    sys.stderr.flush()


def _read(stdin: IO[str]) -> Any:
    line = stdin.readline()
    return json.loads(line) if line.strip() else None


def main() -> int:
    """The child: lock, ready the instance and the partition, record the events, then the
    clean-run record; a note of why when it cannot."""
    try:
        return _record(sys.stdin)
    finally:
        pid_file(os.getpid()).unlink(missing_ok=True)


def _record(stdin: IO[str]) -> int:
    import psycopg

    from kgents_assets.hub.clean_run import (
        hold_pending_record,
        record_clean_run,
        record_failure,
        release_pending_record,
    )

    # blocks until the command knows the repository (or dies: EOF, nothing to do)
    named = _read(stdin)
    if not isinstance(named, dict):
        return 0
    repo, started = str(named["repo"]), time.monotonic()
    with psycopg.connect(str(named["store"]), autocommit=True) as conn:
        hold_pending_record(conn, repo)
        sys.stdout.write(LOCKED + "\n")
        sys.stdout.flush()
        # nobody reads our stdout once the command has let go: anything printed later
        # (a library's print) goes to the log instead of a broken pipe
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
        recorded, refresh_id, error = 0, "", None
        # Everything the command will send, before Dagster is imported: the import and
        # the instance (~2.5 s of CPU) start once the command has let go, so they never
        # compete with the refresh for the machine's cores (measured: bench/readme_bench.py).
        raw = _read(stdin)  # None: the command ended before its events (killed)
        clean: dict[str, Any] | None = _read(stdin) if raw is not None else None
        try:
            if raw is None:
                raise RuntimeError("the command ended before it handed over its events")
            from kgents_assets.assets.partitions import ensure_partition
            from kgents_assets.instance import get_instance

            specs = [AssetEventSpec.from_json(d) for d in raw]
            with get_instance() as instance:
                ensure_partition(instance, repo)
                for spec in specs:
                    refresh_id = refresh_id or str(spec.metadata.get("refresh_id", ""))
                    instance.report_runless_asset_event(spec.to_dagster())
                    recorded += 1
            if clean is not None:
                with conn.transaction():
                    record_clean_run(conn, repo, str(clean["refresh_id"]), clean["configuration"])
                refresh_id = str(clean["refresh_id"])
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}".strip().splitlines()[0]
        elapsed = time.monotonic() - started
        if error is not None:
            why = f"{recorded} asset event(s) recorded, then {error}"
            with conn.transaction():
                record_failure(conn, repo, refresh_id, why)
            _say(f"{repo}: record of refresh {refresh_id[:8]} FAILED in {elapsed:.2f} s: {why}")
        else:
            done = "clean-run record written" if clean is not None else "no clean-run record"
            _say(
                f"{repo}: {recorded} asset event(s) of refresh {refresh_id[:8]} recorded in "
                f"{elapsed:.2f} s; {done}"
            )
        release_pending_record(conn, repo)
    return 0 if error is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
