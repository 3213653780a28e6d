"""The Dagster record of ``kg hub --once``'s in-process refresh, written by a process of
its own that starts with the refresh.

Importing Dagster and opening the instance costs ~2.5 s of CPU (Dagster, its storage
modules, alembic); the refresh's stages and follow-up (markdown, impact, catalog,
skeletons) need none of it. So the command starts this module's ``main`` in a new
interpreter as soon as it has decided to refresh in process: on the machine's other core
it imports Dagster (and this package's event spec only), opens the shared instance and
adds the repository's partition (named on its first stdin line) while the refresh runs,
then waits for the events on its stdin (the second line: JSON, one list of
``AssetEventSpec``), reports each as a runless event and prints what it recorded. The
command waits for it before exiting, so the record is in the instance when the command
ends; a child that fails is said, and leaves no clean-run record (the next command runs
the job, which records everything).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import kgents_assets
from sensors.asset_events import AssetEventSpec

#: the child imports Dagster and talks to Postgres: generous, but a hung child must end
TIMEOUT_S = 300


class ChildRecorder:
    """A ``sensors.watch_refresh.Recorder`` whose writes happen in the child process."""

    def __init__(self, repo: str | None = None) -> None:
        """Start the child; ``repo`` (or a later :meth:`name`) says whose partition."""
        self.pending: list[AssetEventSpec] = []
        self.recorded = 0
        self._named = False
        # The code this process runs, not whatever ``kgents_assets`` the working directory
        # holds (``-m`` and ``-c`` put the cwd first on sys.path: kg run inside a checkout
        # of this very project would record with that checkout's code).
        code_root = str(Path(kgents_assets.__file__).resolve().parent.parent)
        bootstrap = (
            f"import sys; sys.path.insert(0, {code_root!r}); "
            "from kgents_assets.cli.hub_record import main; raise SystemExit(main())"
        )
        self._proc: subprocess.Popen[str] | None = subprocess.Popen(
            [sys.executable, "-c", bootstrap],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if repo is not None:
            self.name(repo)

    def name(self, repo: str) -> None:
        """The repository whose partition the events go to (the child readies it now)."""
        if self._proc is None or self._proc.stdin is None or self._named:
            return
        try:
            self._proc.stdin.write(json.dumps(repo) + "\n")
            self._proc.stdin.flush()
        except OSError:  # the child died: flush says why
            pass
        self._named = True

    def add(self, events: Sequence[AssetEventSpec]) -> None:
        self.pending.extend(events)

    def flush(self) -> str | None:
        """Hand the events to the child and wait for it: once (the command's one record)."""
        if not self.pending:
            return None
        if not self._named:
            raise RuntimeError("the recorder was never told the repository (ChildRecorder.name)")
        proc, self._proc = self._proc, None
        if proc is None:
            return f"{len(self.pending)} asset events not recorded in Dagster (recorder gone)"
        payload = json.dumps([e.to_json() for e in self.pending], default=str) + "\n"
        try:
            out, err = proc.communicate(payload, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return f"{len(self.pending)} asset events not recorded in Dagster (timed out)"
        result = _last_json(out)
        self.recorded += int(result.get("recorded", 0))
        del self.pending[: int(result.get("recorded", 0))]
        if proc.returncode == 0 and not self.pending:
            return None
        why = result.get("error") or (err.strip().splitlines() or ["exited"])[-1]
        return f"{len(self.pending)} asset events not recorded in Dagster ({why})"

    def close(self) -> None:
        """Stop a child that was never handed its events (the stages failed, nothing
        changed, a Dagster run records instead)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def _last_json(out: str) -> dict[str, Any]:
    for line in reversed(out.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def main() -> int:
    """The child: ready the instance, then the partition its first line names, then
    record what the second line brings (EOF first: nothing to do)."""
    from kgents_assets.assets.partitions import ensure_partition
    from kgents_assets.instance import get_instance

    recorded = 0
    try:
        with get_instance() as instance:
            # blocks until the command knows the repository (or dies: EOF, nothing to do)
            line = sys.stdin.readline()
            if not line.strip():
                print(json.dumps({"recorded": 0}))
                return 0
            ensure_partition(instance, str(json.loads(line)))
            specs = [AssetEventSpec.from_json(d) for d in json.loads(sys.stdin.read() or "[]")]
            for spec in specs:
                instance.report_runless_asset_event(spec.to_dagster())
                recorded += 1
    except Exception as exc:
        print(json.dumps({"recorded": recorded, "error": f"{type(exc).__name__}: {exc}"}))
        return 1
    print(json.dumps({"recorded": recorded}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
